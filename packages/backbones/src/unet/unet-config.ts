import { ConfigError } from '@fewstep/core';
import { checkBool, checkInt, checkKnownKeys, checkOptionalDim, checkPositive, checkSeed } from '../config-checks.js';
import { validateImageConditioning, type ImageConditioningConfig } from '../image-conditioning.js';
import { resolveGroups } from '../layers/group-norm.js';

/**
 * Config of the 2D (spatial) part of a UNet, shared by the image UNet and the video UNet
 * (Stable Diffusion / ModelScope / AnimateDiff layout: ResNet blocks with a time embedding,
 * spatial transformers with self- and cross-attention, down / mid / up paths with skips).
 */
export interface ImageUNetConfig {
  /** Input channels `C` (latent channels). */
  inChannels: number;
  /** Output channels (usually `inChannels`: an eps / v / x0 / flow prediction). */
  outChannels: number;
  /** Channels per resolution level; level `i` runs at `H / 2^i`. */
  channels: number[];
  /** ResNet blocks per level on the way down (the way up has one more, as in SD). */
  layersPerLevel: number;
  /** Per level: a spatial transformer after each ResNet block. The mid block has one when the last level has. */
  attention: boolean[];
  /** Attention heads of the spatial transformers (channels must divide by it). */
  heads: number;
  /** Transformer blocks per spatial transformer. */
  transformerDepth: number;
  /** Width of the cross-attention tokens (text encoder / class embedding); null: self-attention only. */
  contextDim: number | null;
  /** Width of a pooled conditioning vector added to the time embedding; null: none. */
  pooledDim: number | null;
  /** Width of the time embedding. */
  timeEmbedDim: number;
  /** Width of the sinusoidal timestep features (even). */
  freqDim: number;
  /** Model time is multiplied by this before the sinusoid: 1 for discrete VP (t in [0, 999]), 1000 for flow (t in [0, 1]). */
  timestepScale: number;
  /** Embed a guidance scale `w` (sinusoid of `1000 w` + MLP, added to the time embedding), as guidance-distilled students do (LCM). */
  guidanceEmbedding: boolean;
  /** Largest GroupNorm group count (32 in SD); fewer when channels are small, see `resolveGroups`. */
  normGroups: number;
  /** Feed-forward expansion of the transformer blocks. */
  ffMult: number;
  /** Base seed of the initialisers (parameter seeds derive from it and the parameter name). */
  seed: number;
}

/** The video UNet: the image UNet plus temporal transformers ("motion modules", AnimateDiff). */
export interface VideoUNetConfig extends ImageUNetConfig {
  /** Attention heads of the motion modules. */
  temporalHeads: number;
  /** Transformer blocks per motion module. */
  temporalDepth: number;
  /** Per level: motion modules after each spatial block (the mid block has one when the last level has). */
  temporalLevels: boolean[];
  /**
   * Image-to-video conditioning (concat channels into `conv_in`, image embedding added to the time
   * embedding or appended to the cross-attention tokens, noise-level embedding; see
   * `image-conditioning.ts`). Absent or null (the default): off, and the parameter set is the
   * unconditional one. The validated config omits the key when off.
   * @example VideoUNet.preset('tiny', { imageCondition: imageConditioning({ embed: 'context' }) })
   */
  imageCondition?: ImageConditioningConfig | null;
}

const IMAGE_KEYS = [
  'inChannels', 'outChannels', 'channels', 'layersPerLevel', 'attention', 'heads', 'transformerDepth', 'contextDim', 'pooledDim',
  'timeEmbedDim', 'freqDim', 'timestepScale', 'guidanceEmbedding', 'normGroups', 'ffMult', 'seed',
] as const;
const VIDEO_KEYS = [...IMAGE_KEYS, 'temporalHeads', 'temporalDepth', 'temporalLevels', 'imageCondition'] as const;

function checkLevels(field: string, value: unknown, levels: number): boolean[] {
  if (!Array.isArray(value) || value.length !== levels || !value.every((v) => typeof v === 'boolean')) {
    throw new ConfigError(field, value, `an array of ${levels} booleans (one per entry of channels)`);
  }
  return [...value];
}

/** Validates an image UNet config and returns a normalised copy. @throws ConfigError naming the field */
export function validateImageUNetConfig(config: ImageUNetConfig, what = 'ImageUNetConfig', extraKeys: readonly string[] = []): ImageUNetConfig {
  checkKnownKeys(what, config, [...IMAGE_KEYS, ...extraKeys]);
  const channels = config.channels;
  if (!Array.isArray(channels) || channels.length === 0) throw new ConfigError(`${what}.channels`, channels, 'a non-empty array of channel counts');
  channels.forEach((c, i) => checkInt(`${what}.channels[${i}]`, c));
  const heads = checkInt(`${what}.heads`, config.heads);
  const attention = checkLevels(`${what}.attention`, config.attention, channels.length);
  channels.forEach((c, i) => {
    if (attention[i] && c % heads !== 0) throw new ConfigError(`${what}.channels[${i}]`, c, `a multiple of heads = ${heads} (level ${i} has attention)`);
  });
  const freqDim = checkInt(`${what}.freqDim`, config.freqDim, 2);
  if (freqDim % 2 !== 0) throw new ConfigError(`${what}.freqDim`, freqDim, 'an even integer');
  const normGroups = checkInt(`${what}.normGroups`, config.normGroups);
  channels.forEach((c) => resolveGroups(c, normGroups));
  return {
    inChannels: checkInt(`${what}.inChannels`, config.inChannels),
    outChannels: checkInt(`${what}.outChannels`, config.outChannels),
    channels: [...channels],
    layersPerLevel: checkInt(`${what}.layersPerLevel`, config.layersPerLevel),
    attention,
    heads,
    transformerDepth: checkInt(`${what}.transformerDepth`, config.transformerDepth),
    contextDim: checkOptionalDim(`${what}.contextDim`, config.contextDim),
    pooledDim: checkOptionalDim(`${what}.pooledDim`, config.pooledDim),
    timeEmbedDim: checkInt(`${what}.timeEmbedDim`, config.timeEmbedDim),
    freqDim,
    timestepScale: checkPositive(`${what}.timestepScale`, config.timestepScale),
    guidanceEmbedding: checkBool(`${what}.guidanceEmbedding`, config.guidanceEmbedding),
    normGroups,
    ffMult: checkPositive(`${what}.ffMult`, config.ffMult),
    seed: checkSeed(`${what}.seed`, config.seed),
  };
}

/** Validates a video UNet config and returns a normalised copy. @throws ConfigError naming the field */
export function validateVideoUNetConfig(config: VideoUNetConfig): VideoUNetConfig {
  const what = 'VideoUNetConfig';
  checkKnownKeys(what, config, VIDEO_KEYS);
  const image = validateImageUNetConfig(config, what, ['temporalHeads', 'temporalDepth', 'temporalLevels', 'imageCondition']);
  const temporalHeads = checkInt(`${what}.temporalHeads`, config.temporalHeads);
  const temporalLevels = checkLevels(`${what}.temporalLevels`, config.temporalLevels, image.channels.length);
  image.channels.forEach((c, i) => {
    if (temporalLevels[i] && (c % temporalHeads !== 0 || c % 2 !== 0)) {
      throw new ConfigError(`${what}.channels[${i}]`, c, `an even multiple of temporalHeads = ${temporalHeads} (level ${i} has motion modules)`);
    }
  });
  const imageCondition = validateImageConditioning(what, config.imageCondition, { contextDim: image.contextDim });
  return {
    ...image,
    temporalHeads,
    temporalDepth: checkInt(`${what}.temporalDepth`, config.temporalDepth),
    temporalLevels,
    ...(imageCondition === null ? {} : { imageCondition }),
  };
}

/**
 * The image-UNet part of a video UNet config (what `imageUNetFromVideo` builds). The image
 * conditioning of an image-to-video UNet is not part of it (a frame model sees no conditioning frame).
 */
export function spatialPart(config: VideoUNetConfig): ImageUNetConfig {
  const { temporalHeads: _h, temporalDepth: _d, temporalLevels: _l, imageCondition: _i, ...image } = config;
  return { ...image, channels: [...image.channels], attention: [...image.attention] };
}

const tinyImage: ImageUNetConfig = {
  inChannels: 4,
  outChannels: 4,
  channels: [32, 48],
  layersPerLevel: 1,
  attention: [false, true],
  heads: 4,
  transformerDepth: 1,
  contextDim: 32,
  pooledDim: null,
  timeEmbedDim: 128,
  freqDim: 32,
  timestepScale: 1,
  guidanceEmbedding: false,
  normGroups: 8,
  ffMult: 2,
  seed: 0,
};

const smallImage: ImageUNetConfig = {
  ...tinyImage,
  channels: [64, 128, 128],
  attention: [false, true, true],
  contextDim: 64,
  timeEmbedDim: 256,
  freqDim: 64,
  normGroups: 16,
  ffMult: 4,
};

const baseImage: ImageUNetConfig = {
  ...tinyImage,
  channels: [128, 256, 256],
  layersPerLevel: 2,
  attention: [false, true, true],
  heads: 8,
  contextDim: 256,
  timeEmbedDim: 512,
  freqDim: 128,
  normGroups: 32,
  ffMult: 4,
};

/** Image UNet presets: `tiny` (CPU tests), `small`, `base` (parameter counts in the package README). */
export const IMAGE_UNET_PRESETS: Readonly<Record<'tiny' | 'small' | 'base', ImageUNetConfig>> = Object.freeze({
  tiny: tinyImage,
  small: smallImage,
  base: baseImage,
});

/** Video UNet presets: the image presets plus motion modules at every level. */
export const VIDEO_UNET_PRESETS: Readonly<Record<'tiny' | 'small' | 'base', VideoUNetConfig>> = Object.freeze({
  tiny: { ...tinyImage, temporalHeads: 4, temporalDepth: 1, temporalLevels: [true, true] },
  small: { ...smallImage, temporalHeads: 4, temporalDepth: 1, temporalLevels: [true, true, true] },
  base: { ...baseImage, temporalHeads: 8, temporalDepth: 1, temporalLevels: [true, true, true] },
});
