import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { expectTensorsClose } from '@fewstep/testing';
import { ConfigError } from '../errors.js';
import { ACCVIDEO_KEY_TIMESTEPS, ACCVIDEO_UNIFORM_TIMESTEPS, accVideoSegmentSampler } from './accvideo-timesteps.js';
import { backwardSimulate, kStepTimesteps, sampleBackwardSimulationStep } from './backward-simulation.js';
import type { Denoiser } from './denoiser.js';
import { flowMatchingSchedule } from './flow-matching-schedule.js';
import { normalValues, seededRng } from './rng.js';
import { cubicTimesteps, discreteListTimesteps, logitNormalTimesteps, uniformTimesteps } from './timestep-samplers.js';
import { vpDiscreteSchedule } from './vp-discrete-schedule.js';

/** Kolmogorov-Smirnov statistic of samples against a CDF. */
function ks(samples: number[], cdf: (x: number) => number): number {
  const xs = [...samples].sort((a, b) => a - b);
  let d = 0;
  xs.forEach((x, i) => {
    const F = cdf(x);
    d = Math.max(d, Math.abs(F - i / xs.length), Math.abs(F - (i + 1) / xs.length));
  });
  return d;
}
const N = 4000;
const KS_CRIT = 1.63 / Math.sqrt(N); // 1% level

describe('timestep samplers (seeded, replayable)', () => {
  it('uniform: continuous U[a, b) and discrete {a..b}, KS against the uniform CDF', () => {
    const u = uniformTimesteps({ min: 200, max: 980 }).sample(N, seededRng(1));
    expect(ks(u, (x) => (x - 200) / 780)).toBeLessThan(KS_CRIT);
    const d = uniformTimesteps({ min: 0, max: 499, discrete: true }).sample(N, seededRng(2));
    expect(d.every((t) => Number.isInteger(t) && t >= 0 && t <= 499)).toBe(true);
    expect(new Set(d).size).toBeGreaterThan(450);
    expect(uniformTimesteps({ min: 0, max: 1 }).sample(5, seededRng(3))).toEqual(uniformTimesteps({ min: 0, max: 1 }).sample(5, seededRng(3)));
    expect(() => uniformTimesteps({ min: 0.5, max: 10, discrete: true })).toThrow(ConfigError);
    // an integer seed is a fresh stream per call
    expect(uniformTimesteps({ min: 0, max: 1 }).sample(5, 3)).toEqual(uniformTimesteps({ min: 0, max: 1 }).sample(5, seededRng(3)));
  });

  it('cubic t = (1 - u^3) T has CDF P(t <= x) = 1 - (1 - x/T)^(1/3) (DMDX ADP)', () => {
    const c = cubicTimesteps({ tMax: 1000 }).sample(N, seededRng(4));
    expect(ks(c, (x) => 1 - Math.cbrt(1 - x / 1000))).toBeLessThan(KS_CRIT);
    const d = cubicTimesteps({ tMax: 999, discrete: true }).sample(N, seededRng(4));
    expect(d.every((t) => Number.isInteger(t) && t >= 0 && t <= 999)).toBe(true);
  });

  it('logit-normal: P(t <= sigmoid(m + s z)) = Phi(z); median sigmoid(m)', () => {
    const m = 0.5;
    const s = 0.8;
    const l = logitNormalTimesteps({ mean: m, std: s }).sample(N, seededRng(5));
    const erf = (x: number) => {
      // Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7)
      const t = 1 / (1 + 0.3275911 * Math.abs(x));
      const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
      return x >= 0 ? y : -y;
    };
    const cdf = (x: number) => 0.5 * (1 + erf((Math.log(x / (1 - x)) - m) / s / Math.SQRT2));
    expect(ks(l, cdf)).toBeLessThan(KS_CRIT);
  });

  it("AccVideo's key and uniform lists; segment sampler draws t'_{k+1} for k in 0..4 uniformly", () => {
    expect(ACCVIDEO_KEY_TIMESTEPS).toEqual([1.0, 0.9651, 0.913, 0.8235, 0.6363, 0]);
    expect(ACCVIDEO_UNIFORM_TIMESTEPS).toEqual([1.0, 0.8109, 0.6057, 0.3783, 0.2258, 0]);
    const seg = accVideoSegmentSampler();
    expect(seg.values).toEqual([1.0, 0.9651, 0.913, 0.8235, 0.6363]);
    const counts = new Map<number, number>();
    seg.sample(N, seededRng(6)).forEach((t) => counts.set(t, (counts.get(t) ?? 0) + 1));
    expect([...counts.keys()].sort()).toEqual([0.6363, 0.8235, 0.913, 0.9651, 1]);
    for (const c of counts.values()) expect(Math.abs(c / N - 0.2)).toBeLessThan(0.03);
    expect(() => discreteListTimesteps([])).toThrow(ConfigError);
  });
});

describe('backward simulation for k-step generators', () => {
  it('k-step timesteps: 999, 749, 499, 249 (DMD2, trailing) and 1, 0.75, 0.5, 0.25 (flow, uniform)', () => {
    expect(kStepTimesteps(vpDiscreteSchedule(), 4)).toEqual([999, 749, 499, 249]);
    expect(kStepTimesteps(flowMatchingSchedule(), 4)).toEqual([1, 0.75, 0.5, 0.25]);
    const draws = Array.from({ length: 1000 }, () => sampleBackwardSimulationStep(4, seededRng(1)));
    expect(draws.every((n) => n === draws[0])).toBe(true); // same seed, same draw
    const rng = seededRng(2);
    const hist = [0, 0, 0, 0];
    for (let i = 0; i < N; i++) hist[sampleBackwardSimulationStep(4, rng)]! += 1;
    hist.forEach((h) => expect(Math.abs(h / N - 0.25)).toBeLessThan(0.03));
  });

  it('runs the generator n steps with fresh noise: x_{t_{i+1}} = alpha G(x_{t_i}) + sigma z', async () => {
    await tf.setBackend('wasm');
    const schedule = flowMatchingSchedule();
    const seen: number[] = [];
    const generator: Denoiser = {
      schedule,
      predictionType: 'sample',
      predict: (x, t) => {
        seen.push(t.dataSync()[0] as number);
        return tf.mul(x, 0.5);
      },
    };
    const xT = tf.tensor2d([[1, -2]]);
    const { xt, t } = backwardSimulate(generator, xT, { timesteps: [1, 0.75, 0.5, 0.25], steps: 2, rng: seededRng(8) });
    expect(t).toBe(0.5);
    expect(seen).toEqual([1, 0.75]);
    const rng = seededRng(8);
    const z1 = normalValues(2, rng);
    const x1 = [0.25 * 0.5 * 1 + 0.75 * z1[0]!, 0.25 * 0.5 * -2 + 0.75 * z1[1]!];
    const z2 = normalValues(2, rng);
    const x2 = x1.map((v, i) => 0.5 * 0.5 * v + 0.5 * z2[i]!);
    expectTensorsClose(xt, x2, { rtol: 1e-5 });
    const zero = backwardSimulate(generator, xT, { timesteps: [1, 0.5], steps: 0, rng: seededRng(1) });
    expectTensorsClose(zero.xt, xT, { rtol: 0 });
    expect(() => backwardSimulate(generator, xT, { timesteps: [1, 0.5], steps: 2, rng: seededRng(1) })).toThrow(ConfigError);
    tf.dispose([xt, zero.xt, xT]);
  });
});
