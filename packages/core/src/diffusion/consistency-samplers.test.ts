import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { expectNoLeak, expectTensorsClose } from '@fewstep/testing';
import { ConfigError } from '../errors.js';
import { lcmBoundaryCondition } from './consistency-boundary.js';
import { consistencySampler } from './consistency-sampler.js';
import type { Denoiser } from './denoiser.js';
import { flowMatchingSchedule } from './flow-matching-schedule.js';
import type { NoiseSchedule } from './noise-schedule.js';
import { normalValues, seededRng } from './rng.js';
import { timeTravelSampler } from './time-travel-sampler.js';
import { vpDiscreteSchedule } from './vp-discrete-schedule.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

/** A mock student predicting x0 = g(t) * x (elementwise), recording the (t, x[0]) of each call. */
function mockStudent(schedule: NoiseSchedule, g: (t: number) => number) {
  const calls: { t: number; x0: number }[] = [];
  const denoiser: Denoiser = {
    schedule,
    predictionType: 'sample',
    predict: (x, t) => {
      const tv = t.dataSync()[0] as number;
      calls.push({ t: tv, x0: x.dataSync()[0] as number });
      return tf.mul(x, g(tv));
    },
  };
  return { denoiser, calls };
}

describe('LCM boundary condition (diffusers LCMScheduler.get_scalings_for_boundary_condition_discrete)', () => {
  it('c_skip = 0.25 / ((10 t)^2 + 0.25), c_out = 10 t / sqrt((10 t)^2 + 0.25); c_skip(0) = 1, c_out(0) = 0', () => {
    const b = lcmBoundaryCondition();
    expect(b.cSkip(0)).toBe(1);
    expect(b.cOut(0)).toBe(0);
    expect(b.cSkip(999)).toBeCloseTo(0.25 / (9990 ** 2 + 0.25), 15);
    expect(b.cOut(999)).toBeCloseTo(9990 / Math.sqrt(9990 ** 2 + 0.25), 12);
    expect(b.cSkip(0.05)).toBeCloseTo(0.5, 12); // (10 * 0.05)^2 = 0.25
    // Continuous schedules use 1000 t as the timestep: t = 0.5 is timestep 500.
    const c = lcmBoundaryCondition({ timestepScale: 1000 });
    expect(c.cSkip(0.5)).toBeCloseTo(b.cSkip(500), 15);
  });
});

describe('consistency multistep sampling (LCM)', () => {
  it('denoised = c_skip x + c_out x0_hat, re-noised with alpha_next denoised + sigma_next z; last denoised is the sample', () => {
    const schedule = vpDiscreteSchedule();
    const g = (t: number) => 0.5 + t / 4000;
    const { denoiser, calls } = mockStudent(schedule, g);
    const xT = tf.tensor2d([[1.5, -0.25]]);
    const out = consistencySampler({ steps: 4 }).sample(denoiser, xT, { rng: seededRng(5), returnTrajectory: true });
    expect(calls.map((c) => c.t)).toEqual([999, 759, 499, 259]);
    expect(out.nfe).toBe(4);
    // Replay by hand with the same noise stream.
    const b = lcmBoundaryCondition();
    const rng = seededRng(5);
    let x = [1.5, -0.25];
    const ts = [999, 759, 499, 259];
    ts.forEach((t, i) => {
      const denoised = x.map((v) => b.cSkip(t) * v + b.cOut(t) * g(t) * v);
      if (i === 3) x = denoised;
      else {
        const z = normalValues(2, rng);
        const tn = ts[i + 1]!;
        x = denoised.map((v, j) => schedule.alpha(tn) * v + schedule.sigma(tn) * (z[j] as number));
      }
    });
    expectTensorsClose(out.sample, x, { rtol: 1e-5, what: 'LCM replay' });
    expect(out.trajectory).toHaveLength(5);
    tf.dispose([...out.trajectory!, out.sample, xT]);
  });

  it('one step is a single deterministic evaluation; multistep without an rng is a ConfigError; no leaks', async () => {
    const schedule = flowMatchingSchedule();
    const { denoiser } = mockStudent(schedule, () => 0.3);
    const xT = tf.ones([2, 3]);
    const one = consistencySampler({ steps: 1 }).sample(denoiser, xT);
    // t = 1 -> timestep 1000: c_skip ~ 2.5e-9, c_out ~ 1
    expectTensorsClose(one.sample, new Array(6).fill(0.3), { rtol: 1e-6 });
    one.sample.dispose();
    expect(() => consistencySampler({ steps: 2 }).sample(denoiser, xT)).toThrow(ConfigError);
    await expectNoLeak(() => consistencySampler({ steps: 3 }).sample(denoiser, xT, { rng: seededRng(1) }));
    xT.dispose();
  });
});

describe("OSV's Time-Travel Sampler (Eq. 11)", () => {
  it('k = 1: y = f(x_T, t^2_1), x_hat = f(y, T) with the LCM boundary; 2 NFE', () => {
    const schedule = vpDiscreteSchedule();
    const g = (t: number) => 0.9 - t / 2000;
    const { denoiser, calls } = mockStudent(schedule, g);
    const xT = tf.tensor2d([[2, -1]]);
    const sampler = timeTravelSampler({ steps: 1 });
    expect(sampler.nfe(schedule)).toBe(2);
    const out = sampler.sample(denoiser, xT);
    // trailing grids: t^1 = {999}, t^2 = {999, 499}: travel time 499
    expect(calls.map((c) => c.t)).toEqual([499, 999]);
    const b = lcmBoundaryCondition();
    const f = (v: number, t: number) => b.cSkip(t) * v + b.cOut(t) * g(t) * v;
    const want = [2, -1].map((v) => f(f(v, 499), 999));
    expectTensorsClose(out.sample, want, { rtol: 1e-5 });
    expect(out.nfe).toBe(2);
    tf.dispose([out.sample, xT]);
  });

  it('k = 2 on flow matching: travel times 2/3 and 1/3 interleave 1 and 1/2; re-noising between steps', () => {
    const schedule = flowMatchingSchedule();
    const g = (t: number) => 1 - t / 2;
    const { denoiser, calls } = mockStudent(schedule, g);
    const xT = tf.tensor2d([[0.7]]);
    const out = timeTravelSampler({ steps: 2 }).sample(denoiser, xT, { rng: seededRng(3) });
    expectTensorsClose(calls.map((c) => c.t), [2 / 3, 1, 1 / 3, 0.5], { rtol: 1e-7, what: 'evaluation times (float32)' });
    expect(out.nfe).toBe(4);
    const b = lcmBoundaryCondition({ timestepScale: 1000 });
    const f = (v: number, t: number) => b.cSkip(t) * v + b.cOut(t) * g(t) * v;
    const z = normalValues(1, seededRng(3))[0] as number;
    const x1 = f(f(0.7, 2 / 3), 1);
    const x2 = 0.5 * x1 + 0.5 * z; // alpha(0.5) = sigma(0.5) = 0.5
    expectTensorsClose(out.sample, [f(f(x2, 1 / 3), 0.5)], { rtol: 1e-5 });
    tf.dispose([out.sample, xT]);
  });

  it('rejects grids that do not interleave (t^{k+1}_i must lie in (t^k_{i-1}, t^k_i))', () => {
    const schedule = vpDiscreteSchedule();
    const { denoiser } = mockStudent(schedule, () => 1);
    const bad = timeTravelSampler({ steps: 2, timesteps: { coarse: [999, 499], fine: [999, 400, 300] } });
    const xT = tf.ones([1, 1]);
    expect(() => bad.sample(denoiser, xT, { rng: seededRng(1) })).toThrow(/interleaved grids/);
    xT.dispose();
  });
});
