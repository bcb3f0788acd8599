/**
 * @file ADP, Adversarial Distillation Pre-training (Lu et al. 2025, Sec. 4.2, Eq. 9-10): the first
 * stage of DMDX, pre-training a one-step generator on offline teacher ODE pairs.
 *
 * Data `ode-pairs`: `noise` `[B, F, H, W, C]` and `x0` = the teacher's full ODE solve from that
 * noise. Per step:
 * - generator time t from the cubic schedule `t = (1 - u^3) T`, u ~ U[0, 1) (Sec. 4.2.1), one per
 *   sample;
 * - student input on the pair's straight line, `x_t = (1 - t) x0 + t noise` (`odePairInput`, flow
 *   teachers; on other schedules `alpha_t x0 + sigma_t noise`, the same pair at that noise level,
 *   our choice); the student's clean estimate `x~0 = G_theta(x_t, t)` is the x0 implied by its
 *   prediction (x0 parameterization);
 * - regression of the student velocity `eps_hat - x0_hat` on the pair's velocity `noise - x0`
 *   (`odePairRegressionLoss`, weight `lambdaRegression`). Eq. 9 itself lists only the GAN terms;
 *   METHODS.md reads "the prediction target of the generator is the velocity of the ODE pair" as
 *   this regression, which we keep with weight 1 (set 0 for the adversarial-only reading;
 *   `lambda1 = lambda2 = 0` is ablation A1, a single rectified-flow pass);
 * - latent D `D_tau1(x~_{t'}, t')`: frozen teacher taps + 2D heads on the generator output re-noised
 *   at t' ~ U(0, T] (Sec. 4.2.2), weight lambda1 = 0.85; real = the pair's x0 noised at the same t'
 *   with independent noise (our choice);
 * - pixel D `D_tau2(x~0)`: a frozen critic encoder + heads on the clean output, weight
 *   lambda2 = 0.15 (paper: SAM on VAE-decoded images; here a random frozen tiny DINOv2 on the
 *   sample, see `adm-discriminator.ts`; any `FeatureFn` through `adpRecipe({ pixelFeatures })`).
 *
 * Hinge losses (Eq. 9-10). Eq. 9 prints `+ lambda2 D_tau2(x~0)` in the generator loss; we read it as
 * a sign typo and use the hinge generator loss `-lambda2 D_tau2` for both discriminators. Phase
 * order per step: generator, then discriminator on the generator's (detached) sample of the same
 * step (the paper does not fix the order). Optimizers (Appendix B): AdamW, no weight decay, betas
 * (0, 0.99); lr generator 1e-6 (SDXL ADP), discriminator 5e-6.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Network, cubicTimesteps, forwardDiffuse, predictX0Eps, type NoiseSchedule, type Rng, type TimestepSampler } from '@fewstep/core';
import { hingeDiscriminatorLoss, hingeGeneratorLoss } from '@fewstep/loss-adversarial';
import { odePairInput, odePairRegressionLoss, type OdePairRegressionOptions } from '@fewstep/loss-consistency';
import { defineRecipe, phase, use, type DistillRecipe, type TermOptions } from '../runtime/define-recipe.js';
import { detach, type RecipeContext } from '../runtime/recipe-context.js';
import type { Conditioning } from '../runtime/diffusion-model.js';
import { customRole, fromTeacher } from '../runtime/roles.js';
import {
  PhaseMemo,
  StepCache,
  admAdamW,
  discriminatorTapsSchema,
  headChannelsSchema,
  latentDiscriminator,
  pixelCriticSchema,
  pixelDiscriminator,
  pixelHeads,
  randomDinov2PixelFeatures,
  resolveDiscriminatorTaps,
  teacherTapHeads,
  type FeatureHeads,
  type PixelFeatureFactory,
  type PixelFeatureSource,
} from './adm-discriminator.js';

export const adpOptions = z.strictObject({
  /** Student sampling steps (ADP pre-trains the one-step generator; k > 1 samples the same x0 predictor in k steps). */
  steps: z.number().int().min(1).max(8).default(1),
  /** Weight of the latent-space discriminator (Eq. 9-10: 0.85). */
  lambda1: z.number().min(0).default(0.85),
  /** Weight of the pixel-space discriminator (Eq. 9-10: 0.15). */
  lambda2: z.number().min(0).default(0.15),
  /** Weight of the ODE-pair velocity regression (not in Eq. 9; see the file comment). */
  lambdaRegression: z.number().min(0).default(1),
  /** Teacher taps with latent-D heads (paper: every block). */
  discriminatorTaps: discriminatorTapsSchema.default('all'),
  /** Widths of each head's 4x4 stride-2 blocks (paper: SDXL-Lightning's head). */
  headChannels: headChannelsSchema.default([64, 64]),
  /** The default pixel critic (a random frozen tiny DINOv2; the paper's SAM is not available offline). */
  pixelCritic: pixelCriticSchema.prefault({}),
  /** Generator learning rate (ADP on SDXL: 1e-6). */
  lrGenerator: z.number().positive().default(1e-6),
  /** Discriminator learning rate (5e-6 in every experiment). */
  lrDiscriminator: z.number().positive().default(5e-6),
});
export type AdpOptions = z.infer<typeof adpOptions>;

/** The cubic generator schedule `t = (1 - u^3) T`, u ~ U[0, 1) (Sec. 4.2.1), T = the schedule's tMax. */
export function adpGeneratorTimesteps(schedule: NoiseSchedule): TimestepSampler {
  return cubicTimesteps({ tMax: schedule.tMax });
}

/** Discriminator times t' ~ U(0, T] (Sec. 4.2.2): `tMin + (tMax - tMin)(1 - u)`, u ~ U[0, 1). `[n]` */
export function adpDiscriminatorTimes(schedule: NoiseSchedule, n: number, rng: Rng): tf.Tensor1D {
  return tf.tensor1d(
    Array.from({ length: n }, () => schedule.tMin + (schedule.tMax - schedule.tMin) * (1 - rng())),
    'float32',
  );
}

/**
 * The student's input between an ODE pair's ends at model times t `[B]`: `odePairInput` (the
 * straight line `(1 - t) x0 + t noise`) on flow-matching schedules, `alpha_t x0 + sigma_t noise`
 * on others (identical on flow matching).
 */
export function adpStudentInput(schedule: NoiseSchedule, noise: tf.Tensor, clean: tf.Tensor, t: tf.Tensor): tf.Tensor {
  return schedule.type === 'flow-matching' ? odePairInput(noise, clean, t) : forwardDiffuse(schedule, clean, noise, t);
}

/** One ADP generator evaluation on the step's pairs (shared by the generator phase's terms). */
export interface AdpGeneratorStep {
  /** The pair's ends `[B, ...]` (batch keys `noise`, `x0`). */
  readonly noise: tf.Tensor;
  readonly clean: tf.Tensor;
  /** Cubic-schedule model times `[B]`. */
  readonly t: tf.Tensor;
  /** Student input `[B, ...]`. */
  readonly xt: tf.Tensor;
  /** `x~0 = G_theta(x_t, t)` `[B, ...]` (differentiable when the generator is trained). */
  readonly x0Hat: tf.Tensor;
  /** The student's velocity `eps_hat - x0_hat` `[B, ...]` (flow teachers: the raw prediction). */
  readonly velocity: tf.Tensor;
}

/** Draws the cubic times and evaluates the generator on the pair's line (Sec. 4.2). */
export function adpGeneratorStep(rc: RecipeContext, stream = 'adp/generator'): AdpGeneratorStep {
  const noise = rc.data('noise');
  const clean = rc.data('x0');
  const b = noise.shape[0]!;
  const t = tf.tensor1d(adpGeneratorTimesteps(rc.schedule).sample(b, rc.rng(`${stream}/t`)), 'float32');
  const xt = adpStudentInput(rc.schedule, noise, clean, t);
  const { x0, eps } = predictX0Eps(rc.denoiser(rc.studentRole), xt, t, rc.cond === undefined ? {} : { cond: rc.cond });
  return { noise, clean, t, xt, x0Hat: x0, velocity: tf.sub(eps, x0) };
}

/** The ADP discriminator role's API: latent heads, pixel heads and source, per-step state. */
export interface AdpDiscriminatorApi {
  readonly latent: FeatureHeads;
  readonly pixel: FeatureHeads;
  readonly pixelSource: PixelFeatureSource;
  /** The generator phase's forward, shared by its three terms. */
  readonly generatorMemo: PhaseMemo<AdpGeneratorStep>;
  /** The discriminator phase's fake sample, shared by its two terms. */
  readonly discriminatorMemo: PhaseMemo<tf.Tensor>;
  /** The generator phase's detached x~0, read by the discriminator phase of the same step. */
  readonly fakeCache: StepCache<{ x0Hat: tf.Tensor }>;
}

/** Options of {@link adpRecipe} that are code, not data. */
export interface AdpRecipeOptions {
  /** The pixel-space feature source. @default a random frozen tiny DINOv2 ({@link randomDinov2PixelFeatures}) */
  pixelFeatures?: PixelFeatureFactory;
}

const api = (rc: RecipeContext): AdpDiscriminatorApi => rc.api<AdpDiscriminatorApi>('discriminator');

/** The generator phase's shared forward; stores the detached x~0 for the discriminator phase. */
function generatorForward(rc: RecipeContext): AdpGeneratorStep {
  const a = api(rc);
  return a.generatorMemo.get(rc, () => {
    const g = adpGeneratorStep(rc);
    a.fakeCache.put(rc.step, { x0Hat: detach(g.x0Hat) }, rc.batch);
    return g;
  });
}

/** The fake sample the discriminator sees: the generator phase's, or a fresh no-gradient one. */
function discriminatorFake(rc: RecipeContext): tf.Tensor {
  const a = api(rc);
  return a.discriminatorMemo.get(rc, () => a.fakeCache.take(rc.step, rc.batch)?.x0Hat ?? tf.tidy(() => detach(adpGeneratorStep(rc, 'adp/discriminator/generator').x0Hat)));
}

/** t' ~ U(0, T] and noise for re-noising a sample before the latent D. */
function latentNoise(rc: RecipeContext, x: tf.Tensor, stream: string): { tPrime: tf.Tensor; eps: tf.Tensor } {
  return { tPrime: adpDiscriminatorTimes(rc.schedule, x.shape[0]!, rc.rng(`${stream}/t`)), eps: rc.randomNormal(x.shape, `${stream}/eps`) };
}

/** Conditioning repeated twice along the batch (real and fake halves of one D call). */
function doubled(cond: Conditioning): Conditioning {
  return Object.fromEntries(Object.entries(cond).map(([k, v]) => [k, tf.concat([v, v], 0)]));
}

/**
 * D on real and fake samples in ONE call on their concatenation (every D here is per-sample: the
 * frozen features and the GroupNorm heads never mix samples), split back into the two logit sets.
 * Computed in the phase's gradient scope, so the heads get their gradients.
 */
function realFakeLogits(d: (x: tf.Tensor, t: tf.Tensor) => tf.Tensor, real: tf.Tensor, fake: tf.Tensor, t?: tf.Tensor): { realLogits: tf.Tensor; fakeLogits: tf.Tensor } {
  const b = real.shape[0]!;
  const logits = d(tf.concat([real, fake], 0), t === undefined ? tf.zeros([2 * b]) : tf.concat([t, t], 0));
  const [realLogits, fakeLogits] = tf.split(logits, [b, fake.shape[0]!], 0) as [tf.Tensor, tf.Tensor];
  return { realLogits, fakeLogits };
}

/** ADP with a chosen pixel-space feature source (the default recipe: {@link adp}). */
export function adpRecipe(factory: AdpRecipeOptions = {}): DistillRecipe<AdpOptions> {
  const pixelFeatures = factory.pixelFeatures ?? randomDinov2PixelFeatures;
  return defineRecipe<AdpOptions>({
    name: 'recipe:adp',
    description: 'ADP: one-step pre-training on teacher ODE pairs, velocity regression + latent and pixel hinge GANs, cubic generator times',
    paper: 'DMDX / ADM (Lu et al. 2025) Sec. 4.2, Eq. 9-10 (ADP)',
    schema: adpOptions,
    presets: {
      paper: {},
      // 2 CPU cores: two teacher taps, two critic layers of a 2-block critic, narrow heads (the
      // heads' backward passes dominate a step on the cpu backend).
      tiny: {
        lrGenerator: 2e-4,
        lrDiscriminator: 2e-4,
        discriminatorTaps: 2,
        headChannels: [32],
        pixelCritic: { hiddenSize: 32, numLayers: 2, numHeads: 2, patchSize: 2, layers: [1, 2], seed: 0 },
      },
    },
    data: 'ode-pairs',
    roles: {
      generator: fromTeacher(),
      discriminator: customRole<AdpOptions, AdpDiscriminatorApi>((env) => {
        const net = new Network(env.role, { seed: env.seed });
        let source: PixelFeatureSource | undefined;
        try {
          const taps = resolveDiscriminatorTaps(env.teacher.backbone, env.options.discriminatorTaps);
          const latent = teacherTapHeads(net, env.teacher, env.sampleShape, taps, env.options.headChannels);
          source = pixelFeatures({ sampleShape: env.sampleShape, seed: env.seed, critic: env.options.pixelCritic });
          const pixel = pixelHeads(net, source, env.sampleShape, env.teacher.schedule.tMin, env.options.headChannels);
          const fakeCache = new StepCache<{ x0Hat: tf.Tensor }>();
          const pixelSource = source;
          return {
            net,
            api: { latent, pixel, pixelSource, generatorMemo: new PhaseMemo(), discriminatorMemo: new PhaseMemo(), fakeCache },
            dispose: () => {
              fakeCache.clear();
              pixelSource.dispose?.();
              net.dispose();
            },
          };
        } catch (e) {
          source?.dispose?.();
          net.dispose();
          throw e;
        }
      }),
    },
    phases: [
      phase<AdpOptions>(
        'generator',
        [
          use(
            odePairRegressionLoss,
            (rc) => {
              const g = generatorForward(rc);
              return { velocity: g.velocity, noise: g.noise, clean: g.clean };
            },
            // `OdePairRegressionOptions` is `Record<string, never>`, which `weight` does not fit.
            (o) => ({ weight: o.lambdaRegression }) as unknown as Partial<OdePairRegressionOptions> & TermOptions,
          ),
          use(
            hingeGeneratorLoss,
            (rc) => {
              const g = generatorForward(rc);
              const { tPrime, eps } = latentNoise(rc, g.x0Hat, 'adp/generator/latent');
              const d = latentDiscriminator(rc.teacherModel, api(rc).latent, rc.cond);
              return { fakeLogits: () => d(forwardDiffuse(rc.schedule, g.x0Hat, eps, tPrime), tPrime) };
            },
            (o) => ({ weight: o.lambda1 }),
          ),
          use(
            hingeGeneratorLoss,
            (rc) => {
              const g = generatorForward(rc);
              const a = api(rc);
              const d = pixelDiscriminator(a.pixelSource, a.pixel, rc.schedule.tMin);
              return { fakeLogits: () => d(g.x0Hat) };
            },
            (o) => ({ weight: o.lambda2 }),
          ),
        ],
        { optimizer: (o) => admAdamW(o.lrGenerator) },
      ),
      phase<AdpOptions>(
        'discriminator',
        [
          use(
            hingeDiscriminatorLoss,
            (rc) => {
              const fake = discriminatorFake(rc);
              const real = rc.data('x0');
              const { tPrime, eps: epsFake } = latentNoise(rc, fake, 'adp/discriminator/latent');
              const epsReal = rc.randomNormal(real.shape, 'adp/discriminator/latent/eps-real');
              const d = latentDiscriminator(rc.teacherModel, api(rc).latent, rc.cond === undefined ? undefined : doubled(rc.cond));
              return realFakeLogits(d, forwardDiffuse(rc.schedule, real, epsReal, tPrime), forwardDiffuse(rc.schedule, fake, epsFake, tPrime), tPrime);
            },
            (o) => ({ weight: o.lambda1 }),
          ),
          use(
            hingeDiscriminatorLoss,
            (rc) => {
              const a = api(rc);
              const d = pixelDiscriminator(a.pixelSource, a.pixel, rc.schedule.tMin);
              return realFakeLogits((x) => d(x), rc.data('x0'), discriminatorFake(rc));
            },
            (o) => ({ weight: o.lambda2 }),
          ),
        ],
        { optimizer: (o) => admAdamW(o.lrDiscriminator) },
      ),
    ],
    student: (o) => ({ parameterization: 'x0', sampler: 'multistep', steps: o.steps }),
  });
}

/** ADP with the default pixel critic (a random frozen tiny DINOv2). */
export const adp = adpRecipe();
