import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { flowMatchingSchedule, forwardDiffuse, predictAs } from '@fewstep/core';
import { describeLossConformance, expectNoLeak, expectTensorsClose, seededNormal } from '@fewstep/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { dmdLoss, type DmdLossInputs, type DmdLossOptions } from './dmd-loss.js';
import { gaussianDenoiser } from './gaussian-fixtures.test-util.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  generator();
});

const SHAPE = [2, 3, 4];
let theta: tf.Variable | undefined;
const generator = () => (theta ??= tf.variable(seededNormal(SHAPE, 1), true, 'dmd-test/theta'));

describeLossConformance<DmdLossOptions, DmdLossInputs>(dmdLoss, {
  inputs: () => ({ x0Hat: generator(), fakeX0: seededNormal(SHAPE, 2), realX0: seededNormal(SHAPE, 3) }),
  trainable: () => [generator()],
  valid: [{}, { normalizerEpsilon: 0 }, { normalizerEpsilon: 0.5 }],
  invalid: [
    { options: { normalizerEpsilon: -1 }, error: /normalizerEpsilon/ },
    { options: { normalizerEpsilon: NaN }, error: /normalizerEpsilon/ },
  ],
});

/** Eq. 5 by hand, element by element, in float64. */
function handGrad(x: Float32Array, fake: Float32Array, real: Float32Array, B: number, eps: number): number[] {
  const per = x.length / B;
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    let l1 = 0;
    for (let i = 0; i < per; i++) l1 += Math.abs(x[b * per + i]! - real[b * per + i]!);
    l1 /= per;
    for (let i = 0; i < per; i++) out.push((fake[b * per + i]! - real[b * per + i]!) / (l1 + eps));
  }
  return out;
}

describe('sdm:dmd math (ADM Eq. 4-6)', () => {
  it('d loss / d x0Hat = 2 grad / N (closed form), loss = mean(grad^2), no leak', async () => {
    const x = seededNormal(SHAPE, 4);
    const fake = seededNormal(SHAPE, 5);
    const real = seededNormal(SHAPE, 6);
    const g = handGrad(x.dataSync() as Float32Array, fake.dataSync() as Float32Array, real.dataSync() as Float32Array, 2, 1e-6);
    const N = x.size;
    const [dx] = tf.grads((xh: tf.Tensor) => dmdLoss.compute({ x0Hat: xh, fakeX0: fake, realX0: real }, {}).loss)([x]);
    expectTensorsClose(dx!, g.map((v) => (2 * v) / N), { rtol: 1e-5, what: 'dL/dx0Hat' });
    const out = dmdLoss.compute({ x0Hat: x, fakeX0: fake, realX0: real }, {});
    expect(out.loss.dataSync()[0]).toBeCloseTo(g.reduce((s, v) => s + v * v, 0) / N, 5);
    tf.dispose([dx!, out.loss, ...Object.values(out.metrics ?? {})]);
    await expectNoLeak(() => {
      const o = dmdLoss.compute({ x0Hat: x, fakeX0: fake, realX0: real }, {});
      return [o.loss, ...Object.values(o.metrics ?? {})];
    }, 'dmdLoss.compute');
    tf.dispose([x, fake, real]);
  });

  it('fake/real computed from x0Hat inside the differentiated closure are still constants', () => {
    const x = seededNormal(SHAPE, 7);
    const fakeC = tf.mul(x, 0.5);
    const realC = tf.add(x, 0.3);
    const g = handGrad(x.dataSync() as Float32Array, fakeC.dataSync() as Float32Array, realC.dataSync() as Float32Array, 2, 1e-6);
    const [dx] = tf.grads((xh: tf.Tensor) => dmdLoss.compute({ x0Hat: xh, fakeX0: tf.mul(xh, 0.5), realX0: tf.add(xh, 0.3) }, {}).loss)([x]);
    expectTensorsClose(dx!, g.map((v) => (2 * v) / x.size), { rtol: 1e-5, what: 'dL/dx0Hat with in-closure targets' });
    tf.dispose([x, fakeC, realC, dx!]);
  });

  it('exact Gaussian real score: zero gradient when fake = real; closed-form gradient when the fake mean is shifted', () => {
    const schedule = flowMatchingSchedule();
    const shape = [2, 2, 1];
    const muR = [0.5, -1, 2, 0];
    const muF = [1.5, -1, 0, 0.25];
    const s = 0.7;
    const t = 0.6;
    const real = gaussianDenoiser(muR, shape, s, schedule);
    const fakeSame = gaussianDenoiser(muR, shape, s, schedule);
    const fakeShifted = gaussianDenoiser(muF, shape, s, schedule);
    const x = seededNormal([3, ...shape], 8);
    const xt = forwardDiffuse(schedule, x, seededNormal([3, ...shape], 9), t);
    const realX0 = predictAs(real, 'x0', xt, t);
    const gradOf = (fake: typeof real) => {
      const fakeX0 = predictAs(fake, 'x0', xt, t);
      const [dx] = tf.grads((xh: tf.Tensor) => dmdLoss.compute({ x0Hat: xh, fakeX0, realX0 }, {}).loss)([x]);
      fakeX0.dispose();
      return dx!;
    };
    const d0 = gradOf(fakeSame);
    expect(tf.max(tf.abs(d0)).dataSync()[0]).toBeLessThan(1e-6);
    // E[x0|x_t] differs by (sigma^2 / v)(mu_f - mu_r) for equal std: the gradient is that over the L1 normaliser.
    const alpha = 1 - t;
    const sigma = t;
    const v = alpha * alpha * s * s + sigma * sigma;
    const xv = x.dataSync();
    const rv = realX0.dataSync();
    const expected: number[] = [];
    for (let b = 0; b < 3; b++) {
      let l1 = 0;
      for (let i = 0; i < 4; i++) l1 += Math.abs(xv[b * 4 + i]! - rv[b * 4 + i]!) / 4;
      for (let i = 0; i < 4; i++) expected.push(((2 / x.size) * ((sigma * sigma) / v) * (muF[i]! - muR[i]!)) / (l1 + 1e-6));
    }
    const d1 = gradOf(fakeShifted);
    expectTensorsClose(d1, expected, { rtol: 1e-4, what: 'DMD gradient for shifted Gaussians' });
    tf.dispose([d0, d1, x, xt, realX0]);
    [real, fakeSame, fakeShifted].forEach((d) => d.dispose());
  });
});
