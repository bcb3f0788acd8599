import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW } from './adam-w.js';
import { ExponentialMovingAverage } from './exponential-moving-average.js';
import { glorotUniform, zeros } from './initializers.js';
import { Network } from './network.js';
import { valueAndGrads } from './value-and-grads.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function mlp(): Network {
  const net = new Network('mlp', { seed: 2 });
  const l0 = net.scope('layers.0');
  l0.param('kernel', [3, 8], glorotUniform());
  l0.param('bias', [8], zeros());
  net.param('layers.1.kernel', [8, 1], glorotUniform());
  net.param('teacher_scale', [1], zeros(), { trainable: false });
  return net;
}

const x = (): tf.Tensor2D => tf.tidy(() => tf.reshape(tf.cos(tf.range(0, 24)), [8, 3]) as tf.Tensor2D);

function lossOf(net: Network, input: tf.Tensor2D, poison: boolean): () => tf.Scalar {
  return () =>
    tf.tidy(() => {
      const h = tf.relu(tf.add(tf.matMul(input, net.kernel('layers.0.kernel') as tf.Tensor2D), net.variable('layers.0.bias')));
      const y = tf.matMul(h, net.kernel('layers.1.kernel') as tf.Tensor2D);
      const l = tf.mean(tf.square(tf.sub(y, tf.add(tf.sum(input, 1, true), net.variable('teacher_scale')))));
      return poison ? tf.mul(l, NaN) : l;
    }) as tf.Scalar;
}

describe('valueAndGrads + AdamW + EMA: a training loop', () => {
  it('keys gradients by parameter name; frozen weights get none', () => {
    const net = mlp();
    const input = x();
    const { value, grads } = valueAndGrads(net, lossOf(net, input, false));
    expect([...grads.keys()]).toEqual(['layers.0.kernel', 'layers.0.bias', 'layers.1.kernel']);
    tf.dispose([value, input, ...grads.values()]);
    net.dispose();
  });

  it('100 steps with a NaN loss every 13: loss decreases, skips leave weights and EMA alone, numTensors flat (P27, P33)', async () => {
    const net = mlp();
    const ema = new ExponentialMovingAverage(net.clone('mlp.ema'), net, { decay: 0.9, warmup: true });
    const opt = new AdamW({ lr: 0.02, weightDecay: 0.01, maxGradNorm: 1 });
    const input = x();
    const losses: number[] = [];
    let baseline = -1;
    for (let step = 0; step < 100; step++) {
      const poison = step % 13 === 12;
      const emaBefore = poison ? ema.target.variable('layers.1.kernel').dataSync().slice() : null;
      const { value, grads } = valueAndGrads(net, lossOf(net, input, poison));
      const r = await opt.step(grads, net);
      if (!r.skipped) ema.update(); // P27: the EMA follows applied steps only
      expect(r.skipped).toBe(poison);
      if (!poison) losses.push((await value.data())[0]!);
      else expect(ema.target.variable('layers.1.kernel').dataSync()).toEqual(emaBefore);
      tf.dispose([value, ...grads.values()]);
      if (step === 1) baseline = tf.memory().numTensors;
      if (step > 1) expect(tf.memory().numTensors).toBe(baseline);
    }
    expect(opt.skippedSteps).toBe(7);
    expect(opt.iterations).toBe(93);
    expect(ema.step).toBe(93);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.5);
    opt.dispose();
    ema.target.dispose();
    net.dispose();
    input.dispose();
  });
});
