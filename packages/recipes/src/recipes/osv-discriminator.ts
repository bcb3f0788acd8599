/**
 * @file OSV's latent video discriminator and generator objective (Mao et al. 2024, "OSV",
 * Sec. "Network Components" / "Latent GAN Pretraining", Fig. 3-4; Eq. 6-7 and 9-10).
 *
 * D = a frozen DINOv2 run on the *upsampled latent* (no VAE decode: the latent video
 * `[B, F, H, W, C]` is folded to `B*F` frames, its first 3 channels taken as RGB, bilinearly
 * resized to `S x S` and fed to the ViT), plus trainable heads on chosen hidden states:
 * - spatial 2D heads (StyleGAN-T / ADD style: 4x4 stride-2 conv + GroupNorm + SiLU blocks) on each
 *   frame's patch grid `[B*F, S/p, S/p, D]`,
 * - temporal 1D heads (SF-V style: 1D convs over frames) on the frame sequence `[B, F, S/p, S/p, D]`
 *   (averaged over space by `temporalHead1d`).
 * Logits of every head are concatenated to `[B, N]`; the hinge objectives average over them.
 *
 * The feature source is pluggable ({@link OsvFeatureSource}): pass a loaded pretrained DINOv2
 * (`await loadCritic('dinov2', dir)` from @fewstep/backbones) through {@link latentCriticSource}.
 * Offline, with no weights, {@link randomDinov2Source} builds a frozen, randomly initialised DINOv2
 * from a config (`Dinov2Critic.create`): the heads then learn on random ViT features (still a
 * valid, if weaker, discriminator; our choice for tests and the tiny benchmark).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Network, defineLoss } from '@fewstep/core';
import { DINOV2_PRESETS, Dinov2Critic, type Dinov2Config } from '@fewstep/backbones';
import {
  composeDiscriminator,
  criticFeatures,
  fromCritic,
  head2d,
  temporalHead1d,
  type CriticSource,
  type FeatureFn,
  type HeadBinding,
} from '@fewstep/loss-adversarial';
import { consistencyDistance, ICT_HUBER_C, validateDistanceOptions, type DistanceOptions } from '@fewstep/loss-consistency';
import { customRole, type RoleEnv, type RoleSpec } from '../runtime/roles.js';
import type { RecipeOptions } from '../runtime/define-recipe.js';

/** A frozen feature source for OSV's discriminator heads. */
export interface OsvFeatureSource {
  /** Frozen features of a sample `[B, F, H, W, C]` (t is ignored by critics). */
  readonly features: FeatureFn;
  /** Feature maps read by spatial 2D heads (`[B*F, h, w, D]`): key in `features`' output and channels D. */
  readonly spatial: readonly { readonly key: string; readonly channels: number }[];
  /** Feature maps read by temporal 1D heads (`[B, F, h, w, D]`); empty for image samples. */
  readonly temporal: readonly { readonly key: string; readonly channels: number }[];
  /** Frees what the source owns (a critic it built; never a critic the caller passed in). */
  dispose?(): void;
}

/** A frozen ViT critic (fewstep's `Dinov2Critic` satisfies it). */
export interface LatentCritic extends CriticSource {
  readonly patchSize: number;
  /** Tokens before the patch tokens (DINOv2: 1 CLS + registers). */
  readonly prefixTokens: number;
  /** Token width D. */
  readonly hiddenSize: number;
}

/** Options of {@link latentCriticSource}. */
export interface LatentCriticSourceOptions {
  /** Hidden-state indices read by the heads (0 = embeddings; ViT-S/B: e.g. [2, 5, 8, 11]). */
  layers: readonly number[];
  /** Side S of the upsampled latent fed to the critic (a multiple of the patch size; DINOv2: 224). */
  size: number;
  /** Shape of one sample `[F, H, W, C]` (video) or `[H, W, C]` (image). */
  sampleShape: readonly number[];
}

/**
 * The latent -> RGB map: the first 3 latent channels when C >= 3 (OSV feeds the upsampled latent
 * in place of an image); for C < 3 (our choice, the paper's SVD latents have C = 4) RGB channel j
 * repeats latent channel `j mod C`.
 */
export function latentToRgbMatrix(channels: number): 'first3' | number[][] {
  if (channels >= 3) return 'first3';
  return Array.from({ length: channels }, (_, c) => [0, 1, 2].map((j) => (j % channels === c ? 1 : 0)));
}

/**
 * OSV's feature source from a frozen critic on upsampled latents: one spatial map per layer
 * (`grid<i>`) and, for videos, one temporal map per layer (`temporal<i>`). The caller keeps
 * ownership of `critic` (share one DINOv2 across both OSV stages).
 */
export function latentCriticSource(critic: LatentCritic, options: LatentCriticSourceOptions): OsvFeatureSource {
  const { layers, size, sampleShape } = options;
  const channels = sampleShape[sampleShape.length - 1];
  if (!(sampleShape.length === 3 || sampleShape.length === 4) || !Number.isInteger(channels)) {
    throw new ConfigError('sampleShape', sampleShape, '[F, H, W, C] (video) or [H, W, C] (image)');
  }
  const extract = criticFeatures({
    critic,
    layers,
    patchSize: critic.patchSize,
    prefixTokens: critic.prefixTokens,
    input: 'latents',
    size,
    latentToRgb: latentToRgbMatrix(channels!),
  });
  const video = sampleShape.length === 4;
  return {
    features: fromCritic(extract),
    spatial: layers.map((_, i) => ({ key: `grid${i}`, channels: critic.hiddenSize })),
    temporal: video ? layers.map((_, i) => ({ key: `temporal${i}`, channels: critic.hiddenSize })) : [],
  };
}

/** Architectures of {@link randomDinov2Source}: the hub shapes, or a tiny ViT for CPU runs. */
export const OSV_CRITIC_ARCHS = ['vit-s14', 'vit-b14', 'tiny'] as const;
export type OsvCriticArch = (typeof OSV_CRITIC_ARCHS)[number];

/**
 * `tiny`: 2 blocks, width 32, 2 heads, patch 2, trained on 8x8 inputs (our choice: the benchmark's
 * 4x4 latents upsampled 2x give a 4x4 patch grid; few blocks keep the per-step cost low on CPU).
 */
export const OSV_TINY_DINOV2: Dinov2Config = Object.freeze({
  ...DINOV2_PRESETS['vit-s14'],
  hiddenSize: 32,
  numLayers: 2,
  numHeads: 2,
  mlpRatio: 2,
  patchSize: 2,
  imageSize: 8,
});

/** Offset from the run seed to the frozen critic's seed (the same critic in both OSV stages). */
const CRITIC_SEED_OFFSET = 7919;

/**
 * A frozen, randomly initialised DINOv2 (no pretrained weights exist offline) from a config, wrapped
 * by {@link latentCriticSource}. Disposing the source disposes the critic.
 */
export function randomDinov2Source(arch: OsvCriticArch, seed: number, options: LatentCriticSourceOptions): OsvFeatureSource {
  const config = arch === 'tiny' ? OSV_TINY_DINOV2 : DINOV2_PRESETS[arch];
  const critic = Dinov2Critic.create(config, { seed: (seed + CRITIC_SEED_OFFSET) >>> 0, name: 'osv-critic-dinov2' });
  critic.net.freeze();
  try {
    return { ...latentCriticSource(critic, options), dispose: () => critic.dispose() };
  } catch (e) {
    critic.dispose();
    throw e;
  }
}

/** Options of the discriminator the OSV recipes read. */
export interface OsvDiscriminatorOptions extends RecipeOptions {
  criticArch: OsvCriticArch;
  criticLayers: number[];
  criticSize: number;
  headChannels: number;
  headBlocks: number;
  temporalKernel: number;
}

/** What the `discriminator` role exposes to the recipe's terms (`rc.api<OsvDiscriminator>('discriminator')`). */
export interface OsvDiscriminator {
  /** Logits `[B, N]` of latent videos `[B, F, H, W, C]` (differentiable in x and in the heads). */
  logits(x: tf.Tensor): tf.Tensor;
  /**
   * `D(real)` and `D(fake)` from ONE pass over `concat([real, fake])` (exact: the critic's
   * LayerNorms and the heads' GroupNorms are per sample), as logits thunks for the hinge loss.
   * The first thunk call runs the pass; both must be called inside the same `tf.tidy`.
   */
  pairLogits(real: tf.Tensor, fake: tf.Tensor): { realLogits: () => tf.Tensor; fakeLogits: () => tf.Tensor };
  readonly source: OsvFeatureSource;
}

/** Builds the frozen feature source of a run (default: {@link randomDinov2Source} from the options). */
export type OsvFeatureSourceFactory<R extends OsvDiscriminatorOptions = OsvDiscriminatorOptions> = (env: RoleEnv<R>) => OsvFeatureSource;

/** The default feature source: a frozen random DINOv2 of `criticArch` on upsampled latents. */
export function defaultOsvFeatureSource<R extends OsvDiscriminatorOptions>(env: RoleEnv<R>): OsvFeatureSource {
  const o = env.options;
  return randomDinov2Source(o.criticArch, env.seed, { layers: o.criticLayers, size: o.criticSize, sampleShape: env.sampleShape });
}

/**
 * The `discriminator` role: trainable heads (a fresh seeded {@link Network}) on the frozen source.
 * Only the heads are variables of the role; the critic is never trained.
 */
export function osvDiscriminatorRole<R extends OsvDiscriminatorOptions>(source: OsvFeatureSourceFactory<R> = defaultOsvFeatureSource): RoleSpec<R> {
  return customRole<R, OsvDiscriminator>((env) => {
    const o = env.options;
    const src = source(env);
    const net = new Network(env.role, { seed: env.seed });
    try {
      const blocks = Array.from({ length: o.headBlocks }, () => o.headChannels);
      const heads: HeadBinding[] = [
        ...src.spatial.map(({ key, channels }, i) => ({ feature: key, head: head2d(net, `spatial${i}`, { inChannels: channels, channels: blocks }) })),
        ...src.temporal.map(({ key, channels }, i) => ({
          feature: key,
          head: temporalHead1d(net, `temporal${i}`, { inChannels: channels, channels: o.headChannels, kernelSize: o.temporalKernel }),
        })),
      ];
      const d = composeDiscriminator(src.features, heads);
      // The critic ignores t; composeDiscriminator's signature wants one per sample.
      const logits = (x: tf.Tensor): tf.Tensor => tf.tidy(() => d(x, tf.zeros([x.shape[0]!])));
      const api: OsvDiscriminator = {
        logits,
        pairLogits: (real, fake) => {
          let both: tf.Tensor | undefined;
          const b = real.shape[0]!;
          const pass = (): tf.Tensor => (both ??= logits(tf.concat([real, fake], 0)));
          return {
            realLogits: () => tf.slice(pass(), [0, 0], [b, -1]),
            fakeLogits: () => tf.slice(pass(), [b, 0], [fake.shape[0]!, -1]),
          };
        },
        source: src,
      };
      return {
        net,
        api,
        dispose: () => {
          net.dispose();
          src.dispose?.();
        },
      };
    } catch (e) {
      net.dispose();
      src.dispose?.();
      throw e;
    }
  });
}

/** Options of {@link osvGeneratorLoss}. */
export interface OsvGeneratorOptions extends DistanceOptions {
  /** Weight of the adversarial term: lambda^LGP (stage 1, Eq. 7) or lambda^ACD (stage 2, Eq. 10). @default 1 */
  lambdaAdv: number;
  /** @default 'pseudo-huber' */
  distance: NonNullable<DistanceOptions['distance']>;
  /** @default 0.00054 (iCT; scaled by sqrt(D)) */
  huberC: number;
  /** @default true */
  scaleCWithSqrtDim: boolean;
}

/** Inputs of {@link osvGeneratorLoss}. */
export interface OsvGeneratorInputs {
  /** `[B, ...]` the generated sample D judges (differentiable): `f_theta(x_tn, tn)` / `f_theta(x_{t_{n+m}}, t_{n+m})`. */
  fake: tf.Tensor;
  /** D's logits of a sample (frozen heads here; gradients flow to the sample). */
  discriminator: (x: tf.Tensor) => tf.Tensor;
  /** `[B, ...]` the distance's differentiable side: `f_theta(x^phi_tn, tn)` (stage 1) or `fake` (stage 2). */
  pred: tf.Tensor;
  /** `[B, ...]` the distance's constant side: `x0` (stage 1) or `f_theta-(x^phi_tn, tn)` (stage 2). */
  target: tf.Tensor;
  /** `[B]` lambda(t_n) (constant); omitted = 1. */
  weights?: tf.Tensor;
}

/**
 * OSV's generator loss (Eq. 7 and Eq. 10):
 * `L_G = lambdaAdv * mean relu(1 - D(fake)) + mean_b lambda_b d(target_b, pred_b)`, with `d` the
 * per-sample pseudo-Huber distance. Note the generator's hinge is `relu(1 - D)` (not ADM's `-D`).
 * Metrics: `adv` (the unweighted hinge term), `distance` (mean d), `dFakeLogit`.
 */
export const osvGeneratorLoss = defineLoss<OsvGeneratorOptions, OsvGeneratorInputs>({
  name: 'osv:generator',
  description: 'lambda relu(1 - D(f_theta)) + lambda(t_n) d(target, f_theta) (pseudo-Huber)',
  equation: 'OSV Eq. 7 (stage 1), Eq. 10 (stage 2)',
  defaults: { lambdaAdv: 1, distance: 'pseudo-huber', huberC: ICT_HUBER_C, scaleCWithSqrtDim: true },
  requires: ['generator', 'discriminator'],
  trains: 'generator',
  validate: (o) => {
    if (!(Number.isFinite(o.lambdaAdv) && o.lambdaAdv >= 0)) throw new ConfigError('lambdaAdv', o.lambdaAdv, 'a finite number >= 0');
    validateDistanceOptions(o);
  },
  compute: (inputs, o) =>
    tf.tidy(() => {
      const logits = inputs.discriminator(inputs.fake);
      const adv = tf.mean(tf.relu(tf.sub(1, logits))) as tf.Scalar;
      const d = consistencyDistance(inputs.pred, inputs.target, o);
      const dist = tf.mean(inputs.weights === undefined ? d : tf.mul(d, inputs.weights)) as tf.Scalar;
      const loss = tf.add(tf.mul(adv, o.lambdaAdv), dist) as tf.Scalar;
      return { loss, metrics: { adv, distance: tf.mean(d) as tf.Scalar, dFakeLogit: tf.mean(logits) as tf.Scalar } };
    }),
});
