/**
 * @file Image conditioning of the video backbones (image-to-video, issue 10 item 1), after
 * Stable Video Diffusion (Blattmann et al. 2023, Sec. 4 / App. D) and OSV (Mao et al. 2024,
 * Sec. 3, I2V with SVD as teacher):
 *
 * 1. **Concat path.** The conditioning frame `c` `[B, H, W, C]` (a clean latent, optionally
 *    noise-augmented by the caller: `c_aug = c + sigma_aug eps`, see {@link augmentConditionFrame})
 *    enters the first layer as extra input channels:
 *    `x_in = concat([x, broadcast(c_aug) * m, m], channel)` `[B, F, H, W, 2C + 1]`, with the
 *    per-frame mask `m` `[B, F]` (default: 1 on frame 0 only, the I2V convention; all ones is
 *    SVD's "every frame sees the image"). With `mask: false` there is no mask channel and `c_aug`
 *    is broadcast to every frame (SVD exactly): `[B, F, H, W, 2C]`. The new input channels have
 *    their own kernel (`patch_embed_image.kernel` in the DiT, `conv_in_image.kernel` in the
 *    UNet), zero-initialised as InstructPix2Pix (Brooks et al. 2023, Sec. 3.4) does for added
 *    input channels, so the backbone starts as the unconditional one and the unconditional
 *    variables keep their names and shapes (an unconditional checkpoint loads with
 *    `setWeights(w, { strict: false })`).
 * 2. **Embedding path.** A small critic-style ViT encoder (patch embedding + fixed 2D sinusoidal
 *    positions + pre-LN transformer blocks + LayerNorm, as the DINOv2 critic, but trainable and
 *    part of the backbone's network under `image_encoder.*`) turns `c_aug` into tokens
 *    `[B, L, width]` (`L = HW / p^2`). `embed: 'pooled'`: the mean token goes through an MLP
 *    (`image_embed`) and is added to the time / adaLN embedding. `embed: 'context'`: the tokens
 *    are projected to `contextDim` (`image_context`) and appended to the cross-attention tokens
 *    (they replace the text tokens when no `context` is given, as SVD replaces CLIP text tokens by
 *    its CLIP image embedding). `freezeEncoder: true` creates the encoder as buffers (never
 *    trained, never unfrozen).
 * 3. **Noise augmentation level.** With `noiseAugment`, `imageNoiseSigma` `[B]` (SVD's
 *    `cond_aug`) is embedded like time (`sinusoid(1000 sigma_aug)` + MLP, `image_noise_embed`)
 *    and added to the time embedding. SVD embeds `cond_aug` unscaled; the factor 1000 is our
 *    choice (the paper is silent), so that levels around 0.02 (SVD's inference default) are not
 *    all mapped to `cos = 1`. Absent: sigma_aug = 0.
 * 4. **Empty condition** (the classifier-free-guidance unconditional branch). `image` absent, or
 *    `dropImage` `[B]` = 1 for a sample: the concat channels and the mask are zero and the
 *    embedding is a learned null embedding (`image_embed.null_embedding`, or the null token
 *    `image_context.null_token` repeated), both zero-initialised, i.e. OSV's `c_zero` ("the image
 *    embedding set to zero", Sec. 3.3) at initialisation. Core's guidance calls the denoiser
 *    with `uncond` (or no conditioning at all), so an image-conditioned backbone needs no special
 *    support there: pass `uncond: withoutImage(cond)` (or nothing for a purely image-conditioned
 *    model). The noise level stays embedded in the unconditional branch, as in SVD.
 *
 * The backbone itself is deterministic: the caller draws the augmentation noise with a seeded
 * {@link Rng} ({@link augmentConditionFrame}).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ParamScope, ShapeError, randomNormal, zeros, type Initializer, type Network, type Rng } from '@fewstep/core';
import type { Conditioning } from './backbone-types.js';
import { checkBool, checkInt, checkKnownKeys, checkPositive } from './config-checks.js';
import { attention, initAttention } from './layers/attention.js';
import { feedForward, initFeedForward } from './layers/feed-forward.js';
import { initNorm } from './layers/group-norm.js';
import { layerNorm } from './layers/layer-norm.js';
import { initLinear, linear } from './layers/linear.js';
import { embeddingMlp, initEmbeddingMlp, sinusoidalEmbedding } from './layers/timestep-embedding.js';

/** A critic-style ViT image encoder (DINOv2-like, tiny): the embedding path of {@link ImageConditioningConfig}. */
export interface ImageEncoderConfig {
  /** Patch size p of the stride-p patch embedding; the frame's H and W must divide by it. */
  patchSize: number;
  /** Token width (a multiple of 4: half of it encodes the row, half the column position). */
  width: number;
  /** Pre-LN transformer blocks. */
  depth: number;
  /** Attention heads (must divide `width`). */
  heads: number;
  /** Feed-forward expansion. */
  mlpRatio: number;
}

/** Where the image embedding enters the backbone. */
export type ImageEmbedMode = 'pooled' | 'context';

/**
 * Image conditioning of a video backbone (`imageCondition` of `VideoDiTConfig` / `VideoUNetConfig`;
 * absent or null = off, the default, which leaves the parameter set unchanged).
 */
export interface ImageConditioningConfig {
  /** Concatenate the conditioning frame to the noisy input along channels (SVD). */
  concat: boolean;
  /**
   * With `concat`: add a mask channel and place the frame on the frames `imageMask` marks (default
   * frame 0 only). false: no mask channel, the frame is broadcast to every frame (SVD).
   */
  mask: boolean;
  /** `'pooled'`: added to the time / adaLN embedding; `'context'`: cross-attention tokens (needs `contextDim`); null: no encoder. */
  embed: ImageEmbedMode | null;
  /** The encoder of the embedding path; `'none'` exactly when `embed` is null. */
  encoder: ImageEncoderConfig | 'none';
  /** Embed the augmentation level `imageNoiseSigma` into the time embedding (SVD's `cond_aug`). */
  noiseAugment: boolean;
  /** Create the encoder as buffers (frozen for good: `Network.unfreeze()` does not touch buffers). */
  freezeEncoder: boolean;
}

/** Image-encoder presets: `tiny` (CPU tests, ~13k parameters), `small`. */
export const IMAGE_ENCODER_PRESETS: Readonly<Record<'tiny' | 'small', ImageEncoderConfig>> = Object.freeze({
  tiny: { patchSize: 2, width: 32, depth: 1, heads: 2, mlpRatio: 2 },
  small: { patchSize: 2, width: 64, depth: 2, heads: 4, mlpRatio: 4 },
});

/**
 * A complete {@link ImageConditioningConfig}: concat with a frame-0 mask, a pooled embedding from
 * the `tiny` encoder, noise-level embedding, trainable encoder; `overrides` replace fields.
 * @example VideoDiT.preset('tiny', { imageCondition: imageConditioning() })
 * @example VideoUNet.preset('tiny', { imageCondition: imageConditioning({ embed: 'context' }) })
 */
export function imageConditioning(overrides: Partial<ImageConditioningConfig> = {}): ImageConditioningConfig {
  const embed = overrides.embed === undefined ? 'pooled' : overrides.embed;
  return {
    concat: true,
    mask: true,
    embed,
    encoder: embed === null ? 'none' : { ...IMAGE_ENCODER_PRESETS.tiny },
    noiseAugment: true,
    freezeEncoder: false,
    ...overrides,
  };
}

const KEYS = ['concat', 'mask', 'embed', 'encoder', 'noiseAugment', 'freezeEncoder'] as const;
const ENCODER_KEYS = ['patchSize', 'width', 'depth', 'heads', 'mlpRatio'] as const;

/**
 * Validates the `imageCondition` field of a backbone config.
 * @param host what the backbone offers: `contextDim` (the `'context'` path needs cross-attention)
 * @returns a normalised copy, or null when off (absent or null)
 * @throws ConfigError naming the field
 */
export function validateImageConditioning(what: string, value: unknown, host: { contextDim: number | null }): ImageConditioningConfig | null {
  if (value === undefined || value === null) return null;
  const field = `${what}.imageCondition`;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(field, value, 'null (off) or an object { concat, mask, embed, encoder, noiseAugment, freezeEncoder }', 'build one with imageConditioning()');
  }
  const v = value as Record<string, unknown>;
  checkKnownKeys(field, v, KEYS);
  const concat = checkBool(`${field}.concat`, v.concat);
  const mask = checkBool(`${field}.mask`, v.mask);
  const embed = v.embed;
  if (embed !== null && embed !== 'pooled' && embed !== 'context') throw new ConfigError(`${field}.embed`, embed, "'pooled', 'context' or null");
  const noiseAugment = checkBool(`${field}.noiseAugment`, v.noiseAugment);
  const freezeEncoder = checkBool(`${field}.freezeEncoder`, v.freezeEncoder);
  if (!concat && embed === null) throw new ConfigError(`${field}.embed`, embed, "'pooled' or 'context' when concat is false", 'enable concat or an embedding path: nothing would carry the image');
  if (embed === 'context' && host.contextDim === null) {
    throw new ConfigError(`${field}.embed`, embed, "'pooled' or null (the backbone has no cross-attention: contextDim is null)", 'set contextDim or use embed: pooled');
  }
  let encoder: ImageEncoderConfig | 'none';
  if (embed === null) {
    if (v.encoder !== 'none') throw new ConfigError(`${field}.encoder`, v.encoder, "'none' (embed is null)", "set encoder: 'none' or choose an embed mode");
    encoder = 'none';
  } else {
    const e = v.encoder;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) {
      throw new ConfigError(`${field}.encoder`, e, '{ patchSize, width, depth, heads, mlpRatio }', 'e.g. IMAGE_ENCODER_PRESETS.tiny');
    }
    const ev = e as Record<string, unknown>;
    checkKnownKeys(`${field}.encoder`, ev, ENCODER_KEYS);
    const width = checkInt(`${field}.encoder.width`, ev.width, 4);
    if (width % 4 !== 0) throw new ConfigError(`${field}.encoder.width`, width, 'a multiple of 4 (2D sinusoidal positions)');
    const heads = checkInt(`${field}.encoder.heads`, ev.heads);
    if (width % heads !== 0) throw new ConfigError(`${field}.encoder.heads`, heads, `a divisor of width = ${width}`);
    encoder = {
      patchSize: checkInt(`${field}.encoder.patchSize`, ev.patchSize),
      width,
      depth: checkInt(`${field}.encoder.depth`, ev.depth, 0),
      heads,
      mlpRatio: checkPositive(`${field}.encoder.mlpRatio`, ev.mlpRatio),
    };
  }
  return { concat, mask, embed, encoder, noiseAugment, freezeEncoder };
}

/** Extra input channels of the concat path for a `C`-channel latent: `C + 1` with the mask channel, `C` without, 0 when off. */
export function conditionChannelCount(spec: ImageConditioningConfig | null, channels: number): number {
  if (spec === null || !spec.concat) return 0;
  return channels + (spec.mask ? 1 : 0);
}

/** A {@link ParamScope} whose `param` creates buffers (a frozen encoder survives `Network.unfreeze()`). */
class BufferScope extends ParamScope {
  override param(name: string, shape: readonly number[], init: Initializer): tf.Variable {
    return this.buffer(name, shape, init);
  }
  override scope(prefix: string): ParamScope {
    return new BufferScope(this.network, `${this.prefix}.${prefix}`);
  }
}

/** Sizes the image-conditioning parameters depend on. */
export interface ImageConditioningHost {
  /** Width of the time / adaLN embedding the pooled and noise-level embeddings are added to. */
  embedDim: number;
  /** Cross-attention token width (the `'context'` path). */
  contextDim: number | null;
  /** Width of the sinusoidal features of the noise level. */
  freqDim: number;
  /** Latent channels C of `x` and of the image. */
  channels: number;
}

/**
 * Creates the embedding-path and noise-level parameters at the network root: `image_encoder.*`,
 * `image_embed.*` (`linear_1`, `linear_2`, `null_embedding`) or `image_context.*` (`kernel`,
 * `bias`, `null_token`), `image_noise_embed.*`. The concat kernel belongs to each backbone's
 * input layer (it knows its shape) and is created there.
 */
export function initImageConditioning(net: Network, spec: ImageConditioningConfig, host: ImageConditioningHost): void {
  if (spec.encoder !== 'none') {
    const e = spec.encoder;
    const root = net.scope('image_encoder');
    const enc = spec.freezeEncoder ? new BufferScope(net, 'image_encoder') : root;
    initLinear(enc.scope('patch_embed'), e.patchSize * e.patchSize * host.channels, e.width);
    for (let i = 0; i < e.depth; i++) {
      const blk = enc.scope(`blocks.${i}`);
      initNorm(blk.scope('norm1'), e.width);
      initAttention(blk.scope('attn'), e.width, e.width);
      initNorm(blk.scope('norm2'), e.width);
      initFeedForward(blk.scope('ff'), e.width, e.mlpRatio);
    }
    initNorm(enc.scope('norm'), e.width);
    if (spec.embed === 'pooled') {
      initEmbeddingMlp(net.scope('image_embed'), e.width, host.embedDim);
      net.param('image_embed.null_embedding', [host.embedDim], zeros());
    } else {
      initLinear(net.scope('image_context'), e.width, host.contextDim!);
      net.param('image_context.null_token', [host.contextDim!], zeros());
    }
  }
  if (spec.noiseAugment) initEmbeddingMlp(net.scope('image_noise_embed'), host.freqDim, host.embedDim);
}

/** The image-conditioning inputs of a backbone forward (see `Conditioning`). */
export type ImageInputs = Pick<Conditioning, 'image' | 'imageNoiseSigma' | 'imageMask' | 'dropImage'>;

const IMAGE_INPUTS = ['image', 'imageNoiseSigma', 'imageMask', 'dropImage'] as const;

/**
 * Checks the image inputs against the config and the noisy input `x` `[B, F, H, W, C]`.
 * @throws ConfigError when an input is given that the config does not use (or no `imageCondition`)
 * @throws ShapeError when `image` is not `[B, H, W, C]` of `x`, `imageMask` not `[B, F]`, ...
 */
export function checkImageInputs(what: string, spec: ImageConditioningConfig | null, inputs: ImageInputs, xShape: readonly number[]): void {
  if (spec === null) {
    for (const k of IMAGE_INPUTS) {
      if (inputs[k] !== undefined) {
        throw new ConfigError(`${what} input '${k}'`, 'given', 'undefined (the config sets no imageCondition)', `drop ${k} or rebuild the backbone with imageCondition: imageConditioning()`);
      }
    }
    return;
  }
  const [b, f, h, w, c] = xShape as [number, number, number, number, number];
  const { image, imageNoiseSigma, imageMask, dropImage } = inputs;
  if (image !== undefined) {
    if (image.rank !== 4 || image.shape[0] !== b || image.shape[1] !== h || image.shape[2] !== w || image.shape[3] !== c) {
      throw new ShapeError(`${what} image`, image.shape, `[${b}, ${h}, ${w}, ${c}] (the conditioning frame: x's batch, height, width and channels)`);
    }
  }
  if (spec.encoder !== 'none') {
    const p = spec.encoder.patchSize;
    if (h % p !== 0 || w % p !== 0) {
      throw new ShapeError(`${what} input x`, xShape, `H and W multiples of the image encoder's patch size ${p}`, 'use frames whose size divides by imageCondition.encoder.patchSize');
    }
  }
  if (imageNoiseSigma !== undefined) {
    if (!spec.noiseAugment) throw new ConfigError(`${what} input 'imageNoiseSigma'`, 'given', 'undefined (imageCondition.noiseAugment is false)', 'drop it or enable noiseAugment');
    if (imageNoiseSigma.size !== b && imageNoiseSigma.size !== 1) throw new ShapeError(`${what} imageNoiseSigma`, imageNoiseSigma.shape, `[${b}] or a scalar`);
  }
  if (imageMask !== undefined) {
    if (!spec.concat || !spec.mask) throw new ConfigError(`${what} input 'imageMask'`, 'given', 'undefined (imageCondition has no mask channel)', 'drop it or set concat and mask');
    if (imageMask.rank !== 2 || imageMask.shape[0] !== b || imageMask.shape[1] !== f) throw new ShapeError(`${what} imageMask`, imageMask.shape, `[${b}, ${f}] (1 on the frames that carry the condition)`);
  }
  if (dropImage !== undefined && dropImage.size !== b) throw new ShapeError(`${what} dropImage`, dropImage.shape, `[${b}] (1 = drop the image of that sample)`);
}

/** `[B, 1]` weights of the image per sample: `1 - dropImage` (all 0 without an image). */
function keepWeights(inputs: ImageInputs, b: number): tf.Tensor {
  if (inputs.image === undefined) return tf.zeros([b, 1]);
  if (inputs.dropImage === undefined) return tf.ones([b, 1]);
  return tf.sub(1, tf.reshape(tf.cast(inputs.dropImage, 'float32'), [b, 1]));
}

/** The default per-frame mask `[B, F]`: 1 on frame 0 only (I2V). */
export function firstFrameMask(batch: number, frames: number): tf.Tensor {
  const m = new Float32Array(batch * frames);
  for (let i = 0; i < batch; i++) m[i * frames] = 1;
  return tf.tensor2d(m, [batch, frames]);
}

/**
 * The extra input channels of the concat path for `x` of shape `[B, F, H, W, C]`:
 * `concat([broadcast(image) * m, m])` `[B, F, H, W, C + 1]` (mask on) or `broadcast(image) * keep`
 * `[B, F, H, W, C]` (mask off), `m = imageMask (default frame 0) * (1 - dropImage)`; zeros
 * without an image. Call {@link checkImageInputs} first.
 */
export function conditionChannels(spec: ImageConditioningConfig, inputs: ImageInputs, xShape: readonly number[]): tf.Tensor {
  const [b, f, h, w, c] = xShape as [number, number, number, number, number];
  return tf.tidy(() => {
    if (inputs.image === undefined) return tf.zeros([b, f, h, w, c + (spec.mask ? 1 : 0)]);
    const keep = keepWeights(inputs, b);
    const img = tf.reshape(inputs.image, [b, 1, h, w, c]);
    if (!spec.mask) return tf.mul(img, tf.mul(tf.reshape(keep, [b, 1, 1, 1, 1]), tf.ones([1, f, 1, 1, 1])));
    const m = tf.mul(inputs.imageMask === undefined ? firstFrameMask(b, f) : tf.cast(inputs.imageMask, 'float32'), keep);
    const m5 = tf.reshape(m, [b, f, 1, 1, 1]);
    return tf.concat([tf.mul(img, m5), tf.mul(m5, tf.ones([1, 1, h, w, 1]))], 4);
  });
}

/** Fixed 2D sinusoidal positions `[h*w, width]`: the first half encodes the row, the second the column. */
function positions2d(h: number, w: number, width: number): tf.Tensor {
  return tf.tidy(() => {
    const rows = new Float32Array(h * w);
    const cols = new Float32Array(h * w);
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) [rows[i * w + j], cols[i * w + j]] = [i, j];
    return tf.concat([sinusoidalEmbedding(tf.tensor1d(rows), width / 2), sinusoidalEmbedding(tf.tensor1d(cols), width / 2)], 1);
  });
}

/**
 * The encoder: `[B, H, W, C]` to tokens `[B, (H/p)(W/p), width]` (patchify + linear, + 2D
 * sinusoidal positions, pre-LN blocks `x += attn(LN(x))`, `x += ff(LN(x))`, final LN).
 */
export function encodeImage(net: Network, encoder: ImageEncoderConfig, image: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [b, h, w, c] = image.shape as [number, number, number, number];
    const p = encoder.patchSize;
    const [hp, wp] = [h / p, w / p];
    // [B, hp, p, wp, p, C] -> [B, hp, wp, p, p, C]: each patch flattened as (row, col, channel).
    const patches = tf.reshape(tf.transpose(tf.reshape(image, [b * hp, p, wp, p * c]), [0, 2, 1, 3]), [b, hp * wp, p * p * c]);
    const root = net.scope('image_encoder');
    let s = tf.add(linear(root.scope('patch_embed'), patches), positions2d(hp, wp, encoder.width));
    for (let i = 0; i < encoder.depth; i++) {
      const blk = root.scope(`blocks.${i}`);
      s = tf.add(s, attention(blk.scope('attn'), layerNorm(blk.scope('norm1'), s, 1e-6), encoder.heads));
      s = tf.add(s, feedForward(blk.scope('ff'), layerNorm(blk.scope('norm2'), s, 1e-6)));
    }
    return layerNorm(root.scope('norm'), s, 1e-6);
  });
}

/** The augmentation level is embedded as `sinusoid(1000 sigma_aug)` (our choice, see the file comment). */
export const IMAGE_NOISE_EMBED_SCALE = 1000;

/** What the image adds to a forward pass: a `[B, embedDim]` term of the time embedding and/or cross-attention tokens. */
export interface ImageEmbedding {
  /** Added to the time / adaLN embedding (pooled image embedding and noise-level embedding). */
  temb?: tf.Tensor;
  /** `[B, L, contextDim]` image tokens (the `'context'` path). */
  tokens?: tf.Tensor;
}

/**
 * The embedding-path and noise-level terms (see the file comment). Without an image (or for a
 * dropped sample) the learned null embedding / null token replaces the encoder's. Call
 * {@link checkImageInputs} first.
 */
export function imageEmbedding(net: Network, spec: ImageConditioningConfig, inputs: ImageInputs, batch: number, freqDim: number): ImageEmbedding {
  return tf.tidy(() => {
    const out: { temb?: tf.Tensor; tokens?: tf.Tensor } = {};
    const add = (e: tf.Tensor): void => {
      out.temb = out.temb === undefined ? e : tf.add(out.temb, e);
    };
    if (spec.encoder !== 'none') {
      const keep = keepWeights(inputs, batch);
      const drop = tf.sub(1, keep);
      if (spec.embed === 'pooled') {
        const nullEmb = tf.reshape(net.variable('image_embed.null_embedding'), [1, -1]);
        if (inputs.image === undefined) add(tf.tile(nullEmb, [batch, 1]));
        else {
          const pooled = tf.mean(encodeImage(net, spec.encoder, inputs.image), 1);
          add(tf.add(tf.mul(embeddingMlp(net.scope('image_embed'), pooled), keep), tf.mul(nullEmb, drop)));
        }
      } else {
        const nullTok = tf.reshape(net.variable('image_context.null_token'), [1, 1, -1]);
        const p = spec.encoder.patchSize;
        if (inputs.image === undefined) {
          out.tokens = tf.tile(nullTok, [batch, 1, 1]);
        } else {
          const [, h, w] = inputs.image.shape as [number, number, number, number];
          const tokens = linear(net.scope('image_context'), encodeImage(net, spec.encoder, inputs.image));
          const k3 = tf.reshape(keep, [batch, 1, 1]);
          out.tokens = tf.add(tf.mul(tokens, k3), tf.mul(tf.tile(nullTok, [1, (h / p) * (w / p), 1]), tf.sub(1, k3)));
        }
      }
    }
    if (spec.noiseAugment) {
      const sigma = inputs.imageNoiseSigma === undefined ? tf.zeros([batch]) : tf.broadcastTo(tf.reshape(tf.cast(inputs.imageNoiseSigma, 'float32'), [-1]), [batch]);
      add(embeddingMlp(net.scope('image_noise_embed'), sinusoidalEmbedding(sigma, freqDim, IMAGE_NOISE_EMBED_SCALE)));
    }
    return out as Record<string, tf.Tensor>;
  }) as ImageEmbedding;
}

/**
 * The cross-attention tokens with the image tokens appended: `concat([context, tokens], 1)` (and
 * the mask extended with ones), or the image tokens alone without text `context`.
 */
export function withImageContext(cond: Pick<Conditioning, 'context' | 'contextMask'>, tokens: tf.Tensor | undefined): { context?: tf.Tensor; contextMask?: tf.Tensor } {
  if (tokens === undefined) return { ...(cond.context ? { context: cond.context } : {}), ...(cond.contextMask ? { contextMask: cond.contextMask } : {}) };
  if (cond.context === undefined) return { context: tokens };
  const [b, l] = tokens.shape as [number, number];
  return tf.tidy(() => ({
    context: tf.concat([cond.context!, tokens], 1),
    ...(cond.contextMask ? { contextMask: tf.concat([tf.cast(cond.contextMask, 'float32'), tf.ones([b, l])], 1) } : {}),
  })) as { context: tf.Tensor; contextMask?: tf.Tensor };
}

/**
 * Noise augmentation of the conditioning frame (SVD): `c_aug = c + sigma_aug eps`, `eps ~ N(0, I)`
 * drawn from `rng` (seeded, the same on every backend).
 * @param image `[B, H, W, C]` clean conditioning frames
 * @param sigma one level for the batch, or `[B]` levels (a tensor or numbers)
 * @returns `[B, H, W, C]`; pass `sigma` as `imageNoiseSigma` alongside it
 */
export function augmentConditionFrame(image: tf.Tensor, sigma: number | readonly number[] | tf.Tensor, rng: Rng): tf.Tensor {
  const b = image.shape[0]!;
  if (image.rank !== 4) throw new ShapeError('augmentConditionFrame image', image.shape, '[B, H, W, C]');
  const n = typeof sigma === 'number' ? 1 : sigma instanceof tf.Tensor ? sigma.size : sigma.length;
  if (n !== 1 && n !== b) throw new ShapeError('augmentConditionFrame sigma', [n], `a number or [${b}] levels`);
  return tf.tidy(() => {
    const s = typeof sigma === 'number' ? tf.scalar(sigma) : tf.reshape(sigma instanceof tf.Tensor ? tf.cast(sigma, 'float32') : tf.tensor1d([...sigma]), [-1, 1, 1, 1]);
    return tf.add(image, tf.mul(randomNormal(image.shape, rng), s));
  });
}

/**
 * Augmentation levels `[n]` for training: `sigma_aug = exp(pMean + pStd z)`, z ~ N(0, 1) from
 * `rng` (a log-normal, as EDM's noise levels). The defaults (median 0.05, so most levels lie in
 * [0.02, 0.12] around SVD's inference default 0.02) are our choice: the papers we follow do not
 * state a training distribution.
 */
export function sampleConditionNoiseSigma(n: number, rng: Rng, options: { pMean?: number; pStd?: number } = {}): tf.Tensor {
  const { pMean = Math.log(0.05), pStd = 0.5 } = options;
  if (!Number.isFinite(pMean) || !(pStd >= 0)) throw new ConfigError('sampleConditionNoiseSigma options', options, 'finite pMean and pStd >= 0');
  return tf.tidy(() => tf.exp(tf.add(tf.mul(randomNormal([n], rng), pStd), pMean)));
}

/**
 * The unconditional (empty-image) input of classifier-free guidance: `cond` without `image`,
 * `imageMask` and `dropImage` (text conditioning and the noise level stay).
 * @example predictRaw(teacher, xt, t, { cond, guidance: { uncond: withoutImage(cond), scale: 3 } })
 */
export function withoutImage<C extends ImageInputs>(cond: C): Omit<C, 'image' | 'imageMask' | 'dropImage'> {
  const { image: _i, imageMask: _m, dropImage: _d, ...rest } = cond;
  return rest;
}
