import * as tf from '@tensorflow/tfjs-core';
import type { ParamScope } from '@fewstep/core';
import { attention, initAttention } from '../layers/attention.js';
import { feedForward, initFeedForward } from '../layers/feed-forward.js';
import { groupNorm, initNorm, resolveGroups } from '../layers/group-norm.js';
import { layerNorm } from '../layers/layer-norm.js';
import { initLinear, linear } from '../layers/linear.js';

/** Shape options of a spatial transformer. */
export interface SpatialTransformerSpec {
  channels: number;
  heads: number;
  depth: number;
  contextDim: number | null;
  ffMult: number;
}

/**
 * Creates a spatial transformer (SD `Transformer2DModel` with linear projections): `norm` (GroupNorm),
 * `proj_in`, `blocks.k` = {`norm1`, `attn1` self, [`norm2`, `attn2` cross], `norm3`, `ff`}, `proj_out`.
 */
export function initSpatialTransformer(scope: ParamScope, spec: SpatialTransformerSpec): void {
  const c = spec.channels;
  initNorm(scope.scope('norm'), c);
  initLinear(scope.scope('proj_in'), c, c);
  for (let k = 0; k < spec.depth; k++) {
    const blk = scope.scope(`blocks.${k}`);
    initNorm(blk.scope('norm1'), c);
    initAttention(blk.scope('attn1'), c, c);
    if (spec.contextDim !== null) {
      initNorm(blk.scope('norm2'), c);
      initAttention(blk.scope('attn2'), c, c, { contextDim: spec.contextDim });
    }
    initNorm(blk.scope('norm3'), c);
    initFeedForward(blk.scope('ff'), c, spec.ffMult);
  }
  initLinear(scope.scope('proj_out'), c, c);
}

/**
 * Self-attention over the `H*W` positions of each frame, cross-attention to the conditioning
 * tokens (shared by the frames of a video), feed-forward; pre-LN residual blocks inside, and a
 * residual around the whole transformer.
 * @param x `[B*F, H, W, C]`
 * @param context `[B, L, contextDim]` when the spec has cross-attention
 * @param contextMask `[B, L]`
 */
export function spatialTransformer(
  scope: ParamScope,
  x: tf.Tensor,
  spec: Pick<SpatialTransformerSpec, 'heads' | 'depth'> & { normGroups: number },
  context?: tf.Tensor,
  contextMask?: tf.Tensor,
): tf.Tensor {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape as [number, number, number, number];
    let s = linear(scope.scope('proj_in'), tf.reshape(groupNorm(scope.scope('norm'), x, resolveGroups(c, spec.normGroups)), [n, h * w, c]));
    for (let k = 0; k < spec.depth; k++) {
      const blk = scope.scope(`blocks.${k}`);
      s = tf.add(s, attention(blk.scope('attn1'), layerNorm(blk.scope('norm1'), s), spec.heads));
      if (context !== undefined) {
        s = tf.add(s, attention(blk.scope('attn2'), layerNorm(blk.scope('norm2'), s), spec.heads, context, { keyMask: contextMask }));
      }
      s = tf.add(s, feedForward(blk.scope('ff'), layerNorm(blk.scope('norm3'), s)));
    }
    return tf.add(x, tf.reshape(linear(scope.scope('proj_out'), s), x.shape));
  });
}
