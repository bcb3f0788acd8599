/**
 * @file Discriminator features from a frozen image critic (DINOv2, SAM): per-frame ViT hidden
 * states folded back to patch grids. Used on decoded frames (MCM, ADD-style critics) or directly on
 * upsampled latents (OSV, Mao et al. 2024, Sec. 3: the critic runs on latents upsampled to its
 * input size, avoiding the VAE decoder).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@fewstep/core';

/**
 * Structural view of a frozen ViT critic (fewstep's DINOv2 / SAM critics satisfy it).
 * `hiddenStates(images [B, H, W, 3], layers)` returns one `[B, tokens, D]` tensor per layer,
 * tokens = prefix tokens (class / registers) + (H/p)(W/p) patch tokens in row-major order.
 */
export interface CriticSource {
  hiddenStates(images: tf.Tensor, layers: number[]): tf.Tensor[];
}

/** Options of {@link criticFeatures}. */
export interface CriticFeatureOptions {
  /** The frozen critic. Its variables must NOT be in the optimizer's variable list. */
  critic: CriticSource;
  /** Hidden-state layers to return (at least one). */
  layers: readonly number[];
  /** Patch size p of the critic (DINOv2: 14, SAM: 16). */
  patchSize: number;
  /** Leading non-patch tokens to drop (DINOv2: 1 class token, +4 with registers; SAM: 0). @default 0 */
  prefixTokens?: number;
  /**
   * What the input is. `'frames'`: decoded RGB frames (C = 3). `'latents'`: VAE latents (OSV),
   * mapped to 3 channels (see `latentToRgb`) and upsampled to `size`. @default 'frames'
   */
  input?: 'frames' | 'latents';
  /**
   * Side S of the (bilinear) resized square critic input, a multiple of `patchSize`. Required for
   * latents; optional for frames (omitted: frames are used as is, H and W multiples of p).
   */
  size?: number;
  /**
   * Latent to RGB map. `'first3'` (default): keep latent channels 0..2 (needs C >= 3; OSV feeds the
   * upsampled latent to the critic in place of an image). A `[C, 3]` array: a fixed linear
   * projection (e.g. an approximate latent-to-RGB matrix), a constant, not trained.
   * @default 'first3'
   */
  latentToRgb?: 'first3' | readonly (readonly number[])[];
}

/** Output of a {@link CriticFeatures} call. */
export interface CriticFeatureMaps {
  /** Per layer: patch grids `[B*F, h, w, D]` (h = H'/p, w = W'/p), ready for `head2d`. */
  grids: tf.Tensor[];
  /** Per layer, for a video input: `[B, F, h, w, D]`, ready for `temporalHead1d` / `head3d`. */
  temporal?: tf.Tensor[];
}

/** Maps `[B, F, H, W, C]` videos or `[B, H, W, C]` images to critic feature grids. */
export type CriticFeatures = (x: tf.Tensor) => CriticFeatureMaps;

function positiveInt(field: string, v: number, fix: string): void {
  if (!(Number.isInteger(v) && v >= 1)) throw new ConfigError(field, v, 'an integer >= 1', fix);
}

/**
 * Builds the critic feature extractor: fold video frames `[B, F, H, W, C]` to `[B*F, H, W, C]`;
 * for latents, map C channels to 3 and resize to `[S, S]` (bilinear); run the critic once; drop
 * `prefixTokens` and reshape each layer's patch tokens to `[B*F, h, w, D]`. Differentiable in x.
 * @throws ConfigError / ShapeError on invalid options or inputs.
 */
export function criticFeatures(options: CriticFeatureOptions): CriticFeatures {
  const { critic, layers, patchSize: p, prefixTokens = 0, input = 'frames', size, latentToRgb = 'first3' } = options;
  if (layers.length === 0) throw new ConfigError('layers', layers, 'at least one layer index', 'pass e.g. [2, 5, 8, 11]');
  positiveInt('patchSize', p, 'use 14 (DINOv2) or 16 (SAM)');
  if (!(Number.isInteger(prefixTokens) && prefixTokens >= 0)) throw new ConfigError('prefixTokens', prefixTokens, 'an integer >= 0', 'DINOv2: 1 (5 with registers), SAM: 0');
  if (size !== undefined && !(Number.isInteger(size) && size >= p && size % p === 0)) {
    throw new ConfigError('size', size, `a positive multiple of patchSize ${p}`, `use e.g. ${p * 16}`);
  }
  if (input === 'latents' && size === undefined) throw new ConfigError('size', size, `a multiple of patchSize ${p}`, 'latents must be upsampled to the critic input size');
  if (typeof latentToRgb !== 'string' && !latentToRgb.every((row) => row.length === 3)) {
    throw new ConfigError('latentToRgb', latentToRgb, "'first3' or a [C, 3] matrix", 'give 3 numbers per latent channel');
  }
  return (x) => {
    const video = x.rank === 5;
    const [grids, temporal] = tf.tidy(() => {
      if (!video && x.rank !== 4) throw new ShapeError('critic input', x.shape, '[B, F, H, W, C] or [B, H, W, C]', 'pass channels-last frames or latents');
      let frames = video ? tf.reshape(x, [-1, ...x.shape.slice(2)]) : x;
      const c = frames.shape[3]!;
      if (input === 'latents') {
        if (latentToRgb === 'first3') {
          if (c < 3) throw new ShapeError('latent channels', frames.shape, 'C >= 3', "use a [C, 3] latentToRgb projection");
          frames = tf.slice(frames, [0, 0, 0, 0], [-1, -1, -1, 3]);
        } else {
          if (latentToRgb.length !== c) throw new ShapeError('latentToRgb', [latentToRgb.length, 3], `[${c}, 3] (C = ${c})`, 'give one row per latent channel');
          const m = tf.tensor2d(latentToRgb.map((row) => [...row]), [c, 3]);
          const [n, h, w] = frames.shape as number[];
          frames = tf.reshape(tf.matMul(tf.reshape(frames, [-1, c]), m), [n!, h!, w!, 3]);
        }
      } else if (c !== 3) {
        throw new ShapeError('frames', frames.shape, '[..., H, W, 3] RGB', "use input: 'latents' for latent inputs");
      }
      if (size !== undefined) frames = tf.image.resizeBilinear(frames as tf.Tensor4D, [size, size]);
      const [n, hh, ww] = frames.shape as number[];
      if (hh! % p !== 0 || ww! % p !== 0) throw new ShapeError('critic input', frames.shape, `H and W multiples of patchSize ${p}`, 'set options.size');
      const h = hh! / p;
      const w = ww! / p;
      const states = critic.hiddenStates(frames, [...layers]);
      const grids = states.map((s, i) => {
        if (s.rank !== 3 || s.shape[0] !== n || s.shape[1] !== prefixTokens + h * w) {
          throw new ShapeError(`hiddenStates[${i}]`, s.shape, `[${n}, ${prefixTokens} + ${h * w}, D]`, 'check patchSize and prefixTokens');
        }
        const d = s.shape[2]!;
        return tf.reshape(tf.slice(s, [0, prefixTokens, 0], [-1, h * w, -1]), [n!, h, w, d]);
      });
      return [grids, video ? grids.map((g) => tf.reshape(g, [x.shape[0]!, x.shape[1]!, ...g.shape.slice(1)])) : []];
    });
    return video ? { grids, temporal } : { grids };
  };
}
