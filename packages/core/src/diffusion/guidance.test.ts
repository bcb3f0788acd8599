import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { expectNoLeak, expectTensorsClose } from '@fewstep/testing';
import { ConfigError } from '../errors.js';
import { asPredictionType, guidedDenoiser, predictAs, type Denoiser } from './denoiser.js';
import { GaussianMixture } from './gaussian-mixture/gaussian-mixture.js';
import { mixtureDenoiser } from './gaussian-mixture/mixture-denoiser.js';
import { applyGuidance, fromDefaultGuidanceScale, resolveGuidanceScale, toDefaultGuidanceScale } from './guidance.js';
import { seededRng } from './rng.js';
import { vpDiscreteSchedule } from './vp-discrete-schedule.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

// A class-conditional analytic teacher: two modes; cond = one-hot weights [B, 2].
const mixture = new GaussianMixture({ means: new Float32Array([-1, 0.5, 1, -0.5]), weights: [0.5, 0.5], std: 0.2, shape: [2] });

describe('classifier-free guidance', () => {
  it("'uncond + w (cond - uncond)': w = 0 is unconditional, w = 1 conditional; 'cond + w (cond - uncond)' is w' = w - 1", () => {
    tf.tidy(() => {
      const c = tf.tensor1d([2, 4]);
      const u = tf.tensor1d([1, 1]);
      expectTensorsClose(applyGuidance(c, u, 0), [1, 1]);
      expectTensorsClose(applyGuidance(c, u, 1), [2, 4]);
      expectTensorsClose(applyGuidance(c, u, 7.5), [1 + 7.5, 1 + 7.5 * 3]);
      expectTensorsClose(applyGuidance(c, u, 6.5, 'cond + w * (cond - uncond)'), applyGuidance(c, u, 7.5));
    });
    expect(toDefaultGuidanceScale(6.5, 'cond + w * (cond - uncond)')).toBe(7.5);
    expect(fromDefaultGuidanceScale(7.5, 'cond + w * (cond - uncond)')).toBe(6.5);
    expect(toDefaultGuidanceScale(7.5, 'uncond + w * (cond - uncond)')).toBe(7.5);
    expect(() => toDefaultGuidanceScale(1, 'w * cond' as never)).toThrow(/'guidance.formula': "w \* cond"\. Allowed: 'uncond \+ w \* \(cond - uncond\)', 'cond \+ w \* \(cond - uncond\)'/);
  });

  it('guidance commutes with prediction-type conversion (the conversions are affine)', () => {
    const schedule = vpDiscreteSchedule();
    const den = mixtureDenoiser(mixture, schedule, 'epsilon');
    tf.tidy(() => {
      const xt = tf.tensor2d([[0.3, -0.2], [-0.7, 0.1]]);
      const cond = tf.tensor2d([[1, 0], [0, 1]]);
      const t = 400;
      const guided = predictAs(den, 'x0', xt, t, { cond, guidance: { scale: 3 } });
      const x0c = predictAs(den, 'x0', xt, t, { cond });
      const x0u = predictAs(den, 'x0', xt, t);
      expectTensorsClose(guided, applyGuidance(x0c, x0u, 3), { rtol: 1e-5, atol: 1e-6 });
      // w = 1 is the conditional teacher, w = 0 the unconditional one.
      expectTensorsClose(predictAs(den, 'flow', xt, t, { cond, guidance: { scale: 1 } }), predictAs(den, 'flow', xt, t, { cond }), { rtol: 1e-6 });
      expectTensorsClose(predictAs(den, 'v', xt, t, { cond, guidance: { scale: 0 } }), predictAs(den, 'v', xt, t), { rtol: 1e-6 });
    });
    den.dispose();
  });

  it('a { min, max } scale is drawn uniformly per call from the rng; guidedDenoiser doubles evaluationsPerCall', async () => {
    const rng = seededRng(4);
    const draws = Array.from({ length: 4000 }, () => resolveGuidanceScale({ min: 6, max: 8 }, rng));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(6);
    expect(Math.max(...draws)).toBeLessThan(8);
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    expect(Math.abs(mean - 7)).toBeLessThan(0.03); // sd of U[6,8] is 0.577; SE 0.009
    expect(() => resolveGuidanceScale({ min: 6, max: 8 })).toThrow(ConfigError);
    expect(() => resolveGuidanceScale({ min: 8, max: 6 }, rng)).toThrow(/min <= max/);

    // cond predicts 1, uncond 0: the guided output is the drawn w.
    const base: Denoiser<number> = {
      schedule: vpDiscreteSchedule(),
      predictionType: 'epsilon',
      predict: (x, _t, cond) => tf.fill(x.shape, cond ?? 0),
    };
    const guided = guidedDenoiser(base, { uncond: 0, scale: { min: 3, max: 4 }, rng: seededRng(9) });
    expect(guided.evaluationsPerCall).toBe(2);
    const x = tf.zeros([1, 1]);
    const t = tf.tensor1d([10]);
    const ws = Array.from({ length: 3 }, () => tf.tidy(() => guided.predict(x, t, 1).dataSync()[0] as number));
    const replay = seededRng(9);
    expectTensorsClose(ws, [0, 1, 2].map(() => 3 + replay()), { rtol: 1e-6, what: 'per-call scales' });
    await expectNoLeak(() => guided.predict(x, t, 1));
    tf.dispose([x, t]);
  });

  it('asPredictionType re-parameterizes a denoiser exactly', () => {
    const schedule = vpDiscreteSchedule();
    const den = mixtureDenoiser(mixture, schedule, 'sample');
    const asV = asPredictionType(den, 'v');
    expect(asV.predictionType).toBe('v_prediction');
    tf.tidy(() => {
      const xt = tf.tensor2d([[0.3, -0.2]]);
      const t = tf.tensor1d([250]);
      expectTensorsClose(asV.predict(xt, t), predictAs(den, 'v_prediction', xt, t), { rtol: 1e-6 });
    });
    den.dispose();
  });
});
