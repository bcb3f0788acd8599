import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Network, ShapeError, normal } from '@fewstep/core';
import type { Backbone, BackboneOutput, Conditioning, ForwardOptions } from '../backbone-types.js';
import { checkInt, checkKnownKeys, checkPositive, checkSeed, pickPreset } from '../config-checks.js';
import { attention, initAttention } from '../layers/attention.js';
import { feedForward, initFeedForward } from '../layers/feed-forward.js';
import { initNorm } from '../layers/group-norm.js';
import { layerNorm } from '../layers/layer-norm.js';
import { checkNetworkMatches, countParameters } from '../network-binding.js';
import { TapRecorder } from '../taps.js';
import type { BackboneBuildOptions } from '../unet/video-unet.js';
import { PAD_ID, type WordTokenizer } from './word-tokenizer.js';

/** Config of the text encoder. */
export interface TextEncoderConfig {
  /** Token ids in `[0, vocabSize)` (at least the tokenizer's `vocabSize`). */
  vocabSize: number;
  /** Longest sequence L (learned positions). */
  maxLength: number;
  /** Token width D (the denoiser's `contextDim` and `pooledDim`). */
  dim: number;
  /** Pre-LN transformer blocks. */
  depth: number;
  heads: number;
  mlpRatio: number;
  seed: number;
}

/** Inputs of the text encoder. */
export interface TextEncoderInputs {
  /** Token ids, int32 `[B, L]`, `L <= maxLength` (see `WordTokenizer.encodeBatch`). */
  ids: tf.Tensor;
}

/** Output of the text encoder: `out` = tokens `[B, L, D]`, plus the pooled vector and the padding mask. */
export interface TextEncoderOutput extends BackboneOutput {
  /** Masked mean of the tokens over non-PAD positions, `[B, D]`. */
  readonly pooled: tf.Tensor;
  /** `[B, L]`, 1 for real tokens (BOS, words, EOS), 0 for PAD. */
  readonly mask: tf.Tensor;
}

const KEYS = ['vocabSize', 'maxLength', 'dim', 'depth', 'heads', 'mlpRatio', 'seed'] as const;

function validate(config: TextEncoderConfig): TextEncoderConfig {
  const what = 'TextEncoderConfig';
  checkKnownKeys(what, config, KEYS);
  const dim = checkInt(`${what}.dim`, config.dim);
  const heads = checkInt(`${what}.heads`, config.heads);
  if (dim % heads !== 0) throw new ConfigError(`${what}.dim`, dim, `a multiple of heads = ${heads}`);
  return {
    vocabSize: checkInt(`${what}.vocabSize`, config.vocabSize, 5),
    maxLength: checkInt(`${what}.maxLength`, config.maxLength, 2),
    dim,
    depth: checkInt(`${what}.depth`, config.depth),
    heads,
    mlpRatio: checkPositive(`${what}.mlpRatio`, config.mlpRatio),
    seed: checkSeed(`${what}.seed`, config.seed),
  };
}

/** Text encoder presets; `dim` matches the `contextDim` of the same-named denoiser presets. */
export const TEXT_ENCODER_PRESETS: Readonly<Record<'tiny' | 'small' | 'base', TextEncoderConfig>> = Object.freeze({
  tiny: { vocabSize: 512, maxLength: 16, dim: 32, depth: 2, heads: 4, mlpRatio: 2, seed: 0 },
  small: { vocabSize: 2048, maxLength: 32, dim: 64, depth: 4, heads: 4, mlpRatio: 4, seed: 0 },
  base: { vocabSize: 8192, maxLength: 77, dim: 256, depth: 6, heads: 8, mlpRatio: 4, seed: 0 },
});

function initTextEncoder(net: Network, cfg: TextEncoderConfig): void {
  net.param('token_embed.embedding', [cfg.vocabSize, cfg.dim], normal({ std: 0.02 }));
  net.param('pos_embed', [cfg.maxLength, cfg.dim], normal({ std: 0.01 }));
  for (let i = 0; i < cfg.depth; i++) {
    const blk = net.scope(`blocks.${i}`);
    initNorm(blk.scope('norm1'), cfg.dim);
    initAttention(blk.scope('attn'), cfg.dim, cfg.dim);
    initNorm(blk.scope('norm2'), cfg.dim);
    initFeedForward(blk.scope('ff'), cfg.dim, cfg.mlpRatio);
  }
  initNorm(net.scope('norm_out'), cfg.dim);
}

/**
 * A small bidirectional transformer text encoder: token embedding (`tf.gather`, whose gradient is
 * an UnsortedSegmentSum) + learned positions, N pre-LN blocks (self-attention that ignores PAD
 * keys, GELU feed-forward), a final LayerNorm. Returns the tokens `[B, L, D]` (cross-attention
 * context), the masked-mean pooled vector `[B, D]` and the padding mask; taps `block.i` `[B, L, D]`.
 */
export class TextEncoder implements Backbone<TextEncoderConfig, TextEncoderInputs> {
  static readonly kind = 'backbones:text-encoder';
  readonly kind = TextEncoder.kind;
  readonly config: Readonly<TextEncoderConfig>;
  readonly net: Network;

  constructor(config: TextEncoderConfig, options: BackboneBuildOptions = {}) {
    this.config = validate(config);
    const build = (net: Network): void => initTextEncoder(net, this.config);
    if (options.network) {
      checkNetworkMatches('TextEncoder', options.network, build);
      this.net = options.network;
    } else {
      this.net = new Network(options.name ?? 'text-encoder', { seed: this.config.seed });
      build(this.net);
    }
  }

  static fromConfig(config: TextEncoderConfig, options?: BackboneBuildOptions): TextEncoder {
    return new TextEncoder(config, options);
  }

  /** Parameter count of `config` without building it (the `base` presets are large). */
  static numParametersOf(config: TextEncoderConfig): number {
    const cfg = validate(config);
    return countParameters((net) => initTextEncoder(net, cfg));
  }

  static preset(name: string, overrides: Partial<TextEncoderConfig> = {}, options?: BackboneBuildOptions): TextEncoder {
    return new TextEncoder({ ...pickPreset('TextEncoder', TEXT_ENCODER_PRESETS, name), ...overrides }, options);
  }

  forward(inputs: TextEncoderInputs, options: ForwardOptions = {}): TextEncoderOutput {
    const { ids } = inputs;
    const cfg = this.config;
    if (ids.rank !== 2 || ids.shape[1]! > cfg.maxLength) throw new ShapeError('TextEncoder input ids', ids.shape, `[B, L] with L <= maxLength = ${cfg.maxLength}`);
    const taps = new TapRecorder(options.taps, this.tapNames());
    const [b, l] = ids.shape as [number, number];
    return tf.tidy(() => {
      const idx = tf.cast(ids, 'int32');
      const mask = tf.cast(tf.notEqual(idx, PAD_ID), 'float32');
      const emb = tf.reshape(tf.gather(this.net.kernel('token_embed.embedding'), tf.reshape(idx, [-1])), [b, l, cfg.dim]);
      let h = tf.add(emb, tf.slice(this.net.variable('pos_embed'), [0, 0], [l, cfg.dim]));
      for (let i = 0; i < cfg.depth; i++) {
        const blk = this.net.scope(`blocks.${i}`);
        h = tf.add(h, attention(blk.scope('attn'), layerNorm(blk.scope('norm1'), h), cfg.heads, undefined, { keyMask: mask }));
        h = tf.add(h, feedForward(blk.scope('ff'), layerNorm(blk.scope('norm2'), h)));
        const hi = h;
        taps.record(`block.${i}`, () => hi);
      }
      const out = layerNorm(this.net.scope('norm_out'), h);
      const m = tf.expandDims(mask, 2);
      const pooled = tf.div(tf.sum(tf.mul(out, m), 1), tf.maximum(tf.sum(m, 1), 1));
      return { out, pooled, mask, taps: taps.taps };
    });
  }

  tapNames(): string[] {
    return Array.from({ length: this.config.depth }, (_, i) => `block.${i}`);
  }

  withNetwork(network: Network): TextEncoder {
    return new TextEncoder(this.toConfig(), { network });
  }

  clone(name = `${this.net.name}.clone`): TextEncoder {
    return this.withNetwork(this.net.clone(name));
  }

  toConfig(): TextEncoderConfig {
    return { ...this.config };
  }

  numParameters(): number {
    return this.net.numParameters();
  }

  dispose(): void {
    this.net.dispose();
  }
}

/** @throws ConfigError when the tokenizer does not fit the encoder */
function checkTokenizer(encoder: TextEncoder, tokenizer: WordTokenizer): void {
  if (tokenizer.vocabSize > encoder.config.vocabSize) {
    throw new ConfigError('TextEncoderConfig.vocabSize', encoder.config.vocabSize, `>= the tokenizer's vocabSize ${tokenizer.vocabSize}`, 'build the encoder with a larger vocabSize or cap the tokenizer with maxVocab');
  }
  if (tokenizer.maxLength > encoder.config.maxLength) {
    throw new ConfigError('TextEncoderConfig.maxLength', encoder.config.maxLength, `>= the tokenizer's maxLength ${tokenizer.maxLength}`);
  }
}

/**
 * Text conditioning for a denoiser: `{ context: tokens [B, L, D], contextMask [B, L], pooled [B, D] }`.
 * The caller owns the tensors.
 */
export function encodePrompts(encoder: TextEncoder, tokenizer: WordTokenizer, prompts: readonly string[]): Required<Pick<Conditioning, 'context' | 'contextMask' | 'pooled'>> {
  checkTokenizer(encoder, tokenizer);
  return tf.tidy(() => {
    const r = encoder.forward({ ids: tokenizer.encodeBatch(prompts) });
    return { context: r.out, contextMask: r.mask, pooled: r.pooled };
  });
}

/**
 * The empty-prompt conditioning (`''` = BOS EOS PAD...) repeated `batch` times: the unconditional
 * branch of classifier-free guidance and what caption dropout trains on.
 */
export function emptyPromptConditioning(encoder: TextEncoder, tokenizer: WordTokenizer, batch: number): Required<Pick<Conditioning, 'context' | 'contextMask' | 'pooled'>> {
  checkTokenizer(encoder, tokenizer);
  return tf.tidy(() => {
    const one = encodePrompts(encoder, tokenizer, ['']);
    const rep = <T extends tf.Tensor>(t: T): tf.Tensor => tf.tile(t, [batch, ...t.shape.slice(1).map(() => 1)]);
    return { context: rep(one.context), contextMask: rep(one.contextMask), pooled: rep(one.pooled) };
  });
}
