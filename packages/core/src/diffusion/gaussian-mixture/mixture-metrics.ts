/**
 * @file Ground-truth metrics of a set of samples against a known Gaussian mixture.
 *
 * Every sample is assigned to its nearest mean (Euclidean). Then:
 * - `modeCoverage`: fraction of modes whose count is at least a quarter of their expected share
 *   `N w_k`;
 * - `precision`: fraction of samples within the 99.9% radius of their nearest mode,
 *   `|x - mu_k|^2 <= s^2 chi2_{0.999}(D)` (Wilson-Hilferty quantile, `chi-square.ts`); exact samples
 *   score about 0.999;
 * - `totalVariation`: `1/2 sum_k |N_k / N - w_k|` between the mode histogram and the weights;
 * - `spreadRatio`: per mode with >= 2 samples, the sample standard deviation around the mode's
 *   sample mean (pooled over the D coordinates, `sqrt(sum |x - xbar|^2 / ((N_k - 1) D))`) divided by
 *   s, averaged over those modes; 1 for exact samples, < 1 for over-smoothed samplers;
 * - `energyDistance`: `2 E|X - Y| - E|X - X'| - E|Y - Y'|` (Székely & Rizzo) to fresh exact samples
 *   Y, with U-statistics (no self-pairs) for the within-set terms; ≈ 0 for exact samples. Cost
 *   O(N^2 D); meant for N up to a few thousand.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../../errors.js';
import { seededRng, toRng, type RngSource } from '../rng.js';
import { chiSquareQuantile } from './chi-square.js';
import type { GaussianMixture } from './gaussian-mixture.js';

export interface MixtureMetrics {
  n: number;
  modeCoverage: number;
  precision: number;
  totalVariation: number;
  spreadRatio: number;
  energyDistance: number;
  /** Samples assigned to each mode, `[K]`. */
  modeCounts: number[];
}

export interface MixtureMetricsOptions {
  /** Source of the fresh exact reference samples for the energy distance. @default seed 20250101 */
  referenceRng?: RngSource;
  /** Number of reference samples. @default the number of samples */
  referenceCount?: number;
}

/** Nearest-mean assignment: `[N]` mode indices and squared distances, from `[N, D]` rows. */
export function assignToModes(mixture: GaussianMixture, x: tf.Tensor): { modes: Int32Array; dist2: Float32Array } {
  const N = x.shape[0] ?? 0;
  const d2 = tf.tidy(() => {
    const flat = tf.reshape(x, [N, mixture.D]);
    const mu = tf.tensor2d(mixture.means, [mixture.K, mixture.D]);
    const xx = tf.sum(tf.square(flat), 1, true);
    const mm = tf.sum(tf.square(mu), 1);
    return tf.relu(tf.add(tf.sub(xx, tf.mul(2, tf.matMul(flat, mu, false, true))), mm));
  });
  const values = d2.dataSync() as Float32Array;
  d2.dispose();
  const modes = new Int32Array(N);
  const dist2 = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    let best = 0;
    for (let k = 1; k < mixture.K; k++) if ((values[i * mixture.K + k] as number) < (values[i * mixture.K + best] as number)) best = k;
    modes[i] = best;
    dist2[i] = values[i * mixture.K + best] as number;
  }
  return { modes, dist2 };
}

/** Mean pairwise Euclidean distance between rows of `a` `[N, D]` and `b` `[M, D]` (excluding i = j when `same`). */
function meanPairwiseDistance(a: tf.Tensor2D, b: tf.Tensor2D, same: boolean): number {
  const N = a.shape[0];
  const M = b.shape[0];
  const total = tf.tidy(() => {
    const aa = tf.sum(tf.square(a), 1, true);
    const bb = tf.sum(tf.square(b), 1);
    const d2 = tf.relu(tf.add(tf.sub(aa, tf.mul(2, tf.matMul(a, b, false, true))), bb));
    return tf.sum(tf.sqrt(d2));
  });
  const sum = total.dataSync()[0] as number;
  total.dispose();
  // The diagonal of a same-set matrix is ~0 up to rounding, which sqrt(relu(.)) keeps tiny.
  return same ? sum / (N * (N - 1)) : sum / (N * M);
}

/** Energy distance between two sample sets `[N, ...]`, `[M, ...]` (see the file comment). */
export function energyDistance(x: tf.Tensor, y: tf.Tensor): number {
  const N = x.shape[0] ?? 0;
  const M = y.shape[0] ?? 0;
  if (N < 2 || M < 2) throw new ShapeError('energy distance inputs', [N, M], 'at least 2 samples in each set');
  const a = tf.reshape(x, [N, x.size / N]) as tf.Tensor2D;
  const b = tf.reshape(y, [M, y.size / M]) as tf.Tensor2D;
  const xy = meanPairwiseDistance(a, b, false);
  const xx = meanPairwiseDistance(a, a, true);
  const yy = meanPairwiseDistance(b, b, true);
  a.dispose();
  b.dispose();
  return 2 * xy - xx - yy;
}

/** All metrics of `samples` `[N, ...shape]` against `mixture` (see the file comment). */
export function mixtureMetrics(mixture: GaussianMixture, samples: tf.Tensor, options: MixtureMetricsOptions = {}): MixtureMetrics {
  const N = samples.shape[0] ?? 0;
  if (N < 2 || samples.size !== N * mixture.D) {
    throw new ShapeError('samples', samples.shape, `[N >= 2, ${mixture.shape.join(', ')}]`);
  }
  const { modes, dist2 } = assignToModes(mixture, samples);
  const counts = new Array<number>(mixture.K).fill(0);
  modes.forEach((k) => (counts[k] = (counts[k] as number) + 1));

  const covered = counts.filter((c, k) => c >= 0.25 * N * (mixture.weights[k] as number)).length;
  const r2 = mixture.std ** 2 * chiSquareQuantile(0.999, mixture.D);
  let inside = 0;
  dist2.forEach((d) => (inside += d <= r2 ? 1 : 0));
  let tv = 0;
  counts.forEach((c, k) => (tv += Math.abs(c / N - (mixture.weights[k] as number))));

  // Within-mode spread: two passes over the samples on the CPU (metrics are not a hot loop).
  const values = samples.dataSync() as Float32Array;
  const D = mixture.D;
  const sums = new Float64Array(mixture.K * D);
  for (let i = 0; i < N; i++) {
    const k = modes[i] as number;
    for (let d = 0; d < D; d++) sums[k * D + d] = (sums[k * D + d] as number) + (values[i * D + d] as number);
  }
  const ss = new Float64Array(mixture.K);
  for (let i = 0; i < N; i++) {
    const k = modes[i] as number;
    const c = counts[k] as number;
    let acc = 0;
    for (let d = 0; d < D; d++) acc += ((values[i * D + d] as number) - (sums[k * D + d] as number) / c) ** 2;
    ss[k] = (ss[k] as number) + acc;
  }
  let ratioSum = 0;
  let ratioModes = 0;
  counts.forEach((c, k) => {
    if (c >= 2) {
      ratioSum += Math.sqrt((ss[k] as number) / ((c - 1) * D)) / mixture.std;
      ratioModes += 1;
    }
  });

  const rng = toRng(options.referenceRng ?? seededRng(20250101));
  const ref = mixture.sample(options.referenceCount ?? N, rng).x0;
  const ed = energyDistance(samples, ref);
  ref.dispose();

  return {
    n: N,
    modeCoverage: covered / mixture.K,
    precision: inside / N,
    totalVariation: 0.5 * tv,
    spreadRatio: ratioModes > 0 ? ratioSum / ratioModes : NaN,
    energyDistance: ed,
    modeCounts: counts,
  };
}
