/**
 * @file OSV: one-step image-to-video (Mao et al. 2024, "OSV: One Step is Enough for High-Quality
 * Image to Video Generation"), two stages on real data, a LoRA consistency student, a latent
 * DINOv2 discriminator (see `osv-discriminator.ts`) and the Time-Travel Sampler (Eq. 11).
 *
 * Student (both stages): a LoRA on the teacher (stage 2: a fresh LoRA on the merged stage-1
 * student), consistency parameterization `f_theta(x, t) = cSkip(t) x + cOut(t) F_theta(x, t)`
 * (Eq. 4, LCM's boundary condition, `rc.studentX0`), trained on the discrete grid of 100 uniform
 * timesteps `t_0 < ... < t_99` of the teacher's schedule (`kStepTimesteps(schedule, 100)`, flow or
 * VP). One time index per batch (our choice at this scale; the paper does not say).
 *
 * Stage 1, latent GAN pretraining (Eq. 6-7), x0 `[B, F, H, W, C]` from the data:
 *   `x_tn = alpha(tn) x0 + sigma(tn) eps`,
 *   `L_D1 = relu(1 - D(x0)) + relu(1 + D(f_theta(x_tn, tn)))`,
 *   `L_G1 = lambdaLgp relu(1 - D(f_theta(x_tn, tn))) + d(x0, f_theta(x^phi_tn, tn))` (pseudo-Huber).
 *   The paper defines `x^phi_tn` only in Eq. 5: one teacher ODE step from `x_{t_{n+1}}`. We read
 *   Eq. 7 with that definition: `x_{t_{n+1}} = alpha x0 + sigma eps` (the same eps) and one DDIM
 *   (Euler) teacher step to t_n. At the top time (no t_{n+1} on the grid) `x^phi_tn = x_tn`.
 *
 * Stage 2, adversarial consistency distillation (Eq. 8-10), EMA target theta^-:
 *   `x_{t_{n+m}} = alpha x0 + sigma eps`; m teacher DDIM steps along the grid (Eq. 8, optional
 *   CFG `Phi(c0) + w (Phi(c) - Phi(c0))`, c0 = zeroed conditioning) give `x^phi_tn`;
 *   `L_D2 = relu(1 - D(f_theta-(x^phi_tn, tn))) + relu(1 + D(f_theta(x_{t_{n+m}}, t_{n+m})))`,
 *   `L_G2 = lambdaAcd relu(1 - D(f_theta(x_{t_{n+m}}))) + lambda(t_n) d(f_theta-(x^phi_tn, tn), f_theta(x_{t_{n+m}}, t_{n+m}))`.
 *   lambda(t_n) = 1 (our choice: the paper only says "a weighting function, similar to iCT"; iCT's
 *   `1 / (sigma_{n+1} - sigma_n)` in EDM sigmas vanishes at the flow schedule's t = 1, where the
 *   1-step student starts, and spans orders of magnitude across the grid).
 *
 * Per step: the generator phase first, then the discriminator phase. Under `distill` the
 * discriminator phase reuses the generator phase's samples of the same step (detached copies:
 * the pre-update student's `f_theta`, and the real side), so the m-step teacher solve runs once
 * per step; without the recipe's `setup` (a bare trainer) it redraws its own samples.
 *
 * Inference: 1 step + Time-Travel Sampler (2 NFE), no CFG; `timeTravel: false` samples with plain
 * consistency multistep sampling.
 *
 * Image-to-video (the paper's task; SVD teacher): batches `{ x0, image, imageNoiseSigma }`, the
 * conditioning frame reaching the teacher solve, the student, its EMA and the sampler
 * (`sample(..., { cond })`) through `rc.cond`; CFG's `c0` drops the image (`osvTeacherOptions`);
 * the critic sees the conditioning frame prepended to each video (`osvCriticInput`, our choice).
 *
 * Not carried over (runtime limitation): the paper also initialises stage 2's D from stage 1's D;
 * `defineStages` carries only the student, so stage 2 starts fresh heads (same seeded init).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { forwardDiffuse, kStepTimesteps, type DenoiseOptions, type Denoiser } from '@fewstep/core';
import { DINOV2_PRESETS } from '@fewstep/backbones';
import { hingeDiscriminatorLoss } from '@fewstep/loss-adversarial';
import { ICT_HUBER_C, teacherSolve } from '@fewstep/loss-consistency';
import { defineRecipe, defineStages, phase, use, type DistillRecipe, type RecipeOptions, type StagedRecipe } from '../runtime/define-recipe.js';
import { emptyConditioning, withConditionFrame } from '../runtime/conditioning.js';
import type { Conditioning } from '../runtime/diffusion-model.js';
import { detach, type RecipeContext } from '../runtime/recipe-context.js';
import { fromTeacher, type RoleSpec } from '../runtime/roles.js';
import type { StudentSpec } from '../runtime/student.js';
import {
  OSV_CRITIC_ARCHS,
  OSV_TINY_DINOV2,
  osvDiscriminatorRole,
  osvGeneratorLoss,
  defaultOsvFeatureSource,
  type OsvDiscriminator,
  type OsvFeatureSourceFactory,
} from './osv-discriminator.js';

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/** Options both stages read (shared by name in the staged `recipe:osv`). */
const common = {
  /** Student sampling steps k (paper: 1, with TTS = 2 NFE). */
  steps: z.number().int().min(1).max(8).default(1),
  /** Sample with the Time-Travel Sampler (OSV Eq. 11); false = consistency multistep sampling. */
  timeTravel: z.boolean().default(true),
  /** Training timesteps: the schedule's N-step grid (paper: "we uniformly sample 100 timesteps"). */
  numTimesteps: z.number().int().min(2).max(1000).default(100),
  /** LoRA rank (paper: LoRA, rank not given; 64 as MCM / AnimateLCM). */
  loraRank: z.number().int().min(1).default(64),
  /** LoRA alpha; the update is scaled by alpha / rank (our choice: alpha = rank, scale 1). */
  loraAlpha: z.number().positive().default(64),
  /** Student learning rate (paper: Adam, 5e-6, both stages). */
  lr: z.number().positive().default(5e-6),
  /** Discriminator-head learning rate (paper gives one lr, 5e-6; we use it for D too). */
  lrDiscriminator: z.number().positive().default(5e-6),
  /** Pseudo-Huber c per sqrt(D) (iCT: 0.00054; OSV cites iCT for d). */
  huberC: z.number().positive().default(ICT_HUBER_C),
  /**
   * Architecture of the frozen DINOv2 built when no pretrained critic is plugged in
   * (`createOsvRecipes({ featureSource })`). It is randomly initialised: no weights offline.
   * Paper: DINOv2 (ADD / StyleGAN-T use ViT-S/14).
   */
  criticArch: z.enum(OSV_CRITIC_ARCHS).default('vit-s14'),
  /** DINOv2 hidden states the heads read (ADD / StyleGAN-T: 2, 5, 8, 11; the paper does not list them). */
  criticLayers: z.array(z.number().int().min(0)).min(1).default([2, 5, 8, 11]),
  /** Side S of the upsampled latent fed to DINOv2 (DINOv2's 224). */
  criticSize: z.number().int().min(1).default(224),
  /** Width of the trainable heads (StyleGAN-T-style heads; our choice). */
  headChannels: z.number().int().min(1).default(64),
  /** 4x4 stride-2 blocks per spatial head. */
  headBlocks: z.number().int().min(1).max(4).default(2),
  /** Kernel of the temporal 1D heads (odd). */
  temporalKernel: z.number().int().min(1).default(3),
};

type CriticFields = { criticArch: (typeof OSV_CRITIC_ARCHS)[number]; criticLayers: number[]; criticSize: number; temporalKernel: number };

/** Cross-field checks: critic layers / input size against the built-in architecture; odd temporal kernel. */
function checkCritic(o: CriticFields, ctx: z.RefinementCtx): void {
  const config = o.criticArch === 'tiny' ? OSV_TINY_DINOV2 : DINOV2_PRESETS[o.criticArch];
  const bad = o.criticLayers.find((l) => l > config.numLayers);
  if (bad !== undefined) ctx.addIssue({ code: 'custom', path: ['criticLayers'], message: `hidden-state indices in [0, ${config.numLayers}] for criticArch '${o.criticArch}'` });
  if (o.criticSize % config.patchSize !== 0) ctx.addIssue({ code: 'custom', path: ['criticSize'], message: `a multiple of the patch size ${config.patchSize} of criticArch '${o.criticArch}'` });
  if (o.temporalKernel % 2 !== 1) ctx.addIssue({ code: 'custom', path: ['temporalKernel'], message: 'an odd kernel size' });
}

export const osvStage1Options = z
  .strictObject({
    ...common,
    /** lambda^LGP, weight of the adversarial term in Eq. 7 (paper: not given; our choice 1). */
    lambdaLgp: z.number().min(0).default(1),
  })
  .superRefine(checkCritic);
export type OsvStage1Options = z.infer<typeof osvStage1Options>;

export const osvStage2Options = z
  .strictObject({
    ...common,
    /** Teacher solver steps m between t_{n+m} and t_n (paper: 5; Table 2a compares m = 1). */
    m: z.number().int().min(1).max(50).default(5),
    /** EMA decay of the target theta^- (paper: not given; LCM / AnimateLCM: 0.95). */
    emaDecay: z.number().min(0).max(1).default(0.95),
    /** lambda^ACD, weight of the adversarial term in Eq. 10 (paper: not given; our choice 1). */
    lambdaAcd: z.number().min(0).default(1),
    /** CFG scale w of the teacher solve, `Phi(c0) + w (Phi(c) - Phi(c0))`; 1 = no guidance (paper: w not given). */
    guidanceScale: z.number().min(0).default(1),
  })
  .superRefine((o, ctx) => {
    checkCritic(o, ctx);
    if (o.m >= o.numTimesteps) ctx.addIssue({ code: 'custom', path: ['m'], message: `an integer < numTimesteps (${o.numTimesteps}): t_{n+m} and t_n must both lie on the grid` });
  });
export type OsvStage2Options = z.infer<typeof osvStage2Options>;

/** The tiny preset (2 CPU cores): a tiny random DINOv2 on 2x-upsampled latents, 2 taps, small heads. */
const TINY_COMMON = {
  lr: 5e-4,
  lrDiscriminator: 2e-4,
  loraRank: 4,
  loraAlpha: 4,
  criticArch: 'tiny',
  criticLayers: [1, 2],
  criticSize: 8,
  headChannels: 16,
  headBlocks: 1,
} as const;

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/**
 * The LoRA student: `fromTeacher({ lora })` on the teacher, or on the carried stage-1 student
 * (merged) with a fresh LoRA. The role keeps its own copy of the carried network: `distill`
 * disposes the previous stage's export before calling this stage's `exportNetwork`, which reads
 * the base it was built on (see the report: runtime fix requested in distill.ts).
 */
function loraStudent<R extends { loraRank: number; loraAlpha: number } & RecipeOptions>(): RoleSpec<R> {
  const build = fromTeacher<R>({ lora: (o) => ({ rank: o.loraRank, alpha: o.loraAlpha }) });
  return (env) => {
    if (env.carried === undefined) return build(env);
    const base = env.carried.clone(`${env.role}.carried`);
    try {
      const inst = build({ ...env, carried: base });
      return {
        ...inst,
        dispose: () => {
          inst.dispose?.();
          base.dispose();
        },
      };
    } catch (e) {
      base.dispose();
      throw e;
    }
  };
}

/** The student of both stages: 1 step + TTS (2 NFE) by default. */
function osvStudent(o: { steps: number; timeTravel: boolean }): StudentSpec {
  return { parameterization: 'consistency', sampler: o.timeTravel ? 'time-travel' : 'multistep', steps: o.steps };
}

/** The training grid: descending model times `t_{N-1} > ... > t_0` of the schedule's N-step grid. */
export function osvTrainingGrid(rc: Pick<RecipeContext, 'schedule'>, numTimesteps: number): number[] {
  return kStepTimesteps(rc.schedule, numTimesteps);
}

/**
 * OSV Eq. 8: m teacher DDIM (Euler on flow matching) steps along the given descending grid points
 * `times = [t_{n+m}, ..., t_n]` (one `teacherSolve` step per grid interval, so the solve lands on
 * the grid for any spacing; on a uniform grid it equals `teacherSolve(x, t_{n+m}, t_n, m)`).
 * @param x `[B, ...]` `x_{t_{n+m}}`
 * @returns `[B, ...]` `x^phi_{t_n}`
 */
export function osvTeacherSolve<C>(teacher: Denoiser<C>, x: tf.Tensor, times: readonly number[], options: DenoiseOptions<C> = {}): tf.Tensor {
  let state = x;
  for (let j = 0; j + 1 < times.length; j++) {
    const next = teacherSolve(teacher, state, times[j] as number, times[j + 1] as number, 1, options);
    if (state !== x) state.dispose();
    state = next;
  }
  return state === x ? tf.clone(x) : state;
}

/**
 * Teacher query options: conditioning, and with `w != 1` CFG `uncond + w (cond - uncond)` against
 * the empty condition `c0` ({@link emptyConditioning}: the image dropped, so the backbone uses its
 * null image embedding, zero-initialised: the paper's "image embedding set to zero"; text
 * embeddings zeroed; the augmentation level kept).
 */
export function osvTeacherOptions(cond: Conditioning | undefined, w: number): DenoiseOptions<Conditioning> {
  if (cond === undefined) return {};
  if (w === 1) return { cond };
  return { cond, guidance: { uncond: emptyConditioning(cond), scale: w, formula: 'uncond + w * (cond - uncond)' } };
}

/**
 * What the critic judges: the sample, with the conditioning frame prepended on image-to-video
 * batches (`[B, 1 + F, H, W, C]`, {@link withConditionFrame}). The paper does not say how its
 * DINOv2 discriminator sees the image condition; our choice: the spatial heads see every frame and
 * the temporal heads see the condition followed by the video, so a video that does not continue
 * its conditioning frame is told apart from a real one (the real side is conditioned on the same
 * frame).
 */
export function osvCriticInput(rc: Pick<RecipeContext, 'cond'>, x: tf.Tensor): tf.Tensor {
  return withConditionFrame(x, rc.cond);
}

/** Detached samples of the generator phase, reused by the discriminator phase of the same step. */
interface SharedSamples {
  step: number;
  fake: tf.Tensor;
  /** Stage 2: `f_theta-(x^phi_tn, tn)`; stage 1 reads x0 from the batch. */
  real?: tf.Tensor;
}

/** Per-run slots, keyed by the run's resolved options object (the same object the contexts see). */
const sharedSlots = new WeakMap<object, { samples?: SharedSamples }>();

function openSharedSlot({ options }: { options: object }): () => void {
  const slot: { samples?: SharedSamples } = {};
  sharedSlots.set(options, slot);
  return () => {
    if (slot.samples) tf.dispose([slot.samples.fake, ...(slot.samples.real ? [slot.samples.real] : [])]);
    slot.samples = undefined;
    sharedSlots.delete(options);
  };
}

function shareSamples(rc: RecipeContext, fake: tf.Tensor, real?: tf.Tensor): void {
  const slot = sharedSlots.get(rc.options);
  if (!slot) return;
  if (slot.samples) tf.dispose([slot.samples.fake, ...(slot.samples.real ? [slot.samples.real] : [])]);
  slot.samples = { step: rc.step, fake: tf.keep(detach(fake)), ...(real ? { real: tf.keep(detach(real)) } : {}) };
}

function sharedSamples(rc: RecipeContext): SharedSamples | undefined {
  const s = sharedSlots.get(rc.options)?.samples;
  return s !== undefined && s.step === rc.step ? s : undefined;
}

// ---------------------------------------------------------------------------------------------
// Stage 1 (Eq. 6-7)
// ---------------------------------------------------------------------------------------------

/** One stage-1 draw: t_n on the grid, x_tn, and x^phi_tn (one teacher step from x_{t_{n+1}}). */
export function drawStage1(rc: RecipeContext<OsvStage1Options>): { tN: number; tPrev: number | undefined; x0: tf.Tensor; xTn: tf.Tensor; xPhi: tf.Tensor } {
  const grid = osvTrainingGrid(rc, rc.options.numTimesteps);
  const i = Math.floor(rc.rng('osv1/t')() * grid.length);
  const tN = grid[i] as number;
  const tPrev = i > 0 ? (grid[i - 1] as number) : undefined;
  const x0 = rc.data('x0');
  const eps = rc.randomNormal(x0.shape, 'osv1/eps');
  const xTn = forwardDiffuse(rc.schedule, x0, eps, tN);
  const xPhi =
    tPrev === undefined
      ? xTn
      : tf.tidy(() => osvTeacherSolve(rc.teacher, forwardDiffuse(rc.schedule, x0, eps, tPrev), [tPrev, tN], osvTeacherOptions(rc.cond, 1)));
  return { tN, tPrev, x0, xTn, xPhi };
}

/**
 * Builds stage 1 with a feature source (default: a frozen random DINOv2 from the options).
 * @example createOsvRecipes({ featureSource: (env) => latentCriticSource(dino, { layers: [2, 5, 8, 11], size: 224, sampleShape: env.sampleShape }) })
 */
function buildStage1(featureSource: OsvFeatureSourceFactory<OsvStage1Options>): DistillRecipe<OsvStage1Options> {
  return defineRecipe<OsvStage1Options>({
    name: 'recipe:osv-stage1',
    description: 'OSV stage 1: LoRA consistency student, latent DINOv2 hinge GAN on real data + pseudo-Huber to x0',
    paper: 'OSV (Mao et al. 2024) Eq. 6-7',
    schema: osvStage1Options,
    presets: { paper: {}, tiny: { ...TINY_COMMON, criticLayers: [...TINY_COMMON.criticLayers] } },
    data: 'real',
    roles: {
      generator: loraStudent<OsvStage1Options>(),
      discriminator: osvDiscriminatorRole<OsvStage1Options>(featureSource),
    },
    phases: [
      phase<OsvStage1Options>(
        'generator',
        [
          use(
            osvGeneratorLoss,
            (rc: RecipeContext<OsvStage1Options>) => {
              const d = rc.api<OsvDiscriminator>('discriminator');
              const { tN, x0, xTn, xPhi } = drawStage1(rc);
              const fake = rc.studentX0(xTn, tN);
              shareSamples(rc, fake);
              return { fake, discriminator: (x: tf.Tensor) => d.logits(osvCriticInput(rc, x)), pred: rc.studentX0(xPhi, tN), target: x0 };
            },
            (o) => ({ lambdaAdv: o.lambdaLgp, huberC: o.huberC }),
            { requires: ['discriminator'] },
          ),
        ],
        { optimizer: (o) => ({ type: 'adam', lr: o.lr }) },
      ),
      phase<OsvStage1Options>(
        'discriminator',
        [
          use(
            hingeDiscriminatorLoss,
            (rc: RecipeContext<OsvStage1Options>) => {
              const d = rc.api<OsvDiscriminator>('discriminator');
              const x0 = rc.data('x0');
              let f = sharedSamples(rc)?.fake;
              if (f === undefined) {
                const { tN, xTn } = drawStage1(rc);
                f = rc.studentX0(xTn, tN);
              }
              return d.pairLogits(osvCriticInput(rc, x0), osvCriticInput(rc, f));
            },
            { margin: 1 },
            { requires: ['discriminator', 'generator'] },
          ),
        ],
        { optimizer: (o) => ({ type: 'adam', lr: o.lrDiscriminator }) },
      ),
    ],
    student: osvStudent,
    setup: openSharedSlot,
  });
}

// ---------------------------------------------------------------------------------------------
// Stage 2 (Eq. 8-10)
// ---------------------------------------------------------------------------------------------

/** One stage-2 draw: `t_{n+m} > t_n` m grid steps apart, `x_{t_{n+m}}` and the m-step teacher solve `x^phi_tn`. */
export function drawStage2(rc: RecipeContext<OsvStage2Options>): { tFrom: number; tTo: number; xFrom: tf.Tensor; xPhi: tf.Tensor } {
  const { numTimesteps, m, guidanceScale } = rc.options;
  const grid = osvTrainingGrid(rc, numTimesteps);
  const i = Math.floor(rc.rng('osv2/t')() * (grid.length - m));
  const times = grid.slice(i, i + m + 1);
  const x0 = rc.data('x0');
  const eps = rc.randomNormal(x0.shape, 'osv2/eps');
  const xFrom = forwardDiffuse(rc.schedule, x0, eps, times[0] as number);
  const xPhi = tf.tidy(() => osvTeacherSolve(rc.teacher, xFrom, times, osvTeacherOptions(rc.cond, guidanceScale)));
  return { tFrom: times[0] as number, tTo: times[m] as number, xFrom, xPhi };
}

function buildStage2(featureSource: OsvFeatureSourceFactory<OsvStage2Options>): DistillRecipe<OsvStage2Options> {
  return defineRecipe<OsvStage2Options>({
    name: 'recipe:osv-stage2',
    description: 'OSV stage 2: adversarial consistency distillation, m-step teacher solve, EMA target as D real',
    paper: 'OSV (Mao et al. 2024) Eq. 8-10',
    schema: osvStage2Options,
    presets: { paper: {}, tiny: { ...TINY_COMMON, criticLayers: [...TINY_COMMON.criticLayers] } },
    data: 'real',
    roles: {
      generator: loraStudent<OsvStage2Options>(),
      discriminator: osvDiscriminatorRole<OsvStage2Options>(featureSource),
    },
    ema: [{ role: 'generatorEma', source: 'generator', decay: (o) => o.emaDecay }],
    phases: [
      phase<OsvStage2Options>(
        'generator',
        [
          use(
            osvGeneratorLoss,
            (rc: RecipeContext<OsvStage2Options>) => {
              const d = rc.api<OsvDiscriminator>('discriminator');
              const { tFrom, tTo, xFrom, xPhi } = drawStage2(rc);
              const target = tf.tidy(() => detach(rc.studentX0(xPhi, tTo, 'generatorEma')));
              const fake = rc.studentX0(xFrom, tFrom);
              shareSamples(rc, fake, target);
              return { fake, discriminator: (x: tf.Tensor) => d.logits(osvCriticInput(rc, x)), pred: fake, target };
            },
            (o) => ({ lambdaAdv: o.lambdaAcd, huberC: o.huberC }),
            { requires: ['discriminator', 'generatorEma'] },
          ),
        ],
        { optimizer: (o) => ({ type: 'adam', lr: o.lr }) },
      ),
      phase<OsvStage2Options>(
        'discriminator',
        [
          use(
            hingeDiscriminatorLoss,
            (rc: RecipeContext<OsvStage2Options>) => {
              const d = rc.api<OsvDiscriminator>('discriminator');
              const shared = sharedSamples(rc);
              let real = shared?.real;
              let fake = shared?.fake;
              if (real === undefined || fake === undefined) {
                const { tFrom, tTo, xFrom, xPhi } = drawStage2(rc);
                real = rc.studentX0(xPhi, tTo, 'generatorEma');
                fake = rc.studentX0(xFrom, tFrom);
              }
              return d.pairLogits(osvCriticInput(rc, real), osvCriticInput(rc, fake));
            },
            { margin: 1 },
            { requires: ['discriminator', 'generator', 'generatorEma'] },
          ),
        ],
        { optimizer: (o) => ({ type: 'adam', lr: o.lrDiscriminator }) },
      ),
    ],
    student: osvStudent,
    setup: openSharedSlot,
  });
}

// ---------------------------------------------------------------------------------------------
// Staged recipe
// ---------------------------------------------------------------------------------------------

/**
 * Stage fractions of `recipe:osv`. The paper trains stage 1 for 2K iterations on 8 GPUs and stage 2
 * for 20K on 2 GPUs: 16K vs 40K GPU-iterations, about 0.3 / 0.7 of the compute, which we use as the
 * split of one step budget (our reading; at equal GPU count the split would be 0.09 / 0.91).
 */
export const OSV_STAGE_FRACTIONS = [0.3, 0.7] as const;

/** Options of {@link createOsvRecipes}. */
export interface CreateOsvRecipesOptions {
  /**
   * The discriminator's frozen feature source, built once per stage run (default: a frozen random
   * DINOv2 of `criticArch`). Plug a pretrained DINOv2 with `latentCriticSource`.
   */
  featureSource?: OsvFeatureSourceFactory;
}

/** The three OSV recipes on a chosen feature source. */
export function createOsvRecipes(options: CreateOsvRecipesOptions = {}): { osvStage1: DistillRecipe<OsvStage1Options>; osvStage2: DistillRecipe<OsvStage2Options>; osv: StagedRecipe } {
  const source = options.featureSource ?? defaultOsvFeatureSource;
  const osvStage1 = buildStage1(source);
  const osvStage2 = buildStage2(source);
  const osv = defineStages({
    name: 'recipe:osv',
    description: 'OSV: stage 1 latent GAN pretraining (LoRA), then stage 2 adversarial consistency distillation; 1 step + Time-Travel Sampler',
    paper: 'OSV (Mao et al. 2024) Eq. 6-11',
    stages: [
      { recipe: osvStage1, fraction: OSV_STAGE_FRACTIONS[0] },
      { recipe: osvStage2, fraction: OSV_STAGE_FRACTIONS[1] },
    ],
    presets: { paper: {}, tiny: {} },
  });
  return { osvStage1, osvStage2, osv };
}

const defaults = createOsvRecipes();
/** `recipe:osv-stage1` (Eq. 6-7) with the default (random, frozen) DINOv2 feature source. */
export const osvStage1: DistillRecipe<OsvStage1Options> = defaults.osvStage1;
/** `recipe:osv-stage2` (Eq. 8-10) with the default feature source. */
export const osvStage2: DistillRecipe<OsvStage2Options> = defaults.osvStage2;
/** `recipe:osv`: stage 1 (0.3 of the steps) then stage 2 (0.7). */
export const osv: StagedRecipe = defaults.osv;
