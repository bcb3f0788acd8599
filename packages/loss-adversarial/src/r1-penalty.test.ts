import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { describeLossConformance, expectTensorsClose } from '@fewstep/testing';
import { r1Penalty } from './r1-penalty.js';

// Top-level: the module-level variables below need a backend.
await tf.setBackend('cpu');

const wValues = [0.5, -1, 2, 0.25];
const w = tf.variable(tf.tensor1d(wValues), true, 'adv-test.r1.w');
const real = () => tf.tensor2d([1, 2, -1, 0.5, 3, 0, 1, -2], [2, 4]);
/** Quadratic D(x) = 0.5 * sum(w * x^2): grad_x = w * x. */
const quadratic = (x: tf.Tensor) => tf.mul(0.5, tf.sum(tf.mul(w, tf.square(x)), 1));

describe('R1 penalty against closed forms', () => {
  it('linear D(x) = x · w + b: L = n * gamma/2 * ||w||^2 and dL/dw = n * gamma * w', async () => {
    const lin = (x: tf.Tensor) => tf.add(tf.sum(tf.mul(x, w), 1), 3);
    const x = real();
    const opts = { gamma: 4, lazyInterval: 16 };
    const { value, grads } = tf.variableGrads(() => r1Penalty.compute({ discriminator: lin, real: x }, opts).loss, [w]);
    const normSq = wValues.reduce((s, v) => s + v * v, 0);
    expect((await value.data())[0]).toBeCloseTo(16 * 2 * normSq, 3);
    expectTensorsClose(grads[w.name]!, tf.tensor1d(wValues.map((v) => 16 * 4 * v)), { atol: 1e-4, what: 'dL/dw' });
    tf.dispose([x, value, ...Object.values(grads)]);
  });

  it('quadratic D: L = gamma/2 * mean_b ||w * x_b||^2', async () => {
    const x = real();
    const xs = await x.array();
    const out = r1Penalty.compute({ discriminator: quadratic, real: x }, { gamma: 2, lazyInterval: 1 });
    const expected = xs.map((row) => row.reduce((s, v, j) => s + (wValues[j]! * v) ** 2, 0));
    expect((await out.loss.data())[0]).toBeCloseTo((expected[0]! + expected[1]!) / 2, 4);
    tf.dispose([x, out.loss, ...Object.values(out.metrics ?? {})]);
  });
});

describeLossConformance(r1Penalty, {
  inputs: () => ({ discriminator: quadratic, real: real() }),
  trainable: () => [w],
  valid: [{}, { gamma: 1, lazyInterval: 16 }],
  invalid: [
    { options: { gamma: -1 }, error: /gamma/ },
    { options: { lazyInterval: 0 }, error: /lazyInterval/ },
    { options: { lazyInterval: 1.5 }, error: /lazyInterval/ },
  ],
});

describe('R1 penalty through a conv discriminator head', () => {
  it('second-order gradients reach every head variable but the last bias (conv, GroupNorm, SiLU)', async () => {
    const { Network } = await import('@fewstep/core');
    const { head2d } = await import('./heads/discriminator-heads.js');
    const net = new Network('r1-head', { seed: 2 });
    const head = head2d(net, 'h', { inChannels: 2, channels: [4] });
    const x = tf.randomNormal([2, 4, 4, 2], 0, 1, 'float32', 3);
    const vars = [...net.trainableVariables().values()];
    const { value, grads } = tf.variableGrads(() => r1Penalty.compute({ discriminator: (v) => head.forward(v), real: x }, r1Penalty.defaults).loss, vars);
    expect(Number.isFinite((await value.data())[0])).toBe(true);
    for (const v of vars) {
      // grad_x D does not depend on the output bias, so R1 gives it no gradient.
      if (v.name.includes('h.out.bias')) expect(grads[v.name], v.name).toBeUndefined();
      else expect(tf.max(tf.abs(grads[v.name]!)).dataSync()[0], v.name).toBeGreaterThan(0);
    }
    tf.dispose([x, value, ...Object.values(grads)]);
    net.dispose();
  });
});
