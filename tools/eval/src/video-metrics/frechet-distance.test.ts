import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, seededRng } from '@fewstep/core';
import { featureStatistics, frechetDistance, frechetDistanceOfFeatures, frechetTerms, sqrtPsd, symmetricEigen } from './frechet-distance.js';

type M = number[][];
const rng = seededRng(11);
const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
const randn = (r: number, c: number): M => Array.from({ length: r }, () => Array.from({ length: c }, gauss));
const mul = (a: M, b: M): M => a.map((row) => b[0]!.map((_, j) => row.reduce((s, x, k) => s + x * b[k]![j]!, 0)));
const tr = (a: M): M => a[0]!.map((_, j) => a.map((r) => r[j]!));
const add = (a: M, b: M, s = 1): M => a.map((r, i) => r.map((x, j) => x + s * b[i]![j]!));
const eye = (n: number): M => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
const trace = (a: M): number => a.reduce((s, r, i) => s + r[i]!, 0);
const flat = (a: M): Float64Array => Float64Array.from(a.flat());
const unflat = (a: ArrayLike<number>, n: number): M => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => a[i * n + j]!));
const stats = (mu: number[], sigma: M) => ({ mu: Float64Array.from(mu), sigma: flat(sigma) });

/** A random SPD matrix A A^T + 0.1 I. */
function spd(n: number): M {
  const a = randn(n, n);
  return add(mul(a, tr(a)), eye(n), 0.1);
}

const diag = (v: readonly number[]): M => v.map((x, i) => eye(v.length)[i]!.map((e) => e * x));

/** Inverse by Gauss-Jordan (test-only, small n). */
function inv(a: M): M {
  const n = a.length;
  const m = a.map((r, i) => [...r, ...eye(n)[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const d = m[c]![c]!;
    m[c] = m[c]!.map((x) => x / d);
    for (let r = 0; r < n; r++) if (r !== c) m[r] = m[r]!.map((x, j) => x - m[r]![c]! * m[c]![j]!);
  }
  return m.map((r) => r.slice(n));
}

/** Principal square root by the Denman-Beavers iteration (independent of the Jacobi code). */
function sqrtDenmanBeavers(a: M): M {
  let y = a;
  let z = eye(a.length);
  for (let i = 0; i < 60; i++) {
    const yi = inv(y);
    const zi = inv(z);
    y = add(y, zi).map((r) => r.map((x) => x / 2));
    z = add(z, yi).map((r) => r.map((x) => x / 2));
  }
  return y;
}

/** 2x2 SPD square root in closed form: (M + sqrt(det) I) / sqrt(tr + 2 sqrt(det)). */
function sqrt2x2(m: M): M {
  const s = Math.sqrt(m[0]![0]! * m[1]![1]! - m[0]![1]! * m[1]![0]!);
  const t = Math.sqrt(m[0]![0]! + m[1]![1]! + 2 * s);
  return add(m, eye(2), s).map((r) => r.map((x) => x / t));
}

/** A random orthogonal matrix (the eigenvectors of a random symmetric one, checked orthonormal below). */
function orthogonal(n: number): M {
  const a = randn(n, n);
  return unflat(symmetricEigen(flat(add(a, tr(a))), n).vectors, n);
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('symmetricEigen (cyclic Jacobi)', () => {
  it('reconstructs A = V diag(l) V^T with orthonormal V, and finds known eigenvalues', () => {
    for (const n of [1, 2, 5, 12]) {
      const a = spd(n);
      const { values, vectors } = symmetricEigen(flat(a), n);
      const v = unflat(vectors, n);
      const back = mul(mul(v, diag(Array.from(values))), tr(v));
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(back[i]![j]!).toBeCloseTo(a[i]![j]!, 10);
      const vtv = mul(tr(v), v);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(vtv[i]![j]!).toBeCloseTo(i === j ? 1 : 0, 12);
    }
    // [[2, 1], [1, 2]] has eigenvalues 1 and 3.
    expect(Array.from(symmetricEigen([2, 1, 1, 2], 2).values).sort()).toEqual([expect.closeTo(1, 14), expect.closeTo(3, 14)]);
  });

  it('sqrtPsd squares back to the matrix and matches the 2x2 closed form', () => {
    const a = spd(2);
    const s = unflat(sqrtPsd(flat(a), 2), 2);
    const ref = sqrt2x2(a);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) expect(s[i]![j]!).toBeCloseTo(ref[i]![j]!, 12);
    const b = spd(6);
    const sb = unflat(sqrtPsd(flat(b), 6), 6);
    const sq = mul(sb, sb);
    for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) expect(sq[i]![j]!).toBeCloseTo(b[i]![j]!, 10);
  });
});

describe('featureStatistics', () => {
  it('is the mean and the unbiased covariance, from rows or a tensor', () => {
    const rows = [
      [1, 2],
      [3, 4],
      [5, 9],
    ];
    const s = featureStatistics(rows);
    expect(Array.from(s.mu)).toEqual([3, 5]);
    // deviations (-2,-3), (0,-1), (2,4): sums of products / (N - 1) = 2.
    expect(Array.from(s.sigma)).toEqual([4, 7, 7, 13]);
    const t = tf.tensor2d(rows);
    expect(Array.from(featureStatistics(t).sigma)).toEqual([4, 7, 7, 13]);
    t.dispose();
  });

  it('refuses fewer than two vectors and ragged rows with a ShapeError', () => {
    expect(() => featureStatistics([[1, 2]])).toThrow(ShapeError);
    expect(() => featureStatistics([[1, 2], [3]])).toThrow(ShapeError);
  });
});

describe('frechetDistance', () => {
  it('is 0 for identical sets', () => {
    const x = randn(40, 6);
    expect(frechetDistanceOfFeatures(x, x)).toBeLessThan(1e-10);
  });

  it('diagonal covariances: sum (sqrt(a) - sqrt(b))^2 + ||mu_1 - mu_2||^2', () => {
    const a = [4, 1, 0.25, 9];
    const b = [1, 1, 1, 16];
    const mu1 = [0, 1, 2, 3];
    const mu2 = [1, 1, 0, 3];
    const expected = a.reduce((s, x, i) => s + (Math.sqrt(x) - Math.sqrt(b[i]!)) ** 2, 0) + 1 + 4;
    const t = frechetTerms(stats(mu1, diag(a)), stats(mu2, diag(b)));
    expect(t.distance).toBeCloseTo(expected, 12);
    expect(t.meanTerm).toBe(5);
    expect(t.covarianceTerm).toBeCloseTo(1 + 0 + 0.25 + 1, 12);
  });

  it('commuting covariances Q diag(a) Q^T, Q diag(b) Q^T: the same closed form', () => {
    const q = orthogonal(5);
    const a = [3, 0.5, 2, 7, 0.1];
    const b = [1, 0.5, 8, 2, 0.4];
    const conj = (v: number[]): M => mul(mul(q, diag(v)), tr(q));
    const expected = a.reduce((s, x, i) => s + (Math.sqrt(x) - Math.sqrt(b[i]!)) ** 2, 0);
    expect(frechetDistance(stats([0, 0, 0, 0, 0], conj(a)), stats([0, 0, 0, 0, 0], conj(b)))).toBeCloseTo(expected, 10);
  });

  it('is invariant to rotating both feature sets by the same orthogonal matrix', () => {
    const x = randn(60, 4);
    const y = add(randn(50, 4).map((r) => r.map((v, j) => v * (j + 1))), randn(50, 4).map(() => [1, 0, -1, 2]));
    const r = orthogonal(4);
    const d0 = frechetDistanceOfFeatures(x, y);
    const d1 = frechetDistanceOfFeatures(mul(x, r), mul(y, r));
    expect(d0).toBeGreaterThan(1);
    expect(d1).toBeCloseTo(d0, 9);
  });

  it('agrees with a direct computation for random 2x2 (closed-form sqrt) and 3x3 (Denman-Beavers) SPD matrices', () => {
    for (let trial = 0; trial < 5; trial++) {
      for (const [n, sqrt] of [
        [2, sqrt2x2],
        [3, sqrtDenmanBeavers],
      ] as const) {
        const s1 = spd(n);
        const s2 = spd(n);
        const mu1 = randn(1, n)[0]!;
        const mu2 = randn(1, n)[0]!;
        const r1 = sqrt(s1);
        const inner = sqrt(mul(mul(r1, s2), r1));
        const direct = mu1.reduce((s, x, i) => s + (x - mu2[i]!) ** 2, 0) + trace(add(add(s1, s2), inner, -2));
        expect(frechetDistance(stats(mu1, s1), stats(mu2, s2))).toBeCloseTo(direct, 9);
      }
    }
  });

  it('refuses statistics of different dimensions', () => {
    expect(() => frechetDistance(stats([0, 0], eye(2)), stats([0, 0, 0], eye(3)))).toThrow(ShapeError);
  });
});
