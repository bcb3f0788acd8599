/**
 * @file Ground-truth metrics of image-to-video samples against the conditional mixture
 * (`conditional-mixture.ts`): sample i `[F, H, W, C]` is scored against condition i `[H, W, C]`.
 *
 * With `w_k(c_i)` the condition weights (`conditionWeights`), D0 = H W C, D1 = (F - 1) D0:
 * - `firstFrameRmse`: `sqrt(mean_i |x_i^0 - c_i|^2 / D0)`; 0 for exact samples with sigma_a = 0;
 * - `firstFramePrecision`: fraction of samples with `|x_i^0 - c_i|^2 <= s^2 chi2_{0.999}(D0)`
 *   (frame 0 within the data's own noise around the condition);
 * - `precision`: fraction of samples whose frames 1.. lie within the 99.9% radius
 *   `s^2 chi2_{0.999}(D1)` of `mu_k^{1:}` for a component the condition allows
 *   (`w_k(c_i) >= minWeight`); ~0.999 for exact samples;
 * - `modeAgreement`: fraction of samples whose nearest component (frames 1.., Euclidean) is the
 *   condition's most likely one `argmax_k w_k(c_i)`; for exact samples about `mean_i max_k w_k(c_i)`;
 * - `modeCoverage` / `totalVariation`: observed counts `O_k` of the nearest components against the
 *   expected counts `E_k = sum_i w_k(c_i)` (the posterior component responsibilities of the
 *   conditions): coverage is the fraction of components with `E_k >= 1` that get `O_k >= E_k / 4`
 *   (mixtureMetrics' rule), TV is `1/2 sum_k |O_k - E_k| / N`;
 * - `energyDistance`: energy distance between the pairs `(c_i, x_i)` and `(c_i, y_i)`, `y_i` a fresh
 *   exact sample of `p(x | c_i)`. Pairing with the condition makes a sampler that ignores it score
 *   > 0 even when its marginal over videos is right; 0 iff the conditionals match (for the
 *   conditions' distribution);
 * - `perConditionEnergyDistance` (with `groupSize` g >= 2: the samples come in consecutive groups of g
 *   sharing one condition): the energy distance of each group to g fresh samples of its
 *   conditional, averaged over groups.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../../errors.js';
import { seededRng, toRng, type RngSource } from '../rng.js';
import { chiSquareQuantile } from './chi-square.js';
import { conditionalMixture, conditionWeights } from './conditional-mixture.js';
import type { GaussianMixture } from './gaussian-mixture.js';
import { energyDistance } from './mixture-metrics.js';

export interface ConditionalMixtureMetrics {
  n: number;
  firstFrameRmse: number;
  firstFramePrecision: number;
  precision: number;
  modeAgreement: number;
  modeCoverage: number;
  totalVariation: number;
  energyDistance: number;
  /** Only with `groupSize`. */
  perConditionEnergyDistance?: number;
  /** Observed counts `O_k` (nearest component of frames 1..), `[K]`. */
  modeCounts: number[];
  /** Expected counts `E_k = sum_i w_k(c_i)`, `[K]`. */
  expectedModeCounts: number[];
}

export interface ConditionalMixtureMetricsOptions {
  /** Augmentation level sigma_a of the conditions (they were observed as `x^0 + sigma_a e`). @default 0 */
  sigmaAug?: number;
  /** A component counts as allowed by a condition when `w_k(c) >=` this. @default 1e-4 */
  minWeight?: number;
  /** Source of the fresh exact reference samples. @default seed 20250101 */
  referenceRng?: RngSource;
  /** Samples come in consecutive groups of this size sharing a condition (adds `perConditionEnergyDistance`). */
  groupSize?: number;
}

/**
 * Scores `samples` `[N, F, H, W, C]` against `conditions` `[N, H, W, C]` (sample i against
 * condition i) under the first-frame-conditioned mixture `gmm` (see the file comment).
 * @throws ShapeError when the shapes do not fit the mixture
 */
export function conditionalMixtureMetrics(gmm: GaussianMixture, conditions: tf.Tensor, samples: tf.Tensor, options: ConditionalMixtureMetricsOptions = {}): ConditionalMixtureMetrics {
  const N = samples.shape[0] ?? 0;
  const [F, H, W, C] = gmm.shape as [number, number, number, number];
  if (gmm.shape.length !== 4 || F < 2) throw new ShapeError('conditional mixture shape', gmm.shape, '[F >= 2, H, W, C]');
  if (N < 2 || samples.size !== N * gmm.D) throw new ShapeError('samples', samples.shape, `[N >= 2, ${gmm.shape.join(', ')}]`);
  const D0 = H * W * C;
  const D1 = gmm.D - D0;
  if (conditions.shape[0] !== N || conditions.size !== N * D0) throw new ShapeError('conditions', conditions.shape, `[${N}, ${H}, ${W}, ${C}] (one first frame per sample)`);
  const { sigmaAug = 0, minWeight = 1e-4, groupSize } = options;
  if (groupSize !== undefined && (!Number.isInteger(groupSize) || groupSize < 2 || N % groupSize !== 0)) {
    throw new ConfigError('groupSize', groupSize, `an integer >= 2 dividing the sample count ${N}`);
  }
  const x = samples.dataSync() as Float32Array;
  const c = conditions.dataSync() as Float32Array;
  const K = gmm.K;
  const s2 = gmm.std ** 2;
  const r0 = s2 * chiSquareQuantile(0.999, D0);
  const r1 = s2 * chiSquareQuantile(0.999, D1);
  const observed = new Array<number>(K).fill(0);
  const expected = new Array<number>(K).fill(0);
  let ffSq = 0;
  let ffIn = 0;
  let inside = 0;
  let agree = 0;
  for (let i = 0; i < N; i++) {
    const ci = c.subarray(i * D0, (i + 1) * D0);
    const xi = x.subarray(i * gmm.D, (i + 1) * gmm.D);
    const w = conditionWeights(gmm, ci, sigmaAug);
    let e0 = 0;
    for (let d = 0; d < D0; d++) e0 += ((xi[d] as number) - (ci[d] as number)) ** 2;
    ffSq += e0;
    if (e0 <= r0) ffIn++;
    let nearest = 0;
    let nearestD2 = Infinity;
    let allowedIn = false;
    let likely = 0;
    for (let k = 0; k < K; k++) {
      expected[k] = (expected[k] as number) + (w[k] as number);
      if ((w[k] as number) > (w[likely] as number)) likely = k;
      const mu = gmm.means.subarray(k * gmm.D + D0, (k + 1) * gmm.D);
      let d2 = 0;
      for (let d = 0; d < D1; d++) d2 += ((xi[D0 + d] as number) - (mu[d] as number)) ** 2;
      if (d2 < nearestD2) [nearest, nearestD2] = [k, d2];
      if (d2 <= r1 && (w[k] as number) >= minWeight) allowedIn = true;
    }
    observed[nearest] = (observed[nearest] as number) + 1;
    if (allowedIn) inside++;
    if (nearest === likely) agree++;
  }
  let tv = 0;
  let eligible = 0;
  let covered = 0;
  for (let k = 0; k < K; k++) {
    tv += Math.abs((observed[k] as number) - (expected[k] as number));
    if ((expected[k] as number) >= 1) {
      eligible++;
      if ((observed[k] as number) >= 0.25 * (expected[k] as number)) covered++;
    }
  }

  // Energy distance of the pairs (c_i, x_i) against (c_i, y_i), y_i ~ p(x | c_i).
  const rng = toRng(options.referenceRng ?? seededRng(20250101));
  const ref = new Float32Array(N * gmm.D);
  for (let i = 0; i < N; i++) {
    const cm = conditionalMixture(gmm, c.subarray(i * D0, (i + 1) * D0), { sigmaAug });
    const y = cm.sample(1, rng).x0;
    ref.set(y.dataSync() as Float32Array, i * gmm.D);
    y.dispose();
  }
  const paired = (videos: Float32Array): tf.Tensor =>
    tf.tidy(() => tf.concat([tf.reshape(conditions, [N, D0]), tf.tensor2d(videos, [N, gmm.D])], 1));
  const a = paired(x);
  const b = paired(ref);
  const ed = energyDistance(a, b);
  tf.dispose([a, b]);

  let perCondition: number | undefined;
  if (groupSize !== undefined) {
    let sum = 0;
    const groups = N / groupSize;
    for (let g = 0; g < groups; g++) {
      const cm = conditionalMixture(gmm, c.subarray(g * groupSize * D0, (g * groupSize + 1) * D0), { sigmaAug });
      const y = cm.sample(groupSize, rng).x0;
      const xs = tf.tensor(x.subarray(g * groupSize * gmm.D, (g + 1) * groupSize * gmm.D), [groupSize, gmm.D]);
      sum += energyDistance(xs, y);
      tf.dispose([y, xs]);
    }
    perCondition = sum / groups;
  }

  return {
    n: N,
    firstFrameRmse: Math.sqrt(ffSq / (N * D0)),
    firstFramePrecision: ffIn / N,
    precision: inside / N,
    modeAgreement: agree / N,
    modeCoverage: eligible > 0 ? covered / eligible : NaN,
    totalVariation: (0.5 * tv) / N,
    energyDistance: ed,
    ...(perCondition === undefined ? {} : { perConditionEnergyDistance: perCondition }),
    modeCounts: observed,
    expectedModeCounts: expected,
  };
}
