/**
 * Polyphase (space-to-batch) split and merge of a channels-last tensor, used to turn strided
 * convolutions into stride-1 ones: with stride s along an axis, index `s*i + phi` of the axis is
 * element `i` of phase `phi`.
 *
 * Both directions are a sequence of rank-3 transposes `[A, s_j, R] <-> [s_j, A, R]`, one per
 * strided axis: tfjs-backend-wasm's `Transpose` is fast up to rank 4 but ~50x slower on the
 * rank-6/8 permutation a one-shot split needs (measured 1.6 ms vs 65-90 ms for 0.6 M floats).
 */
import * as tf from '@tensorflow/tfjs-core';

const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** `[A, s_j, R]` sizes of the rank-3 view in which phase axis `j` is moved. */
function stepView(batch: number, q: readonly number[], s: readonly number[], channels: number, j: number): [number, number] {
  const laterPhases = prod(s.slice(j + 1));
  const earlier = prod(q.slice(0, j).map((qi, i) => qi * (s[i] as number)));
  const a = laterPhases * batch * earlier * (q[j] as number);
  const rest = prod(q.slice(j + 1)) * channels;
  return [a, rest];
}

/**
 * Splits `x: [B, q_1*s_1, ..., q_r*s_r, C]` into its phases: `[s_1, ..., s_r, B, q_1, ..., q_r, C]`,
 * where `out[phi_1..phi_r, b, i_1..i_r, c] = x[b, s_1*i_1 + phi_1, ..., c]`. The phase multi-index
 * is row-major (`phi_1` slowest).
 */
export function phaseSplit(x: tf.Tensor, q: readonly number[], s: readonly number[]): tf.Tensor {
  const batch = x.shape[0] as number;
  const channels = x.shape[x.rank - 1] as number;
  let y = x;
  for (let j = q.length - 1; j >= 0; j--) {
    const sj = s[j] as number;
    if (sj === 1) continue;
    const [a, rest] = stepView(batch, q, s, channels, j);
    const view = tf.reshape(y, [a, sj, rest]);
    const moved = tf.transpose(view, [1, 0, 2]);
    view.dispose();
    if (y !== x) y.dispose();
    y = moved;
  }
  const out = tf.reshape(y, [...s, batch, ...q, channels]);
  if (y !== x) y.dispose();
  return out;
}

/**
 * Inverse of {@link phaseSplit}: `[s_1..s_r, B, q_1..q_r, C]` (or any tensor of that size) to
 * `[B, q_1*s_1, ..., q_r*s_r, C]`.
 */
export function phaseMerge(x: tf.Tensor, batch: number, q: readonly number[], s: readonly number[], channels: number): tf.Tensor {
  let y = x;
  for (let j = 0; j < q.length; j++) {
    const sj = s[j] as number;
    if (sj === 1) continue;
    const [a, rest] = stepView(batch, q, s, channels, j);
    const view = tf.reshape(y, [sj, a, rest]);
    const moved = tf.transpose(view, [1, 0, 2]);
    view.dispose();
    if (y !== x) y.dispose();
    y = moved;
  }
  const out = tf.reshape(y, [batch, ...q.map((qi, i) => qi * (s[i] as number)), channels]);
  if (y !== x) y.dispose();
  return out;
}
