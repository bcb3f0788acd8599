import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectTensorsClose, finiteDifferenceCheck } from '@fewstep/testing';
import { geluTanh, silu } from './activations.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const xs = [-3, -1, -0.5, 0, 0.3, 1, 2.5];

describe('activations', () => {
  it('geluTanh is ½x(1 + tanh(√(2/π)(x + 0.044715x³)))', () => {
    const k = Math.sqrt(2 / Math.PI);
    const expected = xs.map((x) => 0.5 * x * (1 + Math.tanh(k * (x + 0.044715 * x ** 3))));
    expectTensorsClose(geluTanh(tf.tensor1d(xs)), expected, { rtol: 1e-6 });
  });

  it('geluTanh has the right gradient (custom backward vs finite differences)', () => {
    const x = tf.tensor1d(xs);
    const [worst] = finiteDifferenceCheck((t) => tf.sum(tf.mul(geluTanh(t), tf.tensor1d([1, 2, 3, 4, 5, 6, 7]))), [x], { eps: 1e-2 });
    expect(worst).toBeLessThan(2e-2);
  });

  it('silu is x·σ(x)', () => {
    expectTensorsClose(silu(tf.tensor1d(xs)), xs.map((x) => x / (1 + Math.exp(-x))), { rtol: 1e-6 });
  });
});
