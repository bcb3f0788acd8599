/**
 * @file The Frechet distance between two feature sets (Heusel et al. 2017, "GANs trained by a two
 * time-scale update rule...", Eq. 6; the FID / FVD formula), in float64 with no dependency:
 *
 *   d^2 = ||mu_1 - mu_2||^2 + tr(S_1 + S_2 - 2 (S_1^{1/2} S_2 S_1^{1/2})^{1/2})
 *
 * where mu_i `[D]` and S_i `[D, D]` are the mean and covariance of features `[N_i, D]`. The trace
 * term is computed from two symmetric eigendecompositions (cyclic Jacobi, {@link symmetricEigen}):
 * S_1^{1/2} = V diag(sqrt(l)) V^T, then the eigenvalues m of the symmetric PSD matrix
 * M = S_1^{1/2} S_2 S_1^{1/2}, so tr(M^{1/2}) = sum_i sqrt(m_i). M has the eigenvalues of S_1 S_2,
 * so this equals the tr sqrtm(S_1 S_2) of pytorch-fid without a non-symmetric square root.
 *
 * Our choices (the paper is silent): covariances use the unbiased 1 / (N - 1) normalisation (as
 * `numpy.cov`, which pytorch-fid calls); eigenvalues below 0 (round-off of a PSD matrix) are
 * clamped to 0 before the square root; a result within round-off below 0 is reported as 0.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@fewstep/core';

/** A feature set: `[N, D]` as a tensor or as rows. */
export type FeatureMatrix = tf.Tensor | readonly (readonly number[])[];

/** Mean and covariance of a feature set (float64, row-major covariance). */
export interface FeatureStatistics {
  /** Number of feature vectors N. */
  readonly n: number;
  /** Feature dimension D. */
  readonly d: number;
  /** `[D]` */
  readonly mu: Float64Array;
  /** `[D, D]`, row-major, symmetric. */
  readonly sigma: Float64Array;
}

/** Result of {@link symmetricEigen}. */
export interface SymmetricEigen {
  /** `[n]` eigenvalues (unsorted: the order of the columns of `vectors`). */
  readonly values: Float64Array;
  /** `[n, n]` row-major; column j is the unit eigenvector of `values[j]`. */
  readonly vectors: Float64Array;
  /** Jacobi sweeps it took. */
  readonly sweeps: number;
}

/** Rows of a feature matrix as `{ values, n, d }` (float64). */
function toRows(x: FeatureMatrix, what: string): { values: Float64Array; n: number; d: number } {
  if (Array.isArray(x)) {
    const rows = x as readonly (readonly number[])[];
    const n = rows.length;
    const d = n > 0 ? rows[0]!.length : 0;
    const values = new Float64Array(n * d);
    rows.forEach((r, i) => {
      if (r.length !== d) throw new ShapeError(`${what} row ${i}`, [r.length], `[${d}] (as row 0)`);
      values.set(r, i * d);
    });
    return { values, n, d };
  }
  const t = x as tf.Tensor;
  if (t.rank !== 2) throw new ShapeError(what, t.shape, '[N, D] features');
  return { values: Float64Array.from(t.dataSync()), n: t.shape[0]!, d: t.shape[1]! };
}

/**
 * Mean `mu = (1/N) sum_i x_i` and unbiased covariance `S = (1/(N-1)) sum_i (x_i - mu)(x_i - mu)^T`
 * of features `[N, D]` (N >= 2), accumulated in float64.
 */
export function featureStatistics(features: FeatureMatrix, what = 'features'): FeatureStatistics {
  const { values, n, d } = toRows(features, what);
  if (n < 2) throw new ShapeError(what, [n, d], '[N, D] with N >= 2 (a covariance needs two vectors)');
  if (d < 1) throw new ShapeError(what, [n, d], '[N, D] with D >= 1');
  const mu = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) mu[k]! += values[i * d + k]!;
  for (let k = 0; k < d; k++) mu[k]! /= n;
  const sigma = new Float64Array(d * d);
  const centred = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < d; k++) centred[k] = values[i * d + k]! - mu[k]!;
    for (let a = 0; a < d; a++) {
      const ca = centred[a]!;
      if (ca === 0) continue;
      const row = a * d;
      for (let b = a; b < d; b++) sigma[row + b]! += ca * centred[b]!;
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = sigma[a * d + b]! / (n - 1);
      sigma[a * d + b] = v;
      sigma[b * d + a] = v;
    }
  }
  return { n, d, mu, sigma };
}

/**
 * Eigendecomposition `A = V diag(values) V^T` of a symmetric `[n, n]` matrix (row-major) by the
 * cyclic Jacobi method (Golub & Van Loan, Matrix Computations, Alg. 8.5.3; rotation angle as in
 * Numerical Recipes' `jacobi`): each rotation zeroes one off-diagonal pair; sweeps repeat until
 * the off-diagonal Frobenius norm is below `tol` times the matrix's norm. Only the upper triangle
 * symmetry is assumed (the input is symmetrised first); the input is not modified.
 */
export function symmetricEigen(a: ArrayLike<number>, n: number, options: { tol?: number; maxSweeps?: number } = {}): SymmetricEigen {
  if (!Number.isInteger(n) || n < 1 || a.length !== n * n) throw new ConfigError('symmetricEigen.n', n, `an integer >= 1 with a.length = n * n (got length ${a.length})`);
  const { tol = 1e-15, maxSweeps = 100 } = options;
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] = 0.5 * (a[i * n + j]! + a[j * n + i]!);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  let norm2 = 0;
  for (let i = 0; i < n * n; i++) norm2 += A[i]! * A[i]!;
  let sweeps = 0;
  for (; sweeps < maxSweeps; sweeps++) {
    let off2 = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off2 += 2 * A[p * n + q]! * A[p * n + q]!;
    if (off2 <= tol * tol * norm2 || off2 === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q]!;
        if (apq === 0) continue;
        const app = A[p * n + p]!;
        const aqq = A[q * n + q]!;
        // 1. The rotation J (J_pp = J_qq = c, J_pq = s, J_qp = -s) with (J^T A J)_pq = 0.
        const theta = (aqq - app) / (2 * apq);
        const t = Math.abs(theta) > 1e150 ? 1 / (2 * theta) : Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // 2. A <- A J (columns p, q), then A <- J^T A (rows p, q).
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p]!;
          const akq = A[k * n + q]!;
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k]!;
          const aqk = A[q * n + k]!;
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        A[p * n + q] = 0;
        A[q * n + p] = 0;
        // 3. V <- V J.
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p]!;
          const vkq = V[k * n + q]!;
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = A[i * n + i]!;
  return { values, vectors: V, sweeps };
}

/** `V diag(f(values)) V^T` of an eigendecomposition. */
function recompose(e: SymmetricEigen, n: number, f: (x: number) => number): Float64Array {
  const fv = e.values.map(f);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += e.vectors[i * n + k]! * fv[k]! * e.vectors[j * n + k]!;
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

/** The PSD square root `A^{1/2} = V diag(sqrt(max(l, 0))) V^T` of a symmetric `[n, n]` matrix. */
export function sqrtPsd(a: ArrayLike<number>, n: number): Float64Array {
  return recompose(symmetricEigen(a, n), n, (x) => Math.sqrt(Math.max(x, 0)));
}

/** `[n, n]` row-major product `A B`. */
function matMul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j]! += aik * b[k * n + j]!;
    }
  }
  return out;
}

/** The terms of the Frechet distance (all float64). */
export interface FrechetTerms {
  /** `d^2` (clamped at 0). */
  readonly distance: number;
  /** `||mu_1 - mu_2||^2` */
  readonly meanTerm: number;
  /** `tr(S_1 + S_2 - 2 (S_1^{1/2} S_2 S_1^{1/2})^{1/2})` */
  readonly covarianceTerm: number;
}

/**
 * The Frechet distance `d^2` between two Gaussians given by their statistics (see the file
 * comment), with its mean and covariance terms.
 */
export function frechetTerms(a: Pick<FeatureStatistics, 'mu' | 'sigma'>, b: Pick<FeatureStatistics, 'mu' | 'sigma'>): FrechetTerms {
  const d = a.mu.length;
  if (b.mu.length !== d || a.sigma.length !== d * d || b.sigma.length !== d * d) {
    throw new ShapeError('feature statistics', [b.mu.length], `[${d}] (both sets need the same feature dimension)`);
  }
  let meanTerm = 0;
  for (let k = 0; k < d; k++) meanTerm += (a.mu[k]! - b.mu[k]!) ** 2;
  // 1. S_1^{1/2}; 2. M = S_1^{1/2} S_2 S_1^{1/2} (symmetric PSD); 3. tr M^{1/2} = sum sqrt(eig M).
  const sqrtA = sqrtPsd(a.sigma, d);
  const m = matMul(matMul(sqrtA, Float64Array.from(b.sigma), d), sqrtA, d);
  const eig = symmetricEigen(m, d).values;
  let trSqrt = 0;
  for (const l of eig) trSqrt += Math.sqrt(Math.max(l, 0));
  let trA = 0;
  let trB = 0;
  for (let k = 0; k < d; k++) {
    trA += a.sigma[k * d + k]!;
    trB += b.sigma[k * d + k]!;
  }
  const covarianceTerm = trA + trB - 2 * trSqrt;
  return { distance: Math.max(0, meanTerm + covarianceTerm), meanTerm, covarianceTerm };
}

/** `d^2` between two Gaussians given by their statistics. */
export function frechetDistance(a: Pick<FeatureStatistics, 'mu' | 'sigma'>, b: Pick<FeatureStatistics, 'mu' | 'sigma'>): number {
  return frechetTerms(a, b).distance;
}

/** `d^2` between two feature sets `[N_1, D]` and `[N_2, D]` (statistics by {@link featureStatistics}). */
export function frechetDistanceOfFeatures(a: FeatureMatrix, b: FeatureMatrix): number {
  return frechetDistance(featureStatistics(a, 'features (set 1)'), featureStatistics(b, 'features (set 2)'));
}
