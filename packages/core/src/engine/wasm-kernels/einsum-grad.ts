/**
 * A gradient for tfjs's `Einsum` kernel, which tfjs-core 4.22 ships without (so `tf.grads`
 * through `tf.einsum` throws on every backend). Backend-agnostic: it is built from `tf.einsum`,
 * `tf.transpose`, `tf.reshape` and `tf.broadcastTo`.
 *
 * For `y = einsum('T₀,T₁->O', x₀, x₁)` and upstream gradient `dy` (labels `O`), the gradient of
 * `x_i` is the contraction of `dy` with the other operand onto the labels of `T_i`:
 *
 *   ∂L/∂x_i = einsum('O,T_j->T_i′', dy, x_j),  T_i′ = labels of T_i present in O or T_j,
 *
 * then broadcast along the labels of `T_i` that appear nowhere else (they were summed inside
 * `x_i` alone, so every entry along them receives the same gradient). With one operand, the
 * contraction is a transpose of `dy`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap } from '@tensorflow/tfjs-core';
import { parseEinsum } from './einsum.js';

function gradientOf(i: number, terms: string[], output: string, dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor {
  const term = terms[i] as string;
  const x = saved[i] as tf.Tensor;
  const j = 1 - i;
  const other = terms.length === 2 ? (terms[j] as string) : undefined;
  const available = output + (other ?? '');
  const kept = [...term].filter((l) => available.includes(l)).join('');
  let g: tf.Tensor;
  if (other === undefined) {
    // kept is a permutation of the output labels.
    const perm = [...kept].map((l) => output.indexOf(l));
    g = perm.every((p, k) => p === k) ? dy : tf.transpose(dy, perm);
  } else {
    g = tf.einsum(`${output},${other}->${kept}`, dy, saved[j] as tf.Tensor);
  }
  if (kept.length < term.length) {
    const shape = [...term].map((l, k) => (kept.includes(l) ? (x.shape[k] as number) : 1));
    g = tf.broadcastTo(tf.reshape(g, shape), x.shape);
  }
  return g;
}

/** GradConfig for `Einsum` (see the module comment for the formula). */
export const einsumGradConfig: GradConfig = {
  kernelName: 'Einsum',
  saveAllInputs: true,
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs?: NamedAttrMap) => {
    const { equation } = attrs as unknown as { equation: string };
    const { inputs: terms, output } = parseEinsum(equation, saved.length);
    const upstream = Array.isArray(dy) ? (dy[0] as tf.Tensor) : dy;
    const ders: Record<string, () => tf.Tensor> = {};
    saved.forEach((_, i) => {
      ders[i] = () => gradientOf(i, terms, output, upstream, saved);
    });
    return ders;
  },
};

/**
 * Registers {@link einsumGradConfig} unless some gradient for `Einsum` is already registered
 * (tfjs's own, should a later version add one, wins). Idempotent; affects every backend.
 * @returns true when this call registered it.
 */
export function registerEinsumGradient(): boolean {
  if (tf.getGradient('Einsum') !== undefined) return false;
  tf.registerGradient(einsumGradConfig);
  return true;
}
