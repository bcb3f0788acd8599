import * as tf from '@tensorflow/tfjs-core';

/** SiLU / swish, x·σ(x) (Elfwing et al. 2018), as `torch.nn.functional.silu`. */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

const GELU_K = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/**
 * GELU, tanh approximation (Hendrycks & Gimpel 2016, eq. in §2), as
 * `torch.nn.functional.gelu(x, approximate='tanh')`:
 *   y = ½·x·(1 + tanh(k·(x + a·x³))),  k = √(2/π), a = 0.044715.
 *
 * Written with `tf.customGrad` so the backward pass is a handful of element-wise ops
 * (dy/dx = ½(1+t) + ½·x·(1−t²)·k·(1+3a·x²), t the saved tanh) instead of the
 * autodiff chain through every intermediate.
 */
export const geluTanh: (x: tf.Tensor) => tf.Tensor = tf.customGrad((x, save) => {
  const xt = x as tf.Tensor;
  const x2 = tf.square(xt);
  const inner = tf.mul(xt, tf.add(tf.mul(x2, GELU_K * GELU_A), GELU_K));
  const t = tf.tanh(inner);
  (save as unknown as (tensors: tf.Tensor[]) => void)([xt, t]);
  const value = tf.mul(tf.mul(xt, 0.5), tf.add(t, 1));
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => {
    const [sx, st] = saved as [tf.Tensor, tf.Tensor];
    return tf.tidy(() => {
      const half1t = tf.mul(tf.add(st, 1), 0.5);
      const sech2 = tf.sub(1, tf.square(st));
      const dInner = tf.add(tf.mul(tf.square(sx), 3 * GELU_A * GELU_K), GELU_K);
      const d = tf.add(half1t, tf.mul(tf.mul(tf.mul(sx, 0.5), sech2), dInner));
      return tf.mul(dy, d);
    });
  };
  return { value, gradFunc };
}) as (x: tf.Tensor) => tf.Tensor;
