import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Network } from '@fewstep/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak, expectTensorsClose, seededNormal } from '@fewstep/testing';
import { head2d } from '../heads/discriminator-heads.js';
import { textConditionedHead } from './text-conditioned-head.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('textConditionedHead', () => {
  it('logits = head(phi) + <V e, mean phi>, checked by hand; the text changes the logits', async () => {
    const net = new Network('d', { seed: 1 });
    const head = head2d(net, 'h', { inChannels: 4, channels: [4] });
    const cond = textConditionedHead(net, 'tc', { head, featureChannels: 4, textChannels: 3 });
    const phi = seededNormal([2, 2, 4, 4, 4], 1);
    const e = seededNormal([2, 3], 2);
    const y = cond.forward(phi, e);
    expect(y.shape).toEqual([2, 2, 2, 2, 1]);
    // Independent computation of the projection term.
    const v = net.variable('tc.proj.kernel').arraySync() as number[][];
    const eArr = e.arraySync() as number[][];
    const pooled = tf.mean(phi, [1, 2, 3]).arraySync() as number[][];
    const inner = eArr.map((row, b) => [0, 1, 2, 3].reduce((acc, c) => acc + row.reduce((s, ei, k) => s + ei * v[k]![c]!, 0) * pooled[b]![c]!, 0));
    const base = head.forward(phi);
    const expected = tf.add(base, tf.reshape(tf.tensor1d(inner), [2, 1, 1, 1, 1]));
    expectTensorsClose(y, expected, { atol: 1e-5, what: 'projection logits' });
    const y2 = cond.forward(phi, tf.mul(e, -1));
    expect(tf.max(tf.abs(tf.sub(y2, y))).dataSync()[0]).toBeGreaterThan(1e-3);
    // Token embeddings [B, L, E] are averaged over L.
    const tokens = tf.stack([e, e], 1);
    expectTensorsClose(cond.forward(phi, tokens), y, { atol: 1e-6, what: 'token embeddings' });
    await expectNoLeak(() => cond.forward(phi, e));
    tf.dispose([phi, e, y, y2, base, expected, tokens]);
    net.dispose();
  });

  it('gradients reach the projection and the head', () => {
    const net = new Network('d', { seed: 2 });
    const head = head2d(net, 'h', { inChannels: 4, channels: [4] });
    const cond = textConditionedHead(net, 'tc', { head, featureChannels: 4, textChannels: 3 });
    const phi = seededNormal([2, 4, 4, 4], 3);
    const e = seededNormal([2, 3], 4);
    const vars = [...net.trainableVariables().values()];
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(cond.forward(phi, e), 0.3))) as tf.Scalar, vars);
    expect(tf.max(tf.abs(grads[net.variable('tc.proj.kernel').name]!)).dataSync()[0]).toBeGreaterThan(0);
    expect(tf.max(tf.abs(grads[net.variable('h.out.kernel').name]!)).dataSync()[0]).toBeGreaterThan(0);
    expect(() => cond.forward(phi, seededNormal([2, 5], 1))).toThrow(/text/);
    expect(() => textConditionedHead(net, 'bad', { head, featureChannels: 0, textChannels: 3 })).toThrow(/featureChannels/);
    tf.dispose([phi, e, value, ...Object.values(grads)]);
    net.dispose();
  });
});
