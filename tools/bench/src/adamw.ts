import * as tf from '@tensorflow/tfjs-core';

/** Hyper-parameters of AdamW; with `weightDecay = 0` it is exactly Adam. */
export interface AdamWConfig {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** First and second moments of every parameter, and the step count t. */
export interface AdamWState {
  m: tf.Tensor[];
  v: tf.Tensor[];
  t: number;
}

/** Zero moments for `params`. */
export function adamwInit(params: readonly tf.Tensor[]): AdamWState {
  return { m: params.map((p) => tf.zerosLike(p)), v: params.map((p) => tf.zerosLike(p)), t: 0 };
}

/**
 * One AdamW step (Loshchilov & Hutter 2019, Algorithm 2, decoupled weight decay), written to
 * match `torch.optim.AdamW` (and `torch.optim.Adam` when weightDecay = 0):
 *
 *   θ ← θ·(1 − lr·λ)
 *   m ← β₁m + (1−β₁)g,   v ← β₂v + (1−β₂)g²
 *   θ ← θ − (lr/(1−β₁ᵗ)) · m / (√v/√(1−β₂ᵗ) + ε)
 *
 * Pure: returns new parameter and moment tensors and leaves the inputs alive (the caller
 * disposes the old ones). Call inside `tf.tidy`.
 */
export function adamwStep(
  params: readonly tf.Tensor[],
  grads: readonly tf.Tensor[],
  state: AdamWState,
  cfg: AdamWConfig,
): { params: tf.Tensor[]; state: AdamWState } {
  const { lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0 } = cfg;
  const t = state.t + 1;
  const bc1 = 1 - beta1 ** t;
  const bc2 = 1 - beta2 ** t;
  const sB1 = tf.scalar(beta1);
  const s1B1 = tf.scalar(1 - beta1);
  const sB2 = tf.scalar(beta2);
  const s1B2 = tf.scalar(1 - beta2);
  const sInvSqrtBc2 = tf.scalar(1 / Math.sqrt(bc2));
  const sEps = tf.scalar(eps);
  const sStep = tf.scalar(lr / bc1);
  const sDecay = tf.scalar(1 - lr * weightDecay);
  const newParams: tf.Tensor[] = [];
  const m: tf.Tensor[] = [];
  const v: tf.Tensor[] = [];
  params.forEach((p, i) => {
    const g = grads[i] as tf.Tensor;
    const mi = tf.add(tf.mul(state.m[i] as tf.Tensor, sB1), tf.mul(g, s1B1));
    const vi = tf.add(tf.mul(state.v[i] as tf.Tensor, sB2), tf.mul(tf.square(g), s1B2));
    const denom = tf.add(tf.mul(tf.sqrt(vi), sInvSqrtBc2), sEps);
    const decayed = weightDecay === 0 ? p : tf.mul(p, sDecay);
    newParams.push(tf.sub(decayed, tf.mul(tf.div(mi, denom), sStep)));
    m.push(mi);
    v.push(vi);
  });
  return { params: newParams, state: { m, v, t } };
}
