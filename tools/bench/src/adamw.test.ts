import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, it } from 'vitest';
import { expectTensorsClose } from '@fewstep/testing';
import { adamwInit, adamwStep } from './adamw.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('adamwStep', () => {
  it('matches torch.optim.AdamW over two steps (closed form)', () => {
    const lr = 0.1;
    const wd = 0.5;
    const [b1, b2, eps] = [0.9, 0.999, 1e-8];
    const p0 = [1, -2, 0.5];
    const g1 = [0.1, -0.3, 2];
    const g2 = [-0.2, 0.1, 1];
    const params = [tf.tensor1d(p0)];
    let state = adamwInit(params);
    const s1 = adamwStep(params, [tf.tensor1d(g1)], state, { lr, weightDecay: wd });
    state = s1.state;
    const s2 = adamwStep(s1.params, [tf.tensor1d(g2)], state, { lr, weightDecay: wd });
    // Reference, element-wise, exactly as torch.optim.AdamW (decoupled decay, bias corrections).
    const ref = p0.map((p, i) => {
      let m = 0;
      let v = 0;
      let x = p;
      [g1[i] as number, g2[i] as number].forEach((g, k) => {
        const t = k + 1;
        x *= 1 - lr * wd;
        m = b1 * m + (1 - b1) * g;
        v = b2 * v + (1 - b2) * g * g;
        x -= (lr / (1 - b1 ** t)) * (m / (Math.sqrt(v) / Math.sqrt(1 - b2 ** t) + eps));
      });
      return x;
    });
    expectTensorsClose(s2.params[0] as tf.Tensor, ref, { rtol: 1e-6, what: 'AdamW params after 2 steps' });
  });

  it('is Adam when weightDecay is 0: the first step moves each weight by lr against its gradient sign', () => {
    const params = [tf.tensor1d([1, 1])];
    const { params: next } = adamwStep(params, [tf.tensor1d([3, -0.01])], adamwInit(params), { lr: 0.01 });
    expectTensorsClose(next[0] as tf.Tensor, [0.99, 1.01], { rtol: 1e-6 });
  });
});
