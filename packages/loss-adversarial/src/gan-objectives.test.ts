import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { describeLossConformance } from '@fewstep/testing';
import {
  hingeDiscriminatorLoss,
  hingeGeneratorLoss,
  logisticDiscriminatorLoss,
  logisticGeneratorLoss,
} from './gan-objectives.js';

// Top-level: the module-level variables below need a backend.
await tf.setBackend('cpu');

const realValues = [2, -0.5, 0.25, 3];
const fakeValues = [-2, 0.5, -0.25, 1.5];
const softplus = (x: number) => Math.log(1 + Math.exp(x));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function scalars(out: { loss: tf.Scalar; metrics?: Record<string, tf.Scalar> }): Promise<Record<string, number>> {
  const r: Record<string, number> = { loss: (await out.loss.data())[0]! };
  for (const [k, v] of Object.entries(out.metrics ?? {})) r[k] = (await v.data())[0]!;
  out.loss.dispose();
  Object.values(out.metrics ?? {}).forEach((m) => m.dispose());
  return r;
}

describe('GAN objectives against hand-computed values', () => {
  const real = () => tf.tensor1d(realValues);
  const fake = () => tf.tensor1d(fakeValues);

  it('hinge D: mean relu(1 - real) + mean relu(1 + fake), with health metrics', async () => {
    // relu(1 - r) = [0, 1.5, 0.75, 0] -> 0.5625; relu(1 + f) = [0, 1.5, 0.75, 2.5] -> 1.1875
    const r = await scalars(hingeDiscriminatorLoss.compute({ realLogits: real(), fakeLogits: fake() }, { margin: 1 }));
    expect(r.loss).toBeCloseTo(0.5625 + 1.1875, 6);
    expect(r.dRealProb).toBeCloseTo(avg(realValues.map(sigmoid)), 6);
    expect(r.dFakeProb).toBeCloseTo(avg(fakeValues.map(sigmoid)), 6);
    expect(r.rt).toBeCloseTo(0.5, 6); // signs [1, -1, 1, 1]
  });

  it('hinge D honours the margin', async () => {
    const r = await scalars(hingeDiscriminatorLoss.compute({ realLogits: real(), fakeLogits: fake() }, { margin: 2 }));
    const expected = avg(realValues.map((x) => Math.max(0, 2 - x))) + avg(fakeValues.map((x) => Math.max(0, 2 + x)));
    expect(r.loss).toBeCloseTo(expected, 6);
  });

  it('hinge G: -mean D(fake)', async () => {
    const r = await scalars(hingeGeneratorLoss.compute({ fakeLogits: fake() }, { margin: 1 }));
    expect(r.loss).toBeCloseTo(-avg(fakeValues), 6);
  });

  it('logistic D: mean softplus(-real) + mean softplus(fake)', async () => {
    const r = await scalars(logisticDiscriminatorLoss.compute({ realLogits: real(), fakeLogits: fake() }, {}));
    expect(r.loss).toBeCloseTo(avg(realValues.map((x) => softplus(-x))) + avg(fakeValues.map(softplus)), 5);
    expect(r.rt).toBeCloseTo(0.5, 6);
  });

  it('logistic G: mean softplus(-fake), gradient -sigmoid(-f)/B', async () => {
    const r = await scalars(logisticGeneratorLoss.compute({ fakeLogits: fake() }, {}));
    expect(r.loss).toBeCloseTo(avg(fakeValues.map((x) => softplus(-x))), 5);
    const f = fake();
    const g = tf.grad((x: tf.Tensor) => logisticGeneratorLoss.compute({ fakeLogits: x }, {}).loss)(f);
    const gv = Array.from(await g.data());
    fakeValues.forEach((x, i) => expect(gv[i]).toBeCloseTo(-sigmoid(-x) / 4, 6));
    tf.dispose([f, g]);
  });

  it('patch logits [B, H, W, 1] are averaged over every element', async () => {
    const patch = tf.tensor4d([1, -3, 0.5, 2], [2, 1, 2, 1]);
    const r = await scalars(hingeGeneratorLoss.compute({ fakeLogits: patch }, { margin: 1 }));
    expect(r.loss).toBeCloseTo(-0.125, 6);
  });
});

// A linear "discriminator" logit = x · w and a linear "generator" G(z) = z * a.
const w = tf.variable(tf.tensor1d([0.3, -0.7, 0.2]), true, 'adv-test.gan.w');
const a = tf.variable(tf.tensor1d([1.5, 0.5, -1]), true, 'adv-test.gan.a');
const xReal = () => tf.tensor2d([1, 2, 3, -1, 0.5, 2], [2, 3]);
const z = () => tf.tensor2d([0.2, -1, 0.4, 1, 1, -0.3], [2, 3]);
const d = (x: tf.Tensor) => tf.sum(tf.mul(x, w), 1);

for (const loss of [hingeDiscriminatorLoss, logisticDiscriminatorLoss] as const) {
  describeLossConformance(loss as typeof hingeDiscriminatorLoss, {
    inputs: () => ({ realLogits: () => d(xReal()), fakeLogits: () => d(tf.mul(z(), a)) }),
    trainable: () => [w],
    valid: loss === hingeDiscriminatorLoss ? [{}, { margin: 0.5 }] : [{}],
    invalid: loss === hingeDiscriminatorLoss ? [{ options: { margin: 0 }, error: /margin/ }] : [],
  });
}
for (const loss of [hingeGeneratorLoss, logisticGeneratorLoss] as const) {
  describeLossConformance(loss as typeof hingeGeneratorLoss, {
    inputs: () => ({ fakeLogits: () => d(tf.mul(z(), a)) }),
    trainable: () => [a],
    valid: [{}],
    invalid: loss === hingeGeneratorLoss ? [{ options: { margin: Number.NaN }, error: /margin/ }] : [],
  });
}
