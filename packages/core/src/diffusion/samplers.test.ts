import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { expectNoLeak, expectTensorsClose } from '@fewstep/testing';
import { ConfigError } from '../errors.js';
import { ddimSampler } from './ddim-sampler.js';
import type { Denoiser } from './denoiser.js';
import { guidedDenoiser } from './denoiser.js';
import { dpmSolverPp2mSampler } from './dpm-solver-pp-2m-sampler.js';
import { eulerDiscreteSampler, eulerFlowSampler, eulerSampler } from './euler-sampler.js';
import { flowMatchingSchedule } from './flow-matching-schedule.js';
import { GaussianMixture } from './gaussian-mixture/gaussian-mixture.js';
import { mixtureDenoiser } from './gaussian-mixture/mixture-denoiser.js';
import { heunSampler } from './heun-sampler.js';
import type { NoiseSchedule } from './noise-schedule.js';
import { randomNormal, seededRng } from './rng.js';
import type { Sampler } from './sampler.js';
import { vpContinuousSchedule } from './vp-continuous-schedule.js';
import { vpDiscreteSchedule } from './vp-discrete-schedule.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

// A single Gaussian x0 ~ N(mu, s^2 I): the marginal at t is N(alpha mu, v_t I), v_t = alpha^2 s^2 + sigma^2,
// and the probability-flow ODE is the affine map x_t' = alpha' mu + sqrt(v_t'/v_t) (x_t - alpha mu).
// Its continuous limit down to sigma = 0 is x0 = mu + s (x_T - alpha_T mu) / sqrt(v_T).
const D = 8;
const s0 = 0.5;
const mu = Float32Array.from({ length: D }, (_, i) => Math.sin(1.7 * i + 0.3));
const gaussian = new GaussianMixture({ means: mu, weights: [1], std: s0, shape: [D] });

/** Exact ODE from the first grid time to the last one, then the exact posterior mean (what every
 * solver's final step to sigma = 0 computes): the truth the solvers converge to at a fixed last time. */
function exactAtGrid(sampler: Sampler, schedule: NoiseSchedule, xT: tf.Tensor): tf.Tensor {
  const g = sampler.grid(schedule);
  const n = g.timesteps.length;
  const [aT, sT, aL, sL] = [g.alphas[0]!, g.sigmas[0]!, g.alphas[n - 1]!, g.sigmas[n - 1]!];
  const vT = aT * aT * s0 * s0 + sT * sT;
  const vL = aL * aL * s0 * s0 + sL * sL;
  return tf.tidy(() => {
    const m = tf.tensor1d(mu);
    const xL = tf.add(tf.mul(aL, m), tf.mul(Math.sqrt(vL / vT), tf.sub(xT, tf.mul(aT, m))));
    return tf.add(m, tf.mul((aL * s0 * s0) / vL, tf.sub(xL, tf.mul(aL, m))));
  });
}

/** The continuous-limit transport map of the brief: mu + s (x_T - alpha_T mu) / sqrt(alpha_T^2 s^2 + sigma_T^2). */
function exactContinuousLimit(aT: number, sT: number, xT: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const m = tf.tensor1d(mu);
    return tf.add(m, tf.mul(s0 / Math.sqrt(aT * aT * s0 * s0 + sT * sT), tf.sub(xT, tf.mul(aT, m))));
  });
}

function maxAbs(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

const cases: [string, NoiseSchedule, 'epsilon' | 'flow' | 'v_prediction' | 'sample'][] = [
  ['flow matching (flow prediction)', flowMatchingSchedule(), 'flow'],
  ['vp discrete scaled_linear (eps prediction)', vpDiscreteSchedule(), 'epsilon'],
  ['vp continuous (v prediction)', vpContinuousSchedule(), 'v_prediction'],
];
const solvers: [string, (n: number) => Sampler][] = [
  ['ddim', (n) => ddimSampler({ steps: n })],
  ['euler', (n) => eulerSampler({ steps: n })],
  ['heun', (n) => heunSampler({ steps: n })],
  ['dpm++2m', (n) => dpmSolverPp2mSampler({ steps: n })],
];

describe('PF-ODE solvers on a single Gaussian converge to the exact transport map', () => {
  for (const [label, schedule, predictionType] of cases) {
    it(`${label}: DDIM/Euler first order, Heun second order, DPM-Solver++(2M) beats DDIM at equal NFE`, () => {
      const den = mixtureDenoiser(gaussian, schedule, predictionType);
      const xT = randomNormal([32, D], seededRng(3));
      const errors: Record<string, number[]> = {};
      const grid = (name: string, n: number) =>
        name === 'ddim' && schedule.time.kind === 'discrete' ? ddimSampler({ steps: n, spacing: 'linspace' }) : (solvers.find(([k]) => k === name)![1])(n);
      for (const [name] of solvers) {
        errors[name] = [10, 25, 100].map((n) => {
          const sampler = grid(name, n);
          const out = sampler.sample(den, xT);
          const want = exactAtGrid(sampler, schedule, xT);
          const err = maxAbs(out.sample, want);
          tf.dispose([out.sample, want]);
          return err;
        });
      }
      for (const name of ['ddim', 'euler', 'heun']) {
        const [e10, e25, e100] = errors[name]!;
        expect(e25, `${name} ${errors[name]}`).toBeLessThan(e10!);
        expect(e100, `${name} ${errors[name]}`).toBeLessThan(e25!);
      }
      // Orders: first order shrinks ~4x from 25 to 100 steps, second order ~16x.
      expect(errors.ddim![1]! / errors.ddim![2]!).toBeGreaterThan(2.5);
      expect(errors.heun![1]! / errors.heun![2]!).toBeGreaterThan(8);
      expect(errors.ddim![2]).toBeLessThan(0.06);
      expect(errors.heun![2]).toBeLessThan(3e-3);
      expect(errors['dpm++2m']![2]).toBeLessThan(errors['dpm++2m']![0]!);
      expect(errors['dpm++2m']![2]).toBeLessThan(errors.ddim![2]! / 3);
      expect(errors['dpm++2m']![0]).toBeLessThan(errors.ddim![0]! / 3);
      xT.dispose();
      den.dispose();
    });
  }

  it('flow matching: DDIM and Heun approach the continuous-limit map mu + s (x_T - alpha_T mu) / sqrt(v_T)', () => {
    const schedule = flowMatchingSchedule();
    const den = mixtureDenoiser(gaussian, schedule, 'flow');
    const xT = randomNormal([32, D], seededRng(4));
    const want = exactContinuousLimit(schedule.alpha(1), schedule.sigma(1), xT);
    for (const make of [(n: number) => ddimSampler({ steps: n }), (n: number) => heunSampler({ steps: n })]) {
      const errs = [10, 100].map((n) => {
        const out = make(n).sample(den, xT);
        const e = maxAbs(out.sample, want);
        out.sample.dispose();
        return e;
      });
      expect(errs[1]).toBeLessThan(errs[0]! / 4);
      expect(errs[1]).toBeLessThan(0.03);
    }
    tf.dispose([xT, want]);
    den.dispose();
  });
});

describe('solver identities and bookkeeping', () => {
  it('one Euler step equals one DDIM (eta 0) step on the same grid, in sigma and flow space', () => {
    for (const [schedule, type] of [
      [vpDiscreteSchedule(), 'epsilon'],
      [flowMatchingSchedule({ shift: 3 }), 'flow'],
    ] as const) {
      const den = mixtureDenoiser(gaussian, schedule, type);
      const xT = randomNormal([4, D], seededRng(9));
      const opts = schedule.time.kind === 'discrete' ? { steps: 7, spacing: 'trailing' as const } : { steps: 7 };
      const a = ddimSampler(opts).sample(den, xT).sample;
      for (const euler of [eulerSampler(opts), schedule.time.kind === 'discrete' ? eulerDiscreteSampler(opts) : eulerFlowSampler(opts)]) {
        const b = euler.sample(den, xT).sample;
        expectTensorsClose(b, a, { rtol: 1e-4, atol: 1e-5, what: `${euler.name} vs ddim on ${schedule.type}` });
        b.dispose();
      }
      tf.dispose([a, xT]);
      den.dispose();
    }
  });

  it('NFE: DDIM/Euler/DPM n, Heun 2n - 1 to a clean end; CFG doubles network evaluations, not NFE', () => {
    const schedule = vpDiscreteSchedule();
    expect(ddimSampler({ steps: 5 }).nfe(schedule)).toBe(5);
    expect(heunSampler({ steps: 5 }).nfe(schedule)).toBe(9);
    expect(heunSampler({ steps: 5, setAlphaToOne: false }).nfe(schedule)).toBe(10);
    expect(dpmSolverPp2mSampler({ steps: 5 }).nfe(schedule)).toBe(5);
    const calls: number[] = [];
    const base: Denoiser = {
      schedule,
      predictionType: 'epsilon',
      predict: (x, t) => {
        calls.push(t.dataSync()[0] as number);
        return tf.zerosLike(x);
      },
    };
    const guided = guidedDenoiser(base, { scale: 7.5 });
    const out = heunSampler({ steps: 5 }).sample(guided, tf.ones([2, 3]));
    expect(out.nfe).toBe(9);
    expect(out.networkEvaluations).toBe(18);
    expect(calls).toHaveLength(18);
    // Euler-style linspace grid of diffusers' HeunDiscreteScheduler: 999, 749.25, 499.5, 249.75, 0
    expect(out.times).toEqual([999, 749.25, 499.5, 249.75, 0, -1]);
    out.sample.dispose();
  });

  it('returns the trajectory x_{t_n}, ..., x_{t_0} (n + 1 latents, starting with a copy of x_T) and leaks nothing', async () => {
    const schedule = flowMatchingSchedule();
    const den = mixtureDenoiser(gaussian, schedule, 'flow');
    const xT = randomNormal([3, D], seededRng(5));
    const out = eulerFlowSampler({ steps: 4 }).sample(den, xT, { returnTrajectory: true });
    expect(out.times).toEqual([1, 0.75, 0.5, 0.25, 0]);
    expect(out.trajectory).toHaveLength(5);
    expectTensorsClose(out.trajectory![0]!, xT, { rtol: 0 });
    expectTensorsClose(out.trajectory![4]!, out.sample, { rtol: 0 });
    tf.dispose([...out.trajectory!, out.sample]);
    for (const sampler of [
      ddimSampler({ steps: 4 }),
      ddimSampler({ steps: 4, eta: 1 }),
      heunSampler({ steps: 4 }),
      dpmSolverPp2mSampler({ steps: 4 }),
      eulerFlowSampler({ steps: 4 }),
    ]) {
      await expectNoLeak(() => sampler.sample(den, xT, { rng: seededRng(1) }), sampler.name);
    }
    tf.dispose(xT);
    den.dispose();
  });

  it('DDIM eta > 0 keeps the marginals q(x_t | x0) exactly at every step (point-mass data), replayable from the seed', () => {
    // With (almost) point-mass data x0 = mu, the denoiser's x0 is mu, and DDIM's posterior q_sigma(x_prev | x_t, x0)
    // with any eta maps N(alpha_t mu, sigma_t^2) to N(alpha_prev mu, sigma_prev^2) (Song et al. 2021, Lemma 1).
    const schedule = vpDiscreteSchedule({ betaSchedule: 'linear' });
    const point = new GaussianMixture({ means: new Float32Array([0.8]), weights: [1], std: 1e-4, shape: [1] });
    const den = mixtureDenoiser(point, schedule, 'epsilon');
    const N = 3000;
    const xT = tf.tidy(() => tf.add(tf.mul(randomNormal([N, 1], seededRng(2)), schedule.sigma(999)), 0.8 * schedule.alpha(999)));
    for (const eta of [1, 0.5]) {
      const sampler = ddimSampler({ steps: 10, eta, spacing: 'trailing' });
      const out = sampler.sample(den, xT, { rng: seededRng(77), returnTrajectory: true });
      for (const i of [3, 6, 9]) {
        const t = out.times[i]!;
        const v = Array.from(out.trajectory![i]!.dataSync());
        const mean = v.reduce((x, y) => x + y, 0) / N;
        const std = Math.sqrt(v.reduce((x, y) => x + (y - mean) ** 2, 0) / (N - 1));
        // 4 standard errors: sigma / sqrt(N) for the mean, sigma / sqrt(2N) for the std
        expect(Math.abs(mean - 0.8 * schedule.alpha(t)), `eta ${eta} t ${t} mean`).toBeLessThan((4 * schedule.sigma(t)) / Math.sqrt(N));
        expect(Math.abs(std / schedule.sigma(t) - 1), `eta ${eta} t ${t} std ${std}`).toBeLessThan(4 / Math.sqrt(2 * N));
      }
      const again = sampler.sample(den, xT, { rng: seededRng(77) }).sample;
      const other = sampler.sample(den, xT, { rng: seededRng(78) }).sample;
      expectTensorsClose(again, out.sample, { rtol: 0, what: 'same seed, same samples' });
      tf.dispose([...out.trajectory!, out.sample, again, other]);
    }
    // DDIM with eta = 0 on the same data is deterministic: every path lands on mu.
    const det = ddimSampler({ steps: 10, spacing: 'trailing' }).sample(den, xT).sample;
    tf.tidy(() => expectTensorsClose(det, tf.fill([N, 1], 0.8), { atol: 1e-3, what: 'eta 0' }));
    expect(() => ddimSampler({ steps: 3, eta: 0.5 }).sample(den, xT)).toThrow(/pass options.rng/);
    expect(() => ddimSampler({ steps: 3, eta: 2 })).toThrow(ConfigError);
    tf.dispose([det, xT]);
    den.dispose();
  });
});
