import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { flowMatchingSchedule, forwardDiffuse, predictAs } from '@fewstep/core';
import { describeLossConformance, expectTensorsClose, seededNormal } from '@fewstep/testing';
import { beforeAll, describe, it } from 'vitest';
import { dmdLoss } from './dmd-loss.js';
import { gaussianDenoiser } from './gaussian-fixtures.test-util.js';
import {
  scoreDistributionMatchingLoss,
  type ScoreDistributionMatchingInputs,
  type ScoreDistributionMatchingOptions,
} from './score-distribution-matching-loss.js';

const schedule = flowMatchingSchedule();
const SHAPE = [2, 3, 2];
let theta: tf.Variable | undefined;
const generator = () => (theta ??= tf.variable(seededNormal(SHAPE, 11), true, 'sdm-test/theta'));

beforeAll(async () => {
  await tf.setBackend('cpu');
  generator();
});

describeLossConformance<ScoreDistributionMatchingOptions, ScoreDistributionMatchingInputs>(scoreDistributionMatchingLoss, {
  inputs: () => ({
    sample: generator(),
    epsPhi: seededNormal(SHAPE, 12),
    epsPsi: seededNormal(SHAPE, 13),
    t: tf.tensor1d([0.3, 0.8]),
    schedule,
    xt: seededNormal(SHAPE, 14),
  }),
  trainable: () => [generator()],
  valid: [{}, { weighting: 'constant' }, { weighting: 'snr', reduction: 'mean' }],
  invalid: [
    { options: { weighting: 'sds' as never }, error: /weighting/ },
    { options: { reduction: 'max' as never }, error: /reduction/ },
  ],
});

describe('sdm:score-distribution-matching math (AVDM2 Eq. 4)', () => {
  const epsPhi = () => seededNormal(SHAPE, 15);
  const epsPsi = () => seededNormal(SHAPE, 16);
  const tt = [0.3, 0.8];

  it("gradient w.r.t. the sample equals w(t)(eps_phi - eps_psi) for 'constant', 'snr' and per-sample weights", () => {
    const x = seededNormal(SHAPE, 17);
    const [p, q] = [epsPhi(), epsPsi()];
    const diff = tf.sub(p, q).dataSync();
    const per = diff.length / 2;
    const cases: Array<[Partial<ScoreDistributionMatchingInputs>, ScoreDistributionMatchingOptions, number[]]> = [
      [{}, { weighting: 'constant' }, [1, 1]],
      [{}, { weighting: 'snr' }, tt.map((t) => (1 - t) / t)],
      [{ weights: tf.tensor1d([2, -0.5]) }, { weighting: 'snr' }, [2, -0.5]],
    ];
    for (const [extra, options, w] of cases) {
      const t = tf.tensor1d(tt);
      const [dx] = tf.grads((s: tf.Tensor) => scoreDistributionMatchingLoss.compute({ sample: s, epsPhi: p, epsPsi: q, t, schedule, ...extra }, options).loss)([x]);
      expectTensorsClose(dx!, Array.from(diff, (d, i) => w[Math.floor(i / per)]! * d), { rtol: 1e-5, what: `gradient (${JSON.stringify(options)})` });
      const [dm] = tf.grads((s: tf.Tensor) => scoreDistributionMatchingLoss.compute({ sample: s, epsPhi: p, epsPsi: q, t, schedule, ...extra }, { ...options, reduction: 'mean' }).loss)([x]);
      expectTensorsClose(dm!, Array.from(diff, (d, i) => (w[Math.floor(i / per)]! * d) / x.size), { rtol: 1e-5, what: 'mean reduction' });
      tf.dispose([dx!, dm!, t, ...Object.values(extra).filter((v): v is tf.Tensor => v instanceof tf.Tensor)]);
    }
    tf.dispose([x, p, q]);
  });

  it("'dmd' weighting reproduces the DMD gradient of ADM Eq. 5 (up to the 2/N of Eq. 6) with exact Gaussian scores", () => {
    const shape = [2, 2, 1];
    const real = gaussianDenoiser([0.5, -1, 2, 0], shape, 0.6, schedule);
    const fake = gaussianDenoiser([1, 0, 0.5, 0.5], shape, 0.9, schedule);
    const x = seededNormal([2, ...shape], 18);
    const t = tf.tensor1d(tt);
    const xt = forwardDiffuse(schedule, x, seededNormal([2, ...shape], 19), t);
    const [p, q] = [predictAs(real, 'eps', xt, t), predictAs(fake, 'eps', xt, t)];
    const [realX0, fakeX0] = [predictAs(real, 'x0', xt, t), predictAs(fake, 'x0', xt, t)];
    const [dSdm] = tf.grads((s: tf.Tensor) => scoreDistributionMatchingLoss.compute({ sample: s, epsPhi: p, epsPsi: q, t, schedule, xt }, {}).loss)([x]);
    const [dDmd] = tf.grads((s: tf.Tensor) => dmdLoss.compute({ x0Hat: s, fakeX0, realX0 }, {}).loss)([x]);
    const expected = tf.mul(dDmd!, x.size / 2);
    expectTensorsClose(dSdm!, expected, { rtol: 1e-4, what: "'dmd'-weighted SDM gradient vs DMD" });
    tf.dispose([x, t, xt, p, q, realX0, fakeX0, dSdm!, dDmd!, expected]);
    real.dispose();
    fake.dispose();
  });
});
