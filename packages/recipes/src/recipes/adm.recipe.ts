/**
 * @file ADM, Adversarial Distribution Matching (Lu et al. 2025, Sec. 4.1, Eq. 7-8, Algorithm 1 in
 * Appendix A): score distillation with a learned discrepancy instead of DMD's reverse KL.
 *
 * Roles: `generator` G_theta (from the teacher, or the carried ADP student in DMDX), `fakeScore`
 * f_psi (from the teacher), `discriminator` D_tau (frozen teacher + trainable 2D heads on its block
 * outputs; samples `[B, F, H, W, C]`, taps `[B, F, h, w, C']`). Per step, as Algorithm 1 with TTUR 1:
 * 1. fakeScore (lines 8-11): a full k-step generator sample x0 (no gradient), fresh noise and
 *    t_f ~ U[tMin, tMax) per sample, the plain denoising loss (`fakeScoreDenoisingLoss`: eps / v /
 *    flow target of the teacher's prediction type; no CFG).
 * 2. generator (lines 15-22): backward simulation to a random step n of the k-step grid
 *    (`rc.simulate`, no gradient; k = 1: pure noise at the top time), `x0_hat = G(x_{t_n}, t_n)`,
 *    t ~ U[tMin, tMax) per sample, `x_t = alpha_t x0_hat + sigma_t eps`, one PF-ODE step of size
 *    Delta t = T/64 with the fake and with the real model (`admBackwardStep`), and
 *    `L_G = -D(x^fake_{t - Dt}, t - Dt)` (Eq. 7, `admGeneratorLoss`).
 * 3. discriminator (line 26): hinge `relu(1 + D(x^fake)) + relu(1 - D(x^real))` at t - Dt (Eq. 8,
 *    `admDiscriminatorLoss`) on the SAME x0_hat, eps, t and guidance scale as step 2 (cached, so
 *    x^fake / x^real are those of line 20-21; the fake model has not moved since).
 * With `ttur` n > 1 the generator and discriminator run on steps n-1, 2n-1, ... (line 12).
 *
 * Real-model CFG: w ~ U[min, max] per step (`realGuidance`, paper: SDXL [6, 8], SD3.5 [3, 4],
 * CogVideoX [5, 7]) in `uncond + w (cond - uncond)`, applied only when the batch carries
 * conditioning (`rc.cond`); the default `null` (no guidance) fits unconditional teachers. The
 * unconditional branch is the conditioning with `context` / `pooled` zeroed and the image of an
 * image-to-video batch dropped (our choice: the batch has no empty-prompt embedding; pass
 * `admRecipe({ unconditional })` to supply one). On image-to-video teachers the batch's `image` /
 * `imageNoiseSigma` reach G, the fake score, the real model and D's teacher features through
 * `rc.cond` (ADM itself reads no data: the conditions come from a `real` source of
 * `{ x0, image, imageNoiseSigma }` batches, of which only the conditioning keys are used). The video
 * variant's generator-side scale (real minus 2) needs a guidance-embedded generator and is not
 * modelled. Optimizers (Appendix B): AdamW, no weight decay, betas (0, 0.99); lr D 5e-6, fake
 * 1e-6, generator 1e-7 (one-step SDXL ADM).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Network, forwardDiffuse, guidedDenoiser, type Denoiser } from '@fewstep/core';
import { admDiscriminatorLoss, admGeneratorLoss, type AdmInputs } from '@fewstep/loss-adversarial';
import { fakeScoreDenoisingLoss } from '@fewstep/loss-sdm';
import { defineRecipe, phase, use, type DistillRecipe } from '../runtime/define-recipe.js';
import { emptyConditioning } from '../runtime/conditioning.js';
import type { Conditioning } from '../runtime/diffusion-model.js';
import { detach, type RecipeContext } from '../runtime/recipe-context.js';
import { customRole, fromTeacher } from '../runtime/roles.js';
import { studentTimesteps } from '../runtime/student.js';
import {
  StepCache,
  admAdamW,
  discriminatorTapsSchema,
  headChannelsSchema,
  latentDiscriminator,
  resolveDiscriminatorTaps,
  teacherTapHeads,
  type FeatureHeads,
} from './adm-discriminator.js';

/** A CFG range `{ min, max }` with min <= max. */
export const guidanceRangeSchema = z
  .strictObject({ min: z.number(), max: z.number() })
  .refine((r) => r.min <= r.max, { message: 'a guidance range { min, max } with min <= max (ADM: SDXL { min: 6, max: 8 })' });

export const admOptions = z.strictObject({
  /** Generator steps k (1: one-step; k > 1 trains with backward simulation). */
  steps: z.number().int().min(1).max(8).default(1),
  /** Delta t as a fraction of the time range (ADM: T/64). */
  deltaTFraction: z.number().gt(0).max(1).default(1 / 64),
  /** Real-model CFG range, drawn per step; null = no guidance (unconditional teachers). */
  realGuidance: guidanceRangeSchema.nullable().default(null),
  /** Fake-model updates per generator / discriminator update (ADM: 1). */
  ttur: z.number().int().min(1).default(1),
  /** Teacher taps with discriminator heads (paper: every DiT block / every UNet block). */
  discriminatorTaps: discriminatorTapsSchema.default('all'),
  /** Widths of each head's 4x4 stride-2 blocks. */
  headChannels: headChannelsSchema.default([64, 64]),
  /** Generator learning rate (one-step SDXL ADM: 1e-7). */
  lrGenerator: z.number().positive().default(1e-7),
  /** Fake score learning rate (1e-6 in every experiment). */
  lrFake: z.number().positive().default(1e-6),
  /** Discriminator learning rate (5e-6 in every experiment). */
  lrDiscriminator: z.number().positive().default(5e-6),
});
export type AdmOptions = z.infer<typeof admOptions>;

/** What the generator phase leaves for the discriminator phase of the same step. */
export interface AdmStepSample extends Record<string, tf.Tensor | number | undefined> {
  /** Detached generator sample `[B, ...]`. */
  x0Hat: tf.Tensor;
  /** Forward-diffusion noise `[B, ...]`. */
  eps: tf.Tensor;
  /** Model times `[B]`. */
  t: tf.Tensor;
  /** The real model's guidance scale, or undefined (no CFG). */
  w: number | undefined;
}

/** The ADM discriminator role's API. */
export interface AdmDiscriminatorApi {
  readonly heads: FeatureHeads;
  readonly cache: StepCache<AdmStepSample>;
}

/** Options of {@link admRecipe} that are code, not data. */
export interface AdmRecipeOptions {
  /**
   * The real model's unconditional input for CFG, from the batch's conditioning.
   * @default `context` and `pooled` zeroed, other keys kept
   */
  unconditional?: (cond: Conditioning) => Conditioning;
}

/**
 * The default unconditional branch: `context` / `pooled` zeroed and, on image-to-video batches, the
 * conditioning frame dropped (`emptyConditioning`: the backbone's null image embedding); other keys
 * kept. The caller owns the result's new tensors.
 */
export function zeroedConditioning(cond: Conditioning): Conditioning {
  return emptyConditioning(cond);
}

/**
 * A full k-step sample of the generator from fresh noise (Algorithm 1, line 9), no gradient: its
 * multistep sampler (x0 = G(x, t_i), re-noised to t_{i+1} with fresh noise). `[B, ...]`
 */
export function admGeneratorSample(rc: RecipeContext, stream: string): tf.Tensor {
  const times = studentTimesteps(rc.student, rc.schedule);
  let x = rc.randomNormal([rc.batchSize, ...rc.sampleShape], `${stream}/noise`);
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    const next = tf.tidy(() => {
      const x0 = rc.studentX0(x, t);
      if (i === times.length - 1) return detach(x0);
      const s = rc.schedule;
      const tNext = times[i + 1]!;
      return detach(tf.add(tf.mul(x0, s.alpha(tNext)), tf.mul(rc.randomNormal(x.shape, `${stream}/renoise/${i}`), s.sigma(tNext))));
    });
    x.dispose();
    x = next;
  }
  return x;
}

/** The ADM generator step's random draws and its (differentiable) sample (Algorithm 1, lines 15-19). */
export function admDraw(rc: RecipeContext<AdmOptions>, stream: string, differentiable: boolean): AdmStepSample {
  const { xt, t: tn } = rc.simulate(`${stream}/simulate`);
  const x0Hat = differentiable ? rc.studentX0(xt, tn) : tf.tidy(() => detach(rc.studentX0(xt, tn)));
  const s = rc.schedule;
  const eps = rc.randomNormal(x0Hat.shape, `${stream}/eps`);
  const t = rc.randomUniform([x0Hat.shape[0]!], `${stream}/t`, s.tMin, s.tMax);
  const g = rc.options.realGuidance;
  const w = g !== null && rc.cond !== undefined ? g.min + (g.max - g.min) * rc.rng(`${stream}/cfg`)() : undefined;
  return { x0Hat, eps, t, w };
}

const discriminatorApi = (rc: RecipeContext): AdmDiscriminatorApi => rc.api<AdmDiscriminatorApi>('discriminator');

/** ADM with a chosen unconditional branch (the default recipe: {@link adm}). */
export function admRecipe(factory: AdmRecipeOptions = {}): DistillRecipe<AdmOptions> {
  const unconditional = factory.unconditional ?? zeroedConditioning;

  /** The loss inputs of one draw: fake / real (guided) models, D on the frozen teacher. */
  const admInputs = (rc: RecipeContext<AdmOptions>, draw: AdmStepSample, x0Hat: tf.Tensor): AdmInputs<Conditioning> => {
    let real: Denoiser<Conditioning> = rc.teacher;
    if (draw.w !== undefined && rc.cond !== undefined) real = guidedDenoiser(rc.teacher, { uncond: unconditional(rc.cond), scale: draw.w });
    return {
      x0Hat,
      eps: draw.eps,
      t: draw.t,
      fake: rc.denoiser('fakeScore'),
      real,
      discriminator: latentDiscriminator(rc.teacherModel, discriminatorApi(rc).heads, rc.cond),
      ...(rc.cond === undefined ? {} : { cond: rc.cond }),
    };
  };

  const every = (o: AdmOptions): number => o.ttur;
  const offset = (o: AdmOptions): number => o.ttur - 1;

  return defineRecipe<AdmOptions>({
    name: 'recipe:adm',
    description: 'ADM: fake score + generator + teacher-feature discriminator; hinge GAN on one PF-ODE step (T/64) of the fake and real models',
    paper: 'DMDX / ADM (Lu et al. 2025) Sec. 4.1, Eq. 7-8, Algorithm 1 (Appendix A)',
    schema: admOptions,
    presets: {
      paper: {},
      tiny: { lrGenerator: 5e-5, lrFake: 2e-4, lrDiscriminator: 2e-4, discriminatorTaps: 2, headChannels: [32] },
    },
    data: 'none',
    roles: {
      generator: fromTeacher(),
      fakeScore: fromTeacher(),
      discriminator: customRole<AdmOptions, AdmDiscriminatorApi>((env) => {
        const net = new Network(env.role, { seed: env.seed });
        try {
          const taps = resolveDiscriminatorTaps(env.teacher.backbone, env.options.discriminatorTaps);
          const heads = teacherTapHeads(net, env.teacher, env.sampleShape, taps, env.options.headChannels);
          const cache = new StepCache<AdmStepSample>();
          return {
            net,
            api: { heads, cache },
            dispose: () => {
              cache.clear();
              net.dispose();
            },
          };
        } catch (e) {
          net.dispose();
          throw e;
        }
      }),
    },
    phases: [
      phase<AdmOptions>(
        'fakeScore',
        [
          use(fakeScoreDenoisingLoss, (rc: RecipeContext<AdmOptions>) => {
            const x0 = admGeneratorSample(rc, 'adm/fake/generator');
            const s = rc.schedule;
            const eps = rc.randomNormal(x0.shape, 'adm/fake/eps');
            const t = rc.randomUniform([x0.shape[0]!], 'adm/fake/t', s.tMin, s.tMax);
            const xt = forwardDiffuse(s, x0, eps, t);
            const prediction = rc.denoiser('fakeScore').predict(xt, t, rc.cond);
            return { x0, eps, t, schedule: s, prediction, predictionType: rc.teacherModel.predictionType };
          }),
        ],
        { optimizer: (o) => admAdamW(o.lrFake) },
      ),
      phase<AdmOptions>(
        'generator',
        [
          use(
            admGeneratorLoss,
            (rc: RecipeContext<AdmOptions>) => {
              const draw = admDraw(rc, 'adm/generator', true);
              discriminatorApi(rc).cache.put(rc.step, { x0Hat: detach(draw.x0Hat), eps: tf.clone(draw.eps), t: tf.clone(draw.t), w: draw.w });
              return admInputs(rc, draw, draw.x0Hat) as AdmInputs<unknown>;
            },
            (o) => ({ deltaTFraction: o.deltaTFraction }),
          ),
        ],
        { every, offset, optimizer: (o) => admAdamW(o.lrGenerator) },
      ),
      phase<AdmOptions>(
        'discriminator',
        [
          use(
            admDiscriminatorLoss,
            (rc: RecipeContext<AdmOptions>) => {
              // Algorithm 1 line 26: the generator step's samples; a fresh draw if it did not run.
              const draw = discriminatorApi(rc).cache.take(rc.step) ?? admDraw(rc, 'adm/discriminator', false);
              return admInputs(rc, draw, draw.x0Hat) as AdmInputs<unknown>;
            },
            (o) => ({ deltaTFraction: o.deltaTFraction }),
          ),
        ],
        { every, offset, optimizer: (o) => admAdamW(o.lrDiscriminator) },
      ),
    ],
    student: (o) => ({ parameterization: 'x0', sampler: 'multistep', steps: o.steps }),
  });
}

/** ADM with the default unconditional branch. */
export const adm = admRecipe();
