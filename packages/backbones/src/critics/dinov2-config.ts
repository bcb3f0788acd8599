import { ConfigError } from '@fewstep/core';
import { ConfigReader, checkInt, type JsonObject } from './config-fields.js';
import { CRITIC_ACTIVATIONS, type CriticActivation } from './vit-ops.js';

/**
 * Architecture of a DINOv2 ViT (Oquab et al. 2023), with the semantics of transformers'
 * `Dinov2Model` / `Dinov2WithRegistersModel` (Darcet et al. 2024, "Vision Transformers Need
 * Registers"). Field names follow fewstep; {@link dinov2ConfigFromHf} maps `config.json`.
 */
export interface Dinov2Config {
  /** Token width D (`hidden_size`). */
  readonly hiddenSize: number;
  /** Transformer blocks (`num_hidden_layers`). */
  readonly numLayers: number;
  /** Attention heads (`num_attention_heads`); must divide D. */
  readonly numHeads: number;
  /** MLP hidden width = `int(D · mlpRatio)` (`mlp_ratio`). */
  readonly mlpRatio: number;
  /** Patch size p (`patch_size`): the stride-p patch convolution. */
  readonly patchSize: number;
  /** Training image size (`image_size`): the position table covers `(imageSize/p)²` patches. */
  readonly imageSize: number;
  /** Input channels (`num_channels`). */
  readonly numChannels: number;
  readonly layerNormEps: number;
  readonly hiddenAct: CriticActivation;
  /** Bias on the q/k/v projections (`qkv_bias`). */
  readonly qkvBias: boolean;
  /** SwiGLU MLP (`use_swiglu_ffn`, ViT-g) instead of fc1-act-fc2. */
  readonly useSwiglu: boolean;
  /** Register tokens (`num_register_tokens`, `Dinov2WithRegistersModel`); 0 for plain DINOv2. */
  readonly numRegisterTokens: number;
  /** Initial LayerScale value (`layerscale_value`), used by `create` only. */
  readonly layerscaleValue: number;
  /**
   * Position-table resampling for other input sizes: torch's antialiased bicubic
   * (`Dinov2WithRegistersModel`) or plain bicubic a=-0.75 (`Dinov2Model`).
   */
  readonly interpolateAntialias: boolean;
  /**
   * 0 (transformers >= 4.45): resample to exactly `(H/p, W/p)`. 0.1 reproduces the original
   * DINOv2 code and older transformers: `scale_factor = (H/p + 0.1) / sqrt(N)`, which samples the
   * table at a slightly different step.
   */
  readonly interpolateOffset: number;
}

const VIT_S14: Dinov2Config = {
  hiddenSize: 384,
  numLayers: 12,
  numHeads: 6,
  mlpRatio: 4,
  patchSize: 14,
  imageSize: 518,
  numChannels: 3,
  layerNormEps: 1e-6,
  hiddenAct: 'gelu',
  qkvBias: true,
  useSwiglu: false,
  numRegisterTokens: 0,
  layerscaleValue: 1,
  interpolateAntialias: false,
  interpolateOffset: 0,
};

/** `vit-s14` / `vit-b14`: the shapes of `facebook/dinov2-small` / `facebook/dinov2-base` (37×37 position grid). */
export const DINOV2_PRESETS: Readonly<Record<'vit-s14' | 'vit-b14', Dinov2Config>> = Object.freeze({
  'vit-s14': VIT_S14,
  'vit-b14': { ...VIT_S14, hiddenSize: 768, numHeads: 12 },
});

/** MLP hidden width: `int(D·ratio)`, or for SwiGLU two thirds of it rounded up to a multiple of 8. */
export function dinov2MlpWidth(c: Dinov2Config): number {
  const h = Math.floor(c.hiddenSize * c.mlpRatio);
  return c.useSwiglu ? Math.ceil(Math.floor((h * 2) / 3) / 8) * 8 : h;
}

/** @throws ConfigError naming the first invalid field. */
export function validateDinov2Config(c: Dinov2Config): Dinov2Config {
  checkInt('Dinov2Config.hiddenSize', c.hiddenSize);
  checkInt('Dinov2Config.numLayers', c.numLayers);
  checkInt('Dinov2Config.numHeads', c.numHeads);
  checkInt('Dinov2Config.patchSize', c.patchSize);
  checkInt('Dinov2Config.imageSize', c.imageSize);
  checkInt('Dinov2Config.numChannels', c.numChannels);
  checkInt('Dinov2Config.numRegisterTokens', c.numRegisterTokens, 0);
  if (c.hiddenSize % c.numHeads !== 0) {
    throw new ConfigError('Dinov2Config.numHeads', c.numHeads, `a divisor of hiddenSize ${c.hiddenSize}`);
  }
  if (c.imageSize < c.patchSize) {
    throw new ConfigError('Dinov2Config.imageSize', c.imageSize, `at least patchSize ${c.patchSize}`);
  }
  for (const [f, v] of [
    ['mlpRatio', c.mlpRatio],
    ['layerNormEps', c.layerNormEps],
  ] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ConfigError(`Dinov2Config.${f}`, v, 'a finite number > 0');
  }
  if (!(c.interpolateOffset >= 0 && c.interpolateOffset < 1)) {
    throw new ConfigError('Dinov2Config.interpolateOffset', c.interpolateOffset, 'a number in [0, 1) (0, or 0.1 for the original DINOv2 code)');
  }
  if (!CRITIC_ACTIVATIONS.includes(c.hiddenAct)) {
    throw new ConfigError('Dinov2Config.hiddenAct', c.hiddenAct, CRITIC_ACTIVATIONS.map((a) => `'${a}'`).join(', '));
  }
  if (dinov2MlpWidth(c) < 1) throw new ConfigError('Dinov2Config.mlpRatio', c.mlpRatio, 'a ratio giving an MLP width >= 1');
  return c;
}

/** `model_type` values {@link dinov2ConfigFromHf} reads. */
export const DINOV2_MODEL_TYPES = ['dinov2', 'dinov2_with_registers'] as const;

/**
 * Reads a transformers `Dinov2Config` / `Dinov2WithRegistersConfig` (`config.json`): missing
 * fields take transformers' defaults, present ones are validated.
 * @throws ConfigError naming the `config.json` field, its value and the allowed values.
 */
export function dinov2ConfigFromHf(json: JsonObject, options: { interpolateOffset?: number } = {}): Dinov2Config {
  const r = new ConfigReader(json, 'config.json');
  const modelType = r.oneOf('model_type', 'dinov2', DINOV2_MODEL_TYPES);
  const registers = modelType === 'dinov2_with_registers';
  const config: Dinov2Config = {
    hiddenSize: r.int('hidden_size', 768),
    numLayers: r.int('num_hidden_layers', 12),
    numHeads: r.int('num_attention_heads', 12),
    mlpRatio: r.positive('mlp_ratio', 4),
    patchSize: r.squareSize('patch_size', 14),
    imageSize: r.squareSize('image_size', 224),
    numChannels: r.int('num_channels', 3),
    layerNormEps: r.positive('layer_norm_eps', 1e-6),
    hiddenAct: r.oneOf('hidden_act', 'gelu', CRITIC_ACTIVATIONS),
    qkvBias: r.bool('qkv_bias', true),
    useSwiglu: r.bool('use_swiglu_ffn', false),
    numRegisterTokens: registers ? r.int('num_register_tokens', 4, 0) : 0,
    layerscaleValue: r.number('layerscale_value', 1),
    interpolateAntialias: registers,
    interpolateOffset: options.interpolateOffset ?? 0,
  };
  if (config.hiddenSize % config.numHeads !== 0) {
    throw new ConfigError('config.json.num_attention_heads', config.numHeads, `a divisor of hidden_size ${config.hiddenSize}`);
  }
  return validateDinov2Config(config);
}
