/**
 * @file Pixel statistics of a video set `[N, F, H, W, C]` (values as given: fewstep's [-1, 1]):
 *
 * - sharpness: the variance of the discrete Laplacian of each frame's luminance (Pech-Pacheco et
 *   al. 2000, "Diatom autofocusing in brightfield microscopy"; the "variance of Laplacian" focus
 *   measure): `L = Y(i-1,j) + Y(i+1,j) + Y(i,j-1) + Y(i,j+1) - 4 Y(i,j)` on interior pixels,
 *   `Var_ij L` per frame, averaged over frames and videos. Blurry or flat frames score low.
 * - temporal change: `mean |x_{t} - x_{t-1}|` over videos, t = 1..F-1, pixels and channels; a
 *   frozen clip scores 0, flicker scores high. Compare it with the reference's as a ratio.
 * - diversity: the mean pairwise L2 distance `mean_{i<j} ||v_i - v_j||_2` between whole videos
 *   (flattened `F*H*W*C`); a collapsed generator scores near 0. Compare with the reference's.
 *
 * Our choices (no paper fixes them): luminance is Rec. 601 `Y = 0.299 R + 0.587 G + 0.114 B` (one
 * channel: itself); the Laplacian is taken on interior pixels only (no padding, so frames must be at
 * least 3 x 3) and its variance is the population variance; diversity uses at most `maxVideos`
 * videos (the first ones, default 512: the cost is quadratic) and is accumulated in float64.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@fewstep/core';

/** A video set: a tensor `[N, F, H, W, C]` or its values with the shape. */
export type VideoSet = tf.Tensor | { readonly values: ArrayLike<number>; readonly shape: readonly number[] };

interface Videos {
  values: ArrayLike<number>;
  n: number;
  f: number;
  h: number;
  w: number;
  c: number;
}

/** Rec. 601 luma weights (sum to 1, so a gray RGB frame's luminance is its value). */
export const LUMA_WEIGHTS = [0.299, 0.587, 0.114] as const;

function videosOf(x: VideoSet, what: string): Videos {
  const shape = 'rank' in x ? x.shape : x.shape;
  if (shape.length !== 5) throw new ShapeError(what, shape, '[N, F, H, W, C] videos');
  const [n, f, h, w, c] = shape as [number, number, number, number, number];
  if (c !== 1 && c !== 3) throw new ShapeError(what, shape, '[N, F, H, W, C] with C = 1 (luma) or 3 (RGB)');
  const values = 'rank' in x ? (x as tf.Tensor).dataSync() : x.values;
  if (values.length !== n * f * h * w * c) throw new ShapeError(`${what} values`, [values.length], `${n * f * h * w * c} values for shape [${shape.join(', ')}]`);
  return { values, n, f, h, w, c };
}

/**
 * Sharpness: the variance of the 4-neighbour Laplacian of each frame's luminance, averaged over
 * all frames of all videos. Frames need H, W >= 3.
 */
export function sharpness(videos: VideoSet): number {
  const { values, n, f, h, w, c } = videosOf(videos, 'sharpness videos');
  if (h < 3 || w < 3) throw new ShapeError('sharpness videos', [n, f, h, w, c], '[N, F, H, W, C] with H, W >= 3 (the Laplacian uses interior pixels)');
  const y = new Float64Array(h * w);
  let total = 0;
  for (let v = 0; v < n * f; v++) {
    const base = v * h * w * c;
    for (let p = 0; p < h * w; p++) {
      y[p] = c === 1 ? values[base + p]! : LUMA_WEIGHTS[0] * values[base + 3 * p]! + LUMA_WEIGHTS[1] * values[base + 3 * p + 1]! + LUMA_WEIGHTS[2] * values[base + 3 * p + 2]!;
    }
    let sum = 0;
    let sum2 = 0;
    for (let i = 1; i < h - 1; i++) {
      for (let j = 1; j < w - 1; j++) {
        const p = i * w + j;
        const lap = y[p - w]! + y[p + w]! + y[p - 1]! + y[p + 1]! - 4 * y[p]!;
        sum += lap;
        sum2 += lap * lap;
      }
    }
    const m = (h - 2) * (w - 2);
    const mean = sum / m;
    total += Math.max(0, sum2 / m - mean * mean);
  }
  return total / (n * f);
}

/** Temporal change: `mean |x_t - x_{t-1}|` over videos, t = 1..F-1, pixels and channels (F >= 2). */
export function temporalChange(videos: VideoSet): number {
  const { values, n, f, h, w, c } = videosOf(videos, 'temporalChange videos');
  if (f < 2) throw new ShapeError('temporalChange videos', [n, f, h, w, c], '[N, F, H, W, C] with F >= 2 (a change needs two frames)');
  const per = h * w * c;
  let sum = 0;
  for (let v = 0; v < n; v++) {
    for (let t = 1; t < f; t++) {
      const cur = (v * f + t) * per;
      const prev = cur - per;
      for (let k = 0; k < per; k++) sum += Math.abs(values[cur + k]! - values[prev + k]!);
    }
  }
  return sum / (n * (f - 1) * per);
}

/** Options of {@link diversity}. */
export interface DiversityOptions {
  /** Use at most this many videos (the first ones): the cost is `O(N^2 F H W C)`. @default 512 */
  maxVideos?: number;
}

/** Diversity: the mean pairwise L2 distance `mean_{i<j} ||v_i - v_j||_2` between flattened videos (N >= 2). */
export function diversity(videos: VideoSet, options: DiversityOptions = {}): number {
  const { values, n: all, f, h, w, c } = videosOf(videos, 'diversity videos');
  const { maxVideos = 512 } = options;
  if (!Number.isInteger(maxVideos) || maxVideos < 2) throw new ConfigError('diversity.maxVideos', maxVideos, 'an integer >= 2');
  if (all < 2) throw new ShapeError('diversity videos', [all, f, h, w, c], '[N, F, H, W, C] with N >= 2 (a distance needs two videos)');
  const n = Math.min(all, maxVideos);
  const per = f * h * w * c;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let d2 = 0;
      const a = i * per;
      const b = j * per;
      for (let k = 0; k < per; k++) {
        const d = values[a + k]! - values[b + k]!;
        d2 += d * d;
      }
      sum += Math.sqrt(d2);
    }
  }
  return sum / ((n * (n - 1)) / 2);
}

/** The three statistics of one set. */
export interface FrameStatistics {
  readonly sharpness: number;
  /** `null` for single-frame videos. */
  readonly temporalChange: number | null;
  /** `null` for a single video. */
  readonly diversity: number | null;
}

/** {@link sharpness}, {@link temporalChange} and {@link diversity} of one set (null where undefined). */
export function frameStatistics(set: VideoSet, options: DiversityOptions = {}): FrameStatistics {
  const videos: VideoSet = 'rank' in set ? { values: (set as tf.Tensor).dataSync(), shape: set.shape } : set;
  const [n, f] = videos.shape as [number, number];
  return {
    sharpness: sharpness(videos),
    temporalChange: f >= 2 ? temporalChange(videos) : null,
    diversity: n >= 2 ? diversity(videos, options) : null,
  };
}
