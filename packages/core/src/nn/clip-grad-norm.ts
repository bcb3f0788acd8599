import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';

/** The global L2 norm of a set of gradients, read back from device (P29). */
export interface GlobalNorm {
  /** `||g||_2 = s * r`, the float64 product of two float32 reductions; NaN or Infinity when not finite. */
  readonly norm: number;
  /** Whether every gradient element was finite (a non-finite norm means: skip the step, P27). */
  readonly finite: boolean;
  /** `max |g|` over all gradients (float32). */
  readonly s: number;
  /** `sqrt(sum (g / s)^2)` (float32), in `[1, sqrt(numel)]` when `s > 0`. */
  readonly r: number;
}

/**
 * The on-device parts of the global L2 norm, `[s, r]` (shape `[2]`), with `s = max |g|` and
 * `r = sqrt(sum_i sum((g_i / s)^2))`, so that `||g||_2 = s * r` never overflows or underflows in
 * float32 (the squares of `g / s` lie in [0, 1]). A NaN or ±Inf anywhere makes `r` (or `s`)
 * non-finite. The sum runs in the given order: pass the gradients sorted by name so the result
 * does not depend on variable registration order (P20).
 */
export function globalNormParts(grads: readonly tf.Tensor[]): tf.Tensor1D {
  return tf.tidy(() => {
    const gs = grads.filter((g) => g.size > 0).map((g) => (g.dtype === 'float32' ? g : tf.cast(g, 'float32')));
    if (gs.length === 0) return tf.tensor1d([0, 0]);
    const maxes = gs.map((g) => tf.max(tf.abs(g)));
    const s = maxes.length === 1 ? maxes[0]! : tf.max(tf.stack(maxes));
    const sSafe = tf.where(tf.greater(s, 0), s, tf.onesLike(s));
    const sums = gs.map((g) => tf.sum(tf.square(tf.div(g, sSafe))));
    const r = tf.sqrt(sums.length === 1 ? sums[0]! : tf.addN(sums));
    return tf.stack([s, r]) as tf.Tensor1D;
  });
}

/** Reads `[s, r]` from {@link globalNormParts} (one async read) and disposes it. */
export async function readGlobalNorm(parts: tf.Tensor1D): Promise<GlobalNorm> {
  try {
    const [s = NaN, r = NaN] = await parts.data();
    const finite = Number.isFinite(s) && Number.isFinite(r);
    return { norm: s * r, finite, s, r };
  } finally {
    parts.dispose();
  }
}

/** torch's `clip_grad_norm_` coefficient: `min(1, maxNorm / (norm + 1e-6))`. */
export function clipCoefficient(norm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}

/**
 * `g * coef` for a gradient of a set whose `max |g| = s`. When `coef` would underflow float32
 * (norms near the float32 limit) it computes `(g / s) * (coef * s)` instead, so a finite gradient
 * never becomes 0 or NaN through clipping. In the caller's tidy.
 */
export function scaleGradient(g: tf.Tensor, coef: number, s: number): tf.Tensor {
  if (coef === 1) return g;
  if (Math.fround(coef) >= 1e-30) return tf.mul(g, coef);
  return tf.mul(tf.div(g, s), coef * s);
}

/**
 * Clips gradients by their global L2 norm (torch `clip_grad_norm_` semantics, norm in float32).
 * Returns new tensors the caller owns, or `grads: null` when the norm is not finite: the caller
 * must then skip the step (P29: never scale by NaN). One async read.
 */
export async function clipByGlobalNorm(
  grads: ReadonlyMap<string, tf.Tensor>,
  maxNorm: number,
): Promise<{ grads: Map<string, tf.Tensor> | null; norm: number; clipped: boolean }> {
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) throw new ConfigError('maxNorm', maxNorm, 'a finite number > 0');
  const names = [...grads.keys()].sort();
  const gn = await readGlobalNorm(globalNormParts(names.map((n) => grads.get(n)!)));
  if (!gn.finite) return { grads: null, norm: gn.norm, clipped: false };
  const coef = clipCoefficient(gn.norm, maxNorm);
  const out = new Map<string, tf.Tensor>();
  for (const [n, g] of grads) out.set(n, tf.tidy(() => (coef === 1 ? tf.clone(g) : scaleGradient(g, coef, gn.s))));
  return { grads: out, norm: gn.norm, clipped: coef < 1 };
}
