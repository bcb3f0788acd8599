import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { expectNoLeak } from '@fewstep/testing';
import { ddimSampler } from '../ddim-sampler.js';
import { dpmSolverPp2mSampler } from '../dpm-solver-pp-2m-sampler.js';
import { eulerFlowSampler } from '../euler-sampler.js';
import { flowMatchingSchedule } from '../flow-matching-schedule.js';
import { randomNormal, seededRng } from '../rng.js';
import type { Sampler } from '../sampler.js';
import { vpDiscreteSchedule } from '../vp-discrete-schedule.js';
import { chiSquareQuantile, normalQuantile } from './chi-square.js';
import { GaussianMixture, gmmVideo } from './gaussian-mixture.js';
import { mixtureDenoiser } from './mixture-denoiser.js';
import { energyDistance, mixtureMetrics } from './mixture-metrics.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

const SMALL = 'gmm-video:modes=8,frames=2,size=4,channels=1,std=0.05,seed=3';

describe('quantiles', () => {
  it('normal quantile (Acklam) matches scipy.stats.norm.ppf to 1e-8', () => {
    // scipy 1.17: norm.ppf([0.001, 0.02, 0.5, 0.9, 0.999, 1 - 1e-9])
    const want = [-3.09023231, -2.05374891, 0, 1.28155157, 3.09023231, 5.99780702];
    [0.001, 0.02, 0.5, 0.9, 0.999, 1 - 1e-9].forEach((p, i) => expect(normalQuantile(p)).toBeCloseTo(want[i]!, 7));
  });

  it('Wilson-Hilferty chi-square quantile vs exact scipy.stats.chi2.ppf(0.999, D): within its documented error', () => {
    const exact: [number, number, number][] = [
      [1, 10.827566170662733, 0.031],
      [4, 18.46682695290317, 0.014],
      [32, 62.487219057088474, 0.0017],
      [100, 149.44925277903886, 0.0004],
      [1536, 1712.9925220872838, 1e-5],
    ];
    for (const [D, q, rel] of exact) expect(Math.abs(chiSquareQuantile(0.999, D) / q - 1)).toBeLessThan(rel);
  });
});

describe('mixture metrics', () => {
  it('exact samples: coverage 1, precision ~0.999, small TV, spread ratio ~1, energy distance ~0', async () => {
    const g = gmmVideo(SMALL);
    const { x0 } = g.sample(600, seededRng(1));
    const m = mixtureMetrics(g, x0);
    expect(m.n).toBe(600);
    expect(m.modeCoverage).toBe(1);
    expect(m.precision).toBeGreaterThan(0.99);
    expect(m.totalVariation).toBeLessThan(0.08); // sampling noise of a 600-sample histogram
    expect(Math.abs(m.spreadRatio - 1)).toBeLessThan(0.03);
    expect(Math.abs(m.energyDistance)).toBeLessThan(0.02);
    expect(m.modeCounts.reduce((a, b) => a + b, 0)).toBe(600);
    await expectNoLeak(() => {
      mixtureMetrics(g, x0);
    });
    x0.dispose();
  });

  it('collapsed, shrunk and displaced sets score as the definitions say', () => {
    const g = gmmVideo(SMALL);
    const N = 400;
    tf.tidy(() => {
      // every sample near mean 0 (std s): only mode 0 is covered; TV = 1 - w_0
      const mu0 = tf.tensor(g.mean(0), [1, ...g.shape]);
      const collapsed = tf.add(mu0, randomNormal([N, ...g.shape], seededRng(2), 0.05));
      const c = mixtureMetrics(g, collapsed);
      expect(c.modeCoverage).toBe(1 / 8);
      expect(c.totalVariation).toBeCloseTo(1 - g.weights[0]!, 10);
      expect(c.precision).toBeGreaterThan(0.99);
      // exact modes but half the spread: spread ratio 0.5, still precise
      const { x0, modes } = g.sample(N, seededRng(3));
      const means = tf.tensor(Array.from(modes).flatMap((k) => Array.from(g.mean(k))), [N, ...g.shape]);
      const shrunk = tf.add(tf.mul(tf.sub(x0, means), 0.5), means);
      const s = mixtureMetrics(g, shrunk);
      expect(s.spreadRatio).toBeCloseTo(0.5, 1);
      expect(s.modeCoverage).toBe(1);
      expect(s.precision).toBe(1);
      // pushed 10 std off every mode along a fixed direction: no sample is within the 99.9% radius
      const off = tf.add(x0, tf.mul(tf.onesLike(x0), (10 * 0.05) / Math.sqrt(g.D) * 3));
      expect(mixtureMetrics(g, off).precision).toBeLessThan(0.01);
      expect(mixtureMetrics(g, off).energyDistance).toBeGreaterThan(mixtureMetrics(g, x0).energyDistance + 0.1);
    });
  });

  it('energy distance of two point masses |a| apart is 2|a| (Szekely & Rizzo)', () => {
    tf.tidy(() => {
      expect(energyDistance(tf.zeros([50, 3]), tf.fill([40, 3], 1))).toBeCloseTo(2 * Math.sqrt(3), 3);
    });
  });
});

describe('samplers on the analytic teacher (50 steps: coverage and precision >= 0.95; energy distance falls with steps)', () => {
  const cases: [string, () => { schedule: ReturnType<typeof vpDiscreteSchedule> | ReturnType<typeof flowMatchingSchedule>; type: 'epsilon' | 'flow'; make: (n: number) => Sampler }][] = [
    ['DDIM on VP scaled_linear (trailing)', () => ({ schedule: vpDiscreteSchedule(), type: 'epsilon', make: (n) => ddimSampler({ steps: n, spacing: 'trailing' }) })],
    ['Euler on flow matching (shift 3)', () => ({ schedule: flowMatchingSchedule({ shift: 3 }), type: 'flow', make: (n) => eulerFlowSampler({ steps: n }) })],
    ['DPM-Solver++(2M) on VP scaled_linear', () => ({ schedule: vpDiscreteSchedule(), type: 'epsilon', make: (n) => dpmSolverPp2mSampler({ steps: n }) })],
  ];
  for (const [label, build] of cases) {
    it(label, () => {
      const g = gmmVideo(SMALL);
      const { schedule, type, make } = build();
      const den = mixtureDenoiser(g, schedule, type);
      const xT = randomNormal([400, ...g.shape], seededRng(2));
      const metrics = [2, 4, 50].map((n) => {
        const out = make(n).sample(den, xT);
        const m = mixtureMetrics(g, out.sample);
        out.sample.dispose();
        return m;
      });
      const [m2, m4, m50] = metrics as [ReturnType<typeof mixtureMetrics>, ReturnType<typeof mixtureMetrics>, ReturnType<typeof mixtureMetrics>];
      expect(m50.modeCoverage).toBeGreaterThanOrEqual(0.95);
      expect(m50.precision).toBeGreaterThanOrEqual(0.95);
      expect(m50.totalVariation).toBeLessThan(0.08);
      expect(m4.energyDistance).toBeLessThan(m2.energyDistance);
      expect(m50.energyDistance).toBeLessThan(m4.energyDistance);
      expect(m50.energyDistance).toBeLessThan(0.02);
      xT.dispose();
      den.dispose();
    });
  }

  it('mixture of explicit means accepts any sample shape', () => {
    const g = new GaussianMixture({ means: new Float32Array([0, 0, 1, 1]), weights: [1, 3], std: 0.1, shape: [2] });
    expect(g.weights[1]).toBeCloseTo(0.75, 12);
    tf.tidy(() => {
      expect(mixtureMetrics(g, g.sample(200, seededRng(1)).x0).modeCoverage).toBe(1);
    });
  });
});
