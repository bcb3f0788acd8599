/**
 * @file Activations with hand-written gradients (`tf.customGrad`): the backward pass keeps only
 * the input, instead of every intermediate of the composite expression (GELU-tanh alone has
 * eight), which cuts the memory of a training step several-fold for the feed-forward layers.
 */
import * as tf from '@tensorflow/tfjs-core';
import { unaryCustomGrad } from './unary-custom-grad.js';

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

const siluOp = unaryCustomGrad(
  (x) => ({ value: tf.tidy(() => tf.mul(x, tf.sigmoid(x))), saved: [x] }),
  // d/dx [x s(x)] = s (1 + x (1 - s))
  (dy, [x]) => {
    const s = tf.sigmoid(x!);
    return tf.mul(dy, tf.mul(s, tf.add(1, tf.mul(x!, tf.sub(1, s)))));
  },
);

const geluTanhOp = unaryCustomGrad(
  (x) => ({
    value: tf.tidy(() => {
      const t = tf.tanh(tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), GELU_A)), GELU_C));
      return tf.mul(tf.mul(x, 0.5), tf.add(t, 1));
    }),
    saved: [x],
  }),
  // d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2), t = tanh(c (x + a x^3))
  (dy, [x]) => {
    const x2 = tf.mul(x!, x!);
    const t = tf.tanh(tf.mul(tf.mul(x!, tf.add(1, tf.mul(x2, GELU_A))), GELU_C));
    const inner = tf.mul(tf.mul(tf.sub(1, tf.mul(t, t)), tf.add(1, tf.mul(x2, 3 * GELU_A))), GELU_C);
    return tf.mul(dy, tf.mul(tf.add(tf.add(t, 1), tf.mul(x!, inner)), 0.5));
  },
);

/** SiLU / swish: `x * sigmoid(x)` (Elfwing et al. 2018). */
export function silu(x: tf.Tensor): tf.Tensor {
  return siluOp(x);
}

/** GELU, tanh approximation: `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))` (Hendrycks & Gimpel 2016, Sec. 2). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return geluTanhOp(x);
}
