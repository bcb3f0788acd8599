/**
 * @file Collapse statistics of a batch of sampled videos `x` `[N, F, H, W, C]`, and the checks
 * the collapse watchdog applies to them. No paper defines these: they are engineering guards
 * against the failure modes distillation runs show (DMD-style students collapsing to static or
 * black videos when the regression term is off, METHODS.md "lambda_real = 0 alone can collapse to
 * black videos"; GAN terms producing flashing frames; mode collapse). Definitions (means `E`):
 *
 * - `scale`       s  = std of every element of `x` (data units); ratios divide by max(s, 1e-8).
 * - `temporalStd` Ts = E_{n,h,w,c} std_f x[n, f, h, w, c]                 (~0: static videos)
 * - `spatialStd`  Ss = E_{n,f,c}   std_{h,w} x[n, f, h, w, c]             (~0: solid colour)
 * - `flicker`        = E_{n,f,c} |m[n, f+1, c] - m[n, f, c]| / max(Ss, s / 2, 1e-8), with
 *                      m[n, f, c] = E_{h,w} x[n, f, h, w, c] the per-frame channel mean: the frame
 *                      to frame jump of the mean brightness relative to the within-frame std
 *                      (high: flashing). The floor s / 2 is our choice: it keeps the number finite
 *                      for solid frames, so a strobe still scores high (~4) while a solid colour
 *                      drifting slowly (0.04 per frame) does not (~0.2).
 * - `diversity`   Dv = E_{i != j} sqrt(||x_i - x_j||^2 / D), the mean pairwise RMS distance per
 *                      element (D = F H W C), from the Gram matrix of the centred samples.
 * - `nonFinite`      = number of NaN / Inf elements (then every other number is NaN).
 *
 * `temporalStd` and `flicker` are NaN when F < 2, `diversity` is NaN when N < 2: their checks do
 * not fire then. Everything is computed in one `tf.tidy` and read with one async `data()`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@fewstep/core';

// A type alias (not an interface) so that it is assignable to an event payload's `Record<string, number>`.
/** Numbers of one batch of sampled videos (plain data, JSON-serializable except NaN -> null). */
export type CollapseStatistics = {
  /** N and F of the batch. */
  readonly samples: number;
  readonly frames: number;
  /** Std of all elements (data units). */
  readonly scale: number;
  /** Mean over pixels of the std over frames (data units); NaN when F < 2. */
  readonly temporalStd: number;
  /** Mean over frames and channels of the std over pixels (data units). */
  readonly spatialStd: number;
  /** Mean |frame-to-frame change of the per-frame channel mean| / within-frame std; NaN when F < 2. */
  readonly flicker: number;
  /** Mean pairwise RMS distance between samples (data units); NaN when N < 2. */
  readonly diversity: number;
  /** `temporalStd / scale`, `spatialStd / scale`, `diversity / scale` (scale-free). */
  readonly temporalRatio: number;
  readonly spatialRatio: number;
  readonly diversityRatio: number;
  /** NaN / Inf elements in the batch. */
  readonly nonFinite: number;
};

/** The checks, in the order they are reported. */
export const COLLAPSE_CHECKS = ['non-finite', 'static', 'solid-colour', 'flashing', 'low-diversity', 'diversity-drop'] as const;
export type CollapseCheckName = (typeof COLLAPSE_CHECKS)[number];

/**
 * Thresholds of the checks, on scale-free numbers. The defaults (chosen here; no paper sets them)
 * leave healthy samples of the benchmark's video mixture (`gmm-video`, moving blobs and stripes,
 * noise std 0.1) a wide margin: over batches of 4-32 samples we measured `temporalRatio` >= 0.17,
 * `spatialRatio` >= 0.55, `flicker` <= 0.16 and `diversityRatio` >= 0.9 (the tests keep a
 * factor >= 2 to every threshold on the 16-mode `[4, 4, 4, 3]` mixture).
 */
export interface CollapseThresholds {
  /** `static` fires when `temporalRatio < staticBelow`. @default 0.05 */
  readonly staticBelow: number;
  /** `solid-colour` fires when `spatialRatio < solidBelow`. @default 0.05 */
  readonly solidBelow: number;
  /** `flashing` fires when `flicker > flickerAbove`. @default 0.5 */
  readonly flickerAbove: number;
  /** `low-diversity` fires when `diversityRatio < diversityBelow` (near-identical samples). @default 0.05 */
  readonly diversityBelow: number;
  /** `diversity-drop` fires when `diversity < diversityDrop * reference` (see the watchdog). @default 0.5 */
  readonly diversityDrop: number;
}

export const DEFAULT_COLLAPSE_THRESHOLDS: CollapseThresholds = Object.freeze({
  staticBelow: 0.05,
  solidBelow: 0.05,
  flickerAbove: 0.5,
  diversityBelow: 0.05,
  diversityDrop: 0.5,
});

const EPS = 1e-8;

/** Validates partial thresholds and fills in the defaults. @throws ConfigError naming the field */
export function resolveCollapseThresholds(thresholds: Partial<CollapseThresholds> = {}, field = 'thresholds'): CollapseThresholds {
  const out = { ...DEFAULT_COLLAPSE_THRESHOLDS, ...thresholds };
  for (const [k, v] of Object.entries(out)) {
    if (!(k in DEFAULT_COLLAPSE_THRESHOLDS)) throw new ConfigError(`${field}.${k}`, v, `one of ${Object.keys(DEFAULT_COLLAPSE_THRESHOLDS).join(', ')}`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConfigError(`${field}.${k}`, v, 'a finite number >= 0');
  }
  if (out.diversityDrop > 1) throw new ConfigError(`${field}.diversityDrop`, out.diversityDrop, 'a fraction in [0, 1] of the reference diversity');
  return out;
}

/**
 * The statistics as a `[6]` float32 tensor `[scale, temporalStd, spatialStd, flicker, diversity,
 * nonFinite]` (the caller disposes it). Rank 5 only. Pure: `videos` is not disposed.
 */
export function collapseStatisticsTensor(videos: tf.Tensor): tf.Tensor1D {
  if (!(videos instanceof tf.Tensor) || videos.rank !== 5) {
    throw new ShapeError('collapseStatistics videos', videos instanceof tf.Tensor ? videos.shape : [], '[N, F, H, W, C] (rank 5)', 'pass a batch of videos; an image batch [N, H, W, C] is videos.expandDims(1)');
  }
  const [N, F, H, W, C] = videos.shape as [number, number, number, number, number];
  if (N * F * H * W * C === 0) throw new ShapeError('collapseStatistics videos', videos.shape, 'a non-empty batch');
  return tf.tidy(() => {
    const x = videos.dtype === 'float32' ? videos : tf.cast(videos, 'float32');
    const nanScalar = tf.scalar(NaN);
    const scale = tf.sqrt(tf.moments(x).variance);
    const spatial = tf.moments(x, [2, 3]); // [N, F, C]
    const spatialStd = tf.mean(tf.sqrt(spatial.variance));
    let temporalStd: tf.Tensor = nanScalar;
    let flicker: tf.Tensor = nanScalar;
    if (F >= 2) {
      temporalStd = tf.mean(tf.sqrt(tf.moments(x, 1).variance));
      const m = spatial.mean; // [N, F, C]
      const jump = tf.mean(tf.abs(tf.sub(tf.slice(m, [0, 1, 0], [N, F - 1, C]), tf.slice(m, [0, 0, 0], [N, F - 1, C]))));
      flicker = tf.div(jump, tf.maximum(tf.maximum(spatialStd, tf.mul(scale, 0.5)), EPS));
    }
    let diversity: tf.Tensor = nanScalar;
    if (N >= 2) {
      const D = F * H * W * C;
      const flat = tf.reshape(x, [N, D]);
      // Centring first keeps the Gram-matrix cancellation error far below the thresholds.
      const xc = tf.sub(flat, tf.mean(flat, 0, true));
      const sq = tf.sum(tf.square(xc), 1); // [N]
      const gram = tf.matMul(xc, xc, false, true); // [N, N]
      const d2 = tf.relu(tf.sub(tf.add(tf.reshape(sq, [N, 1]), tf.reshape(sq, [1, N])), tf.mul(gram, 2)));
      const offDiagonal = tf.sub(tf.onesLike(d2), tf.eye(N));
      diversity = tf.div(tf.sum(tf.mul(tf.sqrt(tf.div(d2, D)), offDiagonal)), N * (N - 1));
    }
    const nonFinite = tf.sum(tf.cast(tf.logicalNot(tf.isFinite(x)), 'float32'));
    return tf.stack([scale, temporalStd, spatialStd, flicker, diversity, nonFinite].map((t) => tf.reshape(t, []))) as tf.Tensor1D;
  });
}

/** {@link CollapseStatistics} of `videos` `[N, F, H, W, C]` (one async read; `videos` is not disposed). */
export async function collapseStatistics(videos: tf.Tensor): Promise<CollapseStatistics> {
  const t = collapseStatisticsTensor(videos);
  let v: Float32Array;
  try {
    v = (await t.data()) as Float32Array;
  } finally {
    t.dispose();
  }
  return statisticsFromValues(videos.shape[0]!, videos.shape[1]!, v);
}

function statisticsFromValues(samples: number, frames: number, v: ArrayLike<number>): CollapseStatistics {
  const [scale, temporalStd, spatialStd, flicker, diversity, nonFinite] = Array.from(v).slice(0, 6) as [number, number, number, number, number, number];
  const s = Math.max(scale, EPS);
  return {
    samples,
    frames,
    scale,
    temporalStd,
    spatialStd,
    flicker,
    diversity,
    temporalRatio: temporalStd / s,
    spatialRatio: spatialStd / s,
    diversityRatio: diversity / s,
    nonFinite,
  };
}

/**
 * Which checks fire for `stats`. `diversity-drop` needs a `diversityReference` (the watchdog's
 * first or best healthy diversity); a batch with NaN / Inf fires only `non-finite`. NaN numbers
 * (F < 2, N < 2) never fire their checks.
 */
export function collapseChecks(stats: CollapseStatistics, thresholds: CollapseThresholds = DEFAULT_COLLAPSE_THRESHOLDS, diversityReference?: number): CollapseCheckName[] {
  if (stats.nonFinite > 0) return ['non-finite'];
  const fired: CollapseCheckName[] = [];
  if (stats.temporalRatio < thresholds.staticBelow) fired.push('static');
  if (stats.spatialRatio < thresholds.solidBelow) fired.push('solid-colour');
  if (stats.flicker > thresholds.flickerAbove) fired.push('flashing');
  if (stats.diversityRatio < thresholds.diversityBelow) fired.push('low-diversity');
  if (diversityReference !== undefined && diversityReference > 0 && stats.diversity < thresholds.diversityDrop * diversityReference) fired.push('diversity-drop');
  return fired;
}
