import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { expectNoLeak, expectTensorsClose, seededNormal } from '@fewstep/testing';
import { ConfigError } from '../errors.js';
import { flowMatchingSchedule, shiftSigma, unshiftSigma } from './flow-matching-schedule.js';
import { forwardDiffuse, logSnr, snr, snrTensor } from './forward-diffusion.js';
import type { NoiseSchedule } from './noise-schedule.js';
import { noiseScheduleFromConfig } from './schedule-from-config.js';
import { vpContinuousSchedule } from './vp-continuous-schedule.js';
import { vpDiscreteSchedule } from './vp-discrete-schedule.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

describe('VP discrete schedule (diffusers beta schedules)', () => {
  it('scaled_linear: abar_0 = 1 - 0.00085 and sqrt(abar_999) = 0.068265 (Stable Diffusion; Lin et al. 2024 Sec. 3.1)', () => {
    const s = vpDiscreteSchedule({ betaSchedule: 'scaled_linear' });
    // diffusers: betas = linspace(sqrt(0.00085), sqrt(0.012), 1000)^2, so beta_0 = 0.00085 exactly (to float32).
    expect(s.alphasCumprod[0]).toBeCloseTo(1 - 0.00085, 7);
    expect(s.betas[999]).toBeCloseTo(0.012, 7);
    expect(Math.sqrt(s.alphasCumprod[999] as number)).toBeCloseTo(0.068265, 5);
  });

  it('linear (DDPM 1e-4..0.02): abar_999 = 4.036e-5, sqrt = 0.00635 (Ho et al. 2020 schedule)', () => {
    const s = vpDiscreteSchedule({ betaSchedule: 'linear' });
    expect(s.alphasCumprod[0]).toBeCloseTo(0.9999, 7);
    // closed form for the product of a linear beta ramp is not elementary; float64 reference:
    let acc = 1;
    for (let i = 0; i < 1000; i++) acc *= 1 - (1e-4 + ((0.02 - 1e-4) * i) / 999);
    expect((s.alphasCumprod[999] as number) / acc).toBeCloseTo(1, 4);
    expect(Math.sqrt(s.alphasCumprod[999] as number)).toBeCloseTo(0.006353, 5);
  });

  it('squaredcos_cap_v2: the product telescopes to abar(t) = f((t+1)/T) / f(0), f(u) = cos((u+0.008)/1.008 pi/2)^2 (Nichol & Dhariwal Eq. 17)', () => {
    const s = vpDiscreteSchedule({ betaSchedule: 'squaredcos_cap_v2' });
    const f = (u: number) => Math.cos(((u + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    for (const t of [0, 1, 100, 500, 900, 990]) {
      expect((s.alphasCumprod[t] as number) / (f((t + 1) / 1000) / f(0))).toBeCloseTo(1, 4);
    }
    // The last beta is clipped at max_beta = 0.999.
    expect(s.betas[999]).toBeCloseTo(0.999, 6);
    expect((s.alphasCumprod[999] as number) / (s.alphasCumprod[998] as number)).toBeCloseTo(0.001, 6);
  });

  it('alpha^2 + sigma^2 = 1 at integer and fractional t; fractional t interpolates sigma/alpha linearly', () => {
    const s = vpDiscreteSchedule();
    for (const t of [0, 1, 17, 500.5, 998.25, 999]) {
      expect(s.alpha(t) ** 2 + s.sigma(t) ** 2).toBeCloseTo(1, 12);
    }
    const st = (t: number) => s.sigma(t) / s.alpha(t);
    expect(st(500.25)).toBeCloseTo(0.75 * st(500) + 0.25 * st(501), 12);
    expect(s.alpha(500)).toBeCloseTo(Math.sqrt(s.alphasCumprod[500] as number), 14);
  });

  it('batched alpha/sigma agree with the scalar versions (float32) and do not leak', async () => {
    for (const s of [vpDiscreteSchedule(), flowMatchingSchedule({ shift: 3 }), vpContinuousSchedule()] as NoiseSchedule[]) {
      const ts = s.time.kind === 'discrete' ? [0, 1, 250.5, 998.9, 999] : [0, 1e-3, 0.3, 0.77, 1];
      const t = tf.tensor1d(ts);
      await expectNoLeak(() => s.alphaTensor(t));
      await expectNoLeak(() => s.sigmaTensor(t));
      tf.tidy(() => {
        expectTensorsClose(s.alphaTensor(t), ts.map((x) => s.alpha(x)), { rtol: 1e-5, atol: 1e-6, what: `${s.type} alpha` });
        expectTensorsClose(s.sigmaTensor(t), ts.map((x) => s.sigma(x)), { rtol: 1e-5, atol: 1e-6, what: `${s.type} sigma` });
      });
      t.dispose();
    }
  });

  it('rejects out-of-range times and unknown beta schedules with ConfigErrors naming the value', () => {
    const s = vpDiscreteSchedule();
    expect(() => s.alpha(1000)).toThrow(ConfigError);
    expect(() => s.alpha(-1)).toThrow(/Invalid value for 't': -1\. Allowed: a timestep in \[0, 999\]/);
    expect(() => vpDiscreteSchedule({ betaSchedule: 'cosine' as never })).toThrow(
      /'betaSchedule': "cosine"\. Allowed: 'linear', 'scaled_linear', 'squaredcos_cap_v2'/,
    );
    expect(() => flowMatchingSchedule().sigma(1.5)).toThrow(ConfigError);
  });
});

describe('flow matching schedule', () => {
  it('alpha = 1 - t, sigma = t; the SD3 shift and its inverse', () => {
    const s = flowMatchingSchedule({ shift: 3 });
    expect(s.alpha(0.25)).toBe(0.75);
    expect(s.sigma(0.25)).toBe(0.25);
    // shift 3 at sigma 0.5: 1.5 / (1 + 2 * 0.5) = 0.75
    expect(shiftSigma(0.5, 3)).toBeCloseTo(0.75, 15);
    expect(shiftSigma(0, 7)).toBe(0);
    expect(shiftSigma(1, 7)).toBe(1);
    expect(unshiftSigma(shiftSigma(0.37, 7), 7)).toBeCloseTo(0.37, 14);
    expect(s.shiftTime(0.5)).toBeCloseTo(0.75, 15);
  });
});

describe('continuous VP schedule', () => {
  it('alpha_t = exp(-1/2 int_0^t beta) with beta linear 0.1 -> 20 (checked by Simpson quadrature)', () => {
    const s = vpContinuousSchedule();
    for (const t of [0.001, 0.1, 0.5, 1]) {
      const n = 200;
      const h = t / n;
      let integral = 0;
      for (let i = 0; i <= n; i++) {
        const w = i === 0 || i === n ? 1 : i % 2 === 1 ? 4 : 2;
        integral += w * (0.1 + (20 - 0.1) * i * h);
      }
      integral *= h / 3;
      expect(s.alpha(t)).toBeCloseTo(Math.exp(-0.5 * integral), 12);
      expect(s.alpha(t) ** 2 + s.sigma(t) ** 2).toBeCloseTo(1, 12);
    }
    expect(s.alpha(0)).toBe(1);
    expect(s.sigma(0)).toBe(0);
    // sigma near 0 is accurate (expm1): sigma^2 ~ beta_min t for small t
    expect(s.sigma(1e-7) ** 2 / (0.1 * 1e-7)).toBeCloseTo(1, 4);
  });
});

describe('forward diffusion and SNR', () => {
  it('x_t = alpha x0 + sigma eps for scalar and per-sample t', async () => {
    const s = vpDiscreteSchedule();
    const x0 = seededNormal([3, 2, 2, 2, 1], 1);
    const eps = seededNormal([3, 2, 2, 2, 1], 2);
    const ts = tf.tensor1d([0, 500, 999]);
    await expectNoLeak(() => forwardDiffuse(s, x0, eps, ts));
    await expectNoLeak(() => forwardDiffuse(s, x0, eps, 250));
    tf.tidy(() => {
      const xt = forwardDiffuse(s, x0, eps, ts);
      const x0v = x0.arraySync() as number[][][][][];
      const ev = eps.arraySync() as number[][][][][];
      const got = xt.arraySync() as number[][][][][];
      [0, 500, 999].forEach((t, b) => {
        const want = (x0v[b]!.flat(3) as number[]).map((v, i) => s.alpha(t) * v + s.sigma(t) * (ev[b]!.flat(3)[i] as number));
        expectTensorsClose(got[b]!.flat(3) as number[], want, { rtol: 1e-5, atol: 1e-6 });
      });
      const xs = forwardDiffuse(s, x0, eps, 250);
      const want = tf.add(tf.mul(x0, s.alpha(250)), tf.mul(eps, s.sigma(250)));
      expectTensorsClose(xs, want, { rtol: 1e-6 });
    });
    ts.dispose();
    x0.dispose();
    eps.dispose();
  });

  it('SNR = alpha^2 / sigma^2; log SNR = 2 log(alpha/sigma); flow SNR at t = 0.5 is 1', async () => {
    const f = flowMatchingSchedule();
    expect(snr(f, 0.5)).toBe(1);
    expect(logSnr(f, 0.2)).toBeCloseTo(2 * Math.log(4), 14);
    const s = vpDiscreteSchedule();
    const abar = s.alphasCumprod[300] as number;
    expect(snr(s, 300)).toBeCloseTo(abar / (1 - abar), 10);
    const t = tf.tensor1d([0.2, 0.5]);
    await expectNoLeak(() => snrTensor(f, t));
    tf.tidy(() => expectTensorsClose(snrTensor(f, t), [16, 1], { rtol: 1e-5 }));
    t.dispose();
  });

  it('configs round-trip losslessly', () => {
    for (const s of [vpDiscreteSchedule({ betaSchedule: 'linear' }), flowMatchingSchedule({ shift: 7 }), vpContinuousSchedule({ betaMax: 10 })] as NoiseSchedule[]) {
      const back = noiseScheduleFromConfig(s.toConfig());
      expect(back.toConfig()).toEqual(s.toConfig());
      expect(back.alpha(s.time.kind === 'discrete' ? 123 : 0.4)).toBe(s.alpha(s.time.kind === 'discrete' ? 123 : 0.4));
    }
  });
});
