/**
 * @file AVDM2 (seed paper avdm2-video-distribution-matching, Algorithm 1, Eq. 6-9): a video
 * denoising GAN on real videos (ADM, the primary loss) plus frame score distribution matching with
 * a 2D teacher and a 2D fake model (SDM, the regulariser), backward simulation for 4 steps.
 *
 * Roles: `generator` (trainable copy of the video teacher), `fakeScore2d` (the 2D fake model
 * `eps_psi2D`, a trainable copy of the teacher used on single frames), `discriminator` (trainable
 * heads on frozen teacher taps; AVDM2 Sec. 4.1: "the prediction head extracts features from three
 * spatial scales, processes each through independent convolutional layers, and then concatenates
 * these features; a final convolutional layer" gives the logits; `discHead: 'multi-scale'`).
 *
 * Per step, in Algorithm 1's order:
 * 1. `generator`, every `ttur` steps (TTUR 2: D and the 2D fake model update twice as often):
 *    lines 3-4 backward simulation, `x0_hat = G_theta(x_{t_n}, t_n)` `[B, F, H, W, C]`;
 *    lines 5-7 `L_ADM = E softplus(-D(alpha_t x0_hat + sigma_t eps', t))`, `t ~ U[t_gmin, t_gmax]`
 *    (Eq. 7, non-saturating; paper [0, 0.5T]); lines 8-10 frame SDM (Eq. 8): K random frames of
 *    `x0_hat`, noised at `t' ~ U[t_min, t_max]` (paper [0.2T, 0.98T]), gradient
 *    `w(t')(eps_phi2D - eps_psi2D)` through those K frames only (`frameSdmLoss`); line 11 the
 *    update with `lambdaSdm L_SDM + lambdaAdm L_ADM` (Eq. 9).
 * 2. `fakeScore2d` (lines 12-14): the denoising loss (Eq. 2) on K random frames of a constant
 *    generator video, `t ~ U[t_min, t_max]` (Algorithm 1 line 12 draws from `(t_min, t_max)`).
 * 3. `discriminator` (lines 15-17): `softplus(-D(x_t(real))) + softplus(D(x_t(fake)))` (Eq. 6),
 *    real = batch `x0`, each side at its own `t ~ U[t_gmin, t_gmax]`.
 *
 * The 2D teacher: the auxiliary model `frameTeacher` when the caller supplies one (AVDM2's setting:
 * an image diffusion model of the data's frames sharing the latent space; `fewstep distill` fits
 * one to the frame marginal of an analytic mixture), run on one-frame videos
 * `[N, H, W, C]` -> `[N, 1, H, W, C]`; otherwise the frozen video teacher applied to single-frame
 * videos (AnimateDiff's 2D UNet is its video UNet without the motion modules). The latter is only
 * sound for a video model trained with single frames too: a teacher trained on F-frame videos
 * only has never seen F = 1 (measured in docs/RESULTS.md). Needs a temporal patch size of 1. The 2D
 * fake model is a copy of the 2D teacher.
 *
 * Where the paper is silent (our choices): lambdaSdm = lambdaAdm = 1; K = 4 frames (the paper
 * trains on 16-frame videos); w(t') = the DMD normaliser (`'dmd'`, scale-free) with the mean
 * reduction; the 2D fake model trains on the same K frames per video. One learning rate for the
 * whole generator (the paper trains AnimateDiff's motion module at 2e-5 and its 2D UNet at 4e-6;
 * a DiT has no such split). `frameSdm: false` (or lambdaSdm = 0) is "GAN alone" (AVDM2 Fig. 4):
 * the SDM term and the 2D fake model's phase are switched off; lambdaAdm = 0 is "SDM alone".
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ConfigError, type Denoiser } from '@fewstep/core';
import { fakeScoreDenoisingLoss, frameSdmLoss, pickFrames, SDM_REDUCTIONS, SDM_WEIGHTINGS, type FrameSdmInputs } from '@fewstep/loss-sdm';
import { logisticDiscriminatorLoss, logisticGeneratorLoss } from '@fewstep/loss-adversarial';
import { modelDenoiser, type Conditioning } from '../runtime/diffusion-model.js';
import { defineRecipe, phase, use } from '../runtime/define-recipe.js';
import { fromTeacher, type RoleSpec } from '../runtime/roles.js';
import type { RecipeContext } from '../runtime/recipe-context.js';
import {
  DISCRIMINATOR_HEAD_KINDS,
  cadence,
  denoisingDiscriminator,
  detachedGeneratorSample,
  discriminatorInputs,
  fakeScoreInputs,
  generatorGanLogits,
  generatorSample,
  orderedRange,
  switchableLoss,
  timeFraction,
  uniformTimes,
} from './denoising-gan.js';

export const avdm2Options = z
  .strictObject({
    /** Student sampling steps (AVDM2: 4, backward simulation over them). */
    steps: z.number().int().min(1).max(8).default(4),
    /** TTUR: D and 2D fake updates per generator update (AVDM2: 2). */
    ttur: z.number().int().min(1).max(100).default(2),
    /** Eq. 9 weights (not given in the paper; our choice 1 and 1). */
    lambdaSdm: z.number().min(0).default(1),
    lambdaAdm: z.number().min(0).default(1),
    /** Frame SDM on / off (off = "GAN alone", AVDM2 Fig. 4). */
    frameSdm: z.boolean().default(true),
    /** K, frames per video for the SDM and the 2D fake model (paper silent; our choice 4). */
    frames: z.number().int().min(1).max(64).default(4),
    /** SDM timesteps t' (paper U[0.2T, 0.98T]), fractions of the schedule span. */
    sdmTMin: timeFraction.default(0.2),
    sdmTMax: timeFraction.default(0.98),
    /** Denoising-GAN timesteps [t_gmin, t_gmax] (paper U[0, 0.5T]). */
    ganTMin: timeFraction.default(0),
    ganTMax: timeFraction.default(0.5),
    /** w(t') of Eq. 8 and the reduction of the SDM surrogate (see `score-distribution-matching-loss.ts`). */
    sdmWeighting: z.enum(SDM_WEIGHTINGS as ['constant', 'dmd', 'snr']).default('dmd'),
    sdmReduction: z.enum(SDM_REDUCTIONS as ['sum', 'mean']).default('mean'),
    /** AdamW, linear warm-up then constant (paper: 500 steps; lr 2e-5 generator, D and 2D fake). */
    lr: z.number().positive().default(2e-5),
    lrFake: z.number().positive().default(2e-5),
    lrDisc: z.number().positive().default(2e-5),
    warmupSteps: z.number().int().min(0).default(500),
    /** Paper: betas (0.9, 0.999), weight decay 0.01 for every optimizer. */
    beta1: z.number().min(0).max(1).default(0.9),
    beta2: z.number().min(0).max(1).default(0.999),
    weightDecay: z.number().min(0).default(0.01),
    /** Discriminator: teacher taps (default: 3 encoder taps, the paper's three scales), head, width. */
    discTaps: z.array(z.string()).min(1).optional(),
    discTapCount: z.number().int().min(1).max(8).default(3),
    discHead: z.enum(DISCRIMINATOR_HEAD_KINDS as ['multi-scale', 'per-tap']).default('multi-scale'),
    discChannels: z.number().int().min(2).max(1024).default(32),
  })
  .superRefine(orderedRange('sdmTMin', 'sdmTMax'))
  .superRefine(orderedRange('ganTMin', 'ganTMax'))
  .superRefine((o, ctx) => {
    if (!sdmOn(o) && !(o.lambdaAdm > 0)) {
      ctx.addIssue({ code: 'custom', path: ['lambdaAdm'], message: '> 0 when frame SDM is off (frameSdm: false or lambdaSdm: 0): the generator needs a loss' });
    }
  });
export type Avdm2Options = z.infer<typeof avdm2Options>;

function sdmOn(o: Pick<Avdm2Options, 'frameSdm' | 'lambdaSdm'>): boolean {
  return o.frameSdm && o.lambdaSdm > 0;
}
const admOn = (o: Avdm2Options): boolean => o.lambdaAdm > 0;
const ganRange = (o: Avdm2Options) => ({ tMin: o.ganTMin, tMax: o.ganTMax });
const adamw = (o: Avdm2Options, lr: number) => ({
  type: 'adamw' as const,
  lr: { type: 'warmup-constant' as const, lr, warmupSteps: o.warmupSteps },
  betas: [o.beta1, o.beta2] as const,
  weightDecay: o.weightDecay,
});

/**
 * The video denoiser on single frames: images `[N, H, W, C]` run as one-frame videos
 * `[N, 1, H, W, C]`. `cond` here is the `[N]` index of each frame's video (frame SDM gathers the
 * `[B]` index it is given per frame); the video conditioning is gathered by it.
 */
export function frameDenoiser(video: Denoiser<Conditioning>, cond: Conditioning | undefined): Denoiser<tf.Tensor> {
  return {
    schedule: video.schedule,
    predictionType: video.predictionType,
    predict: (x, t, index) =>
      tf.tidy(() => {
        const [n, h, w, c] = x.shape as [number, number, number, number];
        let frameCond: Conditioning | undefined;
        if (cond !== undefined) {
          if (index === undefined) throw new ConfigError('frame denoiser cond', undefined, 'the [N] video index of each frame', 'pass cond: tf.range(B) to frameSdmLoss');
          const idx = tf.cast(index, 'int32');
          frameCond = Object.fromEntries(Object.entries(cond).map(([k, v]) => [k, tf.gather(v, idx)]));
        }
        return tf.reshape(video.predict(tf.reshape(x, [n, 1, h, w, c]), t, frameCond), [n, h, w, c]);
      }),
  };
}

/** `[B]` video indices, the `cond` frame SDM gathers per frame (undefined without conditioning). */
function videoIndex(rc: RecipeContext<Avdm2Options>): tf.Tensor | undefined {
  return rc.cond === undefined ? undefined : tf.range(0, rc.batchSize, 1, 'int32');
}

/** Frame SDM inputs (Eq. 8) for the generator video `x0_hat`. */
export function frameSdmInputs(rc: RecipeContext<Avdm2Options>, video: tf.Tensor): FrameSdmInputs {
  const index = videoIndex(rc);
  return {
    video,
    teacher: frameDenoiser(frameTeacher(rc), rc.cond),
    fakeScore: frameDenoiser(rc.denoiser('fakeScore2d'), rc.cond),
    rng: rc.rng('avdm2/frame-sdm'),
    ...(index === undefined ? {} : { cond: index }),
  };
}

/** The frozen 2D teacher: the supplied `frameTeacher` model, else the video teacher (on one-frame videos). */
function frameTeacher(rc: RecipeContext<Avdm2Options>): Denoiser<Conditioning> {
  const m = rc.model('frameTeacher');
  return m === undefined ? rc.teacher : modelDenoiser(m);
}

/** The 2D fake model: a trainable copy of the 2D teacher; K must fit the videos' frame count. */
function fakeScore2dRole(): RoleSpec<Avdm2Options> {
  const copy = fromTeacher<Avdm2Options>();
  return (env) => {
    const f = env.sampleShape[0]!;
    if (env.sampleShape.length !== 4) throw new ConfigError('sampleShape', env.sampleShape, 'a video sample shape [F, H, W, C]', 'AVDM2 distills video models');
    if (sdmOn(env.options) && env.options.frames > f) throw new ConfigError('frames', env.options.frames, `an integer in [1, ${f}] (F of the videos)`, `draw at most ${f} frames per video`);
    const image = env.models?.['frameTeacher'];
    if (image === undefined) return copy(env);
    const net = image.backbone.net.clone(env.role);
    net.unfreeze();
    return { net, backbone: image.backbone.withNetwork(net), dispose: () => net.dispose() };
  };
}

export const avdm2 = defineRecipe<Avdm2Options>({
  name: 'recipe:avdm2',
  description: 'AVDM2: video denoising GAN on real videos + 2D frame score distribution matching, backward simulation, TTUR 2',
  paper: 'AVDM2 Algorithm 1, Eq. 6-9',
  schema: avdm2Options,
  presets: {
    paper: {},
    // 2 CPU cores, 600-1500 steps on [4, 4, 4, 3] videos: Adam-scale rates, a short warm-up,
    // K = 2 of the 4 frames, narrow discriminator heads.
    tiny: { lr: 2e-4, lrFake: 2e-4, lrDisc: 2e-4, warmupSteps: 20, weightDecay: 0, frames: 2, discChannels: 16 },
  },
  data: 'real',
  roles: {
    generator: fromTeacher(),
    fakeScore2d: fakeScore2dRole(),
    discriminator: denoisingDiscriminator<Avdm2Options>((o) => ({ taps: o.discTaps, tapCount: o.discTapCount, head: o.discHead, channels: o.discChannels })),
  },
  phases: [
    phase<Avdm2Options>(
      'generator',
      [
        use(
          switchableLoss(logisticGeneratorLoss),
          (rc: RecipeContext<Avdm2Options>, opts) =>
            opts.enabled === false ? undefined : { fakeLogits: generatorGanLogits(rc, 'discriminator', generatorSample(rc, 'avdm2/generator').x0Hat, ganRange(rc.options), 'avdm2/adm') },
          (o) => ({ weight: o.lambdaAdm, enabled: admOn(o) }),
        ),
        use(
          switchableLoss(frameSdmLoss),
          (rc: RecipeContext<Avdm2Options>, opts) => (opts.enabled === false ? undefined : frameSdmInputs(rc, generatorSample(rc, 'avdm2/generator').x0Hat)),
          (o) => ({ weight: o.lambdaSdm, enabled: sdmOn(o), frames: o.frames, tMin: o.sdmTMin, tMax: o.sdmTMax, weighting: o.sdmWeighting, reduction: o.sdmReduction }),
        ),
      ],
      { every: (o) => o.ttur, optimizer: (o) => adamw(o, o.lr) },
    ),
    phase<Avdm2Options>(
      'fakeScore2d',
      [
        use(fakeScoreDenoisingLoss, (rc: RecipeContext<Avdm2Options>) => {
          const o = rc.options;
          const video = detachedGeneratorSample(rc, 'avdm2/fake2d-sample');
          const [b, f, h, w, c] = video.shape as [number, number, number, number, number];
          const flat = pickFrames(b, f, o.frames, rc.rng('avdm2/fake2d/frames'));
          const frames = tf.gather(tf.reshape(video, [b * f, h, w, c]), tf.tensor1d(flat, 'int32'));
          const t = uniformTimes(rc, flat.length, o.sdmTMin, o.sdmTMax, 'avdm2/fake2d/t');
          const fake = frameDenoiser(rc.denoiser('fakeScore2d'), rc.cond);
          const index = rc.cond === undefined ? undefined : tf.tensor1d(flat.map((i) => Math.floor(i / f)), 'int32');
          return fakeScoreInputs(rc, frames, t, (xt, tt) => fake.predict(xt, tt, index), 'avdm2/fake2d');
        }),
      ],
      { ...cadence<Avdm2Options>(sdmOn), optimizer: (o) => adamw(o, o.lrFake) },
    ),
    phase<Avdm2Options>(
      'discriminator',
      [use(logisticDiscriminatorLoss, (rc: RecipeContext<Avdm2Options>) => discriminatorInputs(rc, 'discriminator', ganRange(rc.options), 'avdm2/disc'))],
      { ...cadence<Avdm2Options>(admOn), optimizer: (o) => adamw(o, o.lrDisc) },
    ),
  ],
  student: (o) => ({ parameterization: 'x0', sampler: 'multistep', steps: o.steps }),
  models: { frameTeacher: { kind: 'frame-marginal', description: "AVDM2's 2D teacher: an image diffusion model of the data's frames (same schedule and prediction type as the video teacher)" } },
});
