import type * as tf from '@tensorflow/tfjs-core';
import type { Network } from '@fewstep/core';

/** Which feature taps a forward pass keeps: names, every tap, or none (the default, least memory). */
export type TapSelection = readonly string[] | 'all' | 'none';

/** Options of a backbone forward pass. */
export interface ForwardOptions {
  /** Intermediate features to return (see each backbone's `tapNames()`). @default 'none' */
  taps?: TapSelection;
}

/**
 * What every backbone forward returns: the output and the selected intermediate features, all
 * computed in the same pass (so a discriminator head can sit on a frozen teacher). The caller owns
 * every tensor.
 */
export interface BackboneOutput {
  readonly out: tf.Tensor;
  readonly taps: Record<string, tf.Tensor>;
}

/**
 * Conditioning of a denoising backbone. Text conditioning comes from a text encoder (`context` =
 * its tokens, `contextMask` its padding mask, `pooled` its pooled vector); class conditioning from
 * a class embedding (one token and the same vector pooled); image conditioning (image-to-video)
 * from a conditioning frame (`image` and its companions).
 */
export interface Conditioning {
  /** Cross-attention tokens `[B, L, contextDim]`; required when the config has a `contextDim`. */
  context?: tf.Tensor;
  /** `[B, L]`, 1 for tokens to attend to, 0 for padding. @default all ones */
  contextMask?: tf.Tensor;
  /** Pooled conditioning `[B, pooledDim]`, added to the time embedding; required when the config has a `pooledDim`. */
  pooled?: tf.Tensor;
  /** Guidance scale `w` `[B]` for guidance-embedded (distilled-CFG) students; required when `guidanceEmbedding` is on. */
  guidanceScale?: tf.Tensor;
  /**
   * Image-to-video: the conditioning frame `[B, H, W, C]` (a latent with x's H, W, C; noise-augmented
   * by the caller, see `augmentConditionFrame`). Only with an `imageCondition` config; absent = the
   * empty condition (the classifier-free-guidance unconditional branch). See `image-conditioning.ts`.
   */
  image?: tf.Tensor;
  /** Augmentation noise level `sigma_aug` `[B]` of `image` (SVD's `cond_aug`), embedded like time. @default 0 */
  imageNoiseSigma?: tf.Tensor;
  /** `[B, F]`, 1 on the frames that carry the image in the concat path. @default frame 0 only */
  imageMask?: tf.Tensor;
  /** `[B]`, 1 drops the image of that sample (zero concat channels and mask, null embedding): CFG dropout. @default all 0 */
  dropImage?: tf.Tensor;
}

/** Inputs of a denoising backbone: the noisy sample, the model time and the conditioning. */
export interface DenoiserInputs extends Conditioning {
  /** Noisy sample: video `[B, F, H, W, C]` (image backbones: `[B, H, W, C]`). */
  x: tf.Tensor;
  /** Model time `[B]` (a scalar or `[1]` is broadcast to the batch). */
  t: tf.Tensor;
}

/** The common surface of fewstep backbones (video UNet, video DiT, image UNet, text encoder). */
export interface Backbone<TConfig, TInputs> {
  /** Registered name, e.g. `backbones:video-unet`. */
  readonly kind: string;
  /** The resolved config (serializable; `toConfig()` returns a copy). */
  readonly config: Readonly<TConfig>;
  /** The named variables. Freeze, clone, LoRA-wrap or load it through core's `Network` API. */
  readonly net: Network;
  forward(inputs: TInputs, options?: ForwardOptions): BackboneOutput;
  /** Every tap a forward pass can return, in computation order. */
  tapNames(): string[];
  /** A JSON-serializable copy of the config; `fromConfig(toConfig())` rebuilds an identical untrained backbone. */
  toConfig(): TConfig;
  dispose(): void;
}
