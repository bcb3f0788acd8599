import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { Adam } from './adam.js';
import { glorotUniform, normal } from './initializers.js';
import { applyLora } from './lora.js';
import { Network } from './network.js';
import { valueAndGrads } from './value-and-grads.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const read = (t: tf.Tensor): Float32Array => t.dataSync() as Float32Array;

/** conv 3x3 (2 -> 5) + relu, global mean pool, dense (5 -> 4). */
function build(): Network {
  const net = new Network('tiny', { seed: 21 });
  net.param('conv.kernel', [3, 3, 2, 5], glorotUniform());
  net.param('conv.bias', [5], normal({ std: 0.1 }));
  net.param('head.kernel', [5, 4], glorotUniform());
  net.param('head.bias', [4], normal({ std: 0.1 }));
  return net;
}

function forward(net: Network, x: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const h = tf.relu(tf.add(tf.conv2d(x, net.kernel('conv.kernel') as tf.Tensor4D, 1, 'same'), net.variable('conv.bias')));
    const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
    return tf.add(tf.matMul(pooled, net.kernel('head.kernel') as tf.Tensor2D), net.variable('head.bias')) as tf.Tensor2D;
  });
}

const input = (): tf.Tensor4D => tf.tidy(() => tf.reshape(tf.sin(tf.range(0, 2 * 6 * 6 * 2)), [2, 6, 6, 2]) as tf.Tensor4D);
const loss = (net: Network, x: tf.Tensor4D) => (): tf.Scalar => tf.tidy(() => tf.mean(tf.square(tf.sub(forward(net, x), 1))));

async function train(net: Network, x: tf.Tensor4D, steps: number): Promise<void> {
  const opt = new Adam({ lr: 0.05 });
  for (let i = 0; i < steps; i++) {
    const { value, grads } = valueAndGrads(net, loss(net, x));
    await opt.step(grads, net);
    value.dispose();
    for (const g of grads.values()) g.dispose();
  }
  opt.dispose();
}

describe('LoRA', () => {
  it('initially equals the base (B = 0); shapes for conv and dense; base frozen', () => {
    const net = build();
    const x = input();
    const y0 = forward(net, x);
    const lora = applyLora(net, { rank: 2, alpha: 4, targets: (n) => n.endsWith('.kernel'), seed: 3 });
    expect(net.variable('conv.kernel.lora_A').shape).toEqual([3 * 3 * 2, 2]);
    expect(net.variable('conv.kernel.lora_B').shape).toEqual([2, 5]);
    expect(net.variable('head.kernel.lora_A').shape).toEqual([5, 2]);
    expect(net.variable('head.kernel.lora_B').shape).toEqual([2, 4]);
    expect(lora.scale).toBe(2);
    expect([...net.trainableVariables().keys()].sort()).toEqual(['conv.kernel.lora_A', 'conv.kernel.lora_B', 'head.kernel.lora_A', 'head.kernel.lora_B']);
    const y1 = forward(net, x);
    expect(read(y1)).toEqual(read(y0));
    tf.dispose([x, y0, y1]);
    lora.dispose();
    expect(net.variables().size).toBe(4);
    expect(net.trainableVariables().size).toBe(4);
    net.dispose();
  });

  it('gradients reach only A and B (the base gets none)', () => {
    const net = build();
    const x = input();
    applyLora(net, { rank: 2, targets: (n) => n.endsWith('.kernel'), seed: 3 });
    const { value, grads } = valueAndGrads(net, loss(net, x));
    expect([...grads.keys()].sort()).toEqual(['conv.kernel.lora_A', 'conv.kernel.lora_B', 'head.kernel.lora_A', 'head.kernel.lora_B']);
    expect(read(grads.get('head.kernel.lora_B')!).some((v) => v !== 0)).toBe(true);
    expect(read(grads.get('head.kernel.lora_A')!).every((v) => v === 0)).toBe(true); // dL/dA = dL/dW · B^T, B = 0
    tf.dispose([value, x, ...grads.values()]);
    net.dispose();
  });

  it("freeze: 'targets' leaves the other parameters trainable", () => {
    const net = build();
    applyLora(net, { rank: 1, targets: (n) => n === 'head.kernel', freeze: 'targets' });
    expect([...net.trainableVariables().keys()]).toEqual(['conv.kernel', 'conv.bias', 'head.bias', 'head.kernel.lora_A', 'head.kernel.lora_B']);
    net.dispose();
  });

  it('merge folds the adapters in (same outputs), unmerge restores the base within 1e-6; loraWeights holds only adapters', async () => {
    const net = build();
    const x = input();
    const base = new Map([...net.variables()].map(([n, v]) => [n, read(v).slice()]));
    const lora = applyLora(net, { rank: 2, alpha: 2, targets: (n) => n.endsWith('.kernel'), seed: 5 });
    await train(net, x, 5);
    expect(read(net.variable('head.kernel'))).toEqual(base.get('head.kernel')); // the base is frozen
    const yAdapted = forward(net, x);

    const saved = lora.loraWeights();
    expect([...saved.keys()].sort()).toEqual(['conv.kernel.lora_A', 'conv.kernel.lora_B', 'head.kernel.lora_A', 'head.kernel.lora_B']);

    lora.merge();
    expect(lora.merged).toBe(true);
    expect([...net.variables().keys()]).toEqual(['conv.kernel', 'conv.bias', 'head.kernel', 'head.bias']);
    expect(net.kernel('head.kernel')).toBe(net.variable('head.kernel'));
    const yMerged = forward(net, x);
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(yMerged, yAdapted))).dataSync()[0]!);
    expect(d).toBeLessThan(1e-5);
    expect(read(net.variable('head.kernel'))).not.toEqual(base.get('head.kernel'));
    // loraWeights still works while merged.
    const whileMerged = lora.loraWeights();
    expect(read(whileMerged.get('conv.kernel.lora_B')!)).toEqual(read(saved.get('conv.kernel.lora_B')!));

    lora.unmerge();
    for (const n of ['conv.kernel', 'head.kernel']) {
      const got = read(net.variable(n));
      const want = base.get(n)!;
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      expect(worst).toBeLessThan(1e-6);
    }
    const yBack = forward(net, x);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(yBack, yAdapted))).dataSync()[0]!)).toBeLessThan(1e-5);
    tf.dispose([x, yAdapted, yMerged, yBack, ...saved.values(), ...whileMerged.values()]);
    lora.dispose();
    net.dispose();
  });

  it('clone of an adapted network keeps its own adapters; no leaks across apply/merge/unmerge/dispose', () => {
    const before = tf.memory().numTensors;
    const net = build();
    const lora = applyLora(net, { rank: 2, targets: (n) => n.endsWith('.kernel') });
    const ema = net.clone('tiny.ema');
    expect(ema.lowRankDelta('conv.kernel')).toEqual({ a: 'conv.kernel.lora_A', b: 'conv.kernel.lora_B', scale: 1 });
    lora.merge();
    lora.unmerge();
    lora.merge();
    lora.dispose();
    ema.dispose();
    net.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects targets that match nothing or a rank-1 variable', () => {
    const net = build();
    expect(() => applyLora(net, { rank: 2, targets: () => false })).toThrow(ConfigError);
    expect(() => applyLora(net, { rank: 2, targets: (n) => n.endsWith('bias') })).toThrow(/rank >= 2/);
    expect(net.variables().size).toBe(4);
    net.dispose();
  });
});
