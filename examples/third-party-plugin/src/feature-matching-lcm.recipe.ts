/**
 * @file `recipe:feature-matching-lcm`: latent consistency distillation (LCM, Luo et al. 2023,
 * Algorithm 1 / Eq. 9, from `@fewstep/loss-consistency`) plus this plugin's feature matching
 * (Salimans et al. 2016 Sec. 3.1) on the frozen teacher's taps, in one generator phase:
 *
 *   L = L_CD + lambdaFm * L_FM
 *
 * - `L_CD`: as fewstep's `recipe:lcm`: x0 `[B, F, H, W, C]` from the data, an adjacent pair
 *   `t_{n+1} > t_n` of the teacher's `solverSteps` grid, `x_{t_{n+1}} = alpha x0 + sigma eps`, one
 *   teacher DDIM step to `x^phi_{t_n}`, `d(f_theta-(x^phi_{t_n}, t_n), f_theta(x_{t_{n+1}}, t_{n+1}))`
 *   with the EMA target theta^- (a trainer-kept copy, no gradient).
 * - `L_FM`: the student's own sample `x0_hat = f_theta(x_s, s)` at a backward-simulated state of
 *   its k-step grid (DMD2 Sec. 4.5; `rc.simulate`), and a real batch `x0`, both noised to one
 *   critic time `t_c` with the same `eps` and read by the frozen teacher (`modelTaps`): the taps
 *   `phi_l(x_t)` `[B, F, h, w, D]` of both go into `featureMatchingLoss` (fake differentiable
 *   through the frozen teacher into the student, real constant).
 *
 * Choices (neither paper covers the hybrid): `lambdaFm = 1`; the critic is the frozen teacher
 * (as AVDM2 / ADM use its encoder for their discriminators), read at `t_c ~ U` over
 * `fmTimeRange` = [0, 0.5] of the time range (AVDM2's denoising-GAN range [0, 0.5T]); one
 * critic time for the batch and the same `eps` for real and fake (common random numbers: the
 * noise's share of the batch-mean features cancels); every teacher tap by default.
 * LCM's own settings (steps 4, solverSteps 50, EMA 0.95, l2, Adam lr 1e-6) are `lcmOptions`'s.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ConfigError, forwardDiffuse, type NoiseSchedule } from '@fewstep/core';
import { consistencyDistillationLoss, teacherSolve } from '@fewstep/loss-consistency';
import {
  adjacentPair,
  defineRecipe,
  detach,
  fromTeacher,
  lcmOptions,
  modelTaps,
  phase,
  use,
  type DiffusionModel,
  type RecipeContext,
  type RoleSpec,
} from '@fewstep/recipes';
import { featureMatchingLoss, type FeatureMatchingInputs } from './feature-matching-loss.js';

export const featureMatchingLcmOptions = lcmOptions.extend({
  /** Weight of the feature-matching term next to L_CD (ours). */
  lambdaFm: z.number().min(0).default(1),
  /** Feature-matching distance (Salimans et al. 2016: squared L2). */
  fmDistance: z.enum(['l2', 'l1']).default('l2'),
  /** Teacher taps the critic reads (e.g. `['block.1']`); empty: every tap of the teacher. */
  fmTaps: z.array(z.string().min(1)).default([]),
  /** Critic times as fractions `[lo, hi]` of the schedule's time range (ours: AVDM2's [0, 0.5T]). */
  fmTimeRange: z
    .tuple([z.number().min(0).max(1), z.number().min(0).max(1)])
    .refine(([lo, hi]) => lo <= hi, 'lo <= hi')
    .default([0, 0.5]),
});
export type FeatureMatchingLcmOptions = z.infer<typeof featureMatchingLcmOptions>;
type Rc = RecipeContext<FeatureMatchingLcmOptions>;

/** The taps the critic reads: `fmTaps`, or every tap of the teacher. @throws ConfigError for a tap the teacher lacks */
export function criticTaps(teacher: DiffusionModel, fmTaps: readonly string[]): string[] {
  const known = teacher.backbone.tapNames();
  for (const tap of fmTaps) {
    if (!known.includes(tap)) throw new ConfigError('fmTaps', tap, `taps of the teacher: ${known.join(', ')}`, 'leave fmTaps empty to read every tap');
  }
  return fmTaps.length > 0 ? [...fmTaps] : known;
}

/** `t_c = tMin + f (tMax - tMin)`, `f ~ U[lo, hi]` (fractional times are fine on discrete schedules). */
export function criticTime(schedule: NoiseSchedule, range: readonly [number, number], u: number): number {
  const f = range[0] + u * (range[1] - range[0]);
  return schedule.tMin + f * (schedule.tMax - schedule.tMin);
}

/** LCM's consistency-distillation inputs (as `recipe:lcm`): student at `t_{n+1}`, EMA target at the teacher-solved `t_n`. */
function consistencyInputs(rc: Rc): { pred: tf.Tensor; target: tf.Tensor } {
  const { tFrom, tTo } = adjacentPair(rc, rc.options.solverSteps, 'fm-lcm/t');
  const x0 = rc.data('x0');
  const eps = rc.randomNormal(x0.shape, 'fm-lcm/eps');
  const xFrom = forwardDiffuse(rc.schedule, x0, eps, tFrom);
  const target = tf.tidy(() => {
    const xPhi = teacherSolve(rc.teacher, xFrom, tFrom, tTo, 1, rc.cond === undefined ? {} : { cond: rc.cond });
    return detach(rc.studentX0(xPhi, tTo, 'generatorEma'));
  });
  return { pred: rc.studentX0(xFrom, tFrom), target };
}

/** Frozen-teacher taps of the student's backward-simulated sample (fake) and of the data (real). */
export function featureMatchingInputs(rc: Rc): FeatureMatchingInputs {
  const taps = criticTaps(rc.teacherModel, rc.options.fmTaps);
  const { xt, t } = rc.simulate('fm/x0');
  const x0Hat = rc.studentX0(xt, t);
  const x0 = rc.data('x0');
  if (x0.shape[0] !== x0Hat.shape[0]) throw new ConfigError('batch', x0.shape[0], `${x0Hat.shape[0]} real samples (the recipe's batch size)`, 'give the data source the run batch size');
  const tc = criticTime(rc.schedule, rc.options.fmTimeRange, rc.rng('fm/t')());
  const eps = rc.randomNormal(x0.shape, 'fm/eps');
  const time = tf.fill([x0.shape[0]!], tc);
  const read = (x: tf.Tensor) => modelTaps(rc.teacherModel, rc.teacherModel.backbone, forwardDiffuse(rc.schedule, x, eps, tc), time, taps, rc.cond);
  return { fake: read(x0Hat), real: read(x0) };
}

/** The generator: a trainable copy of the teacher, after checking `fmTaps` against the teacher's taps. */
function generatorRole(): RoleSpec<FeatureMatchingLcmOptions> {
  const copy = fromTeacher<FeatureMatchingLcmOptions>();
  return (env) => {
    criticTaps(env.teacher, env.options.fmTaps);
    return copy(env);
  };
}

export const featureMatchingLcm = defineRecipe<FeatureMatchingLcmOptions>({
  name: 'recipe:feature-matching-lcm',
  description: "LCM consistency distillation plus feature matching on the frozen teacher's taps (fewstep-plugin-feature-matching)",
  paper: 'LCM (Luo et al. 2023) Algorithm 1 / Eq. 9 + feature matching (Salimans et al. 2016 Sec. 3.1)',
  schema: featureMatchingLcmOptions,
  presets: { paper: {}, tiny: { lr: 2e-4, emaDecay: 0.95, solverSteps: 50, lambdaFm: 1 } },
  data: 'real',
  roles: { generator: generatorRole() },
  ema: [{ role: 'generatorEma', source: 'generator', decay: (o) => o.emaDecay }],
  phases: [
    phase<FeatureMatchingLcmOptions>(
      'generator',
      [
        use(consistencyDistillationLoss, consistencyInputs, (o) => ({ distance: o.distance })),
        use(featureMatchingLoss, featureMatchingInputs, (o) => ({ weight: o.lambdaFm, distance: o.fmDistance })),
      ],
      { optimizer: (o) => ({ type: 'adam', lr: o.lr }) },
    ),
  ],
  student: (o) => ({ parameterization: 'consistency', sampler: 'multistep', steps: o.steps }),
});
