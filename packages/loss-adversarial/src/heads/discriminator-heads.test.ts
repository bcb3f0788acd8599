import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Network } from '@fewstep/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak, expectTensorsClose, seededNormal } from '@fewstep/testing';
import { head2d, head3d, multiScaleHead, temporalHead1d, timestepAwareHeads } from './discriminator-heads.js';
import { groupCount } from './layers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Every trainable variable of `net` gets a non-zero gradient from `loss`. */
function expectGradientsEverywhere(net: Network, loss: () => tf.Scalar): void {
  const vars = [...net.trainableVariables().values()];
  expect(vars.length).toBeGreaterThan(0);
  const { value, grads } = tf.variableGrads(loss, vars);
  for (const v of vars) {
    const g = grads[v.name];
    expect(g, v.name).toBeDefined();
    expect(tf.max(tf.abs(g!)).dataSync()[0], `|grad| of ${v.name}`).toBeGreaterThan(0);
  }
  tf.dispose([value, ...Object.values(grads)]);
}

// A loss with a non-trivial gradient for every output logit (the sum of logits would give the
// GroupNorm shift no gradient through the zero-mean normalisation only in degenerate cases).
function shapeOf(f: () => tf.Tensor): number[] {
  const y = f();
  const shape = y.shape;
  y.dispose();
  return shape;
}

const score = (y: tf.Tensor) => tf.mean(tf.square(tf.sub(y, 0.3))) as tf.Scalar;

describe('discriminator heads', () => {
  it('groupCount is min(32, C/2), at least 1', () => {
    expect([1, 2, 8, 64, 128].map(groupCount)).toEqual([1, 1, 4, 32, 32]);
    expect(() => groupCount(66)).toThrow(/GroupNorm/);
  });

  it('head2d: [B, H, W, C] -> [B, H/4, W/4, 1]; videos fold to frames; gradients reach every variable; no leak', async () => {
    const net = new Network('d2', { seed: 3 });
    const head = head2d(net, 'h', { inChannels: 3, channels: [4, 8] });
    const x = seededNormal([2, 8, 8, 3], 1);
    const v = seededNormal([2, 3, 8, 8, 3], 2);
    expect(net.variables().size).toBe(2 * 4 + 2);
    expect(shapeOf(() => head.forward(x))).toEqual([2, 2, 2, 1]);
    expect(shapeOf(() => head.forward(v))).toEqual([2, 3, 2, 2, 1]);
    await expectNoLeak(() => head.forward(v));
    expectGradientsEverywhere(net, () => score(head.forward(x)));
    expect(() => head.forward(seededNormal([2, 8, 8, 5], 1))).toThrow(/C = 3/);
    tf.dispose([x, v]);
    net.dispose();
  });

  it('head3d: [B, F, H, W, C] -> [B, F, H/2, W/2, 1], gradients reach every variable', async () => {
    const net = new Network('d3', { seed: 4 });
    const head = head3d(net, 'h', { inChannels: 2, channels: 4 });
    const x = seededNormal([2, 3, 4, 4, 2], 3);
    expect(shapeOf(() => head.forward(x))).toEqual([2, 3, 2, 2, 1]);
    await expectNoLeak(() => head.forward(x));
    expectGradientsEverywhere(net, () => score(head.forward(x)));
    tf.dispose(x);
    net.dispose();
  });

  it('temporalHead1d: one logit per frame from [B, F, H, W, C] or [B, F, C]', async () => {
    const net = new Network('d1', { seed: 5 });
    const head = temporalHead1d(net, 'h', { inChannels: 2, channels: 4 });
    const x = seededNormal([2, 5, 3, 3, 2], 4);
    expect(shapeOf(() => head.forward(x))).toEqual([2, 5, 1]);
    expect(shapeOf(() => head.forward(tf.mean(x, [2, 3])))).toEqual([2, 5, 1]);
    await expectNoLeak(() => head.forward(x));
    expectGradientsEverywhere(net, () => score(head.forward(x)));
    expect(() => temporalHead1d(net, 'h2', { inChannels: 2, kernelSize: 2 })).toThrow(/kernelSize/);
    tf.dispose(x);
    net.dispose();
  });

  it('multiScaleHead: three scales resized to S x S and fused', async () => {
    const net = new Network('dm', { seed: 6 });
    const head = multiScaleHead(net, 'h', { inChannels: [2, 4, 8], channels: 4, size: 4 });
    const f = [seededNormal([2, 8, 8, 2], 5), seededNormal([2, 4, 4, 4], 6), seededNormal([2, 2, 2, 8], 7)];
    expect(shapeOf(() => head.forward(f))).toEqual([2, 4, 4, 1]);
    await expectNoLeak(() => head.forward(f));
    expectGradientsEverywhere(net, () => score(head.forward(f)));
    expect(() => head.forward(f.slice(0, 2))).toThrow(/one tensor per scale/);
    tf.dispose(f);
    net.dispose();
  });

  it('timestepAwareHeads route each sample to head k[b], in input order', async () => {
    const net = new Network('dt', { seed: 7 });
    const heads = timestepAwareHeads(net, 'acc', { inChannels: 2, channels: [4], heads: 3 });
    const x = seededNormal([4, 4, 4, 2], 8);
    const k = [2, 0, 2, 1];
    const routed = heads.forward(x, k);
    expect(routed.shape).toEqual([4, 2, 2, 1]);
    for (let b = 0; b < 4; b++) {
      const alone = tf.tidy(() => heads.heads[k[b]!]!.forward(tf.slice(x, [b], [1])));
      const mine = tf.slice(routed, [b], [1]);
      expectTensorsClose(mine, alone, { atol: 1e-5, what: `sample ${b}` });
      tf.dispose([alone, mine]);
    }
    await expectNoLeak(() => heads.forward(x, k));
    // k covers every head, so every head variable gets a gradient.
    expectGradientsEverywhere(net, () => score(heads.forward(x, k)));
    expect(() => heads.forward(x, [0, 1, 2, 3])).toThrow(/k\[3\]/);
    tf.dispose([x, routed]);
    net.dispose();
  });
});
