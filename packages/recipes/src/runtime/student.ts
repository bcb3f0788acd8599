/**
 * @file What a distilled student is: its parameterization (how the network output becomes a
 * clean-sample estimate) and the few-step sampler it is trained for and sampled with.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigError,
  consistencySampler,
  ddimSampler,
  kStepTimesteps,
  lcmBoundaryCondition,
  predictX0Eps,
  timeTravelSampler,
  type BoundaryCondition,
  type Denoiser,
  type NoiseSchedule,
  type Sampler,
} from '@fewstep/core';
import type { Conditioning } from './diffusion-model.js';

/**
 * How the student's network output is read:
 * - `x0`: the network keeps the teacher's prediction type; the generator's sample is the implied
 *   x0 (DMD2, ADM, AVDM2: `G_theta(x_t, t) = x0_hat`).
 * - `consistency`: `f_theta(x, t) = cSkip(t) x + cOut(t) x0_hat(x, t)` with LCM's boundary
 *   condition (`cSkip(0) = 1`, `cOut(0) = 0`; LCM Eq. 9, OSV, MCM).
 * - `velocity`: the student is a few-step ODE model: its prediction is integrated with DDIM
 *   (Euler on flow matching) on a coarse grid (AccVideo, ADP's rectified-flow student).
 */
export type StudentParameterization = 'x0' | 'consistency' | 'velocity';
export const STUDENT_PARAMETERIZATIONS: readonly StudentParameterization[] = ['x0', 'consistency', 'velocity'];

/**
 * The student's sampler: `multistep` (x0 then re-noise with fresh noise: DMD2's multi-step
 * generator and consistency multistep sampling), `ode` (deterministic DDIM / Euler) or
 * `time-travel` (OSV Eq. 11, 2 NFE per step).
 */
export type StudentSamplerKind = 'multistep' | 'ode' | 'time-travel';
export const STUDENT_SAMPLER_KINDS: readonly StudentSamplerKind[] = ['multistep', 'ode', 'time-travel'];

/** A student as saved in its model directory. */
export interface StudentSpec {
  readonly parameterization: StudentParameterization;
  readonly sampler: StudentSamplerKind;
  /** The step count the student was trained for (its default at inference). */
  readonly steps: number;
  /**
   * Descending model times of the trained grid (e.g. AccVideo's key timesteps without the final
   * 0). When sampling with `steps` steps this grid is used; other step counts use the schedule's
   * k-step grid ({@link kStepTimesteps}).
   */
  readonly timesteps?: readonly number[];
}

/** The boundary condition of a parameterization (x0 students: `cSkip = 0`, `cOut = 1`). */
export function studentBoundary(parameterization: StudentParameterization, schedule: NoiseSchedule): BoundaryCondition {
  if (parameterization === 'consistency') return lcmBoundaryCondition({ timestepScale: schedule.timestepScale });
  return { name: 'identity', cSkip: () => 0, cOut: () => 1 };
}

/**
 * The student's clean-sample estimate at `(x_t, t)` (differentiable through the network).
 * @param t one model time for the batch
 */
export function studentX0(denoiser: Denoiser<Conditioning>, parameterization: StudentParameterization, xt: tf.Tensor, t: number, cond?: Conditioning): tf.Tensor {
  return tf.tidy(() => {
    const { x0 } = predictX0Eps(denoiser, xt, t, cond === undefined ? {} : { cond });
    if (parameterization !== 'consistency') return x0;
    const b = studentBoundary(parameterization, denoiser.schedule);
    return tf.add(tf.mul(xt, b.cSkip(t)), tf.mul(x0, b.cOut(t)));
  });
}

/** The descending model times a student uses with `steps` steps. */
export function studentTimesteps(spec: StudentSpec, schedule: NoiseSchedule, steps = spec.steps): number[] {
  if (spec.timesteps !== undefined && steps === spec.timesteps.length) return [...spec.timesteps];
  return kStepTimesteps(schedule, steps);
}

/** The sampler of a student at `steps` steps (default: the trained count). */
export function studentSampler(spec: StudentSpec, schedule: NoiseSchedule, steps = spec.steps): Sampler {
  if (!Number.isInteger(steps) || steps < 1) throw new ConfigError('steps', steps, 'an integer >= 1', 'students sample in 1-8 steps');
  const timesteps = studentTimesteps(spec, schedule, steps);
  const boundary = studentBoundary(spec.parameterization, schedule);
  switch (spec.sampler) {
    case 'multistep':
      return consistencySampler({ steps, timesteps, boundary });
    case 'ode':
      return ddimSampler({ steps, timesteps });
    case 'time-travel':
      return timeTravelSampler({ steps, boundary });
    default:
      throw new ConfigError('student.sampler', spec.sampler, STUDENT_SAMPLER_KINDS.join(', '));
  }
}

/** Validates a student spec read from JSON. */
export function validateStudentSpec(spec: unknown, field = 'student'): StudentSpec {
  const s = spec as Partial<StudentSpec> | null;
  if (typeof s !== 'object' || s === null) throw new ConfigError(field, spec, 'an object { parameterization, sampler, steps }');
  if (!STUDENT_PARAMETERIZATIONS.includes(s.parameterization as StudentParameterization)) {
    throw new ConfigError(`${field}.parameterization`, s.parameterization, STUDENT_PARAMETERIZATIONS.join(', '));
  }
  if (!STUDENT_SAMPLER_KINDS.includes(s.sampler as StudentSamplerKind)) throw new ConfigError(`${field}.sampler`, s.sampler, STUDENT_SAMPLER_KINDS.join(', '));
  if (!Number.isInteger(s.steps) || (s.steps as number) < 1) throw new ConfigError(`${field}.steps`, s.steps, 'an integer >= 1');
  if (s.timesteps !== undefined && (!Array.isArray(s.timesteps) || s.timesteps.some((t) => typeof t !== 'number'))) {
    throw new ConfigError(`${field}.timesteps`, s.timesteps, 'an array of descending model times');
  }
  return s as StudentSpec;
}
