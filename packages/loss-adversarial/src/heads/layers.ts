/**
 * @file Small layers shared by the discriminator heads: convolutions whose kernels live in a core
 * `Network`, GroupNorm and SiLU. Weights are created once, at head construction.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, heUniform, ones, ShapeError, zeros, type ParamScope } from '@fewstep/core';

/** A parameter builder: a `Network` or one of its scopes. */
export interface ParamBuilder {
  param: ParamScope['param'];
  kernel: ParamScope['kernel'];
}

/**
 * GroupNorm groups for C channels: `min(32, floor(C / 2))`, at least 1 (so every group has at
 * least 2 channels, and never more than 32 groups as in Wu & He 2018). C must be divisible by it.
 */
export function groupCount(channels: number): number {
  const g = Math.max(1, Math.min(32, Math.floor(channels / 2)));
  if (channels % g !== 0) {
    throw new ConfigError('channels', channels, `a multiple of its GroupNorm group count min(32, C/2) = ${g}`, 'use a power of two or a multiple of 32');
  }
  return g;
}

export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/** GroupNorm over `[N, ..., C]` (channels last), with affine `scale`/`shift` `[C]`, eps 1e-5. */
export function groupNorm(p: ParamBuilder, name: string, channels: number): (x: tf.Tensor) => tf.Tensor {
  const groups = groupCount(channels);
  p.param(`${name}.scale`, [channels], ones());
  p.param(`${name}.shift`, [channels], zeros());
  return (x) =>
    tf.tidy(() => {
      const shape = x.shape;
      const n = shape[0]!;
      const grouped = tf.reshape(x, [n, -1, groups, channels / groups]);
      const { mean, variance } = tf.moments(grouped, [1, 3], true);
      const normed = tf.reshape(tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, 1e-5))), shape);
      return tf.add(tf.mul(normed, p.kernel(`${name}.scale`)), p.kernel(`${name}.shift`));
    });
}

/** 2D conv `[N, H, W, Cin] -> [N, H/stride, W/stride, Cout]` ('same' padding) with a bias. */
export function conv2d(p: ParamBuilder, name: string, k: number, cIn: number, cOut: number, stride: number): (x: tf.Tensor) => tf.Tensor {
  p.param(`${name}.kernel`, [k, k, cIn, cOut], heUniform());
  p.param(`${name}.bias`, [cOut], zeros());
  return (x) =>
    tf.tidy(() =>
      tf.add(tf.conv2d(x as tf.Tensor4D, p.kernel(`${name}.kernel`) as tf.Tensor4D, stride, 'same'), p.kernel(`${name}.bias`)),
    );
}

/** 3D conv `[N, F, H, W, Cin] -> [N, F, H, W, Cout]` (stride 1, 'same') with a bias. */
export function conv3d(p: ParamBuilder, name: string, k: number, cIn: number, cOut: number): (x: tf.Tensor) => tf.Tensor {
  p.param(`${name}.kernel`, [k, k, k, cIn, cOut], heUniform());
  p.param(`${name}.bias`, [cOut], zeros());
  return (x) =>
    tf.tidy(() => tf.add(tf.conv3d(x as tf.Tensor5D, p.kernel(`${name}.kernel`) as tf.Tensor5D, 1, 'same'), p.kernel(`${name}.bias`)));
}

/** 1D conv `[N, L, Cin] -> [N, L, Cout]` (stride 1, 'same') with a bias. */
export function conv1d(p: ParamBuilder, name: string, k: number, cIn: number, cOut: number): (x: tf.Tensor) => tf.Tensor {
  p.param(`${name}.kernel`, [k, cIn, cOut], heUniform());
  p.param(`${name}.bias`, [cOut], zeros());
  return (x) =>
    tf.tidy(() => tf.add(tf.conv1d(x as tf.Tensor3D, p.kernel(`${name}.kernel`) as tf.Tensor3D, 1, 'same'), p.kernel(`${name}.bias`)));
}

/** @throws ShapeError unless `x` has `rank` dims and `channels` last. */
export function checkInput(what: string, x: tf.Tensor, rank: number, layout: string, channels: number): void {
  if (x.rank !== rank || x.shape[rank - 1] !== channels) {
    throw new ShapeError(what, x.shape, `${layout} with C = ${channels}`, 'pass channels-last features with the channel count the head was built for');
  }
}
