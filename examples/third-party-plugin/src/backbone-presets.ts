/**
 * @file A new backbone preset from a plugin: `micro`, a video DiT smaller than `@fewstep/backbones`'
 * own `tiny` (hidden 16 instead of 64, 2 blocks instead of 4, no text conditioning), for
 * unconditional RGB videos `[B, F, H, W, 3]` with even H and W (patches `[1, 2, 2]`). It reuses
 * fewstep's `VideoDiT` architecture and registers under the plugin's own name
 * (`fm:micro-video-dit`), so it never overrides `backbones:video-dit` in the registry.
 *
 * Taps: `block.0`, `block.1` `[B, F, H/2, W/2, 16]` (what the feature-matching recipe reads).
 */
import { defineBackbone, type BackboneDefinition } from '@fewstep/core';
import { VideoDiT, type VideoDiTConfig } from '@fewstep/backbones';

/** The `micro` preset: 2 blocks of width 16 with 2 heads (head width 8, the smallest the 3D RoPE takes). */
export const MICRO_VIDEO_DIT: Readonly<VideoDiTConfig> = Object.freeze({
  inChannels: 3,
  outChannels: 3,
  patchSize: [1, 2, 2],
  hiddenDim: 16,
  depth: 2,
  heads: 2,
  mlpRatio: 2,
  contextDim: null,
  pooledDim: null,
  freqDim: 16,
  timestepScale: 1,
  guidanceEmbedding: false,
  ropeTheta: 10000,
  seed: 0,
}) as Readonly<VideoDiTConfig>;

/** Presets of {@link microVideoDiTBackbone}. */
export const MICRO_VIDEO_DIT_PRESETS: Readonly<Record<'micro', VideoDiTConfig>> = Object.freeze({ micro: MICRO_VIDEO_DIT as VideoDiTConfig });

/** `fm:micro-video-dit`: fewstep's video DiT with the plugin's `micro` preset. */
export const microVideoDiTBackbone: BackboneDefinition<VideoDiTConfig, VideoDiT> = defineBackbone({
  name: 'fm:micro-video-dit',
  description: 'Video DiT, micro preset: 2 adaLN-Zero blocks of width 16, patches [1, 2, 2], unconditional RGB.',
  presets: MICRO_VIDEO_DIT_PRESETS,
  create: (config) => new VideoDiT({ ...config, patchSize: [...config.patchSize] }),
});

/** A `micro` video DiT (with overrides, e.g. another `seed` or channel count). */
export function microVideoDiT(overrides: Partial<VideoDiTConfig> = {}): VideoDiT {
  return microVideoDiTBackbone.create({ ...MICRO_VIDEO_DIT, ...overrides } as VideoDiTConfig);
}
