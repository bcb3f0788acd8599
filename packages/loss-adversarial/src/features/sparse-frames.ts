/**
 * @file Sparse frame sampling of MCM (Zhai et al. 2024, "Motion Consistency Model", Sec. 4.2):
 * the image discriminator sees only l frames per video, drawn at random, to keep its cost low.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, type Rng } from '@fewstep/core';

/** Result of {@link sampleSparseFrames}. */
export interface SparseFrames {
  /** Picked frame indices, `indices[b]` = l distinct frames of video b, ascending. */
  indices: number[][];
  /** Gathered frames `[B*l, H, W, C]` (video-major: the l frames of video 0 first). */
  frames: tf.Tensor;
}

/**
 * Draws l distinct frames per video with `rng` (partial Fisher-Yates, deterministic for a seeded
 * rng) and gathers them. Differentiable: only the picked frames of `video` receive gradient.
 * @param video `[B, F, H, W, C]`
 * @param l frames per video, `1 <= l <= F`
 * @param rng uniform [0, 1) source, e.g. core's `seededRng(seed)`
 */
export function sampleSparseFrames(video: tf.Tensor, l: number, rng: Rng): SparseFrames {
  if (video.rank !== 5) throw new ShapeError('video', video.shape, '[B, F, H, W, C]', 'pass a channels-last video batch');
  const [b, f, h, w, c] = video.shape as [number, number, number, number, number];
  if (!(Number.isInteger(l) && l >= 1 && l <= f)) throw new ConfigError('l', l, `an integer in [1, ${f}] (F)`, 'MCM samples a few frames, e.g. 2');
  const indices: number[][] = [];
  for (let i = 0; i < b; i++) {
    const pool = Array.from({ length: f }, (_, j) => j);
    for (let k = 0; k < l; k++) {
      const j = k + Math.min(f - k - 1, Math.floor(rng() * (f - k)));
      [pool[k], pool[j]] = [pool[j]!, pool[k]!];
    }
    indices.push(pool.slice(0, l).sort((x, y) => x - y));
  }
  const flat = indices.flatMap((row, i) => row.map((j) => i * f + j));
  const frames = tf.tidy(() => tf.gather(tf.reshape(video, [b * f, h, w, c]), tf.tensor1d(flat, 'int32')));
  return { indices, frames };
}
