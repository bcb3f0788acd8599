import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, type Network } from '@fewstep/core';

/**
 * The few functional pieces the ViT critics share. Every function reads its weights from a
 * {@link Network} by name (`<prefix>.kernel`, `<prefix>.bias`, `<prefix>.gamma`, ...) and must run
 * inside the caller's `tf.tidy`.
 */

/** Activations of transformers' `ACT2FN` that the critics accept as `hidden_act`. */
export const CRITIC_ACTIVATIONS = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'quick_gelu', 'relu', 'silu', 'swish'] as const;
export type CriticActivation = (typeof CRITIC_ACTIVATIONS)[number];

const SQRT_HALF = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * `hidden_act` by its transformers name: `gelu` is the exact erf form `x·Φ(x)` (Hendrycks &
 * Gimpel 2016), `gelu_new` / `gelu_pytorch_tanh` the tanh approximation, `quick_gelu`
 * `x·σ(1.702x)`, `silu` / `swish` `x·σ(x)`.
 */
export function activation(name: CriticActivation, x: tf.Tensor): tf.Tensor {
  switch (name) {
    case 'gelu':
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, SQRT_HALF)), 1));
    case 'gelu_new':
    case 'gelu_pytorch_tanh': {
      const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI);
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
    }
    case 'quick_gelu':
      return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
    case 'relu':
      return tf.relu(x);
    case 'silu':
    case 'swish':
      return tf.mul(x, tf.sigmoid(x));
    default:
      throw new ConfigError('hidden_act', name, CRITIC_ACTIVATIONS.map((a) => `'${a}'`).join(', '));
  }
}

/** `x · W + b` over the last axis, `[..., in]` → `[..., out]`; the bias is optional. */
export function dense(net: Network, prefix: string, x: tf.Tensor): tf.Tensor {
  const w = net.variable(`${prefix}.kernel`) as tf.Tensor2D;
  const [inDim, outDim] = w.shape;
  const lead = x.shape.slice(0, -1);
  let y: tf.Tensor = tf.matMul(tf.reshape(x, [-1, inDim]), w);
  if (net.has(`${prefix}.bias`)) y = tf.add(y, net.variable(`${prefix}.bias`));
  return tf.reshape(y, [...lead, outDim]);
}

/** LayerNorm over the last axis with `<prefix>.gamma` / `<prefix>.beta` (biased variance, as torch). */
export function layerNorm(net: Network, prefix: string, x: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  const n = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(n, net.variable(`${prefix}.gamma`)), net.variable(`${prefix}.beta`));
}

/**
 * Non-overlapping patch embedding, the stride-`p` convolution of a ViT written as
 * patchify + matmul (exact, and cheaper than a conv): `[B, H, W, C]` → `[B, H/p, W/p, D]` with
 * `<prefix>.kernel` `[p, p, C, D]` and `<prefix>.bias` `[D]`.
 * @throws ShapeError when H or W is not a multiple of p, or C differs from the kernel's.
 */
export function patchEmbed(net: Network, prefix: string, images: tf.Tensor4D, what: string): tf.Tensor4D {
  const kernel = net.variable(`${prefix}.kernel`) as tf.Tensor4D;
  const [p, , c, d] = kernel.shape;
  const [b, height, width, channels] = images.shape;
  if (images.rank !== 4 || channels !== c || height % p !== 0 || width % p !== 0 || height === 0 || width === 0) {
    throw new ShapeError(
      what,
      images.shape,
      `[B, H, W, ${c}] with H and W positive multiples of the patch size ${p}`,
      `resize or crop the images (or the upsampled latents) to a multiple of ${p}`,
    );
  }
  const h = height / p;
  const w = width / p;
  // [B*h, p, w, p*C] → [B*h, w, p, p*C]: each patch's values in (row, col, channel) order, the
  // row-major order of the [p, p, C, D] kernel.
  const rows = tf.reshape(images, [b * h, p, w, p * c]);
  const patches = tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [b * h * w, p * p * c]);
  const y = tf.add(tf.matMul(patches, tf.reshape(kernel, [p * p * c, d]) as tf.Tensor2D), net.variable(`${prefix}.bias`));
  return tf.reshape(y, [b, h, w, d]);
}

/** `[N, L, heads·hd]` → `[N, heads, L, hd]`. */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor4D {
  const [n, l, d] = x.shape as [number, number, number];
  return tf.transpose(tf.reshape(x, [n, l, heads, d / heads]), [0, 2, 1, 3]) as tf.Tensor4D;
}

/** `[N, heads, L, hd]` → `[N, L, heads·hd]`. */
export function mergeHeads(x: tf.Tensor4D): tf.Tensor3D {
  const [n, heads, l, hd] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [n, l, heads * hd]);
}

/**
 * Scaled dot-product attention (Vaswani et al. 2017, Eq. 1): `softmax(q·kᵀ·scale + bias)·v` with
 * q, k, v `[N, heads, L, hd]` and an optional additive `bias` `[N, heads, L, L]`.
 */
export function attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, scale: number, bias?: tf.Tensor): tf.Tensor4D {
  let scores: tf.Tensor = tf.mul(tf.matMul(q, k, false, true), scale);
  if (bias) scores = tf.add(scores, bias);
  return tf.matMul(tf.softmax(scores), v) as tf.Tensor4D;
}
