import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { expectNoLeak, expectTensorsClose } from '@fewstep/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ShapeError } from '../../errors.js';
import { predictRaw } from '../denoiser.js';
import { flowMatchingSchedule } from '../flow-matching-schedule.js';
import { randomNormal, seededRng } from '../rng.js';
import { vpDiscreteSchedule } from '../vp-discrete-schedule.js';
import { conditionalMixtureMetrics } from './conditional-mixture-metrics.js';
import {
  conditionalMixture,
  conditionalMixtureDenoiser,
  conditionLogWeights,
  conditionWeights,
  firstFrame,
  formatGmmI2vSpec,
  gmmI2v,
  parseGmmI2vSpec,
  sampleI2vPairs,
} from './conditional-mixture.js';
import { GaussianMixture, gmmVideo } from './gaussian-mixture.js';
import { mixtureDenoiser } from './mixture-denoiser.js';
import { mixtureMetrics } from './mixture-metrics.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const SPEC = 'gmm-i2v:modes=6,frames=3,size=4,channels=2,std=0.1,seed=3';
/** Frame size H W C of SPEC. */
const D0 = 32;
const flow = flowMatchingSchedule();

/** Frames 1.. of videos `[N, F, H, W, C]`. */
function rest(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.slice(x, [0, 1], [x.shape[0]!, x.shape[1]! - 1]));
}

describe('gmm-i2v spec and (condition, video) pairs', () => {
  it('parses and prints like gmm-video; the same means and weights; typed errors name gmm-i2v fields', () => {
    const s = parseGmmI2vSpec(SPEC);
    expect(formatGmmI2vSpec(s)).toBe(`${SPEC},weights=unequal`);
    expect(parseGmmI2vSpec(formatGmmI2vSpec(s))).toEqual(s);
    const g = gmmI2v(SPEC);
    const v = gmmVideo(SPEC.replace('gmm-i2v:', 'gmm-video:'));
    expect(g.toString()).toBe(formatGmmI2vSpec(s));
    expect(Array.from(g.means)).toEqual(Array.from(v.means));
    Array.from(v.weights).forEach((w, k) => expect(g.weights[k]).toBeCloseTo(w, 14));
    expect(() => parseGmmI2vSpec('gmm-i2v:modes=4,frames=1,size=2,channels=1,std=0.1,seed=1')).toThrow(/gmm-i2v\.frames/);
    expect(() => parseGmmI2vSpec('gmm-i2v:modes=4,frames=2,size=2,channels=1,std=0.1,seed=1,task=x')).toThrow(ConfigError);
    try {
      parseGmmI2vSpec('gmm-i2v:modes=4,frames=2,size=2,channels=1,std=-1,seed=1');
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).field).toBe('gmm-i2v.std');
    }
    expect(() => parseGmmI2vSpec(SPEC.replace('gmm-i2v:', 'gmm-video:'))).toThrow(/gmm-i2v:/);
  });

  it('pairs: the condition is frame 0 of an exact video; seeded; sigma_aug adds N(0, sigma_aug^2) noise', () => {
    const g = gmmI2v(SPEC);
    const a = sampleI2vPairs(g, 64, seededRng(4));
    const b = sampleI2vPairs(g, 64, seededRng(4));
    const f0 = firstFrame(a.x0);
    try {
      expect(a.condition.shape).toEqual([64, 4, 4, 2]);
      expectTensorsClose(a.condition, f0, { rtol: 0 });
      expectTensorsClose(b.x0, a.x0, { rtol: 0 });
      expect(Array.from(b.modes)).toEqual(Array.from(a.modes));
      const aug = sampleI2vPairs(g, 500, seededRng(5), { sigmaAug: 0.2 });
      const noise = tf.tidy(() => tf.sub(aug.condition, firstFrame(aug.x0)));
      const { mean, variance } = tf.moments(noise);
      // 16000 draws: mean within 4 standard errors, std within 5%.
      expect(Math.abs(mean.dataSync()[0]!)).toBeLessThan((4 * 0.2) / Math.sqrt(16000));
      expect(Math.abs(Math.sqrt(variance.dataSync()[0]!) / 0.2 - 1)).toBeLessThan(0.05);
      expect(Array.from(aug.imageNoiseSigma.dataSync())).toEqual(new Array(500).fill(0.2).map(Math.fround));
      tf.dispose([noise, mean, variance, aug.condition, aug.x0, aug.imageNoiseSigma]);
    } finally {
      tf.dispose([a.condition, a.x0, a.imageNoiseSigma, b.condition, b.x0, b.imageNoiseSigma, f0]);
    }
  });
});

/** A 2-frame mixture with 1x1x1 frames: closed forms by hand. */
function tiny2(means: number[][], weights: number[], std: number): GaussianMixture {
  return new GaussianMixture({ means: Float32Array.from(means.flat()), weights, std, shape: [2, 1, 1, 1] });
}

describe('condition weights w_k(c) (float64 log-sum-exp)', () => {
  it('one component: trivially 1; two components: the closed form exp(-(|c - mu_1|^2 - |c - mu_0|^2) / (2 (s^2 + sigma_a^2)))', () => {
    expect(Array.from(conditionWeights(tiny2([[0.3, 1]], [1], 0.1), [5]))).toEqual([1]);
    const g = tiny2([[0, 1], [0.1, -1]], [0.25, 0.75], 0.1);
    for (const sa of [0, 0.05]) {
      const w = conditionWeights(g, [0.02], sa);
      const v = 0.01 + sa * sa;
      const ratio = (0.75 / 0.25) * Math.exp(-((0.02 - 0.1) ** 2 - 0.02 ** 2) / (2 * v));
      expect(w[1]! / w[0]!).toBeCloseTo(ratio, 5);
      expect(w[0]! + w[1]!).toBeCloseTo(1, 14);
    }
    // Far conditions: no overflow, the nearer component wins.
    const far = conditionLogWeights(g, [100]);
    expect(far.every(Number.isFinite)).toBe(true);
    expect(Math.exp(far[1]!)).toBeCloseTo(1, 12);
  });

  it('two well-separated components (first frames 12 s apart): the condition picks its component', () => {
    // Frames of 2x2x1; component 1's first frame is component 0's + 0.6 (= 12 s over 4 values: |d| = 1.2 = 12 s).
    const s = 0.1;
    const mu0 = [0.1, -0.2, 0.3, 0, /* frame 1 */ 0.5, 0.5, -0.5, -0.5];
    const mu1 = [0.7, 0.4, 0.9, 0.6, /* frame 1 */ -0.5, 0.2, 0.5, 0.1];
    const g2 = new GaussianMixture({ means: Float32Array.from([...mu0, ...mu1]), weights: [0.5, 0.5], std: s, shape: [2, 2, 2, 1] });
    const { condition, x0, modes, imageNoiseSigma } = sampleI2vPairs(g2, 200, seededRng(9));
    const c = condition.dataSync();
    for (let i = 0; i < 200; i++) {
      const w = conditionWeights(g2, c.subarray(i * 4, (i + 1) * 4));
      // |c - mu_other|^2 - |c - mu_own|^2 ~ N(1.44, (2 * 1.2 * s)^2): > 0.28 (4.8 sd) gives w_other < exp(-0.28 / (2 s^2)) = 1e-6.
      expect(w[modes[i]!]).toBeGreaterThan(1 - 1e-6);
    }
    tf.dispose([condition, x0, imageNoiseSigma]);
    const g = gmmI2v(SPEC);
    expect(() => conditionWeights(g, [1, 2, 3])).toThrow(ShapeError);
    expect(() => conditionWeights(g, new Array(8).fill(0), -1)).toThrow(ConfigError);
    expect(() => conditionWeights(new GaussianMixture({ means: new Float32Array(4), weights: [1], std: 0.1, shape: [1, 2, 2, 1] }), [0, 0, 0, 0])).toThrow(/>= 2/);
  });
});

describe('ConditionalMixture', () => {
  it('frame 0 is c, frames 1.. follow sum_k w_k(c) N(mu_k, s^2 I): mean, precision, spread; seeded', () => {
    const g = gmmI2v(SPEC);
    // A condition between two modes' first frames, so both components carry weight.
    const m0 = g.mean(0).subarray(0, D0);
    const m1 = g.mean(1).subarray(0, D0);
    const c = Float32Array.from(m0, (v, d) => 0.5 * (v + m1[d]!));
    const cm = conditionalMixture(g, c, { sigmaAug: 0.05 });
    expect(cm.future.shape).toEqual([2, 4, 4, 2]);
    expect(Array.from(cm.weights)).toEqual(Array.from(conditionWeights(g, c, 0.05)));
    const exact = conditionalMixture(g, c);
    const { x0 } = exact.sample(1000, seededRng(2));
    const again = exact.sample(1000, seededRng(2)).x0;
    try {
      expectTensorsClose(again, x0, { rtol: 0 });
      const f0 = firstFrame(x0);
      expectTensorsClose(f0, tf.tile(tf.tensor(c, [1, 4, 4, 2]), [1000, 1, 1, 1]), { rtol: 0, what: 'frame 0 = c' });
      // Empirical mean of frames 1.. vs sum_k w_k(c) mu_k^{1:}: each coordinate's std is at most
      // sqrt(s^2 + (spread of the means)^2) <= 1; 5 standard errors over 1000 samples.
      const mean = exact.mean();
      const emp = tf.mean(rest(x0), 0).dataSync();
      for (let d = 0; d < 2 * D0; d++) expect(Math.abs(emp[d]! - mean[D0 + d]!)).toBeLessThan(5 / Math.sqrt(1000));
      const m = mixtureMetrics(exact.future, rest(x0));
      expect(m.precision).toBeGreaterThan(0.99);
      expect(Math.abs(m.spreadRatio - 1)).toBeLessThan(0.05);
      tf.dispose([f0]);
    } finally {
      tf.dispose([x0, again]);
    }
    expect(() => conditionalMixture(g, new Float32Array(D0 - 1))).toThrow(ShapeError);
  });
});

describe('ConditionalMixtureDenoiser (exact posterior)', () => {
  const g = gmmI2v(SPEC);

  it('frame 0 of E[x0 | x_t, c] is c at every t (flow and VP); dropping the image is the unconditional mixture denoiser', () => {
    for (const [schedule, times, type] of [
      [flow, [0, 0.02, 0.5, 0.97, 1], 'flow'],
      [vpDiscreteSchedule({ betaSchedule: 'scaled_linear' }), [0, 10, 500, 999], 'epsilon'],
    ] as const) {
      const den = conditionalMixtureDenoiser(g, schedule, type);
      const uncond = mixtureDenoiser(g, schedule, type);
      const { condition, x0 } = sampleI2vPairs(g, 8, seededRng(11));
      const eps = randomNormal(x0.shape, seededRng(12));
      try {
        for (const t of times) {
          const a = schedule.alpha(t);
          const s = schedule.sigma(t);
          const xt = tf.tidy(() => tf.add(tf.mul(x0, a), tf.mul(eps, s)));
          const post = den.posterior(xt, a, s, { image: condition });
          expectTensorsClose(firstFrame(post.x0), condition, { rtol: 1e-5, what: `frame 0 at t = ${t}` });
          // The posterior means satisfy x_t = alpha x0 + sigma eps.
          expectTensorsClose(tf.add(tf.mul(post.x0, a), tf.mul(post.eps, s)), xt, { rtol: 1e-4, atol: 1e-5, what: `x_t identity at t = ${t}` });
          const r = post.responsibilities.sum(1).dataSync();
          r.forEach((v) => expect(v).toBeCloseTo(1, 5));
          // Dropped (and absent) image = the unconditional exact denoiser.
          const dropped = den.posterior(xt, a, s, { image: condition, dropImage: tf.ones([8]) });
          const absent = den.posterior(xt, a, s);
          const u = uncond.posterior(xt, a, s);
          expectTensorsClose(dropped.x0, u.x0, { rtol: 1e-4, atol: 1e-6, what: `dropped x0 at t = ${t}` });
          expectTensorsClose(absent.x0, u.x0, { rtol: 1e-4, atol: 1e-6, what: `absent x0 at t = ${t}` });
          if (s > 0) expectTensorsClose(absent.eps, u.eps, { rtol: 1e-4, atol: 1e-5, what: `absent eps at t = ${t}` });
          tf.dispose([xt, post.x0, post.eps, post.responsibilities, dropped.x0, dropped.eps, dropped.responsibilities, absent.x0, absent.eps, absent.responsibilities, u.x0, u.eps]);
        }
      } finally {
        den.dispose();
        uncond.dispose();
        tf.dispose([condition, x0, eps]);
      }
    }
  });

  it('sigma -> 0 returns x_t (frame 0: c, or x_t with sigma_a > 0); sigma -> inf returns the conditional mean', () => {
    const den = conditionalMixtureDenoiser(g, flow);
    const { condition } = sampleI2vPairs(g, 3, seededRng(1));
    const xt = randomNormal([3, 3, 4, 4, 2], seededRng(2), 0.5);
    try {
      // t = 0: alpha = 1, sigma = 0.
      const p0 = den.posteriorMean(xt, 0, { image: condition });
      expectTensorsClose(rest(p0), rest(xt), { rtol: 1e-6, what: 'frames 1.. at sigma = 0' });
      expectTensorsClose(firstFrame(p0), condition, { rtol: 1e-6, what: 'frame 0 at sigma = 0' });
      const pAug = den.posteriorMean(xt, 0, { image: condition, imageNoiseSigma: tf.fill([3], 0.3) });
      expectTensorsClose(pAug, xt, { rtol: 1e-5, what: 'sigma_a > 0: all frames at sigma = 0' });
      // t = 1: alpha = 0: E[x0 | c] (frame 0 the posterior of c, others sum_k w_k(c) mu_k).
      for (const sa of [0, 0.3]) {
        const p1 = den.posteriorMean(xt, 1, { image: condition, imageNoiseSigma: tf.fill([3], sa) });
        const c = condition.dataSync();
        const want = new Float32Array(3 * g.D);
        for (let i = 0; i < 3; i++) want.set(conditionalMixture(g, c.subarray(i * D0, (i + 1) * D0), { sigmaAug: sa }).mean(), i * g.D);
        expectTensorsClose(p1, want, { rtol: 1e-5, atol: 1e-6, what: `conditional mean, sigma_a = ${sa}` });
        p1.dispose();
      }
      // A tiny sigma_a is the sigma_a = 0 teacher (continuity at the exact condition).
      const mid = den.posteriorMean(xt, 0.6, { image: condition });
      const midAug = den.posteriorMean(xt, 0.6, { image: condition, imageNoiseSigma: tf.fill([3], 1e-3) });
      expectTensorsClose(midAug, mid, { rtol: 1e-3, atol: 1e-4 });
      tf.dispose([p0, pAug, mid, midAug]);
    } finally {
      den.dispose();
      tf.dispose([condition, xt]);
    }
  });

  it('Monte Carlo: E[x0 | x_t, c] by self-normalised importance sampling from the joint, within 5 standard errors', () => {
    // Two frames of 2 values, three components; c observed with sigma_a = 0.2, x_t at sigma ~ 0.5.
    const mix = new GaussianMixture({
      means: Float32Array.from([0.5, -0.2, 0.8, 0.1, -0.4, 0.3, -0.6, 0.9, 0.1, 0.6, 0.2, -0.7]),
      weights: [0.5, 0.3, 0.2],
      std: 0.3,
      shape: [2, 1, 1, 2],
    });
    const den = conditionalMixtureDenoiser(mix, flow);
    const t = 0.35;
    const [a, s, sa] = [flow.alpha(t), flow.sigma(t), 0.2];
    const c = [0.1, 0.05];
    const xt = [0.3, 0.0, 0.1, 0.2];
    const exact = den.posterior(tf.tensor(xt, [1, 2, 1, 1, 2]), a, s, { image: tf.tensor(c, [1, 1, 1, 2]), imageNoiseSigma: tf.tensor1d([sa]) });
    const want = exact.x0.dataSync();
    // Proposal: the joint prior; weights p(c | x^0) p(x_t | x0) (float64).
    const M = 200_000;
    const rng = seededRng(21);
    const { x0 } = mix.sample(M, rng);
    const v = x0.dataSync();
    const logw = new Float64Array(M);
    let max = -Infinity;
    for (let m = 0; m < M; m++) {
      let l = 0;
      for (let d = 0; d < 2; d++) l -= (c[d]! - v[m * 4 + d]!) ** 2 / (2 * sa * sa);
      for (let d = 0; d < 4; d++) l -= (xt[d]! - a * v[m * 4 + d]!) ** 2 / (2 * s * s);
      logw[m] = l;
      max = Math.max(max, l);
    }
    let wsum = 0;
    let w2sum = 0;
    const est = new Float64Array(4);
    const sq = new Float64Array(4);
    for (let m = 0; m < M; m++) {
      const w = Math.exp(logw[m]! - max);
      wsum += w;
      w2sum += w * w;
      for (let d = 0; d < 4; d++) {
        est[d] = est[d]! + w * v[m * 4 + d]!;
        sq[d] = sq[d]! + w * v[m * 4 + d]! ** 2;
      }
    }
    const ess = (wsum * wsum) / w2sum;
    expect(ess).toBeGreaterThan(1000);
    for (let d = 0; d < 4; d++) {
      const mean = est[d]! / wsum;
      const sd = Math.sqrt(Math.max(sq[d]! / wsum - mean * mean, 0));
      expect(Math.abs(mean - want[d]!), `coordinate ${d}: MC ${mean} vs exact ${want[d]} (ESS ${ess.toFixed(0)})`).toBeLessThan((5 * sd) / Math.sqrt(ess));
    }
    tf.dispose([x0, exact.x0, exact.eps, exact.responsibilities]);
    den.dispose();
  });

  it("classifier-free guidance with core's predictRaw: the unconditional branch is the image-free mixture", () => {
    const den = conditionalMixtureDenoiser(g, flow, 'flow');
    const uncond = mixtureDenoiser(g, flow, 'flow');
    const { condition } = sampleI2vPairs(g, 4, seededRng(7));
    const xt = randomNormal([4, 3, 4, 4, 2], seededRng(8));
    const t = tf.fill([4], 0.7);
    try {
      const guided = predictRaw(den, xt, t, { cond: { image: condition }, guidance: { scale: 3 } });
      const c = den.predict(xt, t, { image: condition });
      const u = uncond.predict(xt, t);
      expectTensorsClose(guided, tf.add(u, tf.mul(tf.sub(c, u), 3)), { rtol: 1e-5 });
      tf.dispose([guided, c, u]);
    } finally {
      den.dispose();
      uncond.dispose();
      tf.dispose([condition, xt, t]);
    }
  });

  it('typed errors, no leaks, deterministic', async () => {
    const den = conditionalMixtureDenoiser(g, flow);
    const xt = randomNormal([2, 3, 4, 4, 2], seededRng(3));
    const image = randomNormal([2, 4, 4, 2], seededRng(4));
    const t = tf.tensor1d([0.2, 0.9]);
    const sigmaAug = tf.tensor1d([0.1, 0]);
    try {
      expect(() => den.predict(xt, t, { image: tf.zeros([2, 4, 4, 3]) })).toThrow(ShapeError);
      expect(() => den.predict(xt, t, { image: tf.zeros([1, 4, 4, 2]) })).toThrow(/\[2, 4, 4, 2\]/);
      expect(() => den.predict(tf.zeros([2, 2, 4, 4, 2]), t, { image })).toThrow(ShapeError);
      expect(() => den.predict(xt, t, { image, context: tf.zeros([2, 1, 4]) } as never)).toThrow(/context/);
      expect(() => den.predict(xt, t, { image, dropImage: tf.zeros([3]) })).toThrow(ShapeError);
      expect(() => conditionalMixtureDenoiser(gmmVideo('gmm-video:modes=2,frames=1,size=2,channels=1,std=0.1,seed=1'), flow)).toThrow(ConfigError);
      await expectNoLeak(() => den.predict(xt, t, { image, imageNoiseSigma: sigmaAug }), 'predict');
      const a = den.predict(xt, t, { image });
      const b = den.predict(xt, t, { image });
      expectTensorsClose(a, b, { rtol: 0 });
      tf.dispose([a, b]);
    } finally {
      den.dispose();
      tf.dispose([xt, image, t, sigmaAug]);
    }
    const [x2, t2] = [tf.zeros([1, 3, 4, 4, 2]), tf.zeros([1])];
    expect(() => den.predict(x2, t2)).toThrow(/disposed/);
    tf.dispose([x2, t2]);
  });
});

describe('conditionalMixtureMetrics', () => {
  it('exact pairs score as exact; a sampler that ignores the condition (or only copies frame 0) is caught', () => {
    const g = gmmI2v(SPEC);
    const N = 400;
    const { condition, x0, imageNoiseSigma } = sampleI2vPairs(g, N, seededRng(31));
    // Videos of the right marginal but paired with the wrong condition (shifted by one).
    const shifted = tf.concat([tf.slice(x0, [1], [N - 1]), tf.slice(x0, [0], [1])]);
    // Frame 0 copied from the condition, frames 1.. from the wrong video.
    const copied = tf.concat([tf.expandDims(condition, 1), rest(shifted)], 1);
    try {
      const exact = conditionalMixtureMetrics(g, condition, x0);
      expect(exact.n).toBe(N);
      expect(exact.firstFrameRmse).toBe(0);
      expect(exact.firstFramePrecision).toBe(1);
      expect(exact.precision).toBeGreaterThan(0.99);
      // Exact samples agree with argmax_k w_k(c_i) about mean_i max_k w_k(c_i) of the time (4 binomial standard errors).
      const c = condition.dataSync();
      let p = 0;
      for (let i = 0; i < N; i++) p += Math.max(...conditionWeights(g, c.subarray(i * D0, (i + 1) * D0))) / N;
      expect(exact.modeAgreement).toBeGreaterThan(p - 4 * Math.sqrt((p * (1 - p)) / N) - 1e-9);
      expect(p).toBeGreaterThan(0.9);
      expect(exact.modeCoverage).toBe(1);
      expect(exact.totalVariation).toBeLessThan(0.05);
      expect(exact.expectedModeCounts.reduce((p, q) => p + q, 0)).toBeCloseTo(N, 9);
      const ignored = conditionalMixtureMetrics(g, condition, shifted);
      const frameOnly = conditionalMixtureMetrics(g, condition, copied);
      console.log(`energy distance: exact ${exact.energyDistance.toFixed(4)}, ignored ${ignored.energyDistance.toFixed(4)}, frame-0 copy ${frameOnly.energyDistance.toFixed(4)}`);
      // The estimate's noise at N = 400 is a few 1e-2 (exact pairs); both ignoring samplers sit well above it.
      expect(Math.abs(exact.energyDistance)).toBeLessThan(0.04);
      expect(ignored.firstFrameRmse).toBeGreaterThan(0.2);
      expect(ignored.modeAgreement).toBeLessThan(0.5);
      expect(ignored.energyDistance).toBeGreaterThan(0.1);
      expect(frameOnly.firstFrameRmse).toBe(0);
      expect(frameOnly.modeAgreement).toBeLessThan(0.5);
      expect(frameOnly.precision).toBeLessThan(0.5);
      expect(frameOnly.energyDistance).toBeGreaterThan(0.1);
      expect(() => conditionalMixtureMetrics(g, tf.zeros([N, 4, 4, 1]), x0)).toThrow(ShapeError);
    } finally {
      tf.dispose([condition, x0, imageNoiseSigma, shifted, copied]);
    }
  });

  it('groups of samples per condition: per-condition energy distance ~0 for exact samples, large for the wrong condition', () => {
    const g = gmmI2v(SPEC);
    const pairs = sampleI2vPairs(g, 6, seededRng(41));
    const c = pairs.condition.dataSync();
    const G = 40;
    const conds: tf.Tensor[] = [];
    const good: tf.Tensor[] = [];
    const bad: tf.Tensor[] = [];
    for (let i = 0; i < 6; i++) {
      const ci = c.subarray(i * D0, (i + 1) * D0);
      conds.push(tf.tile(tf.tensor(ci, [1, 4, 4, 2]), [G, 1, 1, 1]));
      good.push(conditionalMixture(g, ci).sample(G, seededRng(100 + i)).x0);
      const j = (i + 1) % 6;
      bad.push(conditionalMixture(g, c.subarray(j * D0, (j + 1) * D0)).sample(G, seededRng(200 + i)).x0);
    }
    const C = tf.concat(conds);
    const X = tf.concat(good);
    const Y = tf.concat(bad);
    try {
      const m = conditionalMixtureMetrics(g, C, X, { groupSize: G });
      const w = conditionalMixtureMetrics(g, C, Y, { groupSize: G });
      expect(Math.abs(m.perConditionEnergyDistance!)).toBeLessThan(0.1);
      expect(w.perConditionEnergyDistance!).toBeGreaterThan(10 * Math.max(Math.abs(m.perConditionEnergyDistance!), 0.05));
      expect(() => conditionalMixtureMetrics(g, C, X, { groupSize: 7 })).toThrow(ConfigError);
    } finally {
      tf.dispose([...conds, ...good, ...bad, C, X, Y, pairs.condition, pairs.x0, pairs.imageNoiseSigma]);
    }
  });
});
