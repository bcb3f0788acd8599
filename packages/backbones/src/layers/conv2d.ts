import * as tf from '@tensorflow/tfjs-core';
import { uniform, zeros, type ParamScope } from '@fewstep/core';
import { hasParam } from './linear.js';

/** Options of {@link initConv2d}. */
export interface Conv2dInit {
  /** Add a bias `[cout]`. @default true */
  bias?: boolean;
  /** Zero the kernel. @default false */
  zero?: boolean;
}

/**
 * Creates `kernel` `[k, k, cin, cout]` (+ `bias` `[cout]`), initialised like PyTorch's default
 * `Conv2d` (`U(-1/sqrt(fanIn), 1/sqrt(fanIn))`, fanIn = k*k*cin).
 */
export function initConv2d(scope: ParamScope, k: number, cin: number, cout: number, options: Conv2dInit = {}): void {
  const { bias = true, zero = false } = options;
  const bound = 1 / Math.sqrt(k * k * cin);
  scope.param('kernel', [k, k, cin, cout], zero ? zeros() : uniform(-bound, bound));
  if (bias) scope.param('bias', [cout], zeros());
}

/**
 * 2D convolution, NHWC: `[N, H, W, cin]` to `[N, H', W', cout]`. Stride 1 uses 'same' padding
 * (symmetric for odd k, as PyTorch's `padding=k//2`); stride 2 pads `k//2` on every side
 * explicitly, as PyTorch does, rather than tfjs's 'same' (which pads only after, for even sizes),
 * so exported weights compute the same function in PyTorch.
 */
export function conv2d(scope: ParamScope, x: tf.Tensor, stride: 1 | 2 = 1): tf.Tensor {
  return tf.tidy(() => {
    const w = scope.kernel('kernel') as tf.Tensor4D;
    const k = w.shape[0];
    let y: tf.Tensor;
    if (stride === 1 || k === 1) {
      y = tf.conv2d(x as tf.Tensor4D, w, stride, 'same');
    } else {
      const p = Math.floor(k / 2);
      const padded = tf.pad(x as tf.Tensor4D, [[0, 0], [p, p], [p, p], [0, 0]]);
      y = tf.conv2d(padded, w, stride, 'valid');
    }
    return hasParam(scope, 'bias') ? tf.add(y, scope.variable('bias')) : y;
  });
}

/**
 * Nearest-neighbour 2x upsampling `[N, H, W, C]` to `[N, 2H, 2W, C]`, as two rank-3 broadcasts
 * (tfjs's broadcast gradient, a Tile gradient, exists only up to rank 4).
 */
export function upsampleNearest2x(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const cols = tf.broadcastTo(tf.reshape(x, [n * h * w, 1, c]), [n * h * w, 2, c]);
    const rows = tf.broadcastTo(tf.reshape(cols, [n * h, 1, 2 * w * c]), [n * h, 2, 2 * w * c]);
    return tf.reshape(rows, [n, 2 * h, 2 * w, c]);
  });
}
