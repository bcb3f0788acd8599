import * as tf from '@tensorflow/tfjs-core';

/**
 * A scalar that is 0 when every element of `tensors` is finite and NaN otherwise:
 * `sum_i sum(t_i * 0)` (`0 * ±Inf = NaN`, `0 * NaN = NaN`; never overflows). Integer tensors are
 * always finite and are skipped. Runs on device, in the caller's tidy.
 */
export function nonFiniteProbe(tensors: Iterable<tf.Tensor>): tf.Scalar {
  return tf.tidy(() => {
    const parts: tf.Scalar[] = [];
    for (const t of tensors) if (t.dtype === 'float32' && t.size > 0) parts.push(tf.sum(tf.mul(t, 0)));
    if (parts.length === 0) return tf.scalar(0);
    return parts.length === 1 ? parts[0]! : (tf.addN(parts) as tf.Scalar);
  });
}

/**
 * Whether every element of every tensor is finite (no NaN, no ±Inf): one reduction per tensor on
 * device folded into one scalar, then a single scalar read. That read is the one device sync point
 * of a training step (the optimizers fold the same check into their gradient-norm read, P27/P29);
 * it is async (`await t.data()`), so it never blocks the thread and is never inside a `tf.tidy`.
 */
export async function allFinite(tensors: Iterable<tf.Tensor>): Promise<boolean> {
  const probe = nonFiniteProbe(tensors);
  try {
    const [v] = await probe.data();
    return Number.isFinite(v);
  } finally {
    probe.dispose();
  }
}
