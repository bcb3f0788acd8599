/**
 * @file The teacher's multi-step ODE solve of consistency distillation: from `x_{t_{n+m}}` take `m`
 * deterministic DDIM steps (Song et al. 2021 Eq. 12, eta = 0) to reach `x^phi_{t_n}` (LCM Eq. 8 for
 * m = 1 with CFG; OSV Eq. 8 with m = 5), optionally with classifier-free guidance
 * `uncond + w (cond - uncond)` (core's `applyGuidance` formula, chosen by `guidance.formula`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, predictX0Eps, type DenoiseOptions, type Denoiser } from '@fewstep/core';

/**
 * The `m + 1` model times `t_{n+m} = tFrom > ... > t_n = tTo`, equally spaced; rounded to integers
 * for a discrete schedule (its training timesteps).
 */
export function teacherSolveGrid<C>(denoiser: Denoiser<C>, tFrom: number, tTo: number, m: number): number[] {
  if (!(Number.isInteger(m) && m >= 1)) throw new ConfigError('m', m, 'an integer >= 1', 'use 1 (LCM) or 5 (OSV)');
  if (!(tFrom > tTo)) throw new ConfigError('tTo', tTo, `a model time < tFrom = ${tFrom}`, 'the teacher solves from the noisier time down');
  const discrete = denoiser.schedule.time.kind === 'discrete';
  const times = Array.from({ length: m + 1 }, (_, i) => tFrom + ((tTo - tFrom) * i) / m);
  return discrete ? times.map((t) => Math.round(t)) : times;
}

/**
 * m DDIM (eta = 0) teacher steps from `tFrom` to `tTo`: each step `x <- alpha' x0 + sigma' eps` with
 * `(x0, eps)` the (guided) teacher prediction at the current time. The result is a constant target
 * input for the EMA student (the teacher's variables are never in the trained variable list).
 * @param x `[B, ...]` `x_{t_{n+m}}`
 * @param tFrom model time `t_{n+m}`
 * @param tTo model time `t_n` (< tFrom)
 * @param m number of teacher steps (>= 1)
 * @param options conditioning and guidance passed to every teacher query (2 network calls per step under CFG)
 * @returns `[B, ...]` `x^phi_{t_n}`
 */
export function teacherSolve<C>(
  denoiser: Denoiser<C>,
  x: tf.Tensor,
  tFrom: number,
  tTo: number,
  m: number,
  options: DenoiseOptions<C> = {},
): tf.Tensor {
  const times = teacherSolveGrid(denoiser, tFrom, tTo, m);
  const s = denoiser.schedule;
  let state = x;
  for (let i = 0; i < m; i++) {
    const t = times[i] as number;
    const tNext = times[i + 1] as number;
    const next = tf.tidy(() => {
      const { x0, eps } = predictX0Eps(denoiser, state, t, options);
      return tf.add(tf.mul(x0, s.alpha(tNext)), tf.mul(eps, s.sigma(tNext)));
    });
    if (state !== x) state.dispose();
    state = next;
  }
  return state;
}
