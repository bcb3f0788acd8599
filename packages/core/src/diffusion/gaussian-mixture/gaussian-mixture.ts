/**
 * @file A mixture of K isotropic Gaussians over videos, `x0 ~ sum_k w_k N(mu_k, s^2 I)`, with
 * seeded exact sampling. {@link gmmVideo} builds one from a `gmm-video:` spec.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../../errors.js';
import { normalValues, seededRng, type Rng } from '../rng.js';
import { formatGmmVideoSpec, parseGmmVideoSpec, type GmmVideoSpec } from './gmm-video-spec.js';
import { randomVideoPattern, type PatternKind } from './video-patterns.js';

export interface GaussianMixtureInit {
  /** Component means, row-major `[K, ...shape]`. */
  means: Float32Array;
  /** Mixture weights (normalized here), `[K]`. */
  weights: ArrayLike<number>;
  /** s, the standard deviation of every component. */
  std: number;
  /** Shape of one sample, e.g. `[F, H, W, C]`. */
  shape: readonly number[];
}

export class GaussianMixture {
  readonly K: number;
  /** Dimension D = prod(shape). */
  readonly D: number;
  readonly shape: readonly number[];
  readonly means: Float32Array;
  readonly weights: Float64Array;
  readonly std: number;

  constructor(init: GaussianMixtureInit) {
    const D = init.shape.reduce((a, b) => a * b, 1);
    const K = init.weights.length;
    if (K < 1 || init.means.length !== K * D) {
      throw new ShapeError('means', [init.means.length], `K * D = ${K} * ${D} values (one mean per weight)`);
    }
    if (!(init.std > 0)) throw new ConfigError('std', init.std, 'a number > 0');
    let total = 0;
    for (let k = 0; k < K; k++) {
      const w = init.weights[k] as number;
      if (!(w >= 0 && Number.isFinite(w))) throw new ConfigError('weights', Array.from(init.weights), 'finite non-negative numbers');
      total += w;
    }
    if (!(total > 0)) throw new ConfigError('weights', Array.from(init.weights), 'at least one positive weight');
    this.K = K;
    this.D = D;
    this.shape = [...init.shape];
    this.means = init.means;
    this.weights = Float64Array.from(init.weights, (w) => w / total);
    this.std = init.std;
  }

  /** Mean k as a slice `[D]` (a view, do not mutate). */
  mean(k: number): Float32Array {
    return this.means.subarray(k * this.D, (k + 1) * this.D);
  }

  /** The means as a new `[K, ...shape]` tensor. */
  meansTensor(): tf.Tensor {
    return tf.tensor(this.means, [this.K, ...this.shape], 'float32');
  }

  /** Draws component indices `[n]` from the weights. */
  sampleModes(n: number, rng: Rng): Int32Array {
    const cdf = new Float64Array(this.K);
    let acc = 0;
    this.weights.forEach((w, k) => (cdf[k] = acc += w));
    const modes = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const u = rng() * acc;
      let k = 0;
      while (k < this.K - 1 && u >= (cdf[k] as number)) k++;
      modes[i] = k;
    }
    return modes;
  }

  /**
   * Exact samples: `x0 = mu_k + s z`, k ~ Categorical(w), z ~ N(0, I), all from `rng`.
   * @returns `x0` `[n, ...shape]` and the component of each sample
   */
  sample(n: number, rng: Rng): { x0: tf.Tensor; modes: Int32Array } {
    const modes = this.sampleModes(n, rng);
    const z = normalValues(n * this.D, rng);
    for (let i = 0; i < n; i++) {
      const mu = this.mean(modes[i] as number);
      const base = i * this.D;
      for (let d = 0; d < this.D; d++) z[base + d] = (mu[d] as number) + this.std * (z[base + d] as number);
    }
    return { x0: tf.tensor(z, [n, ...this.shape], 'float32'), modes };
  }
}

/** A mixture built from a `gmm-video:` spec; keeps the parsed spec and each mean's pattern kind. */
export class GmmVideo extends GaussianMixture {
  readonly spec: GmmVideoSpec;
  readonly patterns: readonly PatternKind[];
  constructor(spec: GmmVideoSpec, init: GaussianMixtureInit, patterns: PatternKind[]) {
    super(init);
    this.spec = spec;
    this.patterns = patterns;
  }
  override toString(): string {
    return formatGmmVideoSpec(this.spec);
  }
}

/** Means are redrawn until every pair is at least this many `std` apart (so modes are identifiable). */
export const MIN_MODE_SEPARATION_IN_STD = 12;

/**
 * Builds the analytic video mixture of a spec (string or parsed).
 * - Means: {@link randomVideoPattern} from `seededRng(seed)`, redrawn (up to 200 times) while closer
 *   than {@link MIN_MODE_SEPARATION_IN_STD} std to an earlier mean; then a {@link ConfigError}.
 * - Weights: `equal` gives 1/K; `unequal` (default) gives `w_k ∝ 0.5 + u_k`, u_k ~ U[0, 1) from a
 *   second stream `seededRng(seed ^ 0x9e3779b9)`, so max/min weight <= 3 and every mode is visible
 *   in a few hundred samples.
 * Shape of a sample: `[F, H, W, C]` = `[frames, size, size, channels]`.
 */
export function gmmVideo(spec: string | GmmVideoSpec): GmmVideo {
  const s = typeof spec === 'string' ? parseGmmVideoSpec(spec) : spec;
  const rng = seededRng(s.seed >>> 0);
  const D = s.frames * s.size * s.size * s.channels;
  const means = new Float32Array(s.modes * D);
  const patterns: PatternKind[] = [];
  const minDist2 = (MIN_MODE_SEPARATION_IN_STD * s.std) ** 2;
  for (let k = 0; k < s.modes; k++) {
    let attempt = 0;
    for (;;) {
      const p = randomVideoPattern(rng, s.frames, s.size, s.channels);
      let ok = true;
      for (let j = 0; j < k && ok; j++) {
        let d2 = 0;
        for (let d = 0; d < D; d++) d2 += ((p.values[d] as number) - (means[j * D + d] as number)) ** 2;
        ok = d2 >= minDist2;
      }
      if (ok) {
        means.set(p.values, k * D);
        patterns.push(p.kind);
        break;
      }
      if (++attempt >= 200) {
        throw new ConfigError(
          'gmm-video.modes',
          s.modes,
          `at most the number of modes that fit ${MIN_MODE_SEPARATION_IN_STD} std apart in ${D} dimensions`,
          'use fewer modes, a larger size/frames/channels, or a smaller std',
        );
      }
    }
  }
  const wrng = seededRng((s.seed ^ 0x9e3779b9) >>> 0);
  const weights = Array.from({ length: s.modes }, () => (s.weights === 'equal' ? 1 : 0.5 + wrng()));
  return new GmmVideo(s, { means, weights, std: s.std, shape: [s.frames, s.size, s.size, s.channels] }, patterns);
}
