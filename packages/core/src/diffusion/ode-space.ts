/**
 * @file Coordinates in which the first/second-order ODE solvers (Euler, Heun) step.
 *
 * The probability-flow ODE of `x_t = alpha x0 + sigma eps` is linear in its time variable in two
 * classic reparameterizations (with the denoiser's `(x0, eps)` held fixed over a step):
 * - `'sigma'` (variance-exploding; Karras et al. 2022, diffusers Euler/Heun discrete):
 *   `z = x / alpha`, `tau = sigma / alpha`, `dz/dtau = eps`. Needs alpha > 0.
 * - `'flow'` (rectified flow; diffusers FlowMatchEuler/Heun): `z = x / (alpha + sigma)`,
 *   `tau = sigma / (alpha + sigma)`, `dz/dtau = eps - x0`. For flow matching z = x, tau = t.
 * In both, one Euler step equals one DDIM (eta = 0) step; Heun's correction differs by space.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import type { NoiseSchedule } from './noise-schedule.js';

export type OdeSpace = 'sigma' | 'flow';

/** 'flow' for the flow-matching schedule, 'sigma' for VP schedules. */
export function defaultOdeSpace(schedule: NoiseSchedule): OdeSpace {
  return schedule.type === 'flow-matching' ? 'flow' : 'sigma';
}

/** `(scale, tau)` with `z = scale * x`. */
export function odeCoordinates(alpha: number, sigma: number, space: OdeSpace): { scale: number; tau: number } {
  if (space === 'sigma') {
    if (!(alpha > 0)) throw new ConfigError('odeSpace', space, "'flow' where alpha = 0 (flow matching at t = 1)", "use odeSpace: 'flow'");
    return { scale: 1 / alpha, tau: sigma / alpha };
  }
  return { scale: 1 / (alpha + sigma), tau: sigma / (alpha + sigma) };
}

/** `dz/dtau` from the denoiser's `(x0, eps)`. */
export function odeDerivative(x0: tf.Tensor, eps: tf.Tensor, space: OdeSpace): tf.Tensor {
  return space === 'sigma' ? tf.clone(eps) : tf.sub(eps, x0);
}
