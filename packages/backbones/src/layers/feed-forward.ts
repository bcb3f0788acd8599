import * as tf from '@tensorflow/tfjs-core';
import type { ParamScope } from '@fewstep/core';
import { geluTanh } from './activations.js';
import { initLinear, linear } from './linear.js';

/** Creates `linear_1` `[dim, mult*dim]` and `linear_2` `[mult*dim, dim]`. */
export function initFeedForward(scope: ParamScope, dim: number, mult: number, options: { zeroOut?: boolean } = {}): void {
  initLinear(scope.scope('linear_1'), dim, Math.round(dim * mult));
  initLinear(scope.scope('linear_2'), Math.round(dim * mult), dim, { zero: options.zeroOut ?? false });
}

/** Position-wise feed-forward `linear_2(gelu_tanh(linear_1(x)))`, `[..., dim]` to `[..., dim]`. */
export function feedForward(scope: ParamScope, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => linear(scope.scope('linear_2'), geluTanh(linear(scope.scope('linear_1'), x))));
}
