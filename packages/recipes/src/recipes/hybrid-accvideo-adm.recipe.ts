/**
 * @file `recipe:accvideo-adm`, a hybrid composed in code from two papers (the README's example
 * of composing a recipe): AccVideo's trajectory loss (AccVideo Eq. 6) on teacher trajectories plus
 * ADM's adversarial distribution matching (ADM Eq. 7-8, Algorithm 1) in place of AccVideo's GAN.
 *
 * - generator: `trajectoryLoss` (@fewstep/loss-consistency) + `lambdaAdm * admGeneratorLoss`
 *   (@fewstep/loss-adversarial) on a backward-simulated student sample `x0_hat` `[B, F, H, W, C]`;
 * - fakeScore: `fakeScoreDenoisingLoss` (@fewstep/loss-sdm) on detached student samples;
 * - discriminator: `admDiscriminatorLoss` (@fewstep/loss-adversarial), hinge on one PF-ODE step
 *   (Delta t = T / 64) of the fake and the real model; D = the frozen teacher's taps (every block,
 *   ADM) + one `head2d` per tap, composed with `composeDiscriminator`.
 * Player order and TTUR 1 follow ADM Algorithm 1 (fake score, generator, discriminator).
 *
 * Choices (neither paper covers the hybrid): the generator keeps AccVideo's AdamW lr 5e-6; the
 * fake score and D take ADM's AdamW settings (lr 1e-6 / 5e-6, betas (0, 0.99), no weight decay);
 * lambdaAdm = 0.1 mirrors AccVideo's lambda_adv; ADM's t ~ U(0, T) per sample; the student sample is
 * the student's x0 at a backward-simulated state of its own 5-step grid (`rc.simulate`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Network, forwardDiffuse } from '@fewstep/core';
import { trajectoryLoss } from '@fewstep/loss-consistency';
import { admDiscriminatorLoss, admGeneratorLoss, composeDiscriminator, head2d, type AdmInputs, type HeadBinding } from '@fewstep/loss-adversarial';
import { fakeScoreDenoisingLoss } from '@fewstep/loss-sdm';
import { defineRecipe, phase, use } from '../runtime/define-recipe.js';
import type { Conditioning } from '../runtime/diffusion-model.js';
import { detach, type RecipeContext } from '../runtime/recipe-context.js';
import { customRole, fromTeacher, type RoleSpec } from '../runtime/roles.js';
import { accVideoOptions, accVideoStudent, accVideoTrajectoryInputs, checkAccVideoSchedule, teacherFeatures, teacherTapChannels } from './accvideo.recipe.js';

export const accVideoAdmOptions = accVideoOptions.pick({ timesteps: true, segmentOrder: true, lr: true, weightDecay: true, headChannels: true }).extend({
  /** Weight of ADM's generator loss next to the trajectory loss (ours: AccVideo's lambda_adv). */
  lambdaAdm: z.number().min(0).default(0.1),
  /** Fake score learning rate (ADM: 1e-6). */
  fakeLr: z.number().positive().default(1e-6),
  /** Discriminator heads learning rate (ADM: 5e-6). */
  discriminatorLr: z.number().positive().default(5e-6),
  /** ADM's Delta t as a fraction of the time range (ADM: T / 64). */
  deltaTFraction: z.number().gt(0).max(1).default(1 / 64),
});
export type AccVideoAdmOptions = z.infer<typeof accVideoAdmOptions>;
type Rc = RecipeContext<AccVideoAdmOptions>;

/** ADM's D heads: one `head2d` per teacher tap (the frozen teacher is read at call time). */
function admHeadsRole(): RoleSpec<AccVideoAdmOptions> {
  return customRole<AccVideoAdmOptions, HeadBinding[]>((env) => {
    checkAccVideoSchedule(env.teacher.schedule);
    const taps = env.teacher.backbone.tapNames();
    const channels = teacherTapChannels(env.teacher, env.sampleShape, taps);
    const net = new Network(env.role, { seed: env.seed });
    return { net, api: taps.map((feature, i) => ({ feature, head: head2d(net, `head${i}`, { inChannels: channels[i]!, channels: env.options.headChannels }) })) };
  });
}

/** ADM's inputs on a student sample (a thunk in the generator phase, a constant elsewhere). */
function admInputs(rc: Rc, x0Hat: tf.Tensor | (() => tf.Tensor)): AdmInputs<Conditioning> {
  const heads = rc.api<HeadBinding[]>('discriminator');
  const features = (x: tf.Tensor, t: tf.Tensor) => teacherFeatures(rc, x, t, heads.map((h) => h.feature));
  return {
    x0Hat,
    eps: rc.randomNormal([rc.batchSize, ...rc.sampleShape], 'adm/eps'),
    t: rc.randomUniform([rc.batchSize], 'adm/t', rc.schedule.tMin, rc.schedule.tMax),
    fake: rc.denoiser('fakeScore'),
    real: rc.teacher,
    discriminator: composeDiscriminator(features, heads),
    ...(rc.cond === undefined ? {} : { cond: rc.cond }),
  };
}

/** The student's x0 at a backward-simulated state of its own grid (differentiable when the generator trains). */
function studentSample(rc: Rc, stream: string): () => tf.Tensor {
  const { xt, t } = rc.simulate(stream);
  return () => rc.studentX0(xt, t);
}

const admAdamW = (lr: number) => ({ type: 'adamw' as const, lr, betas: [0, 0.99] as const, weightDecay: 0 });

export const accVideoAdm = defineRecipe<AccVideoAdmOptions>({
  name: 'recipe:accvideo-adm',
  description: "Hybrid: AccVideo's trajectory loss on teacher trajectories plus ADM's adversarial distribution matching",
  paper: 'AccVideo (Zhang et al. 2025) Eq. 6 + ADM (Lu et al. 2025) Eq. 7-8, Algorithm 1',
  schema: accVideoAdmOptions,
  presets: { paper: {}, tiny: { lr: 2e-4, fakeLr: 2e-4, discriminatorLr: 2e-4, headChannels: [32] } },
  data: 'trajectories',
  roles: { generator: fromTeacher(), fakeScore: fromTeacher(), discriminator: admHeadsRole() },
  phases: [
    phase<AccVideoAdmOptions>(
      'fakeScore',
      [
        use(fakeScoreDenoisingLoss, (rc: Rc) => {
          const x0 = detach(studentSample(rc, 'fake/x0')());
          const eps = rc.randomNormal(x0.shape, 'fake/eps');
          const t = rc.randomUniform([rc.batchSize], 'fake/t', rc.schedule.tMin, rc.schedule.tMax);
          const xt = forwardDiffuse(rc.schedule, x0, eps, t);
          return { x0, eps, t, schedule: rc.schedule, prediction: rc.denoiser('fakeScore').predict(xt, t, rc.cond), predictionType: rc.teacherModel.predictionType };
        }),
      ],
      { optimizer: (o) => admAdamW(o.fakeLr) },
    ),
    phase<AccVideoAdmOptions>(
      'generator',
      [
        use(trajectoryLoss, accVideoTrajectoryInputs),
        use(admGeneratorLoss, (rc: Rc) => admInputs(rc, studentSample(rc, 'adm/x0')), (o) => ({ weight: o.lambdaAdm, deltaTFraction: o.deltaTFraction })),
      ],
      { optimizer: (o) => ({ type: 'adamw', lr: o.lr, weightDecay: o.weightDecay }) },
    ),
    phase<AccVideoAdmOptions>('discriminator', [use(admDiscriminatorLoss, (rc: Rc) => admInputs(rc, detach(studentSample(rc, 'adm/x0')())), (o) => ({ deltaTFraction: o.deltaTFraction }))], {
      optimizer: (o) => admAdamW(o.discriminatorLr),
    }),
  ],
  student: accVideoStudent,
});
