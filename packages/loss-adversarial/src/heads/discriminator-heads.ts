/**
 * @file Trainable discriminator heads on (frozen) backbone features: a 2D patch head, a 3D
 * spatio-temporal head, a 1D temporal head, the multi-scale head of AVDM2 and the timestep-aware
 * heads of AccVideo. Every weight is a named variable of a core `Network` (seeded initialisers).
 * Inputs are channels-last: `[B, H, W, C]` images or features, `[B, F, H, W, C]` videos.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, type Network } from '@fewstep/core';
import { checkInput, conv1d, conv2d, conv3d, groupNorm, silu, type ParamBuilder } from './layers.js';

/** A head maps features to logits. */
export interface DiscriminatorHead {
  /** Prefix of the head's variables inside its `Network`. */
  readonly prefix: string;
  forward(features: tf.Tensor): tf.Tensor;
}

/** Options of {@link head2d}. */
export interface Head2dOptions {
  /** Channels C of the input features `[B, H, W, C]`. */
  inChannels: number;
  /** Output channels of each 4x4 stride-2 block (one block per entry). @default [64, 64] */
  channels?: readonly number[];
}

function positiveInt(field: string, v: number): void {
  if (!(Number.isInteger(v) && v >= 1)) throw new ConfigError(field, v, 'an integer >= 1');
}

/**
 * 2D patch head: blocks of (4x4 conv, stride 2) + GroupNorm(min(32, C/2) groups) + SiLU, then a
 * 1x1 conv to one logit per patch. Input `[B, H, W, C]`, output `[B, H / 2^n, W / 2^n, 1]` (ceil).
 * Videos `[B, F, H, W, C]` are folded to `[B*F, H, W, C]` (and the output unfolded to
 * `[B, F, H', W', 1]`).
 */
export function head2d(net: Network, prefix: string, options: Head2dOptions): DiscriminatorHead {
  const { inChannels, channels = [64, 64] } = options;
  positiveInt('inChannels', inChannels);
  if (channels.length === 0) throw new ConfigError('channels', channels, 'at least one block width', 'use [64, 64]');
  const p: ParamBuilder = net.scope(prefix);
  let c = inChannels;
  const blocks = channels.map((cOut, i) => {
    positiveInt(`channels[${i}]`, cOut);
    const conv = conv2d(p, `block${i}.conv`, 4, c, cOut, 2);
    const norm = groupNorm(p, `block${i}.norm`, cOut);
    c = cOut;
    return (x: tf.Tensor) => silu(norm(conv(x)));
  });
  const out = conv2d(p, 'out', 1, c, 1, 1);
  return {
    prefix,
    forward: (features) =>
      tf.tidy(() => {
        const video = features.rank === 5;
        const x = video ? tf.reshape(features, [-1, ...features.shape.slice(2)]) : features;
        checkInput('head2d input', x, 4, '[B, H, W, C] or [B, F, H, W, C]', inChannels);
        const y = out(blocks.reduce((h, block) => block(h), x));
        return video ? tf.reshape(y, [features.shape[0]!, features.shape[1]!, ...y.shape.slice(1)]) : y;
      }),
  };
}

/** Options of {@link head3d}. */
export interface Head3dOptions {
  inChannels: number;
  /** Hidden width. @default 64 */
  channels?: number;
}

/**
 * Spatio-temporal head: 3x3x3 conv (stride 1) + SiLU, then per frame a 3x3 conv with stride 2 +
 * GroupNorm + SiLU and a 1x1 conv to logits. Input `[B, F, H, W, C]`, output `[B, F, H/2, W/2, 1]`.
 */
export function head3d(net: Network, prefix: string, options: Head3dOptions): DiscriminatorHead {
  const { inChannels, channels = 64 } = options;
  positiveInt('inChannels', inChannels);
  positiveInt('channels', channels);
  const p: ParamBuilder = net.scope(prefix);
  const c3 = conv3d(p, 'conv3d', 3, inChannels, channels);
  const c2 = conv2d(p, 'conv2d', 3, channels, channels, 2);
  const norm = groupNorm(p, 'norm', channels);
  const out = conv2d(p, 'out', 1, channels, 1, 1);
  return {
    prefix,
    forward: (features) =>
      tf.tidy(() => {
        checkInput('head3d input', features, 5, '[B, F, H, W, C]', inChannels);
        const [b, f] = features.shape as number[];
        const h = silu(c3(features));
        const folded = tf.reshape(h, [b! * f!, ...h.shape.slice(2)]);
        const y = out(silu(norm(c2(folded))));
        return tf.reshape(y, [b!, f!, ...y.shape.slice(1)]);
      }),
  };
}

/** Options of {@link temporalHead1d}. */
export interface TemporalHead1dOptions {
  inChannels: number;
  /** Hidden width. @default 64 */
  channels?: number;
  /** Temporal kernel size (odd). @default 3 */
  kernelSize?: number;
}

/**
 * Temporal head: features `[B, F, H, W, C]` are averaged over space to `[B, F, C]` (or given as
 * `[B, F, C]`), then 1D conv over frames + GroupNorm + SiLU, and a 1D conv to one logit per frame
 * `[B, F, 1]`.
 */
export function temporalHead1d(net: Network, prefix: string, options: TemporalHead1dOptions): DiscriminatorHead {
  const { inChannels, channels = 64, kernelSize = 3 } = options;
  positiveInt('inChannels', inChannels);
  positiveInt('channels', channels);
  if (!(Number.isInteger(kernelSize) && kernelSize >= 1 && kernelSize % 2 === 1)) {
    throw new ConfigError('kernelSize', kernelSize, 'an odd integer >= 1', 'use 3');
  }
  const p: ParamBuilder = net.scope(prefix);
  const conv = conv1d(p, 'conv', kernelSize, inChannels, channels);
  const norm = groupNorm(p, 'norm', channels);
  const out = conv1d(p, 'out', 1, channels, 1);
  return {
    prefix,
    forward: (features) =>
      tf.tidy(() => {
        const x = features.rank === 5 ? tf.mean(features, [2, 3]) : features;
        checkInput('temporalHead1d input', x, 3, '[B, F, C] or [B, F, H, W, C]', inChannels);
        return out(silu(norm(conv(x))));
      }),
  };
}

/** Options of {@link multiScaleHead}. */
export interface MultiScaleHeadOptions {
  /** Channels of each feature scale (AVDM2 uses three). */
  inChannels: readonly number[];
  /** Width of each per-scale conv. @default 32 */
  channels?: number;
  /** Common spatial size S the per-scale maps are resized (bilinear) to. */
  size: number;
}

/**
 * Multi-scale head (AVDM2): one 3x3 conv + SiLU per feature scale, each resized (bilinear) to
 * `[S, S]`, concatenated on channels, then a 3x3 conv + GroupNorm + SiLU and a 1x1 conv to logits.
 * `forward` takes the scales as a list of `[B, H_i, W_i, C_i]`; output `[B, S, S, 1]`.
 */
export function multiScaleHead(net: Network, prefix: string, options: MultiScaleHeadOptions): MultiScaleDiscriminatorHead {
  const { inChannels, channels = 32, size } = options;
  if (inChannels.length === 0) throw new ConfigError('inChannels', inChannels, 'one channel count per scale', 'use e.g. [8, 16, 32]');
  inChannels.forEach((c, i) => positiveInt(`inChannels[${i}]`, c));
  positiveInt('channels', channels);
  positiveInt('size', size);
  const p: ParamBuilder = net.scope(prefix);
  const perScale = inChannels.map((c, i) => conv2d(p, `scale${i}.conv`, 3, c, channels, 1));
  const fuse = conv2d(p, 'fuse.conv', 3, channels * inChannels.length, channels, 1);
  const norm = groupNorm(p, 'fuse.norm', channels);
  const out = conv2d(p, 'out', 1, channels, 1, 1);
  return {
    prefix,
    forward: (features) =>
      tf.tidy(() => {
        if (features.length !== inChannels.length) {
          throw new ConfigError('features.length', features.length, `${inChannels.length} (one tensor per scale)`);
        }
        const maps = features.map((f, i) => {
          checkInput(`multiScaleHead scale ${i}`, f, 4, '[B, H, W, C]', inChannels[i]!);
          return tf.image.resizeBilinear(silu(perScale[i]!(f)) as tf.Tensor4D, [size, size]);
        });
        return out(silu(norm(fuse(tf.concat(maps, 3)))));
      }),
  };
}

/** A head over several feature scales. */
export interface MultiScaleDiscriminatorHead {
  readonly prefix: string;
  forward(features: readonly tf.Tensor[]): tf.Tensor;
}

/** Timestep-aware heads: one head per key timestep index. */
export interface TimestepAwareHeads {
  readonly heads: readonly DiscriminatorHead[];
  /**
   * Routes sample b to head `k[b]`.
   * @param features `[B, H, W, C]` (or `[B, F, H, W, C]`)
   * @param k `[B]` key-timestep indices in `[0, m)`, plain numbers (routing happens on the host)
   * @returns `[B, ...]` logits, in the input order
   */
  forward(features: tf.Tensor, k: readonly number[]): tf.Tensor;
}

/**
 * AccVideo's timestep-aware discriminator (Sec. 3.3): m heads H_k, one per key timestep index k,
 * each a {@link head2d}. Samples are gathered per head and the logits scattered back.
 */
export function timestepAwareHeads(net: Network, prefix: string, options: Head2dOptions & { heads: number }): TimestepAwareHeads {
  positiveInt('heads', options.heads);
  const heads = Array.from({ length: options.heads }, (_, k) => head2d(net, `${prefix}.head${k}`, options));
  return {
    heads,
    forward: (features, k) =>
      tf.tidy(() => {
        const b = features.shape[0]!;
        if (k.length !== b) throw new ConfigError('k.length', k.length, `the batch size ${b}`, 'pass one key-timestep index per sample');
        k.forEach((v, i) => {
          if (!(Number.isInteger(v) && v >= 0 && v < heads.length)) throw new ConfigError(`k[${i}]`, v, `an integer in [0, ${heads.length})`);
        });
        const parts: tf.Tensor[] = [];
        const order: number[] = [];
        heads.forEach((head, h) => {
          const idx = k.flatMap((v, i) => (v === h ? [i] : []));
          if (idx.length === 0) return;
          parts.push(head.forward(tf.gather(features, tf.tensor1d(idx, 'int32'))));
          order.push(...idx);
        });
        // inverse[i] = position of sample i in the concatenation.
        const inverse = new Array<number>(b);
        order.forEach((sample, pos) => (inverse[sample] = pos));
        return tf.gather(tf.concat(parts, 0), tf.tensor1d(inverse, 'int32'));
      }),
  };
}
