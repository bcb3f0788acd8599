import { ConfigError } from '@fewstep/core';
import { ConfigReader, checkInt, type JsonObject } from './config-fields.js';
import { CRITIC_ACTIVATIONS, type CriticActivation } from './vit-ops.js';

/**
 * Architecture of SAM's ViT image encoder (Kirillov et al. 2023; ViTDet backbone, Li et al. 2022)
 * with the semantics of transformers' `SamVisionEncoder`. {@link samConfigFromHf} maps
 * `config.json` (a `SamConfig`'s `vision_config`, or a `SamVisionConfig`).
 */
export interface SamConfig {
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly patchSize: number;
  /** Training image size: the absolute position table is `(imageSize/p)²`. */
  readonly imageSize: number;
  readonly numChannels: number;
  /** Side of the attention windows (tokens); 0 = every layer global. */
  readonly windowSize: number;
  /** Layers with global attention (`global_attn_indexes`); every other layer is windowed. */
  readonly globalAttnIndexes: readonly number[];
  /** MLP hidden width (`mlp_dim`, default `int(hidden_size · mlp_ratio)`). */
  readonly mlpDim: number;
  /** Channels of the neck output (`output_channels`). */
  readonly outputChannels: number;
  readonly useAbsPos: boolean;
  readonly useRelPos: boolean;
  readonly qkvBias: boolean;
  readonly layerNormEps: number;
  readonly hiddenAct: CriticActivation;
  /**
   * Inputs whose patch grid differs from `imageSize / p`: `'exact'` refuses them, as transformers
   * does; `'bicubic'` resizes the absolute position table bicubically (ViTDet's `get_abs_pos`) and
   * lets the global layers resize their relative tables (transformers' `get_rel_pos`). Not part of
   * transformers' `SamVisionEncoder`. @default 'exact'
   */
  readonly posEmbedResize: 'exact' | 'bicubic';
}

const SAM_VIT_B: SamConfig = {
  hiddenSize: 768,
  numLayers: 12,
  numHeads: 12,
  patchSize: 16,
  imageSize: 1024,
  numChannels: 3,
  windowSize: 14,
  globalAttnIndexes: [2, 5, 8, 11],
  mlpDim: 3072,
  outputChannels: 256,
  useAbsPos: true,
  useRelPos: true,
  qkvBias: true,
  layerNormEps: 1e-6,
  hiddenAct: 'gelu',
  posEmbedResize: 'exact',
};

/** `sam-vit-b`: the image encoder of `facebook/sam-vit-base`. */
export const SAM_PRESETS: Readonly<Record<'sam-vit-b', SamConfig>> = Object.freeze({ 'sam-vit-b': SAM_VIT_B });

/** @throws ConfigError naming the first invalid field. */
export function validateSamConfig(c: SamConfig): SamConfig {
  checkInt('SamConfig.hiddenSize', c.hiddenSize);
  checkInt('SamConfig.numLayers', c.numLayers);
  checkInt('SamConfig.numHeads', c.numHeads);
  checkInt('SamConfig.patchSize', c.patchSize);
  checkInt('SamConfig.imageSize', c.imageSize);
  checkInt('SamConfig.numChannels', c.numChannels);
  checkInt('SamConfig.windowSize', c.windowSize, 0);
  checkInt('SamConfig.mlpDim', c.mlpDim);
  checkInt('SamConfig.outputChannels', c.outputChannels);
  if (c.hiddenSize % c.numHeads !== 0) throw new ConfigError('SamConfig.numHeads', c.numHeads, `a divisor of hiddenSize ${c.hiddenSize}`);
  if (c.imageSize < c.patchSize) throw new ConfigError('SamConfig.imageSize', c.imageSize, `at least patchSize ${c.patchSize}`);
  if (!Array.isArray(c.globalAttnIndexes) || !c.globalAttnIndexes.every((i) => Number.isInteger(i) && i >= 0 && i < c.numLayers)) {
    throw new ConfigError('SamConfig.globalAttnIndexes', c.globalAttnIndexes, `a list of layer indices in [0, ${c.numLayers})`);
  }
  if (!(c.layerNormEps > 0)) throw new ConfigError('SamConfig.layerNormEps', c.layerNormEps, 'a finite number > 0');
  if (!CRITIC_ACTIVATIONS.includes(c.hiddenAct)) {
    throw new ConfigError('SamConfig.hiddenAct', c.hiddenAct, CRITIC_ACTIVATIONS.map((a) => `'${a}'`).join(', '));
  }
  if (c.posEmbedResize !== 'exact' && c.posEmbedResize !== 'bicubic') {
    throw new ConfigError('SamConfig.posEmbedResize', c.posEmbedResize, "'exact', 'bicubic'");
  }
  return c;
}

/** `model_type` values {@link samConfigFromHf} reads (`sam`: the vision part of `SamConfig`). */
export const SAM_MODEL_TYPES = ['sam', 'sam_vision_model'] as const;

/**
 * Reads a transformers `SamConfig` (its `vision_config`) or `SamVisionConfig`; missing fields take
 * transformers' defaults (those of ViT-B).
 * @throws ConfigError naming the `config.json` field, its value and the allowed values.
 */
export function samConfigFromHf(json: JsonObject, options: { posEmbedResize?: 'exact' | 'bicubic' } = {}): SamConfig {
  const top = new ConfigReader(json, 'config.json');
  const modelType = top.oneOf('model_type', 'sam_vision_model', SAM_MODEL_TYPES);
  let vision = json;
  let where = 'config.json';
  if (modelType === 'sam' || json['vision_config'] !== undefined) {
    const v = json['vision_config'];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw new ConfigError('config.json.vision_config', v, 'an object (the SamVisionConfig of a SamModel)');
    }
    vision = v as JsonObject;
    where = 'config.json.vision_config';
  }
  const r = new ConfigReader(vision, where);
  const hiddenSize = r.int('hidden_size', 768);
  const numLayers = r.int('num_hidden_layers', 12);
  const mlpRatio = r.positive('mlp_ratio', 4);
  const config: SamConfig = {
    hiddenSize,
    numLayers,
    numHeads: r.int('num_attention_heads', 12),
    patchSize: r.squareSize('patch_size', 16),
    imageSize: r.squareSize('image_size', 1024),
    numChannels: r.int('num_channels', 3),
    windowSize: r.int('window_size', 14, 0),
    globalAttnIndexes: r.intList('global_attn_indexes', [2, 5, 8, 11], 0, numLayers),
    mlpDim: r.int('mlp_dim', Math.floor(hiddenSize * mlpRatio)),
    outputChannels: r.int('output_channels', 256),
    useAbsPos: r.bool('use_abs_pos', true),
    useRelPos: r.bool('use_rel_pos', true),
    qkvBias: r.bool('qkv_bias', true),
    layerNormEps: r.positive('layer_norm_eps', 1e-6),
    hiddenAct: r.oneOf('hidden_act', 'gelu', CRITIC_ACTIVATIONS),
    posEmbedResize: options.posEmbedResize ?? 'exact',
  };
  if (config.hiddenSize % config.numHeads !== 0) {
    throw new ConfigError(`${where}.num_attention_heads`, config.numHeads, `a divisor of hidden_size ${config.hiddenSize}`);
  }
  return validateSamConfig(config);
}
