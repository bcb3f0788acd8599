import { ConfigError } from '@fewstep/core';
import { checkBool, checkInt, checkKnownKeys, checkOptionalDim, checkPositive, checkSeed } from '../config-checks.js';
import { ropeAxes } from '../layers/rope-3d.js';
import { validateImageConditioning, type ImageConditioningConfig } from '../image-conditioning.js';

/**
 * Config of the video diffusion transformer (CogVideoX / HunyuanVideo / Wan style): 3D patches,
 * 3D rotary position embedding, adaLN-Zero blocks with full spatio-temporal self-attention and
 * cross-attention to text tokens.
 */
export interface VideoDiTConfig {
  inChannels: number;
  outChannels: number;
  /** Patch size `[pt, ph, pw]` (frames, height, width); F, H, W must divide by it. */
  patchSize: [number, number, number];
  /** Token width D. */
  hiddenDim: number;
  /** Transformer blocks. */
  depth: number;
  /** Attention heads (`hiddenDim / heads` must be even and >= 6 for the 3D RoPE). */
  heads: number;
  /** Feed-forward expansion. */
  mlpRatio: number;
  /** Width of the cross-attention tokens; null: no cross-attention. */
  contextDim: number | null;
  /** Width of a pooled conditioning vector added to the adaLN conditioning; null: none. */
  pooledDim: number | null;
  /** Width of the sinusoidal timestep features (even). */
  freqDim: number;
  /** Model time is multiplied by this before the sinusoid (1000 for flow matching, t in [0, 1]). */
  timestepScale: number;
  /** Embed a guidance scale `w` into the adaLN conditioning (distilled CFG). */
  guidanceEmbedding: boolean;
  /** RoPE base `theta`. */
  ropeTheta: number;
  seed: number;
  /**
   * Image-to-video conditioning (concat channels, image embedding, noise-level embedding; see
   * `image-conditioning.ts`). Absent or null (the default): off, and the parameter set is the
   * unconditional one. The validated config omits the key when off.
   * @example VideoDiT.preset('tiny', { imageCondition: imageConditioning() })
   */
  imageCondition?: ImageConditioningConfig | null;
}

const KEYS = [
  'inChannels', 'outChannels', 'patchSize', 'hiddenDim', 'depth', 'heads', 'mlpRatio', 'contextDim', 'pooledDim', 'freqDim',
  'timestepScale', 'guidanceEmbedding', 'ropeTheta', 'seed', 'imageCondition',
] as const;

/** Validates and returns a normalised copy. @throws ConfigError naming the field */
export function validateVideoDiTConfig(config: VideoDiTConfig): VideoDiTConfig {
  const what = 'VideoDiTConfig';
  checkKnownKeys(what, config, KEYS);
  const p = config.patchSize;
  if (!Array.isArray(p) || p.length !== 3) throw new ConfigError(`${what}.patchSize`, p, '[pt, ph, pw], three integers >= 1');
  p.forEach((v, i) => checkInt(`${what}.patchSize[${i}]`, v));
  const hiddenDim = checkInt(`${what}.hiddenDim`, config.hiddenDim);
  const heads = checkInt(`${what}.heads`, config.heads);
  if (hiddenDim % heads !== 0) throw new ConfigError(`${what}.hiddenDim`, hiddenDim, `a multiple of heads = ${heads}`);
  ropeAxes(hiddenDim / heads);
  const freqDim = checkInt(`${what}.freqDim`, config.freqDim, 2);
  if (freqDim % 2 !== 0) throw new ConfigError(`${what}.freqDim`, freqDim, 'an even integer');
  const contextDim = checkOptionalDim(`${what}.contextDim`, config.contextDim);
  const imageCondition = validateImageConditioning(what, config.imageCondition, { contextDim });
  return {
    inChannels: checkInt(`${what}.inChannels`, config.inChannels),
    outChannels: checkInt(`${what}.outChannels`, config.outChannels),
    patchSize: [p[0], p[1], p[2]],
    hiddenDim,
    depth: checkInt(`${what}.depth`, config.depth),
    heads,
    mlpRatio: checkPositive(`${what}.mlpRatio`, config.mlpRatio),
    contextDim,
    pooledDim: checkOptionalDim(`${what}.pooledDim`, config.pooledDim),
    freqDim,
    timestepScale: checkPositive(`${what}.timestepScale`, config.timestepScale),
    guidanceEmbedding: checkBool(`${what}.guidanceEmbedding`, config.guidanceEmbedding),
    ropeTheta: checkPositive(`${what}.ropeTheta`, config.ropeTheta),
    seed: checkSeed(`${what}.seed`, config.seed),
    ...(imageCondition === null ? {} : { imageCondition }),
  };
}

const tiny: VideoDiTConfig = {
  inChannels: 4,
  outChannels: 4,
  patchSize: [1, 2, 2],
  hiddenDim: 64,
  depth: 4,
  heads: 4,
  mlpRatio: 2,
  contextDim: 32,
  pooledDim: 32,
  freqDim: 64,
  timestepScale: 1,
  guidanceEmbedding: false,
  ropeTheta: 10000,
  seed: 0,
};

/** Video DiT presets: `tiny` (CPU tests), `small`, `base` (parameter counts in the package README). */
export const VIDEO_DIT_PRESETS: Readonly<Record<'tiny' | 'small' | 'base', VideoDiTConfig>> = Object.freeze({
  tiny,
  small: { ...tiny, hiddenDim: 192, depth: 8, heads: 6, mlpRatio: 4, contextDim: 64, pooledDim: 64, freqDim: 128 },
  base: { ...tiny, hiddenDim: 512, depth: 12, heads: 8, mlpRatio: 4, contextDim: 256, pooledDim: 256, freqDim: 256 },
});
