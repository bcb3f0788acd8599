import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { expectNoLeak, expectTensorsClose, mulberry32, seededNormal } from '@fewstep/testing';
import { ConfigError } from '../errors.js';
import { flowMatchingSchedule } from './flow-matching-schedule.js';
import type { NoiseSchedule } from './noise-schedule.js';
import { convertPrediction, PREDICTION_TYPES, resolvePredictionType, toX0Eps, type PredictionType } from './prediction-type.js';
import { vpContinuousSchedule } from './vp-continuous-schedule.js';
import { vpDiscreteSchedule } from './vp-discrete-schedule.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

/** The four targets from their definitions, given the true (x0, eps). */
function truth(x0: tf.Tensor, eps: tf.Tensor, a: tf.Tensor, s: tf.Tensor): Record<PredictionType, tf.Tensor> {
  return {
    epsilon: eps,
    sample: x0,
    v_prediction: tf.sub(tf.mul(a, eps), tf.mul(s, x0)), // Salimans & Ho 2022
    flow: tf.sub(eps, x0), // rectified-flow velocity
  };
}

const schedules: [string, NoiseSchedule, (u: number) => number][] = [
  ['vp-discrete scaled_linear', vpDiscreteSchedule(), (u) => Math.floor(1 + u * 990)],
  ['vp-discrete cosine', vpDiscreteSchedule({ betaSchedule: 'squaredcos_cap_v2' }), (u) => Math.floor(u * 950)],
  ['flow matching', flowMatchingSchedule(), (u) => 0.02 + 0.96 * u],
  ['vp continuous', vpContinuousSchedule(), (u) => 0.01 + 0.94 * u],
];

describe('prediction types: exact conversions (property test over random x0, eps, t)', () => {
  for (const [label, schedule, drawT] of schedules) {
    it(`${label}: every pair (from, to) maps the true prediction to the true prediction, and round-trips`, async () => {
      const rand = mulberry32(11);
      const B = 8;
      const ts = Array.from({ length: B }, () => drawT(rand()));
      const x0 = seededNormal([B, 2, 3, 3, 2], 5, 0.7);
      const eps = seededNormal([B, 2, 3, 3, 2], 6);
      const t = tf.tensor1d(ts);
      const a = tf.reshape(schedule.alphaTensor(t), [B, 1, 1, 1, 1]);
      const s = tf.reshape(schedule.sigmaTensor(t), [B, 1, 1, 1, 1]);
      const xt = tf.add(tf.mul(a, x0), tf.mul(s, eps));
      const alpha = schedule.alphaTensor(t);
      const sigma = schedule.sigmaTensor(t);
      const want = truth(x0, eps, a, s);
      // float32: conversions divide by alpha, sigma, alpha + sigma or alpha^2 + sigma^2 (>= 0.05 here).
      const tol = { rtol: 2e-5, atol: 2e-4 };
      for (const from of PREDICTION_TYPES) {
        for (const to of PREDICTION_TYPES) {
          tf.tidy(() => {
            const got = convertPrediction(want[from], from, to, xt, alpha, sigma);
            expectTensorsClose(got, want[to], { ...tol, what: `${label} ${from} -> ${to}` });
            const back = convertPrediction(got, to, from, xt, alpha, sigma);
            expectTensorsClose(back, want[from], { ...tol, what: `${label} ${from} -> ${to} -> ${from}` });
          });
        }
        await expectNoLeak(() => convertPrediction(want[from], from, 'flow', xt, alpha, sigma), 'convertPrediction');
      }
      // Scalar coefficients (one t for the batch) give the same maps.
      tf.tidy(() => {
        const t0 = ts[0] as number;
        const xt0 = tf.add(tf.mul(schedule.alpha(t0), x0), tf.mul(schedule.sigma(t0), eps));
        const w0 = truth(x0, eps, tf.scalar(schedule.alpha(t0)), tf.scalar(schedule.sigma(t0)));
        const got = convertPrediction(w0.v_prediction, 'v', 'flow', xt0, schedule.alpha(t0), schedule.sigma(t0));
        expectTensorsClose(got, w0.flow, { ...tol, what: 'scalar coefficients' });
      });
      tf.dispose([x0, eps, t, a, s, xt, alpha, sigma, want.v_prediction, want.flow]);
    });
  }

  it('flow prediction stays exact at the ends of flow matching (t = 1: alpha = 0; t = 0: sigma = 0)', () => {
    tf.tidy(() => {
      const x0 = seededNormal([2, 4], 1);
      const eps = seededNormal([2, 4], 2);
      const u = tf.sub(eps, x0);
      // t = 1: x_t = eps; x0 = x_t - u
      expectTensorsClose(convertPrediction(u, 'flow', 'x0', eps, 0, 1), x0, { rtol: 1e-6 });
      // t = 0: x_t = x0; eps = x_t + u
      expectTensorsClose(convertPrediction(u, 'flow', 'eps', x0, 1, 0), eps, { rtol: 1e-6 });
      // eps cannot give x0 where alpha = 0: the division is by zero (documented ill-conditioning).
      const { x0: bad } = toX0Eps(eps, 'epsilon', eps, 0, 1);
      expect(Number.isFinite(bad.dataSync()[0] as number)).toBe(false);
    });
  });

  it('aliases x0 / eps / v resolve; unknown names are ConfigErrors listing the allowed values', () => {
    expect(resolvePredictionType('x0')).toBe('sample');
    expect(resolvePredictionType('eps')).toBe('epsilon');
    expect(resolvePredictionType('v')).toBe('v_prediction');
    expect(() => resolvePredictionType('velocity')).toThrow(ConfigError);
    expect(() => resolvePredictionType('velocity')).toThrow(/'predictionType': "velocity"\. Allowed: 'epsilon' \(eps\), 'v_prediction' \(v\), 'sample' \(x0\), 'flow'/);
  });
});
