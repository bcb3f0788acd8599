import * as tf from '@tensorflow/tfjs-core';
import { glorotUniform, zeros, type Initializer, type ParamScope } from '@fewstep/core';

/** Options of {@link initLinear}. */
export interface LinearInit {
  /** Add a bias `[out]`. @default true */
  bias?: boolean;
  /** Kernel initialiser. @default glorotUniform() */
  init?: Initializer;
  /** Zero the kernel (adaLN-Zero modulations, zero-initialised output projections). @default false */
  zero?: boolean;
}

/** Whether `scope` holds a parameter `name` (e.g. an optional bias). */
export function hasParam(scope: ParamScope, name: string): boolean {
  return scope.network.has(`${scope.prefix}.${name}`);
}

/** Creates `kernel` `[inDim, outDim]` (+ `bias` `[outDim]`) under `scope`. */
export function initLinear(scope: ParamScope, inDim: number, outDim: number, options: LinearInit = {}): void {
  const { bias = true, init = glorotUniform(), zero = false } = options;
  scope.param('kernel', [inDim, outDim], zero ? zeros() : init);
  if (bias) scope.param('bias', [outDim], zeros());
}

/**
 * `y = x · W (+ b)` over the last axis: `[..., in]` to `[..., out]`. Reads the effective kernel
 * (`Network.kernel`, so a LoRA delta applies).
 */
export function linear(scope: ParamScope, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const w = scope.kernel('kernel') as tf.Tensor2D;
    const [inDim, outDim] = w.shape;
    const lead = x.shape.slice(0, -1);
    let y: tf.Tensor = tf.matMul(x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, inDim]), w);
    if (hasParam(scope, 'bias')) y = tf.add(y, scope.variable('bias'));
    return x.rank === 2 ? y : tf.reshape(y, [...lead, outDim]);
  });
}
