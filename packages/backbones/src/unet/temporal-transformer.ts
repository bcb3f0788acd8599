import * as tf from '@tensorflow/tfjs-core';
import type { ParamScope } from '@fewstep/core';
import { attention, initAttention } from '../layers/attention.js';
import { feedForward, initFeedForward } from '../layers/feed-forward.js';
import { groupNorm, initNorm, resolveGroups } from '../layers/group-norm.js';
import { layerNorm } from '../layers/layer-norm.js';
import { initLinear, linear } from '../layers/linear.js';
import { sinusoidalEmbedding } from '../layers/timestep-embedding.js';

/**
 * Creates a motion module (AnimateDiff's temporal transformer): `norm` (GroupNorm), `proj_in`,
 * `blocks.k` = {`norm1`, `attn1` over frames, `norm2`, `ff`}, and `proj_out` initialised to zero,
 * so that a freshly added module is the identity and a video UNet starts as its image UNet
 * applied frame by frame.
 */
export function initTemporalTransformer(scope: ParamScope, channels: number, depth: number, ffMult: number): void {
  initNorm(scope.scope('norm'), channels);
  initLinear(scope.scope('proj_in'), channels, channels);
  for (let k = 0; k < depth; k++) {
    const blk = scope.scope(`blocks.${k}`);
    initNorm(blk.scope('norm1'), channels);
    initAttention(blk.scope('attn1'), channels, channels);
    initNorm(blk.scope('norm2'), channels);
    initFeedForward(blk.scope('ff'), channels, ffMult);
  }
  initLinear(scope.scope('proj_out'), channels, channels, { zero: true });
}

/**
 * Attention over the frames of each pixel (sequence length F, batch `B*H*W`), with a fixed
 * sinusoidal frame-position encoding added to the attention input (AnimateDiff adds it the same
 * way); it works for any F, including 1.
 * @param x `[B*F, H, W, C]`
 * @param frames `F`
 * @returns `[B*F, H, W, C]`
 */
export function temporalTransformer(scope: ParamScope, x: tf.Tensor, frames: number, heads: number, depth: number, normGroups: number): tf.Tensor {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const b = n / frames;
    const normed = linear(scope.scope('proj_in'), groupNorm(scope.scope('norm'), x, resolveGroups(c, normGroups)));
    // [B, F, HW, C] -> [B, HW, F, C] -> [B*HW, F, C]
    let s = tf.reshape(tf.transpose(tf.reshape(normed, [b, frames, h * w, c]), [0, 2, 1, 3]), [b * h * w, frames, c]);
    const pos = sinusoidalEmbedding(tf.range(0, frames, 1, 'float32'), c); // [F, C]
    for (let k = 0; k < depth; k++) {
      const blk = scope.scope(`blocks.${k}`);
      s = tf.add(s, attention(blk.scope('attn1'), tf.add(layerNorm(blk.scope('norm1'), s), pos), heads));
      s = tf.add(s, feedForward(blk.scope('ff'), layerNorm(blk.scope('norm2'), s)));
    }
    const back = tf.reshape(tf.transpose(tf.reshape(s, [b, h * w, frames, c]), [0, 2, 1, 3]), [n, h, w, c]);
    return tf.add(x, linear(scope.scope('proj_out'), back));
  });
}
