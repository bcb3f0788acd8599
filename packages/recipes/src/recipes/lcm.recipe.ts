/**
 * @file LCM baseline (Luo et al. 2023, Algorithm 1; plain consistency distillation).
 *
 * Per step: x0 from the data, an adjacent pair `t_{n+1} > t_n` of the teacher's `solverSteps`-step
 * DDIM grid, `x_{t_{n+1}} = alpha x0 + sigma eps`, one teacher DDIM step to `x^phi_{t_n}`, and
 * `L = d(f_theta-(x^phi_{t_n}, t_n), f_theta(x_{t_{n+1}}, t_{n+1}))` with the EMA target theta^-
 * (LCM Eq. 9). One time pair per batch (our choice at this scale; LCM draws one per sample).
 * The student samples with consistency multistep sampling.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { forwardDiffuse, kStepTimesteps } from '@fewstep/core';
import { consistencyDistillationLoss, teacherSolve } from '@fewstep/loss-consistency';
import { defineRecipe, phase, use } from '../runtime/define-recipe.js';
import { fromTeacher } from '../runtime/roles.js';
import { detach, type RecipeContext } from '../runtime/recipe-context.js';

export const lcmOptions = z.strictObject({
  /** Student sampling steps. */
  steps: z.number().int().min(1).max(8).default(4),
  /** The teacher DDIM grid N (skip = T / N; LCM: 50). */
  solverSteps: z.number().int().min(2).max(1000).default(50),
  /** EMA decay of the target theta^- (LCM: 0.95). */
  emaDecay: z.number().min(0).max(1).default(0.95),
  /** LCM uses the squared L2 distance or Huber; diffusers' script defaults to l2. */
  distance: z.enum(['l2', 'pseudo-huber']).default('l2'),
  /** Student learning rate (LCM full fine-tuning: 1e-6; Adam, no weight decay here). */
  lr: z.number().positive().default(1e-6),
});
export type LcmOptions = z.infer<typeof lcmOptions>;

/** An adjacent pair of the teacher's grid `t_{n+1} > t_n`, uniform over the pairs. */
export function adjacentPair(rc: RecipeContext, solverSteps: number, stream: string): { tFrom: number; tTo: number } {
  const grid = kStepTimesteps(rc.schedule, solverSteps);
  const i = Math.floor(rc.rng(stream)() * (grid.length - 1));
  return { tFrom: grid[i] as number, tTo: grid[i + 1] as number };
}

export const lcm = defineRecipe<LcmOptions>({
  name: 'recipe:lcm',
  description: 'Latent consistency distillation: EMA target, one teacher DDIM step, consistency multistep sampling',
  paper: 'LCM (Luo et al. 2023) Algorithm 1; MCM Eq. 3',
  schema: lcmOptions,
  presets: { paper: {}, tiny: { lr: 1e-4, emaDecay: 0.95, solverSteps: 50 } },
  data: 'real',
  roles: { generator: fromTeacher() },
  ema: [{ role: 'generatorEma', source: 'generator', decay: (o) => o.emaDecay }],
  phases: [
    phase<LcmOptions>(
      'generator',
      [
        use(
          consistencyDistillationLoss,
          (rc: RecipeContext<LcmOptions>) => {
            const { tFrom, tTo } = adjacentPair(rc, rc.options.solverSteps, 'lcm/t');
            const x0 = rc.data('x0');
            const eps = rc.randomNormal(x0.shape, 'lcm/eps');
            const xFrom = forwardDiffuse(rc.schedule, x0, eps, tFrom);
            const target = tf.tidy(() => {
              const xPhi = teacherSolve(rc.teacher, xFrom, tFrom, tTo, 1, rc.cond === undefined ? {} : { cond: rc.cond });
              return detach(rc.studentX0(xPhi, tTo, 'generatorEma'));
            });
            return { pred: rc.studentX0(xFrom, tFrom), target };
          },
          (o) => ({ distance: o.distance }),
        ),
      ],
      { optimizer: (o) => ({ type: 'adam', lr: o.lr }) },
    ),
  ],
  student: (o) => ({ parameterization: 'consistency', sampler: 'multistep', steps: o.steps }),
});
