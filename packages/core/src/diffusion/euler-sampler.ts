/**
 * @file Euler solver of the probability-flow ODE in 'sigma' space (diffusers EulerDiscreteScheduler:
 * `x_next = x + (sigma_next - sigma) * (x - x0)/sigma` on `x/alpha`) or 'flow' space (diffusers
 * FlowMatchEulerDiscreteScheduler: `x_next = x + (t_next - t) * (eps - x0)`); see `ode-space.ts`.
 * Mathematically one Euler step equals one DDIM eta = 0 step on the same grid.
 *
 * Initial state: like every sampler here, `xT` is the latent in `x_t` space (pass unit noise).
 * diffusers' EulerDiscreteScheduler starts from `noise * init_noise_sigma` in `x / alpha` space,
 * i.e. `x_t = noise` for 'leading' spacing but `x_t = sigma_T * noise` (sigma_T = 0.9977 for
 * scaled_linear) for 'linspace'/'trailing'; scale `xT` by `sigma_T` to reproduce the latter exactly.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Denoiser } from './denoiser.js';
import type { NoiseSchedule } from './noise-schedule.js';
import { defaultOdeSpace, odeCoordinates, odeDerivative, type OdeSpace } from './ode-space.js';
import { advance, SamplerRun, type SampleOptions, type SampleResult, type Sampler } from './sampler.js';
import { samplingGrid, type SamplingGridOptions } from './timestep-spacing.js';

export interface EulerSamplerOptions extends SamplingGridOptions {
  /** @default 'flow' for flow matching, 'sigma' for VP */
  odeSpace?: OdeSpace;
}

/** Discrete defaults follow EulerDiscreteScheduler: 'linspace' spacing with fractional timesteps ('euler' style). */
function gridOptions(options: SamplingGridOptions, schedule: NoiseSchedule): SamplingGridOptions {
  if (schedule.time.kind !== 'discrete') return options;
  return { ...options, spacing: options.spacing ?? 'linspace', style: options.style ?? 'euler' };
}

export function eulerSampler(options: EulerSamplerOptions): Sampler {
  const grid = (schedule: NoiseSchedule) => samplingGrid(schedule, gridOptions(options, schedule));
  return {
    name: 'diffusion:euler',
    grid,
    nfe: (schedule) => grid(schedule).timesteps.length,
    sample<C>(denoiser: Denoiser<C>, xT: tf.Tensor, sampleOptions: SampleOptions<C> = {}): SampleResult {
      const space = options.odeSpace ?? defaultOdeSpace(denoiser.schedule);
      const g = grid(denoiser.schedule);
      const run = new SamplerRun(denoiser, sampleOptions);
      let x = xT;
      g.timesteps.forEach((t, i) => {
        run.record(x, t);
        const c0 = odeCoordinates(g.alphas[i] as number, g.sigmas[i] as number, space);
        const c1 = odeCoordinates(g.alphas[i + 1] as number, g.sigmas[i + 1] as number, space);
        x = advance(x, xT, () => {
          const { x0, eps } = run.x0Eps(x, t);
          const d = odeDerivative(x0, eps, space);
          return tf.add(tf.mul(x, c0.scale / c1.scale), tf.mul(d, (c1.tau - c0.tau) / c1.scale));
        });
      });
      run.record(x, g.tEnd);
      return run.result(x === xT ? tf.clone(x) : x);
    },
  };
}

/** Euler on the flow-matching ODE (`'flow'` space, 'uniform' grid by default). */
export function eulerFlowSampler(options: SamplingGridOptions): Sampler {
  return { ...eulerSampler({ ...options, odeSpace: 'flow' }), name: 'diffusion:euler-flow' };
}

/** diffusers EulerDiscreteScheduler: 'sigma' space, 'linspace' fractional timesteps by default. */
export function eulerDiscreteSampler(options: SamplingGridOptions): Sampler {
  return { ...eulerSampler({ ...options, odeSpace: 'sigma' }), name: 'diffusion:euler-discrete' };
}
