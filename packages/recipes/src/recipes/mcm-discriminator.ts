/**
 * @file MCM's image discriminator (Zhai et al. 2024, Sec. 3.1 Eq. 4-5 and Appendix C.1): a frozen
 * per-frame feature source and trainable patch heads, optionally text-conditioned (projection
 * discriminator), applied to l sparsely sampled frames `[B*l, H, W, C]` of the student's clean
 * output and to images of the "high-quality image set".
 *
 * Feature sources (pluggable: any {@link McmFeatureSource}):
 * - `dinov2` (the paper: frozen DINOv2 ViT-S/14, hidden states 2, 5, 8, 11). Offline we have no
 *   pretrained weights, so {@link randomDinov2Critic} builds a frozen, seeded, randomly initialised
 *   DINOv2 from a config (`vit-s14` shapes, or a `tiny` ViT for CPU runs); a loaded critic
 *   (`loadCritic('dinov2', dir)`) plugs in through {@link dinov2FeatureSource}. The paper decodes
 *   latents with the VAE first; fewstep recipes work on latents, so the critic sees latent frames
 *   mapped to 3 channels (a fixed one-hot `[C, 3]` map, identity for C = 3) and resized to the
 *   critic's input size (OSV's latent-critic input).
 * - `teacher`: the frozen teacher's taps at model time 0 on single frames `[N, 1, H, W, C]` (our
 *   fallback; the paper does not use it).
 *
 * Heads: one `head2d` (4x4 stride-2 conv + GroupNorm + SiLU blocks, then a 1x1 conv to patch
 * logits) per feature map; with a text-conditioned teacher (config `pooledDim`, else `contextDim`)
 * each head is wrapped in `textConditionedHead` (`head(phi) + <V e, mean phi>`, MCM / StyleGAN-T's
 * text conditioning with the batch's `pooled` or `context` embedding in place of CLIP-ViT-g-14).
 * Without text in the batch the plain heads are used. Logits: `[N, K]`, every head's patch logits
 * flattened and concatenated (the hinge losses average them all).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, type Network } from '@fewstep/core';
import { DINOV2_PRESETS, Dinov2Critic, type Dinov2Config } from '@fewstep/backbones';
import { criticFeatures, head2d, textConditionedHead, type CriticSource, type DiscriminatorHead, type TextConditionedHead } from '@fewstep/loss-adversarial';
import { modelTaps, type Conditioning, type DiffusionModel } from '../runtime/diffusion-model.js';

/** Built-in feature sources of the MCM discriminator. */
export const MCM_FEATURE_SOURCES = ['dinov2', 'teacher'] as const;
export type McmFeatureSourceKind = (typeof MCM_FEATURE_SOURCES)[number];

/** Shapes of the randomly initialised DINOv2 critic: ViT-S/14 (the paper's, ADD's) or a tiny ViT. */
export const MCM_DINOV2_PRESETS = ['vit-s14', 'tiny'] as const;
export type McmDinov2Preset = (typeof MCM_DINOV2_PRESETS)[number];

/** A frozen per-frame feature source: frames `[N, H, W, C]` to feature maps `[N, h_i, w_i, D_i]`. */
export interface McmFeatureSource {
  readonly name: string;
  /** Channels `D_i` of each returned map, in order (the heads are built for them). */
  readonly channels: readonly number[];
  /** The frozen network behind the features (for inspection; never trained). */
  readonly net?: Network;
  /**
   * Differentiable in `frames`; the source's own variables must not be trainable.
   * @param frames `[N, H, W, C]`
   * @param cond per-frame conditioning (`[N, ...]` each), for sources that read it (teacher taps)
   */
  features(frames: tf.Tensor, cond?: Conditioning): tf.Tensor[];
  dispose?(): void;
}

/**
 * A frozen, randomly initialised DINOv2 critic (seeded; transformers' initialisers). `tiny`:
 * D = 32, 2 blocks, 2 heads, MLP ratio 2, patch 2, its position table sized for `inputSize`
 * (our choice for 2-core CPU runs).
 */
export function randomDinov2Critic(preset: McmDinov2Preset, inputSize: number, seed: number, name = 'mcm-critic-dinov2'): Dinov2Critic {
  const base = DINOV2_PRESETS['vit-s14'];
  const config: Dinov2Config =
    preset === 'vit-s14' ? base : { ...base, hiddenSize: 32, numLayers: 2, numHeads: 2, mlpRatio: 2, patchSize: 2, imageSize: Math.max(2, inputSize) };
  const critic = Dinov2Critic.create(config, { seed, name });
  critic.net.freeze();
  return critic;
}

/** A ViT critic as the feature source needs it (fewstep's DINOv2 / SAM critics satisfy it). */
export interface McmCritic extends CriticSource {
  readonly patchSize: number;
  readonly prefixTokens: number;
  readonly hiddenSize: number;
  readonly numHiddenStates: number;
  readonly net?: Network;
  dispose?(): void;
}

/** Options of {@link dinov2FeatureSource}. */
export interface Dinov2FeatureSourceOptions {
  critic: McmCritic;
  /** Hidden-state indices (transformers' `hidden_states`: 0 = embeddings, i = block i). */
  layers: readonly number[];
  /** Latent channels C of the frames. */
  channels: number;
  /** Side of the square critic input (a multiple of the patch size). */
  size: number;
  /** Dispose the critic with the source. @default true */
  owned?: boolean;
}

/** The one-hot `[C, 3]` latent-to-RGB map: channel c feeds RGB channel c mod 3 (identity for C = 3). */
export function latentToRgbMap(channels: number): number[][] {
  return Array.from({ length: channels }, (_, c) => [0, 1, 2].map((j) => (j === c % 3 ? 1 : 0)));
}

/** The critic's input side for `[H, W]` frames: `size`, or max(H, W) rounded up to the patch size. */
export function criticInputSize(frameHw: readonly [number, number], patchSize: number, size: number | null): number {
  if (size !== null) {
    if (!(Number.isInteger(size) && size >= patchSize && size % patchSize === 0)) {
      throw new ConfigError('dinov2Size', size, `a positive multiple of the critic patch size ${patchSize}, or null`, `use ${patchSize * 16} (224 for ViT-S/14)`);
    }
    return size;
  }
  return Math.ceil(Math.max(frameHw[0], frameHw[1]) / patchSize) * patchSize;
}

/** DINOv2 (or any ViT critic) hidden states folded to patch grids, as {@link McmFeatureSource}. */
export function dinov2FeatureSource(options: Dinov2FeatureSourceOptions): McmFeatureSource {
  const { critic, layers, channels, size, owned = true } = options;
  if (layers.length === 0) throw new ConfigError('dinov2Layers', layers, 'at least one hidden-state index', 'MCM: [2, 5, 8, 11]');
  const count = critic.numHiddenStates;
  for (const i of layers) {
    if (!(Number.isInteger(i) && i >= -count && i < count)) {
      throw new ConfigError('dinov2Layers', layers, `hidden-state indices in [${-count}, ${count}) (0 = embeddings)`, `the critic has ${count - 1} blocks`);
    }
  }
  const extract = criticFeatures({
    critic,
    layers,
    patchSize: critic.patchSize,
    prefixTokens: critic.prefixTokens,
    input: 'latents',
    size,
    latentToRgb: latentToRgbMap(channels),
  });
  return {
    name: 'dinov2',
    channels: layers.map(() => critic.hiddenSize),
    ...(critic.net === undefined ? {} : { net: critic.net }),
    features: (frames) => extract(frames).grids,
    dispose: () => {
      if (owned) critic.dispose?.();
    },
  };
}

/** Zero conditioning of batch 1 for a backbone config (`context`, `pooled`, `guidanceScale`). */
function zeroConditioning(config: unknown): Record<string, tf.Tensor> {
  const c = (config ?? {}) as { contextDim?: number | null; pooledDim?: number | null; guidanceEmbedding?: boolean };
  const out: Record<string, tf.Tensor> = {};
  if (typeof c.contextDim === 'number') out.context = tf.zeros([1, 1, c.contextDim]);
  if (typeof c.pooledDim === 'number') out.pooled = tf.zeros([1, c.pooledDim]);
  if (c.guidanceEmbedding === true) out.guidanceScale = tf.zeros([1]);
  return out;
}

/** Options of {@link teacherFeatureSource}. */
export interface TeacherFeatureSourceOptions {
  teacher: DiffusionModel;
  /** Tap names; null = every tap of the backbone. */
  taps: readonly string[] | null;
  /** `[H, W, C]` of one frame. */
  frameShape: readonly [number, number, number];
}

/**
 * The frozen teacher's taps at model time 0 on single frames `[N, 1, H, W, C]`, each tap
 * `[N, 1, h, w, D]` returned as `[N, h, w, D]`. The tap widths come from one forward on zeros at
 * construction (zero conditioning built from the backbone config).
 */
export function teacherFeatureSource(options: TeacherFeatureSourceOptions): McmFeatureSource {
  const { teacher, frameShape } = options;
  const taps = options.taps === null ? teacher.backbone.tapNames() : [...options.taps];
  if (taps.length === 0) throw new ConfigError('teacherTaps', options.taps, 'at least one tap of the teacher', `taps: ${teacher.backbone.tapNames().join(', ')}`);
  const known = teacher.backbone.tapNames();
  const unknown = taps.find((t) => !known.includes(t));
  if (unknown !== undefined) throw new ConfigError('teacherTaps', unknown, `one of the teacher's taps: ${known.join(', ')}`);
  const run = (frames: tf.Tensor, cond?: Conditioning): tf.Tensor[] =>
    tf.tidy(() => {
      const n = frames.shape[0]!;
      const x = tf.expandDims(frames, 1);
      const maps = modelTaps(teacher, teacher.backbone, x, tf.zeros([n]), taps, cond);
      return taps.map((name) => {
        const m = maps[name]!;
        if (m.rank !== 5) throw new ShapeError(`teacher tap '${name}'`, m.shape, '[N, F, h, w, D]', "use discriminatorFeatures: 'dinov2'");
        return tf.reshape(m, [n, ...m.shape.slice(2)]);
      });
    });
  let channels: number[];
  try {
    channels = tf.tidy(() => {
      const cond = zeroConditioning(teacher.backbone.toConfig());
      return run(tf.zeros([1, ...frameShape]), cond).map((m) => m.shape[3]!);
    });
  } catch (cause) {
    if (cause instanceof ConfigError || cause instanceof ShapeError) throw cause;
    throw new ConfigError('discriminatorFeatures', 'teacher', 'a teacher whose taps run on single frames', `use discriminatorFeatures: 'dinov2' (${(cause as Error).message})`);
  }
  return { name: 'teacher', channels, net: teacher.backbone.net, features: run };
}

/** The text embedding a teacher is conditioned on: `pooled` `[B, E]`, else `context` `[B, L, E]`. */
export function teacherTextConditioning(teacher: DiffusionModel): { key: 'pooled' | 'context'; channels: number } | undefined {
  const c = (teacher.backbone.toConfig() ?? {}) as { contextDim?: number | null; pooledDim?: number | null };
  if (typeof c.pooledDim === 'number') return { key: 'pooled', channels: c.pooledDim };
  if (typeof c.contextDim === 'number') return { key: 'context', channels: c.contextDim };
  return undefined;
}

/** Options of {@link buildMcmDiscriminator}. */
export interface McmDiscriminatorOptions {
  /** Widths of each head's 4x4 stride-2 blocks. */
  headChannels: readonly number[];
  /** Text conditioning of the heads (absent = plain heads). */
  text?: { key: string; channels: number };
}

/** The MCM discriminator `D_psi`: frozen features + trainable heads in `net`. */
export interface McmDiscriminator {
  readonly net: Network;
  readonly source: McmFeatureSource;
  /** The conditioning key the heads read (`pooled` / `context`), if text-conditioned. */
  readonly textKey: string | undefined;
  /**
   * Patch logits `[N, K]` of frames `[N, H, W, C]`. With text-conditioned heads and
   * `cond[textKey]` present, the projection term is added; otherwise the plain heads run.
   * @param cond per-frame conditioning (`[N, ...]` each)
   */
  logits(frames: tf.Tensor, cond?: Conditioning): tf.Tensor;
  /**
   * Fake frames `[N, H, W, C]` (kept, constant) the generator phase of `step` left for the D phase
   * of the same step ({@link McmDiscriminator.stash}); undefined for any other step.
   */
  stashed(step: number): tf.Tensor | undefined;
  /** Keeps a constant copy of `frames` for the D phase of `step` (the previous one is disposed). */
  stash(step: number, frames: tf.Tensor): void;
  dispose(): void;
}

/** Builds the heads (variables `head<i>.*`, `text<i>.proj.kernel` of `net`) on `source`'s maps. */
export function buildMcmDiscriminator(net: Network, source: McmFeatureSource, options: McmDiscriminatorOptions): McmDiscriminator {
  const heads: { plain: DiscriminatorHead; text?: TextConditionedHead }[] = source.channels.map((c, i) => {
    const plain = head2d(net, `head${i}`, { inChannels: c, channels: options.headChannels });
    const text = options.text === undefined ? undefined : textConditionedHead(net, `text${i}`, { head: plain, featureChannels: c, textChannels: options.text.channels });
    return text === undefined ? { plain } : { plain, text };
  });
  const textKey = options.text?.key;
  let stashed: { step: number; frames: tf.Tensor } | undefined;
  const clear = (): void => {
    stashed?.frames.dispose();
    stashed = undefined;
  };
  return {
    net,
    source,
    textKey,
    logits: (frames, cond) =>
      tf.tidy(() => {
        if (frames.rank !== 4) throw new ShapeError('discriminator frames', frames.shape, '[N, H, W, C]', 'pass single frames (sampleSparseFrames)');
        const n = frames.shape[0]!;
        const maps = source.features(frames, cond);
        const text = textKey === undefined ? undefined : cond?.[textKey];
        const out = heads.map(({ plain, text: conditioned }, i) => {
          const y = conditioned !== undefined && text !== undefined ? conditioned.forward(maps[i]!, text) : plain.forward(maps[i]!);
          return tf.reshape(y, [n, -1]);
        });
        return out.length === 1 ? out[0]! : tf.concat(out, 1);
      }),
    stashed: (step) => (stashed !== undefined && stashed.step === step ? stashed.frames : undefined),
    stash: (step, frames) => {
      clear();
      stashed = { step, frames: tf.keep(tf.tensor(frames.dataSync() as Float32Array, frames.shape, frames.dtype)) };
    },
    dispose: () => {
      clear();
      source.dispose?.();
      net.dispose();
    },
  };
}

/**
 * Row `r` of a stack of `n` frames / images belongs to sample `floor(r / (n / b))` (video-major, as
 * `sampleSparseFrames` orders them). Gathers each conditioning tensor `[B, ...]` to `[n, ...]`.
 * @throws ConfigError when `n` is not a multiple of the batch size
 */
export function perFrameConditioning(cond: Conditioning | undefined, n: number): Conditioning | undefined {
  if (cond === undefined) return undefined;
  const entries = Object.entries(cond);
  if (entries.length === 0) return undefined;
  const b = entries[0]![1].shape[0]!;
  if (n % b !== 0) {
    throw new ConfigError('images', `${n} images for ${b} prompts`, 'a multiple of the batch size (image i belongs to prompt floor(i / (n / B)))', 'give the image set as many images per prompt in every batch');
  }
  const per = n / b;
  const idx = Array.from({ length: n }, (_, r) => Math.floor(r / per));
  return tf.tidy(() => {
    const ids = tf.tensor1d(idx, 'int32');
    const out: Record<string, tf.Tensor> = {};
    for (const [k, v] of entries) out[k] = tf.gather(v, ids);
    return out;
  });
}
