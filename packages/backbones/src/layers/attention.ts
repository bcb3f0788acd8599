import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, type ParamScope } from '@fewstep/core';
import { initLinear, linear } from './linear.js';

/** Options of {@link initAttention}. */
export interface AttentionInit {
  /** Width of the key/value source (cross-attention); @default queryDim (self-attention) */
  contextDim?: number;
  /** Zero the output projection so the block starts as identity (motion modules). @default false */
  zeroOut?: boolean;
}

/**
 * Creates `to_q` `[queryDim, inner]`, `to_k`/`to_v` `[contextDim, inner]` (no bias) and `to_out`
 * `[inner, queryDim]` (with bias). q/k/v have no bias as in Stable Diffusion's attention: a key
 * bias adds the same constant `q·b` to every score of a row, which softmax ignores, so it would
 * get exactly zero gradient.
 */
export function initAttention(scope: ParamScope, queryDim: number, innerDim: number, options: AttentionInit = {}): void {
  const contextDim = options.contextDim ?? queryDim;
  initLinear(scope.scope('to_q'), queryDim, innerDim, { bias: false });
  initLinear(scope.scope('to_k'), contextDim, innerDim, { bias: false });
  initLinear(scope.scope('to_v'), contextDim, innerDim, { bias: false });
  initLinear(scope.scope('to_out'), innerDim, queryDim, { zero: options.zeroOut ?? false });
}

/** `[B, N, h*d]` to `[B*h, N, d]`. */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor {
  return tf.tidy(() => {
    const [b, n, hd] = x.shape as [number, number, number];
    return tf.reshape(tf.transpose(tf.reshape(x, [b, n, heads, hd / heads]), [0, 2, 1, 3]), [b * heads, n, hd / heads]);
  });
}

/** `[B*h, N, d]` to `[B, N, h*d]`. */
export function mergeHeads(x: tf.Tensor, heads: number): tf.Tensor {
  return tf.tidy(() => {
    const [bh, n, d] = x.shape as [number, number, number];
    const b = bh / heads;
    return tf.reshape(tf.transpose(tf.reshape(x, [b, heads, n, d]), [0, 2, 1, 3]), [b, n, heads * d]);
  });
}

/** Repeats each batch entry `r` times in place: `[B, ...]` to `[B*r, ...]` (entry `b` at rows `b*r .. b*r+r-1`). */
export function repeatBatch(x: tf.Tensor, r: number): tf.Tensor {
  if (r === 1) return x;
  return tf.tidy(() => {
    const [b, ...rest] = x.shape;
    const size = rest.reduce((p, d) => p * d, 1);
    // Rank 3 whatever the input rank: tfjs's broadcast (Tile) gradient exists only up to rank 4.
    return tf.reshape(tf.broadcastTo(tf.reshape(x, [b!, 1, size]), [b!, r, size]), [b! * r, ...rest]);
  });
}

/** Options of {@link scaledDotProductAttention} and {@link attention}. */
export interface AttentionOptions {
  /** Key mask `[B, Nk]` (1 = attend, 0 = ignore, e.g. PAD tokens), for the batch of q. */
  keyMask?: tf.Tensor;
  /** Applied to q and k after the head split (`[B*h, N, d]`), e.g. rotary position embedding. */
  transformQK?: (t: tf.Tensor) => tf.Tensor;
}

/**
 * Multi-head scaled dot-product attention (Vaswani et al. 2017, Eq. 1) with batched matMuls over
 * `[B*h, N, d]`: `softmax(q k^T / sqrt(d) + maskBias) v`.
 * @param q `[B, Nq, h*d]`  @param k `[B, Nk, h*d]`  @param v `[B, Nk, h*d]`
 * @returns `[B, Nq, h*d]`
 */
export function scaledDotProductAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, heads: number, options: AttentionOptions = {}): tf.Tensor {
  return tf.tidy(() => {
    const [b, nq, inner] = q.shape as [number, number, number];
    const nk = k.shape[1]!;
    if (inner % heads !== 0) throw new ShapeError('attention q', q.shape, `a last axis divisible by heads = ${heads}`);
    const d = inner / heads;
    let qh = splitHeads(q, heads);
    let kh = splitHeads(k, heads);
    if (options.transformQK) {
      qh = options.transformQK(qh);
      kh = options.transformQK(kh);
    }
    // Scale q (N*d values) rather than the scores (N*N values).
    let scores = tf.matMul(tf.mul(qh, 1 / Math.sqrt(d)) as tf.Tensor3D, kh as tf.Tensor3D, false, true);
    if (options.keyMask) {
      const bias = tf.reshape(tf.mul(tf.sub(1, tf.cast(options.keyMask, 'float32')), -1e9), [b, 1, 1, nk]);
      scores = tf.reshape(tf.add(tf.reshape(scores, [b, heads, nq, nk]), bias), [b * heads, nq, nk]);
    }
    const out = tf.matMul(tf.softmax(scores), splitHeads(v, heads) as tf.Tensor3D);
    return mergeHeads(out, heads);
  });
}

/**
 * Multi-head attention block of {@link initAttention}: self-attention when `context` is undefined,
 * cross-attention to `context` otherwise.
 * @param x `[B*r, N, queryDim]`
 * @param context `[B, L, contextDim]`; each entry serves `r = x.B / context.B` consecutive rows of
 *   `x` (all frames of one video), projected once and then repeated
 * @returns `[B*r, N, queryDim]`
 */
export function attention(scope: ParamScope, x: tf.Tensor, heads: number, context?: tf.Tensor, options: AttentionOptions = {}): tf.Tensor {
  return tf.tidy(() => {
    const q = linear(scope.scope('to_q'), x);
    const src = context ?? x;
    const r = x.shape[0]! / src.shape[0]!;
    if (!Number.isInteger(r) || r < 1) {
      throw new ShapeError('attention context', src.shape, `a batch dividing the query batch ${x.shape[0]}`);
    }
    const k = repeatBatch(linear(scope.scope('to_k'), src), r);
    const v = repeatBatch(linear(scope.scope('to_v'), src), r);
    const keyMask = options.keyMask ? repeatBatch(options.keyMask, r) : undefined;
    const o = scaledDotProductAttention(q, k, v, heads, { ...options, keyMask });
    return linear(scope.scope('to_out'), o);
  });
}
