/**
 * @file The analytic image-to-video teacher: the video mixture `p(x) = sum_k w_k N(mu_k, s^2 I)`
 * over `x = (x^0, x^{1:F-1})` conditioned on its first frame (issue 10, item 2).
 *
 * The condition is frame 0 observed with augmentation noise `sigma_a >= 0` (SVD's noise-augmented
 * conditioning frame; 0 = the clean frame): `c = x^0 + sigma_a e`. Since the components are
 * isotropic, frames are independent given k, so (D0 = H W C, D1 = (F - 1) D0):
 * - condition weights `w_k(c) ∝ w_k N(c; mu_k^0, (s^2 + sigma_a^2) I)` (log-sum-exp in float64,
 *   {@link conditionLogWeights});
 * - `p(x | c) = sum_k w_k(c) N(x^0; m_k^0, tau^2 I) N(x^{1:}; mu_k^{1:}, s^2 I)` with
 *   `rho = s^2 / (s^2 + sigma_a^2)`, `m_k^0 = mu_k^0 + rho (c - mu_k^0)`, `tau^2 = s^2 (1 - rho)`;
 *   for sigma_a = 0 frame 0 is exactly c ({@link ConditionalMixture});
 * - the exact conditional denoiser ({@link ConditionalMixtureDenoiser}): with
 *   `x_t = alpha x0 + sigma eps`, per frame block `v_0 = alpha^2 tau^2 + sigma^2`,
 *   `v_1 = alpha^2 s^2 + sigma^2`, responsibilities
 *   `r_k ∝ w_k N(c; mu_k^0, (s^2 + sigma_a^2) I) N(x_t^0; alpha m_k^0, v_0 I) N(x_t^{1:}; alpha mu_k^{1:}, v_1 I)`
 *   (for sigma_a = 0 the frame-0 factor is the same for every k and cancels, leaving the brief's
 *   `r_k ∝ w_k N(c; mu_k^0, s^2 I) N(x_t^{1:}; alpha mu_k^{1:}, v_1 I)`), and per block as in
 *   `mixture-denoiser.ts`: `E[x0 | x_t, c] = (sigma^2 / v) mbar + (alpha v_s / v) x_t`,
 *   `E[eps | x_t, c] = (sigma / v)(x_t - alpha mbar)`, `mbar = sum_k r_k m_k`, `v_s` = tau^2 or s^2.
 *   Frame 0 of the posterior mean is c when sigma_a = 0.
 *   Dropping the image (`dropImage` = 1, or no `image`) is the limit sigma_a -> inf: rho = 0, the
 *   unconditional mixture denoiser; so classifier-free guidance is testable analytically.
 *
 * Spec strings: `gmm-i2v:` followed by the `gmm-video:` fields (the same means and weights as the
 * `gmm-video:` spec with the same fields; frames >= 2), e.g.
 * `gmm-i2v:modes=16,frames=4,size=4,channels=3,std=0.05,seed=7`. (condition, video) pairs are drawn
 * by sampling a video from the unconditional mixture and taking its frame 0 ({@link sampleI2vPairs}).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../../errors.js';
import { appendDims, type Coefficient } from '../append-dims.js';
import type { Denoiser } from '../denoiser.js';
import type { NoiseSchedule } from '../noise-schedule.js';
import { fromX0Eps, resolvePredictionType, type PredictionTarget, type PredictionType } from '../prediction-type.js';
import { normalValues, type Rng } from '../rng.js';
import { GaussianMixture, GmmVideo, gmmVideo } from './gaussian-mixture.js';
import { formatGmmVideoSpec, GMM_VIDEO_PREFIX, parseGmmVideoSpec, type GmmVideoSpec } from './gmm-video-spec.js';

/** Prefix of the image-to-video analytic spec (the `gmm-video:` fields follow). */
export const GMM_I2V_PREFIX = 'gmm-i2v:';

/**
 * Parses `gmm-i2v:<gmm-video fields>`; frames must be >= 2 (frame 0 is the condition).
 * @throws ConfigError naming the field (`gmm-i2v.<key>`)
 */
export function parseGmmI2vSpec(spec: string): GmmVideoSpec {
  if (typeof spec !== 'string' || !spec.startsWith(GMM_I2V_PREFIX)) {
    throw new ConfigError('spec', spec, `a string starting with '${GMM_I2V_PREFIX}'`, "e.g. 'gmm-i2v:modes=16,frames=4,size=4,channels=3,std=0.05,seed=7'");
  }
  let parsed: GmmVideoSpec;
  try {
    parsed = parseGmmVideoSpec(GMM_VIDEO_PREFIX + spec.slice(GMM_I2V_PREFIX.length));
  } catch (err) {
    if (err instanceof ConfigError) {
      const field = err.field.replace(/^gmm-video\./, 'gmm-i2v.');
      const fix = /Fix: (.*)$/.exec(err.message)?.[1]?.replace(/gmm-video:/g, GMM_I2V_PREFIX);
      throw new ConfigError(field, err.value, err.allowed, fix);
    }
    throw err;
  }
  if (parsed.frames < 2) throw new ConfigError('gmm-i2v.frames', parsed.frames, 'an integer >= 2 (frame 0 is the condition)');
  return parsed;
}

/** The canonical `gmm-i2v:` string of a spec (inverse of {@link parseGmmI2vSpec}). */
export function formatGmmI2vSpec(spec: GmmVideoSpec): string {
  return GMM_I2V_PREFIX + formatGmmVideoSpec(spec).slice(GMM_VIDEO_PREFIX.length);
}

/** A `gmm-video` mixture used as an image-to-video distribution (prints as its `gmm-i2v:` spec). */
export class GmmI2v extends GmmVideo {
  override toString(): string {
    return formatGmmI2vSpec(this.spec);
  }
}

/** The mixture of a `gmm-i2v:` spec: the same means and weights as `gmmVideo` of the same fields. */
export function gmmI2v(spec: string | GmmVideoSpec): GmmI2v {
  const s = typeof spec === 'string' ? parseGmmI2vSpec(spec) : spec;
  if (s.frames < 2) throw new ConfigError('gmm-i2v.frames', s.frames, 'an integer >= 2 (frame 0 is the condition)');
  const v = gmmVideo(s);
  return new GmmI2v(s, { means: v.means, weights: v.weights, std: v.std, shape: v.shape }, [...v.patterns]);
}

/** Frame geometry of a video mixture `[F, H, W, C]`: frame size D0 and the size D1 of frames 1..F-1. */
interface FrameSplit {
  frames: number;
  frameShape: [number, number, number];
  d0: number;
  d1: number;
}

function frameSplit(gmm: GaussianMixture): FrameSplit {
  if (gmm.shape.length !== 4) throw new ShapeError('conditional mixture shape', gmm.shape, '[F, H, W, C] (a video mixture)');
  const [f, h, w, c] = gmm.shape as [number, number, number, number];
  if (f < 2) throw new ConfigError('conditional mixture frames', f, 'an integer >= 2 (frame 0 is the condition)');
  return { frames: f, frameShape: [h, w, c], d0: h * w * c, d1: (f - 1) * h * w * c };
}

/** A condition as `D0` numbers: `[H, W, C]`, `[1, H, W, C]` or a flat array. @throws ShapeError */
function conditionValues(gmm: GaussianMixture, condition: tf.Tensor | ArrayLike<number>, split: FrameSplit): Float32Array {
  const size = condition instanceof tf.Tensor ? condition.size : condition.length;
  if (size !== split.d0) {
    const found = condition instanceof tf.Tensor ? condition.shape : [size];
    throw new ShapeError('condition (first frame)', found, `[${split.frameShape.join(', ')}] (frame 0 of the mixture's [${gmm.shape.join(', ')}])`);
  }
  return condition instanceof tf.Tensor ? Float32Array.from(condition.dataSync()) : Float32Array.from(condition);
}

function checkSigmaAug(sigmaAug: number): void {
  if (!(Number.isFinite(sigmaAug) && sigmaAug >= 0)) throw new ConfigError('sigmaAug', sigmaAug, 'a finite number >= 0 (0 = the clean first frame)');
}

/**
 * `log w_k(c)`, normalised: `log w_k - |c - mu_k^0|^2 / (2 (s^2 + sigma_a^2))` minus its
 * log-sum-exp, in float64.
 * @param condition the observed first frame, `D0 = H W C` values
 */
export function conditionLogWeights(gmm: GaussianMixture, condition: tf.Tensor | ArrayLike<number>, sigmaAug = 0): Float64Array {
  const split = frameSplit(gmm);
  checkSigmaAug(sigmaAug);
  const c = conditionValues(gmm, condition, split);
  const v = gmm.std ** 2 + sigmaAug ** 2;
  const logits = new Float64Array(gmm.K);
  let max = -Infinity;
  for (let k = 0; k < gmm.K; k++) {
    const mu = gmm.means.subarray(k * gmm.D, k * gmm.D + split.d0);
    let d2 = 0;
    for (let d = 0; d < split.d0; d++) d2 += ((c[d] as number) - (mu[d] as number)) ** 2;
    const w = gmm.weights[k] as number;
    logits[k] = w > 0 ? Math.log(w) - d2 / (2 * v) : -Infinity;
    max = Math.max(max, logits[k] as number);
  }
  let sum = 0;
  for (let k = 0; k < gmm.K; k++) sum += Math.exp((logits[k] as number) - max);
  const lse = max + Math.log(sum);
  return logits.map((l) => l - lse);
}

/** `w_k(c)` (see {@link conditionLogWeights}), summing to 1. */
export function conditionWeights(gmm: GaussianMixture, condition: tf.Tensor | ArrayLike<number>, sigmaAug = 0): Float64Array {
  return conditionLogWeights(gmm, condition, sigmaAug).map(Math.exp);
}

/**
 * The distribution of videos given one first frame (see the file comment): `future` is the
 * mixture of frames 1..F-1 `sum_k w_k(c) N(mu_k^{1:}, s^2 I)` (a {@link GaussianMixture}, so
 * `mixtureMetrics(cm.future, samples[:, 1:])` scores the continuation), frame 0 is c
 * (sigma_a = 0) or drawn from its exact posterior `N(m_k^0, tau^2 I)` given the component.
 */
export class ConditionalMixture {
  /** The observed first frame, `D0` values (`[H, W, C]` row-major). */
  readonly condition: Float32Array;
  /** `w_k(c)`, `[K]`. */
  readonly weights: Float64Array;
  /** The mixture of frames 1..F-1 with the condition weights, shape `[F - 1, H, W, C]`. */
  readonly future: GaussianMixture;
  /** Shape of one video `[F, H, W, C]`. */
  readonly shape: readonly number[];
  readonly #split: FrameSplit;

  constructor(
    readonly base: GaussianMixture,
    condition: tf.Tensor | ArrayLike<number>,
    readonly sigmaAug = 0,
  ) {
    this.#split = frameSplit(base);
    checkSigmaAug(sigmaAug);
    this.condition = conditionValues(base, condition, this.#split);
    this.weights = conditionWeights(base, this.condition, sigmaAug);
    const { d0, d1, frames, frameShape } = this.#split;
    const means = new Float32Array(base.K * d1);
    for (let k = 0; k < base.K; k++) means.set(base.means.subarray(k * base.D + d0, (k + 1) * base.D), k * d1);
    this.future = new GaussianMixture({ means, weights: this.weights, std: base.std, shape: [frames - 1, ...frameShape] });
    this.shape = base.shape;
  }

  /** The component the condition makes most likely, `argmax_k w_k(c)`. */
  mostLikelyMode(): number {
    let best = 0;
    this.weights.forEach((w, k) => (best = w > (this.weights[best] as number) ? k : best));
    return best;
  }

  /** `E[x | c]` `[F, H, W, C]` as values: frame 0 `sum_k w_k(c) m_k^0`, frames 1.. `sum_k w_k(c) mu_k^{1:}`. */
  mean(): Float32Array {
    const { d0 } = this.#split;
    const rho = this.base.std ** 2 / (this.base.std ** 2 + this.sigmaAug ** 2);
    const out = new Float64Array(this.base.D);
    for (let k = 0; k < this.base.K; k++) {
      const w = this.weights[k] as number;
      const mu = this.base.mean(k);
      for (let d = 0; d < this.base.D; d++) {
        const m = d < d0 ? (mu[d] as number) + rho * ((this.condition[d] as number) - (mu[d] as number)) : (mu[d] as number);
        out[d] = (out[d] as number) + w * m;
      }
    }
    return Float32Array.from(out);
  }

  /**
   * Exact samples of `p(x | c)`: k ~ w(c), frames 1.. `mu_k^{1:} + s z`, frame 0 `m_k^0 + tau z'`
   * (exactly c when sigma_a = 0).
   * @returns `x0` `[n, F, H, W, C]` and the components
   */
  sample(n: number, rng: Rng): { x0: tf.Tensor; modes: Int32Array } {
    const { d0 } = this.#split;
    const D = this.base.D;
    const s = this.base.std;
    const rho = s ** 2 / (s ** 2 + this.sigmaAug ** 2);
    const tau = s * Math.sqrt(1 - rho);
    const modes = this.future.sampleModes(n, rng);
    const z = normalValues(n * D, rng);
    for (let i = 0; i < n; i++) {
      const mu = this.base.mean(modes[i] as number);
      for (let d = 0; d < D; d++) {
        const j = i * D + d;
        if (d < d0) {
          const m = (mu[d] as number) + rho * ((this.condition[d] as number) - (mu[d] as number));
          z[j] = m + tau * (z[j] as number);
        } else {
          z[j] = (mu[d] as number) + s * (z[j] as number);
        }
      }
    }
    return { x0: tf.tensor(z, [n, ...this.shape], 'float32'), modes };
  }
}

/** The video distribution of `gmm` given the first frame `condition` (`[H, W, C]` or `D0` values). */
export function conditionalMixture(gmm: GaussianMixture, condition: tf.Tensor | ArrayLike<number>, options: { sigmaAug?: number } = {}): ConditionalMixture {
  return new ConditionalMixture(gmm, condition, options.sigmaAug ?? 0);
}

/** (condition, video) pairs of an image-to-video mixture. */
export interface I2vPairs {
  /** The conditioning frames `[n, H, W, C]`: frame 0 of `x0` (plus `sigma_aug` noise when asked). */
  condition: tf.Tensor;
  /** The videos `[n, F, H, W, C]`, exact samples of the (unconditional) mixture. */
  x0: tf.Tensor;
  /** The component of each video. */
  modes: Int32Array;
  /** `[n]` augmentation levels of `condition` (the backbones' `imageNoiseSigma`). */
  imageNoiseSigma: tf.Tensor;
}

/**
 * Draws `n` (condition, video) pairs: a video from the unconditional mixture, its frame 0 as the
 * condition, optionally noise-augmented `c = x^0 + sigma_aug e` (one level for all, `e` from `rng`
 * after the videos).
 */
export function sampleI2vPairs(gmm: GaussianMixture, n: number, rng: Rng, options: { sigmaAug?: number } = {}): I2vPairs {
  const split = frameSplit(gmm);
  const sigmaAug = options.sigmaAug ?? 0;
  checkSigmaAug(sigmaAug);
  const { x0, modes } = gmm.sample(n, rng);
  const values = x0.dataSync() as Float32Array;
  const cond = new Float32Array(n * split.d0);
  for (let i = 0; i < n; i++) cond.set(values.subarray(i * gmm.D, i * gmm.D + split.d0), i * split.d0);
  if (sigmaAug > 0) {
    const e = normalValues(cond.length, rng);
    for (let j = 0; j < cond.length; j++) cond[j] = (cond[j] as number) + sigmaAug * (e[j] as number);
  }
  return { condition: tf.tensor(cond, [n, ...split.frameShape], 'float32'), x0, modes, imageNoiseSigma: tf.fill([n], sigmaAug) };
}

/** Frame 0 of videos `[N, F, H, W, C]`: `[N, H, W, C]`. */
export function firstFrame(x: tf.Tensor): tf.Tensor {
  if (x.rank !== 5) throw new ShapeError('firstFrame input', x.shape, '[N, F, H, W, C]');
  return tf.tidy(() => tf.squeeze(tf.slice(x, [0, 0], [x.shape[0]!, 1]), [1]));
}

/**
 * The conditioning inputs of {@link ConditionalMixtureDenoiser}, named and shaped as the
 * backbones' image-to-video inputs (`@fewstep/backbones` `Conditioning`).
 */
export interface ConditionalMixtureInputs {
  /** The observed first frames `c` `[B, H, W, C]`; absent = unconditional (the empty image). */
  image?: tf.Tensor;
  /** `sigma_a` `[B]` (or a scalar): the augmentation noise of `image`. @default 0 (the clean first frame) */
  imageNoiseSigma?: tf.Tensor;
  /** `[B]`, 1 = drop the image of that sample (unconditional). @default all 0 */
  dropImage?: tf.Tensor;
}

const INPUT_KEYS = ['image', 'imageNoiseSigma', 'dropImage'];

/**
 * The exact denoiser of a video mixture conditioned on its first frame (see the file comment),
 * under any schedule, reporting `predictionType`. Holds `[K, D]` tensors: dispose it.
 */
export class ConditionalMixtureDenoiser implements Denoiser<ConditionalMixtureInputs> {
  readonly predictionType: PredictionType;
  readonly evaluationsPerCall = 1;
  readonly #split: FrameSplit;
  /** `[K, D0]`, `[K, D1]` */
  readonly #mu0: tf.Tensor2D;
  readonly #mu1: tf.Tensor2D;
  /** `[K]` */
  readonly #mu0NormSq: tf.Tensor1D;
  readonly #mu1NormSq: tf.Tensor1D;
  readonly #logW: tf.Tensor1D;
  #disposed = false;

  constructor(
    readonly mixture: GaussianMixture,
    readonly schedule: NoiseSchedule,
    predictionType: PredictionTarget = 'sample',
  ) {
    this.predictionType = resolvePredictionType(predictionType);
    this.#split = frameSplit(mixture);
    const { d0, d1 } = this.#split;
    [this.#mu0, this.#mu1, this.#mu0NormSq, this.#mu1NormSq, this.#logW] = tf.tidy(() => {
      const mu = tf.tensor2d(mixture.means, [mixture.K, mixture.D], 'float32');
      const mu0 = tf.slice(mu, [0, 0], [mixture.K, d0]) as tf.Tensor2D;
      const mu1 = tf.slice(mu, [0, d0], [mixture.K, d1]) as tf.Tensor2D;
      const logW = tf.tensor1d(Float32Array.from(mixture.weights, (w) => (w > 0 ? Math.log(w) : -1e30)), 'float32');
      return [mu0, mu1, tf.sum(tf.square(mu0), 1) as tf.Tensor1D, tf.sum(tf.square(mu1), 1) as tf.Tensor1D, logW];
    });
  }

  #live(): void {
    if (this.#disposed) throw new Error('ConditionalMixtureDenoiser was disposed; create a new one.');
  }

  /** @throws ShapeError / ConfigError on inputs that do not fit the mixture */
  #check(xt: tf.Tensor, cond: ConditionalMixtureInputs | undefined): number {
    this.#live();
    const B = xt.shape[0] ?? 0;
    const { frameShape } = this.#split;
    if (xt.size !== B * this.mixture.D) throw new ShapeError('x_t', xt.shape, `[B, ${this.mixture.shape.join(', ')}] (D = ${this.mixture.D})`);
    if (cond === undefined) return B;
    for (const key of Object.keys(cond)) {
      if (!INPUT_KEYS.includes(key) && (cond as Record<string, unknown>)[key] !== undefined) {
        throw new ConfigError(`conditional mixture denoiser input '${key}'`, 'given', `only ${INPUT_KEYS.map((k) => `'${k}'`).join(', ')}`, 'the analytic I2V teacher is conditioned on the first frame only');
      }
    }
    const { image, imageNoiseSigma, dropImage } = cond;
    if (image !== undefined && (image.rank !== 4 || image.shape[0] !== B || image.shape.slice(1).join() !== frameShape.join())) {
      throw new ShapeError('image (first frame)', image.shape, `[${B}, ${frameShape.join(', ')}] (frame 0 of the mixture's [${this.mixture.shape.join(', ')}])`);
    }
    if (imageNoiseSigma !== undefined && imageNoiseSigma.size !== B && imageNoiseSigma.size !== 1) throw new ShapeError('imageNoiseSigma', imageNoiseSigma.shape, `[${B}] or a scalar`);
    if (dropImage !== undefined && dropImage.size !== B) throw new ShapeError('dropImage', dropImage.shape, `[${B}]`);
    return B;
  }

  /**
   * `E[x0 | x_t, c]` and `E[eps | x_t, c]`, and the responsibilities `r` `[B, K]`.
   * @param xt `[B, F, H, W, C]`
   * @param alpha,sigma numbers or `[B]` tensors
   */
  posterior(xt: tf.Tensor, alpha: Coefficient, sigma: Coefficient, cond?: ConditionalMixtureInputs): { x0: tf.Tensor; eps: tf.Tensor; responsibilities: tf.Tensor } {
    const B = this.#check(xt, cond);
    const { d0, d1 } = this.#split;
    const s2 = this.mixture.std ** 2;
    return tf.tidy(() => {
      const x = tf.reshape(xt, [B, this.mixture.D]);
      const x0t = tf.slice(x, [0, 0], [B, d0]);
      const x1t = tf.slice(x, [0, d0], [B, d1]);
      const a = appendDims(alpha, 2); // [B, 1] or a number
      const s = appendDims(sigma, 2);
      // rho = keep * s^2 / (s^2 + sigma_a^2) per sample, [B, 1]; 0 without an image.
      const image = cond?.image;
      let rho: tf.Tensor = tf.zeros([B, 1]);
      let c: tf.Tensor = tf.zeros([B, d0]);
      if (image !== undefined) {
        c = tf.reshape(tf.cast(image, 'float32'), [B, d0]);
        const sa = cond?.imageNoiseSigma === undefined ? tf.zeros([B, 1]) : tf.reshape(tf.broadcastTo(tf.reshape(tf.cast(cond.imageNoiseSigma, 'float32'), [-1]), [B]), [B, 1]);
        rho = tf.div(s2, tf.add(s2, tf.square(sa)));
        if (cond?.dropImage !== undefined) rho = tf.mul(rho, tf.sub(1, tf.reshape(tf.cast(cond.dropImage, 'float32'), [B, 1])));
      }
      const tau2 = tf.mul(tf.sub(1, rho), s2); // [B, 1]
      const a2 = tf.square(a);
      const v0 = tf.add(tf.mul(a2, tau2), tf.square(s)); // [B, 1]
      const v1 = tf.add(tf.mul(a2, s2), tf.square(s));
      const TINY = 1e-30; // v0 = 0 only at sigma = 0 with an exact condition: the posterior is c there.
      // 1. Condition likelihood: -rho |c - mu_k^0|^2 / (2 s^2), without the k-independent |c|^2.
      const cDots = tf.matMul(c, this.#mu0, false, true); // [B, K]
      const condTerm = tf.div(tf.mul(rho, tf.sub(cDots, tf.mul(0.5, this.#mu0NormSq))), s2);
      // 2. Frame 0 of x_t: -|y - beta mu_k^0|^2 / (2 v0), y = x_t^0 - alpha rho c, beta = alpha (1 - rho).
      const beta = tf.mul(a, tf.sub(1, rho));
      const y = tf.sub(x0t, tf.mul(tf.mul(a, rho), c));
      const yDots = tf.matMul(y, this.#mu0, false, true);
      const frame0Term = tf.div(tf.sub(tf.mul(beta, yDots), tf.mul(tf.mul(tf.square(beta), 0.5), this.#mu0NormSq)), tf.add(v0, TINY));
      // 3. Frames 1..: -|x_t^{1:} - alpha mu_k^{1:}|^2 / (2 v1), without |x_t^{1:}|^2.
      const xDots = tf.matMul(x1t, this.#mu1, false, true);
      const restTerm = tf.div(tf.sub(tf.mul(a, xDots), tf.mul(tf.mul(a2, 0.5), this.#mu1NormSq)), v1);
      const r = tf.softmax(tf.add(tf.add(tf.add(this.#logW, condTerm), frame0Term), restTerm));
      // Per-block posterior means: mbar^0 = (1 - rho) r mu^0 + rho c, mbar^{1:} = r mu^{1:}.
      const m0 = tf.add(tf.mul(tf.sub(1, rho), tf.matMul(r, this.#mu0)), tf.mul(rho, c));
      const m1 = tf.matMul(r, this.#mu1);
      const s2t = tf.square(s);
      const x0f0 = tf.add(tf.mul(tf.div(tf.add(s2t, TINY), tf.add(v0, TINY)), m0), tf.mul(tf.div(tf.mul(a, tau2), tf.add(v0, TINY)), x0t));
      const x0f1 = tf.add(tf.mul(tf.div(s2t, v1), m1), tf.mul(tf.div(tf.mul(a, s2), v1), x1t));
      const eps0 = tf.mul(tf.div(s, tf.add(v0, TINY)), tf.sub(x0t, tf.mul(a, m0)));
      const eps1 = tf.mul(tf.div(s, v1), tf.sub(x1t, tf.mul(a, m1)));
      return {
        x0: tf.reshape(tf.concat([x0f0, x0f1], 1), xt.shape),
        eps: tf.reshape(tf.concat([eps0, eps1], 1), xt.shape),
        responsibilities: r,
      };
    });
  }

  /** `E[x0 | x_t, c]` at model times `t`. */
  posteriorMean(xt: tf.Tensor, t: tf.Tensor | number, cond?: ConditionalMixtureInputs): tf.Tensor {
    return tf.tidy(() => this.#posteriorAt(xt, t, cond).x0);
  }

  #posteriorAt(xt: tf.Tensor, t: tf.Tensor | number, cond?: ConditionalMixtureInputs): { x0: tf.Tensor; eps: tf.Tensor; alpha: Coefficient; sigma: Coefficient } {
    this.#live();
    const alpha = typeof t === 'number' ? this.schedule.alpha(t) : this.schedule.alphaTensor(t);
    const sigma = typeof t === 'number' ? this.schedule.sigma(t) : this.schedule.sigmaTensor(t);
    const { x0, eps, responsibilities } = this.posterior(xt, alpha, sigma, cond);
    responsibilities.dispose();
    return { x0, eps, alpha, sigma };
  }

  /** The exact prediction of `predictionType` at `(x_t, t)` given the first frame. */
  predict(xt: tf.Tensor, t: tf.Tensor, cond?: ConditionalMixtureInputs): tf.Tensor {
    return tf.tidy(() => {
      const p = this.#posteriorAt(xt, t, cond);
      return fromX0Eps(p.x0, p.eps, this.predictionType, p.alpha, p.sigma);
    });
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    tf.dispose([this.#mu0, this.#mu1, this.#mu0NormSq, this.#mu1NormSq, this.#logW]);
  }
}

/**
 * The exact image-to-video denoiser of `gmm` (conditioned on frame 0, inputs `image`,
 * `imageNoiseSigma`, `dropImage` as the backbones take them) under `schedule`. Dispose it when done.
 * @example
 * const teacher = conditionalMixtureDenoiser(gmmI2v('gmm-i2v:modes=8,frames=4,size=4,channels=3,std=0.05,seed=1'), flowMatchingSchedule(), 'flow');
 * const v = teacher.predict(xt, t, { image: firstFrame(x0) });
 */
export function conditionalMixtureDenoiser(gmm: GaussianMixture, schedule: NoiseSchedule, predictionType: PredictionTarget = 'sample'): ConditionalMixtureDenoiser {
  return new ConditionalMixtureDenoiser(gmm, schedule, predictionType);
}
