/**
 * @file DPM-Solver++(2M) (Lu et al. 2022b, Algorithm 2; diffusers DPMSolverMultistepScheduler with
 * `algorithm_type="dpmsolver++"`, `solver_order=2`, `solver_type="midpoint"`), for any schedule.
 *
 * With `lambda = log(alpha / sigma)`, `h = lambda_next - lambda_i`, `D0 = x0_i`:
 * - first order (the first step, and the last step when `lowerOrderFinal`):
 *   `x_next = (sigma_next / sigma_i) x_i - alpha_next (exp(-h) - 1) D0`;
 * - second order: `r = h_prev / h`, `D1 = (x0_i - x0_{i-1}) / r`,
 *   `x_next = (sigma_next / sigma_i) x_i - alpha_next (exp(-h) - 1) (D0 + D1 / 2)`.
 * `lowerOrderFinal` follows diffusers: the last step is first order when the grid ends at
 * sigma = 0 (`final_sigmas_type="zero"`, the default there) or has fewer than 15 steps.
 * A step from alpha = 0 (flow matching t = 1) has h = +inf and reduces to DDIM.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Denoiser } from './denoiser.js';
import type { NoiseSchedule } from './noise-schedule.js';
import { advance, SamplerRun, type SampleOptions, type SampleResult, type Sampler } from './sampler.js';
import { samplingGrid, type SamplingGridOptions } from './timestep-spacing.js';

export interface DpmSolverPp2mOptions extends SamplingGridOptions {
  /** @default true */
  lowerOrderFinal?: boolean;
}

export function dpmSolverPp2mSampler(options: DpmSolverPp2mOptions): Sampler {
  const grid = (schedule: NoiseSchedule) =>
    samplingGrid(
      schedule,
      schedule.time.kind === 'discrete' ? { ...options, spacing: options.spacing ?? 'linspace', style: options.style ?? 'dpmsolver' } : options,
    );
  const lowerOrderFinal = options.lowerOrderFinal ?? true;
  return {
    name: 'diffusion:dpm-solver++-2m',
    grid,
    nfe: (schedule) => grid(schedule).timesteps.length,
    sample<C>(denoiser: Denoiser<C>, xT: tf.Tensor, sampleOptions: SampleOptions<C> = {}): SampleResult {
      const g = grid(denoiser.schedule);
      const n = g.timesteps.length;
      const lambda = g.alphas.map((a, i) => Math.log(a) - Math.log(g.sigmas[i] as number));
      const run = new SamplerRun(denoiser, sampleOptions);
      let x = xT;
      let prevX0: tf.Tensor | undefined;
      g.timesteps.forEach((t, i) => {
        run.record(x, t);
        const h = (lambda[i + 1] as number) - (lambda[i] as number);
        const hPrev = i > 0 ? (lambda[i] as number) - (lambda[i - 1] as number) : NaN;
        const sN = g.sigmas[i + 1] as number;
        const aN = g.alphas[i + 1] as number;
        const s = g.sigmas[i] as number;
        // -alpha_next (exp(-h) - 1) = -alpha_next expm1(-h); h = +inf at a clean end gives alpha_next.
        const cD = -aN * Math.expm1(-h);
        const cX = sN === 0 ? 0 : sN / s;
        const last = i === n - 1;
        const firstOrder = i === 0 || !Number.isFinite(hPrev) || !Number.isFinite(h) || (last && lowerOrderFinal && (sN === 0 || n < 15));
        let x0Kept: tf.Tensor | undefined;
        x = advance(x, xT, () => {
          const { x0 } = run.x0Eps(x, t);
          x0Kept = tf.keep(x0);
          const D = firstOrder || prevX0 === undefined ? x0 : tf.add(x0, tf.mul(tf.sub(x0, prevX0), (0.5 * h) / hPrev));
          return tf.add(tf.mul(x, cX), tf.mul(D, cD));
        });
        prevX0?.dispose();
        prevX0 = x0Kept;
      });
      prevX0?.dispose();
      run.record(x, g.tEnd);
      return run.result(x === xT ? tf.clone(x) : x);
    },
  };
}
