import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { expectNoLeak, expectTensorsClose } from '@fewstep/testing';
import { ConfigError, ShapeError } from '../../errors.js';
import { flowMatchingSchedule } from '../flow-matching-schedule.js';
import type { NoiseSchedule } from '../noise-schedule.js';
import { convertPrediction, PREDICTION_TYPES } from '../prediction-type.js';
import { normalValue, normalValues, randomNormal, seededRng } from '../rng.js';
import { vpContinuousSchedule } from '../vp-continuous-schedule.js';
import { vpDiscreteSchedule } from '../vp-discrete-schedule.js';
import { GaussianMixture, gmmVideo, MIN_MODE_SEPARATION_IN_STD } from './gaussian-mixture.js';
import { mixtureDenoiser } from './mixture-denoiser.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

const SMALL = 'gmm-video:modes=8,frames=2,size=4,channels=1,std=0.05,seed=3';

describe('gmm-video mixtures', () => {
  it('are deterministic per seed, shaped [F, H, W, C], in [-0.9, 0.9], separated by >= 12 std, with unequal weights (max/min <= 3)', () => {
    const a = gmmVideo(SMALL);
    const b = gmmVideo(SMALL);
    const c = gmmVideo(SMALL.replace('seed=3', 'seed=4'));
    expect(a.shape).toEqual([2, 4, 4, 1]);
    expect(a.D).toBe(32);
    expect(a.means).toEqual(b.means);
    expect(a.weights).toEqual(b.weights);
    expect(a.means).not.toEqual(c.means);
    expect(Math.max(...a.means.map(Math.abs))).toBeLessThanOrEqual(0.9);
    for (let i = 0; i < a.K; i++)
      for (let j = 0; j < i; j++) {
        let d2 = 0;
        a.mean(i).forEach((v, d) => (d2 += (v - a.mean(j)[d]!) ** 2));
        expect(Math.sqrt(d2)).toBeGreaterThanOrEqual(MIN_MODE_SEPARATION_IN_STD * 0.05);
      }
    expect(a.weights.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 12);
    expect(Math.max(...a.weights) / Math.min(...a.weights)).toBeLessThanOrEqual(3);
    expect(Math.max(...a.weights) / Math.min(...a.weights)).toBeGreaterThan(1.2);
    const eq = gmmVideo(SMALL + ',weights=equal');
    expect([...eq.weights]).toEqual(new Array(8).fill(1 / 8));
    expect(eq.means).toEqual(a.means); // weights have their own random stream
    expect(a.toString()).toBe(`${SMALL},weights=unequal`);
  });

  it('means are smooth moving patterns: every frame differs from the next, but less than from another mode', () => {
    const g = gmmVideo('gmm-video:modes=6,frames=4,size=8,channels=3,std=0.05,seed=11');
    const frameSize = 8 * 8 * 3;
    const dist = (x: Float32Array, y: Float32Array) => Math.sqrt(x.reduce((s, v, i) => s + (v - y[i]!) ** 2, 0));
    for (let k = 0; k < g.K; k++) {
      const m = g.mean(k);
      for (let f = 0; f < 3; f++) {
        const step = dist(m.subarray(f * frameSize, (f + 1) * frameSize), m.subarray((f + 1) * frameSize, (f + 2) * frameSize));
        expect(step).toBeGreaterThan(0.05);
      }
      // spatial smoothness: neighbouring pixels differ much less than the value range
      let grad = 0;
      for (let i = 0; i < 8; i++) for (let j = 0; j < 7; j++) grad += Math.abs(m[(i * 8 + j) * 3]! - m[(i * 8 + j + 1) * 3]!);
      expect(grad / 56).toBeLessThan(0.6);
    }
    expect(new Set(g.patterns).size).toBe(2);
  });

  it('too many modes for the space is a ConfigError with a fix', () => {
    expect(() => gmmVideo('gmm-video:modes=50,frames=1,size=1,channels=1,std=0.2,seed=1')).toThrow(ConfigError);
    expect(() => gmmVideo('gmm-video:modes=50,frames=1,size=1,channels=1,std=0.2,seed=1')).toThrow(/use fewer modes/);
  });

  it('exact sampling: mode frequencies follow the weights (chi-square) and x0 - mu_k has std s', () => {
    const g = gmmVideo(SMALL);
    const N = 4000;
    const { x0, modes } = g.sample(N, seededRng(5));
    expect(x0.shape).toEqual([N, 2, 4, 4, 1]);
    const counts = new Array(g.K).fill(0);
    modes.forEach((k) => (counts[k] += 1));
    const chi2 = counts.reduce((s, c, k) => s + (c - N * g.weights[k]!) ** 2 / (N * g.weights[k]!), 0);
    expect(chi2).toBeLessThan(20.3); // chi2(7) 99.5% quantile
    const v = x0.dataSync();
    let ss = 0;
    for (let i = 0; i < N; i++) for (let d = 0; d < g.D; d++) ss += (v[i * g.D + d]! - g.mean(modes[i]!)[d]!) ** 2;
    expect(Math.sqrt(ss / (N * g.D)) / 0.05).toBeCloseTo(1, 2);
    x0.dispose();
  });
});

/** log p_t(x) of the mixture, computed independently in float64: log sum_k w_k N(x; alpha mu_k, v I). */
function logDensity(g: GaussianMixture, x: number[], alpha: number, sigma: number): number {
  const v = alpha * alpha * g.std * g.std + sigma * sigma;
  const terms = Array.from({ length: g.K }, (_, k) => {
    let d2 = 0;
    x.forEach((xi, d) => (d2 += (xi - alpha * g.mean(k)[d]!) ** 2));
    return Math.log(g.weights[k]!) - (x.length / 2) * Math.log(2 * Math.PI * v) - d2 / (2 * v);
  });
  const m = Math.max(...terms);
  return m + Math.log(terms.reduce((s, t) => s + Math.exp(t - m), 0));
}

describe('the exact posterior mean E[x0 | x_t]', () => {
  const g2 = new GaussianMixture({ means: new Float32Array([-0.8, 0.3, 0.6, 0.5, 0.1, -0.7]), weights: [0.5, 0.3, 0.2], std: 0.15, shape: [2] });
  const cases: [string, NoiseSchedule, number][] = [
    ['vp discrete t=300', vpDiscreteSchedule(), 300],
    ['vp discrete t=50', vpDiscreteSchedule({ betaSchedule: 'linear' }), 50],
    ['flow t=0.6', flowMatchingSchedule(), 0.6],
    ['vp continuous t=0.3', vpContinuousSchedule(), 0.3],
  ];
  for (const [label, schedule, t] of cases) {
    it(`${label}: matches Tweedie, (x_t + sigma^2 grad log p_t(x_t)) / alpha, with grad by finite differences`, () => {
      const den = mixtureDenoiser(g2, schedule);
      const a = schedule.alpha(t);
      const s = schedule.sigma(t);
      const points = [[0.1, 0.2], [-0.5, 0.3], [0.4, -0.4], [0.0, 0.0], [0.9, 0.9]];
      const want = points.map((x) => {
        const h = 1e-5;
        const grad = x.map((_, d) => {
          const xp = [...x];
          const xm = [...x];
          xp[d]! += h;
          xm[d]! -= h;
          return (logDensity(g2, xp, a, s) - logDensity(g2, xm, a, s)) / (2 * h);
        });
        return x.map((xi, d) => (xi + s * s * grad[d]!) / a);
      });
      tf.tidy(() => {
        const got = den.posteriorMean(tf.tensor2d(points), t);
        expectTensorsClose(got, want.flat(), { atol: 2e-4, what: label });
        // every prediction type is the exact conversion of the posterior mean
        for (const type of PREDICTION_TYPES) {
          const p = mixtureDenoiser(g2, schedule, type);
          const x0 = convertPrediction(p.predict(tf.tensor2d(points), tf.fill([5], t)), type, 'sample', tf.tensor2d(points), a, s);
          expectTensorsClose(x0, want.flat(), { atol: 5e-4, what: `${label} via ${type}` });
          p.dispose();
        }
      });
      den.dispose();
    });
  }

  it('matches a Monte Carlo estimate: average x0 over simulated pairs whose x_t falls in a small bin (1-D)', () => {
    const g1 = new GaussianMixture({ means: new Float32Array([-0.8, 0.1, 0.7]), weights: [0.5, 0.3, 0.2], std: 0.15, shape: [1] });
    const schedule = flowMatchingSchedule();
    const t = 0.5;
    const [a, s] = [schedule.alpha(t), schedule.sigma(t)];
    const rng = seededRng(21);
    const N = 400_000;
    const modes = g1.sampleModes(N, rng);
    const z = normalValues(2 * N, rng);
    const queries = [-0.4, -0.1, 0.15, 0.4];
    const half = 0.01;
    const sums = queries.map(() => ({ x0: 0, x0sq: 0, n: 0 }));
    for (let i = 0; i < N; i++) {
      const x0 = g1.mean(modes[i]!)[0]! + 0.15 * z[2 * i]!;
      const xt = a * x0 + s * z[2 * i + 1]!;
      queries.forEach((q, j) => {
        if (Math.abs(xt - q) < half) {
          const acc = sums[j]!;
          acc.x0 += x0;
          acc.x0sq += x0 * x0;
          acc.n += 1;
        }
      });
    }
    const den = mixtureDenoiser(g1, schedule);
    const exact = tf.tidy(() => Array.from(den.posteriorMean(tf.tensor2d(queries, [4, 1]), t).dataSync()));
    queries.forEach((_, j) => {
      const { x0, x0sq, n } = sums[j]!;
      const mean = x0 / n;
      const se = Math.sqrt((x0sq / n - mean * mean) / n);
      expect(n).toBeGreaterThan(1000);
      expect(Math.abs(mean - exact[j]!), `query ${queries[j]}: MC ${mean} +- ${se}, exact ${exact[j]}`).toBeLessThan(4 * se + 2e-3);
    });
    den.dispose();
    expect(normalValue(seededRng(1))).toBe(normalValue(seededRng(1)));
  });

  it('is stable in high dimension (D = 1536) at small noise and picks the right component', () => {
    const g = gmmVideo('gmm-video:modes=16,frames=8,size=8,channels=3,std=0.05,seed=7');
    const schedule = vpDiscreteSchedule();
    const den = mixtureDenoiser(g, schedule, 'epsilon');
    const t = 5;
    const [a, s] = [schedule.alpha(t), schedule.sigma(t)];
    const v = a * a * 0.05 * 0.05 + s * s;
    tf.tidy(() => {
      const k = 9;
      const mu = tf.tensor(g.mean(k), [1, ...g.shape]);
      const x0 = tf.add(mu, randomNormal([1, ...g.shape], seededRng(3), 0.05));
      const xt = tf.add(tf.mul(x0, a), tf.mul(randomNormal([1, ...g.shape], seededRng(4)), s));
      // With r_k = 1: E[x0 | x_t] = mu_k + (alpha s^2 / v)(x_t - alpha mu_k)
      const want = tf.add(mu, tf.mul(tf.sub(xt, tf.mul(mu, a)), (a * 0.05 * 0.05) / v));
      const got = den.posteriorMean(xt, t);
      expect(Number.isFinite(tf.sum(got).dataSync()[0]!)).toBe(true);
      expectTensorsClose(got, want, { atol: 1e-4 });
      // one-hot conditioning on the true mode gives the same; on another mode, that mode's formula
      const onehot = tf.cast(tf.oneHot(tf.tensor1d([k], 'int32'), g.K), 'float32');
      expectTensorsClose(den.posteriorMean(xt, t, onehot), want, { atol: 1e-4 });
      const j = 2;
      const muJ = tf.tensor(g.mean(j), [1, ...g.shape]);
      const wantJ = tf.add(muJ, tf.mul(tf.sub(xt, tf.mul(muJ, a)), (a * 0.05 * 0.05) / v));
      expectTensorsClose(den.posteriorMean(xt, t, tf.cast(tf.oneHot(tf.tensor1d([j], 'int32'), g.K), 'float32')), wantJ, { atol: 1e-4 });
    });
    den.dispose();
  });

  it('validates shapes and frees its tensors', async () => {
    const g = gmmVideo(SMALL);
    const den = mixtureDenoiser(g, flowMatchingSchedule(), 'flow');
    const xt = tf.zeros([2, 2, 4, 4, 1]);
    const t = tf.tensor1d([0.5, 1]);
    await expectNoLeak(() => den.predict(xt, t));
    const wrong = tf.zeros([2, 3]);
    expect(() => den.predict(wrong, t)).toThrow(ShapeError);
    const before = tf.memory().numTensors;
    den.dispose();
    expect(tf.memory().numTensors).toBe(before - 3);
    tf.dispose([xt, t, wrong]);
  });
});
