/**
 * @file Shared pieces of the ADP / ADM / DMDX recipes (Lu et al. 2025, "Adversarial Distribution
 * Matching for Diffusion Distillation", Sec. 4.1-4.2, Algorithm 1 and Appendix B):
 *
 * - the latent-space discriminator `D_tau(x_t, t)` = the frozen teacher plus trainable 2D heads on
 *   several of its blocks (Appendix B.1: blocks of 4x4 conv stride 2, GroupNorm, SiLU; one head per
 *   block output). Teacher taps are `[B, F, h, w, C]` (video DiT / UNet) or `[B, h, w, C]`; each
 *   head gives patch logits and `composeDiscriminator` concatenates them to `[B, N]`;
 * - the pixel-space discriminator `D_tau2(x)` of ADP on a frozen critic encoder. The paper uses
 *   SAM's ViT encoder (layers 3, 6, 9, 12) on VAE-decoded images. Offline there is no VAE and no
 *   pretrained critic, so the default is a randomly initialised, frozen tiny DINOv2 built from a
 *   config (`Dinov2Critic.create`, no files) reading the sample itself as the image (our choice);
 *   any {@link FeatureFn} can replace it (a loaded SAM / DINOv2 through `criticFeatures`);
 * - a per-step cache so that a discriminator phase sees the samples of the generator phase of the
 *   same step (ADM Algorithm 1, line 26 reuses the generator step's x^fake / x^real);
 * - the paper's optimizer: AdamW, no weight decay, betas (0, 0.99) (Appendix B).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ConfigError, type Network, type OptimizerConfig } from '@fewstep/core';
import { DINOV2_PRESETS, Dinov2Critic } from '@fewstep/backbones';
import { composeDiscriminator, criticFeatures, fromCritic, head2d, type FeatureFn, type HeadBinding } from '@fewstep/loss-adversarial';
import { modelTaps, type BackboneLike, type Conditioning, type DiffusionModel } from '../runtime/diffusion-model.js';

/** AdamW without weight decay, betas (0, 0.99): every optimizer of ADP and ADM (Appendix B). */
export function admAdamW(lr: number): OptimizerConfig {
  return { type: 'adamw', lr, betas: [0, 0.99], weightDecay: 0 };
}

/**
 * Which teacher taps (block outputs) carry discriminator heads: `'all'` (the paper: every DiT
 * block, every UNet block), a count n (n taps evenly spaced over the backbone, the last one
 * included: cheaper heads), or explicit tap names.
 */
export const discriminatorTapsSchema = z.union([z.literal('all'), z.number().int().min(1), z.array(z.string().min(1)).min(1)]);
export type DiscriminatorTaps = z.infer<typeof discriminatorTapsSchema>;

/** Channels of each 4x4 stride-2 block of a 2D head (paper: SDXL-Lightning's head design). */
export const headChannelsSchema = z.array(z.number().int().min(1)).min(1);

/** The tap names a selection picks on `backbone`. @throws ConfigError on unknown names / no taps */
export function resolveDiscriminatorTaps(backbone: BackboneLike, selection: DiscriminatorTaps, field = 'discriminatorTaps'): string[] {
  const names = backbone.tapNames();
  if (names.length === 0) throw new ConfigError(field, selection, 'a teacher backbone exposing feature taps', 'use a fewstep VideoDiT / VideoUNet teacher');
  if (selection === 'all') return names;
  if (typeof selection === 'number') {
    const n = Math.min(selection, names.length);
    return [...new Set(Array.from({ length: n }, (_, i) => names[Math.round(((i + 1) * names.length) / n) - 1]!))];
  }
  const unknown = selection.filter((s) => !names.includes(s));
  if (unknown.length > 0) throw new ConfigError(field, unknown, `tap names among ${names.join(', ')}`, "use 'all' or a count");
  return [...new Set(selection)];
}

/**
 * Zero conditioning of batch 1 for the backbone's config (`contextDim`, `pooledDim`,
 * `guidanceEmbedding`), so that a shape probe runs on conditional teachers too.
 */
export function probeConditioning(backbone: BackboneLike): Conditioning {
  const c = (backbone.toConfig() ?? {}) as { contextDim?: number | null; pooledDim?: number | null; guidanceEmbedding?: boolean };
  const cond: Record<string, tf.Tensor> = {};
  if (typeof c.contextDim === 'number') cond.context = tf.zeros([1, 1, c.contextDim]);
  if (typeof c.pooledDim === 'number') cond.pooled = tf.zeros([1, c.pooledDim]);
  if (c.guidanceEmbedding === true) cond.guidanceScale = tf.zeros([1]);
  return cond;
}

/** Last-axis size (channels) of each feature map `features(zeros [1, ...sampleShape])` returns. */
export function probeFeatureChannels(features: FeatureFn, sampleShape: readonly number[], t: number): Record<string, number> {
  const maps = tf.tidy(() => features(tf.zeros([1, ...sampleShape]), tf.fill([1], t)));
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(maps)) {
    out[k] = v.shape[v.rank - 1]!;
    v.dispose();
  }
  return out;
}

/** The frozen teacher's taps at `(x_t, t)` as a {@link FeatureFn} (model time scaled as the denoiser does). */
export function teacherTapFeatureFn(model: DiffusionModel, taps: readonly string[], cond?: Conditioning): FeatureFn {
  // `modelTaps` rather than `teacherTapFeatures`: it multiplies t by `schedule.timestepScale`
  // exactly as the teacher's denoiser does (flow teachers embed 1000 t).
  return (x, t) => modelTaps(model, model.backbone, x, t, [...taps], cond);
}

/** Heads on named feature maps (a discriminator's trainable part). */
export interface FeatureHeads {
  /** Feature keys with a head, in order. */
  readonly keys: readonly string[];
  readonly bindings: readonly HeadBinding[];
}

/** One {@link head2d} per feature key, named `<prefix>.<key>` in `net`. */
export function headsOn(net: Network, prefix: string, channels: Readonly<Record<string, number>>, keys: readonly string[], headChannels: readonly number[]): FeatureHeads {
  const bindings = keys.map((key) => {
    const inChannels = channels[key];
    if (inChannels === undefined) throw new ConfigError(`${prefix} feature`, key, `one of [${Object.keys(channels).join(', ')}]`);
    return { feature: key, head: head2d(net, `${prefix}.${key}`, { inChannels, channels: headChannels }) };
  });
  return { keys: [...keys], bindings };
}

/** Heads on the frozen teacher's taps: the trainable part of the latent discriminator. */
export function teacherTapHeads(net: Network, model: DiffusionModel, sampleShape: readonly number[], taps: readonly string[], headChannels: readonly number[]): FeatureHeads {
  const probe = probeConditioning(model.backbone);
  try {
    const channels = probeFeatureChannels(teacherTapFeatureFn(model, taps, probe), sampleShape, model.schedule.tMax);
    return headsOn(net, 'latent', channels, taps, headChannels);
  } finally {
    tf.dispose(Object.values(probe));
  }
}

/**
 * `D_tau(x_t, t)`: frozen teacher taps at `(x_t, t)` (x is already noisy: ADM feeds the PF-ODE step
 * results, ADP a re-noised sample), heads, logits `[B, N]`. Gradients reach the heads and, through
 * the frozen teacher, `x`.
 */
export function latentDiscriminator(model: DiffusionModel, heads: FeatureHeads, cond?: Conditioning): (x: tf.Tensor, t: tf.Tensor) => tf.Tensor {
  const d = composeDiscriminator(teacherTapFeatureFn(model, heads.keys, cond), heads.bindings);
  return (x, t) => d(x, t);
}

/** A pixel-space feature source for ADP's `D_tau2` (frozen; its variables are never trained). */
export interface PixelFeatureSource {
  /** Feature maps of a clean sample `[B, ...]` (t is the schedule's tMin, "clean"). */
  readonly features: FeatureFn;
  /** Keys to put heads on. @default every key except `temporal*` */
  readonly keys?: readonly string[];
  /** Frees the source (its frozen network). */
  dispose?(): void;
}

/** Builds a {@link PixelFeatureSource} for a run (per instantiated recipe). */
export type PixelFeatureFactory = (env: { readonly sampleShape: readonly number[]; readonly seed: number; readonly critic: PixelCriticConfig }) => PixelFeatureSource;

/**
 * The default pixel critic: a tiny DINOv2 ViT, randomly initialised (transformers' initialisers,
 * seeded) and frozen. Paper: SAM ViT-B, hidden states 3, 6, 9, 12 of 12; here `layers` defaults to
 * every block of a 4-block ViT (the same quarter-depth spacing).
 */
export const pixelCriticSchema = z.strictObject({
  hiddenSize: z.number().int().min(1).default(32),
  numLayers: z.number().int().min(1).default(4),
  numHeads: z.number().int().min(1).default(2),
  patchSize: z.number().int().min(1).default(2),
  /** Hidden-state indices (0 = embeddings, i = block i) with a head. */
  layers: z.array(z.number().int().min(1)).min(1).default([1, 2, 3, 4]),
  seed: z.number().int().min(0).default(0),
});
export type PixelCriticConfig = z.infer<typeof pixelCriticSchema>;

/**
 * A frozen random DINOv2 on the sample read as frames `[B*F, H, W, C]`. RGB samples (C = 3) whose
 * sides are multiples of the patch size go in as they are; otherwise the channels are mapped to 3
 * by a fixed 0/1 matrix (channel c to RGB c mod 3, or replicated when C < 3) and the frames resized
 * to a square side S (a multiple of the patch size), as `criticFeatures` does for latents.
 */
export const randomDinov2PixelFeatures: PixelFeatureFactory = ({ sampleShape, critic: c }) => {
  const frame = sampleShape.slice(-3);
  if (frame.length !== 3) throw new ConfigError('sampleShape', sampleShape, '[F, H, W, C] or [H, W, C]');
  const [h, w, ch] = frame as [number, number, number];
  const p = c.patchSize;
  const bad = c.layers.find((l) => l > c.numLayers);
  if (bad !== undefined) throw new ConfigError('pixelCritic.layers', c.layers, `hidden-state indices in [1, ${c.numLayers}]`);
  const side = p * Math.ceil(Math.max(h, w) / p);
  const asIs = ch === 3 && h % p === 0 && w % p === 0;
  const critic = Dinov2Critic.create(
    { ...DINOV2_PRESETS['vit-s14'], hiddenSize: c.hiddenSize, numLayers: c.numLayers, numHeads: c.numHeads, patchSize: p, imageSize: side },
    { seed: c.seed, name: 'adp.pixel-critic' },
  );
  const latentToRgb = Array.from({ length: ch }, (_, k) => [0, 1, 2].map((j) => (ch >= 3 ? (k % 3 === j ? 1 : 0) : j % ch === k ? 1 : 0)));
  const extract = criticFeatures({
    critic,
    layers: c.layers,
    patchSize: p,
    prefixTokens: critic.prefixTokens,
    ...(asIs ? { input: 'frames' as const } : { input: 'latents' as const, size: side, latentToRgb }),
  });
  return { features: fromCritic(extract), dispose: () => critic.dispose() };
};

/** Pixel-space discriminator `D_tau2(x0)` `[B, N]` on a frozen source (t = tMin: a clean sample). */
export function pixelDiscriminator(source: PixelFeatureSource, heads: FeatureHeads, tMin: number): (x0: tf.Tensor) => tf.Tensor {
  const d = composeDiscriminator(source.features, heads.bindings);
  return (x0) => tf.tidy(() => d(x0, tf.fill([x0.shape[0]!], tMin)));
}

/** Heads on a pixel source's maps (probed on a zero sample). */
export function pixelHeads(net: Network, source: PixelFeatureSource, sampleShape: readonly number[], tMin: number, headChannels: readonly number[]): FeatureHeads {
  const channels = probeFeatureChannels(source.features, sampleShape, tMin);
  const keys = source.keys ?? Object.keys(channels).filter((k) => !k.startsWith('temporal'));
  return headsOn(net, 'pixel', channels, keys, headChannels);
}

/**
 * Tensors one phase hands to a later phase of the same step (kept outside the gradient scopes,
 * freed when replaced or when the role is disposed). Holds one hand-off at a time; `take` returns
 * it once, and only for the same step (and the same `token`, e.g. the step's batch object), so a
 * later run or a phase that runs alone never sees another step's tensors.
 */
export class StepCache<T extends Record<string, tf.Tensor | number | undefined>> {
  #step = -1;
  #token: object | undefined;
  #taken = false;
  #value: T | undefined;

  /** Stores `value` for `step` (its tensors are kept; pass tensors the caller does not otherwise own). */
  put(step: number, value: T, token?: object): void {
    this.clear();
    for (const v of Object.values(value)) if (v instanceof tf.Tensor) tf.keep(v);
    this.#step = step;
    this.#token = token;
    this.#taken = false;
    this.#value = value;
  }

  /** The value stored for `step` (and `token`), once; undefined otherwise. */
  take(step: number, token?: object): T | undefined {
    const v = this.peek(step, token);
    if (v !== undefined) this.#taken = true;
    return v;
  }

  /** The value stored for `step` (and `token`) if not taken yet, without taking it. */
  peek(step: number, token?: object): T | undefined {
    return !this.#taken && this.#step === step && this.#token === token ? this.#value : undefined;
  }

  clear(): void {
    if (this.#value !== undefined) for (const v of Object.values(this.#value)) if (v instanceof tf.Tensor) v.dispose();
    this.#value = undefined;
    this.#token = undefined;
    this.#step = -1;
  }
}

/**
 * Shares one computation between the terms of a phase (e.g. ADP's generator forward feeds the
 * regression and both adversarial terms): `get` recomputes unless the step, the phase and the
 * step's batch object are the same as the last call's. The values live in the phase's gradient
 * scope (not kept) and are never reused after it.
 */
export class PhaseMemo<T> {
  #at: { step: number; phase: string; batch: object } | undefined;
  #value: T | undefined;

  get(at: { readonly step: number; readonly phase: string; readonly batch: object }, make: () => T): T {
    const last = this.#at;
    if (last === undefined || last.step !== at.step || last.phase !== at.phase || last.batch !== at.batch || this.#value === undefined) {
      this.#value = make();
      this.#at = { step: at.step, phase: at.phase, batch: at.batch };
    }
    return this.#value;
  }
}
