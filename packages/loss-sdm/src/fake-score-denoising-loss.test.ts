import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { flowMatchingSchedule, vpDiscreteSchedule, type PredictionTarget } from '@fewstep/core';
import { describeLossConformance, expectTensorsClose, seededNormal } from '@fewstep/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { fakeScoreDenoisingLoss, type FakeScoreDenoisingInputs, type FakeScoreDenoisingOptions } from './fake-score-denoising-loss.js';

const SHAPE = [2, 3, 2];
const vp = vpDiscreteSchedule();
let psi: tf.Variable | undefined;
const fakeOutput = () => (psi ??= tf.variable(seededNormal(SHAPE, 31), true, 'fake-score-test/psi'));

beforeAll(async () => {
  await tf.setBackend('cpu');
  fakeOutput();
});

describeLossConformance<FakeScoreDenoisingOptions, FakeScoreDenoisingInputs>(fakeScoreDenoisingLoss, {
  inputs: () => ({
    x0: seededNormal(SHAPE, 32),
    eps: seededNormal(SHAPE, 33),
    t: tf.tensor1d([100, 700]),
    schedule: vp,
    prediction: fakeOutput(),
    predictionType: 'v',
  }),
  trainable: () => [fakeOutput()],
  valid: [{}, { weight: 0.5 }],
  invalid: [
    { options: { weight: 0 }, error: /weight/ },
    { options: { weight: Infinity }, error: /weight/ },
  ],
});

describe('sdm:fake-score-denoising targets (hand-computed)', () => {
  const x0 = [0.5, -1, 2, 0.25, 1, -0.5, 0, 3];
  const eps = [1, 0.5, -0.25, 2, -1, 0.75, 1.5, -2];
  const pred = [0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7, 0.8];
  const shape = [2, 2, 2];

  /** The hand target of each type, from the schedule's own float64 alpha / sigma per sample. */
  function handTarget(type: PredictionTarget, a: number[], s: number[]): number[] {
    return x0.map((x, i) => {
      const [al, si, e] = [a[Math.floor(i / 4)]!, s[Math.floor(i / 4)]!, eps[i]!];
      switch (type) {
        case 'eps':
          return e;
        case 'x0':
          return x;
        case 'v':
          return al * e - si * x;
        default:
          return e - x;
      }
    });
  }

  for (const [name, schedule, times] of [
    ['vp-discrete', vp, [250, 900]],
    ['flow-matching', flowMatchingSchedule(), [0.25, 0.75]],
  ] as const) {
    for (const type of ['eps', 'x0', 'v', 'flow'] as const) {
      it(`${type} target on ${name}: loss = mean (pred - target)^2 and dL/dpred = 2 (pred - target) / N`, () => {
        const a = times.map((t) => schedule.alpha(t));
        const s = times.map((t) => schedule.sigma(t));
        const target = handTarget(type, a, s);
        const mse = target.reduce((acc, y, i) => acc + (pred[i]! - y) ** 2, 0) / target.length;
        const inputs = (p: tf.Tensor): FakeScoreDenoisingInputs => ({
          x0: tf.tensor(x0, shape),
          eps: tf.tensor(eps, shape),
          t: tf.tensor1d(times as unknown as number[]),
          schedule,
          prediction: p,
          predictionType: type,
        });
        const p = tf.tensor(pred, shape);
        const out = fakeScoreDenoisingLoss.compute(inputs(p), { weight: 2 });
        expect(out.loss.dataSync()[0]).toBeCloseTo(2 * mse, 5);
        expect(out.metrics!.mse!.dataSync()[0]).toBeCloseTo(mse, 5);
        const [dp] = tf.grads((q: tf.Tensor) => fakeScoreDenoisingLoss.compute(inputs(q), {}).loss)([p]);
        expectTensorsClose(dp!, pred.map((v, i) => (2 * (v - target[i]!)) / pred.length), { rtol: 1e-5, atol: 1e-7, what: `${type} gradient` });
        tf.dispose([p, dp!, out.loss, out.metrics!.mse!]);
      });
    }
  }
});
