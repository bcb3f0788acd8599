import * as tf from '@tensorflow/tfjs-core';
import { linear } from './linear.js';

/** Weights of one multi-head self-attention layer (canonical layout: Linear weights `[in, out]`). */
export interface AttentionParams {
  /** `[C, 3C]`: the fused q/k/v projection; output columns ordered (q|k|v, head, d). */
  wQkv: tf.Tensor;
  /** `[3C]` */
  bQkv: tf.Tensor;
  /** `[C, C]` output projection */
  wOut: tf.Tensor;
  /** `[C]` */
  bOut: tf.Tensor;
}

/**
 * Multi-head scaled dot-product self-attention (Vaswani et al. 2017, eq. 1 and §3.2.2):
 * softmax(q·kᵀ/√d)·v per head, then the output projection. Same math as PyTorch's
 * `nn.MultiheadAttention` with a fused in-projection.
 *
 * Formulation, chosen for the wasm backend: the fused `[C, 3C]` weight is sliced into its q, k, v
 * column blocks (small `[C, C]` slices, so the big activation is never split), with 1/√d folded
 * into the q block; each projection `[N·T, C]` is viewed as `[N, T, h, d]` and moved to
 * `[N·h, T, d]` with one rank-4 transpose (wasm's rank-5 transpose is ~100× slower); two rank-3
 * batched matMuls (kᵀ via `transposeB`); one rank-4 transpose back to `[N, T, C]`.
 *
 * @param x `[N, T, C]` tokens
 * @param heads h, must divide C
 * @returns `[N, T, C]`
 */
export function selfAttention(x: tf.Tensor, p: AttentionParams, heads: number): tf.Tensor {
  return tf.tidy(() => {
    const [n, t, c] = x.shape as [number, number, number];
    if (c % heads !== 0) throw new Error(`selfAttention: C=${c} is not divisible by heads=${heads}`);
    const d = c / heads;
    const x2 = tf.reshape(x, [n * t, c]);
    const project = (block: number, scale: number): tf.Tensor => {
      let w = tf.slice(p.wQkv, [0, block * c], [c, c]);
      let b = tf.slice(p.bQkv, [block * c], [c]);
      if (scale !== 1) {
        w = tf.mul(w, scale);
        b = tf.mul(b, scale);
      }
      const y = linear(x2, w, b); // [N·T, C]
      return tf.reshape(tf.transpose(tf.reshape(y, [n, t, heads, d]), [0, 2, 1, 3]), [n * heads, t, d]);
    };
    const q = project(0, 1 / Math.sqrt(d));
    const k = project(1, 1);
    const v = project(2, 1);
    const attn = tf.softmax(tf.matMul(q, k, false, true)); // [N·h, T, T]
    const o = tf.matMul(attn, v); // [N·h, T, d]
    const merged = tf.reshape(tf.transpose(tf.reshape(o, [n, heads, t, d]), [0, 2, 1, 3]), [n * t, c]);
    return tf.reshape(linear(merged, p.wOut, p.bOut), [n, t, c]);
  });
}
