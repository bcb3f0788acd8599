/**
 * @file Heun's second-order solver (Karras et al. 2022, Algorithm 1 without churn; diffusers
 * HeunDiscreteScheduler / FlowMatchHeunDiscreteScheduler): an Euler predictor to the next time,
 * then the average of both slopes. The last step to a clean end point (sigma = 0) is plain Euler,
 * so NFE = 2n - 1 (2n when the grid ends at sigma > 0).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Denoiser } from './denoiser.js';
import type { NoiseSchedule } from './noise-schedule.js';
import { defaultOdeSpace, odeCoordinates, odeDerivative, type OdeSpace } from './ode-space.js';
import { advance, SamplerRun, type SampleOptions, type SampleResult, type Sampler } from './sampler.js';
import { samplingGrid, type SamplingGridOptions } from './timestep-spacing.js';

export interface HeunSamplerOptions extends SamplingGridOptions {
  /** @default 'flow' for flow matching, 'sigma' for VP */
  odeSpace?: OdeSpace;
}

export function heunSampler(options: HeunSamplerOptions): Sampler {
  const grid = (schedule: NoiseSchedule) =>
    samplingGrid(schedule, schedule.time.kind === 'discrete' ? { ...options, spacing: options.spacing ?? 'linspace', style: options.style ?? 'euler' } : options);
  return {
    name: 'diffusion:heun',
    grid,
    nfe: (schedule) => {
      const g = grid(schedule);
      return 2 * g.timesteps.length - (g.sigmas[g.timesteps.length] === 0 ? 1 : 0);
    },
    sample<C>(denoiser: Denoiser<C>, xT: tf.Tensor, sampleOptions: SampleOptions<C> = {}): SampleResult {
      const space = options.odeSpace ?? defaultOdeSpace(denoiser.schedule);
      const g = grid(denoiser.schedule);
      const run = new SamplerRun(denoiser, sampleOptions);
      let x = xT;
      g.timesteps.forEach((t, i) => {
        run.record(x, t);
        const c0 = odeCoordinates(g.alphas[i] as number, g.sigmas[i] as number, space);
        const c1 = odeCoordinates(g.alphas[i + 1] as number, g.sigmas[i + 1] as number, space);
        const ratio = c0.scale / c1.scale;
        const dtau = (c1.tau - c0.tau) / c1.scale;
        const last = i === g.timesteps.length - 1;
        const tNext = last ? g.tEnd : (g.timesteps[i + 1] as number);
        x = advance(x, xT, () => {
          const p = run.x0Eps(x, t);
          const d1 = odeDerivative(p.x0, p.eps, space);
          const euler = tf.add(tf.mul(x, ratio), tf.mul(d1, dtau));
          if (g.sigmas[i + 1] === 0) return euler;
          const q = run.x0Eps(euler, tNext);
          const d2 = odeDerivative(q.x0, q.eps, space);
          return tf.add(tf.mul(x, ratio), tf.mul(tf.add(d1, d2), dtau / 2));
        });
      });
      run.record(x, g.tEnd);
      return run.result(x === xT ? tf.clone(x) : x);
    },
  };
}
