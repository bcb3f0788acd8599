import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, type ParamScope } from '@fewstep/core';
import { silu } from './activations.js';
import { initLinear, linear } from './linear.js';

/**
 * Sinusoidal embedding of scalars (Vaswani et al. 2017, Sec. 3.5; DDPM's timestep embedding):
 * `[cos(s * f_0), ..., cos(s * f_{h-1}), sin(s * f_0), ..., sin(s * f_{h-1})]` with
 * `f_j = maxPeriod^(-j / h)`, `h = dim / 2`, `s = scale * value`.
 * @param values `[B]` (timesteps, guidance scales, frame indices)
 * @param dim even embedding width
 * @param scale multiplies the values first (1000 for flow-matching times in [0, 1])
 * @returns `[B, dim]`
 */
export function sinusoidalEmbedding(values: tf.Tensor, dim: number, scale = 1, maxPeriod = 10000): tf.Tensor {
  if (!Number.isInteger(dim) || dim < 2 || dim % 2 !== 0) throw new ConfigError('embedding dim', dim, 'an even integer >= 2');
  return tf.tidy(() => {
    const half = dim / 2;
    const freqs = new Float32Array(half);
    for (let j = 0; j < half; j++) freqs[j] = Math.exp((-Math.log(maxPeriod) * j) / half);
    const args = tf.mul(tf.reshape(tf.mul(tf.cast(values, 'float32'), scale), [-1, 1]), tf.tensor2d(freqs, [1, half]));
    return tf.concat([tf.cos(args), tf.sin(args)], 1);
  });
}

/** Creates the embedding MLP `linear_1` `[freqDim, dim]`, `linear_2` `[dim, dim]`. */
export function initEmbeddingMlp(scope: ParamScope, inDim: number, dim: number): void {
  initLinear(scope.scope('linear_1'), inDim, dim);
  initLinear(scope.scope('linear_2'), dim, dim);
}

/** `linear_2(silu(linear_1(e)))`: `[B, inDim]` to `[B, dim]`. */
export function embeddingMlp(scope: ParamScope, e: tf.Tensor): tf.Tensor {
  return tf.tidy(() => linear(scope.scope('linear_2'), silu(linear(scope.scope('linear_1'), e))));
}

/** Sinusoidal embedding of `values` `[B]` followed by the MLP of {@link initEmbeddingMlp}: `[B, dim]`. */
export function timestepEmbedding(scope: ParamScope, values: tf.Tensor, freqDim: number, scale: number): tf.Tensor {
  return tf.tidy(() => embeddingMlp(scope, sinusoidalEmbedding(values, freqDim, scale)));
}
