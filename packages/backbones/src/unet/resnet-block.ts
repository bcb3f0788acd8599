import * as tf from '@tensorflow/tfjs-core';
import type { ParamScope } from '@fewstep/core';
import { silu } from '../layers/activations.js';
import { conv2d, initConv2d } from '../layers/conv2d.js';
import { groupNorm, initNorm, resolveGroups } from '../layers/group-norm.js';
import { initLinear, linear } from '../layers/linear.js';

/**
 * Creates a ResNet block (DDPM / SD `ResnetBlock2D`): `norm1`, `conv1` 3x3, `time_proj`
 * `[timeEmbedDim, cout]`, `norm2`, `conv2` 3x3, and `skip` (1x1 conv) when `cin != cout`.
 */
export function initResnetBlock(scope: ParamScope, cin: number, cout: number, timeEmbedDim: number): void {
  initNorm(scope.scope('norm1'), cin);
  initConv2d(scope.scope('conv1'), 3, cin, cout);
  initLinear(scope.scope('time_proj'), timeEmbedDim, cout);
  initNorm(scope.scope('norm2'), cout);
  initConv2d(scope.scope('conv2'), 3, cout, cout);
  if (cin !== cout) initConv2d(scope.scope('skip'), 1, cin, cout);
}

/**
 * `skip(x) + conv2(silu(norm2(conv1(silu(norm1(x))) + time_proj(silu(temb)))))`.
 * @param x `[B*F, H, W, cin]` (frames folded into the batch; per-frame statistics)
 * @param temb `[B, timeEmbedDim]`, shared by the `F = x.B / temb.B` frames of each video
 * @returns `[B*F, H, W, cout]`
 */
export function resnetBlock(scope: ParamScope, x: tf.Tensor, temb: tf.Tensor, normGroups: number): tf.Tensor {
  return tf.tidy(() => {
    const cin = x.shape[3]!;
    let h = conv2d(scope.scope('conv1'), silu(groupNorm(scope.scope('norm1'), x, resolveGroups(cin, normGroups))));
    const cout = h.shape[3]!;
    const b = temb.shape[0]!;
    const frames = x.shape[0]! / b;
    const tproj = linear(scope.scope('time_proj'), silu(temb)); // [B, cout]
    h = tf.reshape(tf.add(tf.reshape(h, [b, frames, -1, cout]), tf.reshape(tproj, [b, 1, 1, cout])), h.shape);
    h = conv2d(scope.scope('conv2'), silu(groupNorm(scope.scope('norm2'), h, resolveGroups(cout, normGroups))));
    const skip = cin === cout ? x : conv2d(scope.scope('skip'), x);
    return tf.add(skip, h);
  });
}
