import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, fromValues, Network, ShapeError } from '@fewstep/core';
import { expectNoLeak, expectTensorsClose, seededNormal } from '@fewstep/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { correlationVolume, frameDifference, MotionHead, temporalHighFrequency, temporalLowFrequency } from './motion-representations.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A [1, F, 1, 1, 1] video with the given per-frame values. */
const ramp = (values: number[]) => tf.tensor5d(values, [1, values.length, 1, 1, 1]);

describe('motion representations', () => {
  it('frame difference: x[:,1:] - x[:,:-1]; zero for a static video', () => {
    expectTensorsClose(frameDifference(ramp([1, 3, 6])), ramp([2, 3]));
    const still = tf.tile(seededNormal([2, 1, 4, 4, 1], 1, 1), [1, 3, 1, 1, 1]);
    expectTensorsClose(frameDifference(still), tf.zeros([2, 2, 4, 4, 1]));
    expect(() => frameDifference(tf.zeros([1, 1, 2, 2, 1]))).toThrow(ShapeError);
  });

  it('correlation volume: dot products with the (2r+1)^2 neighbours in the next frame, 0 outside', () => {
    // Frame 0 = [[1, 2], [3, 4]], frame 1 = [[5, 6], [7, 8]], C = 1, r = 1.
    const x = tf.tensor5d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2, 1]);
    const v = correlationVolume(x, 1);
    expect(v.shape).toEqual([1, 1, 2, 2, 9]);
    const data = v.arraySync() as number[][][][][];
    // Offsets (dy, dx) row-major from (-1, -1): pixel (0, 0) = 1 sees (0,0)->5, (0,1)->6, (1,0)->7, (1,1)->8.
    expect(data[0]![0]![0]![0]).toEqual([0, 0, 0, 0, 5, 6, 0, 7, 8]);
    // Pixel (1, 1) = 4 sees (-1,-1)->5, (-1,0)->6, (0,-1)->7, (0,0)->8.
    expect(data[0]![0]![1]![1]).toEqual([20, 24, 0, 28, 32, 0, 0, 0, 0]);
    // r = 0 with C = 2: the per-pixel channel dot product.
    const c2 = tf.tensor5d([1, 2, 3, 4], [1, 2, 1, 1, 2]);
    expectTensorsClose(correlationVolume(c2, 0), tf.tensor5d([1 * 3 + 2 * 4], [1, 1, 1, 1, 1]));
    expect(() => correlationVolume(x, -1)).toThrow(ConfigError);
  });

  it('temporal low/high frequency: static video -> (x, 0); a ramp keeps its interior, edges are replicated', () => {
    const still = tf.tile(seededNormal([1, 1, 2, 2, 2], 2, 1), [1, 4, 1, 1, 1]);
    expectTensorsClose(temporalLowFrequency(still), still, { atol: 1e-6 });
    expectTensorsClose(temporalHighFrequency(still), tf.zerosLike(still), { atol: 1e-6 });
    const a = Math.exp(-0.5) / (1 + 2 * Math.exp(-0.5));
    expectTensorsClose(temporalLowFrequency(ramp([0, 1, 2])), ramp([a, 1, 2 - a]), { atol: 1e-6 });
    expectTensorsClose(temporalHighFrequency(ramp([0, 1, 2])), ramp([-a, 0, a]), { atol: 1e-6 });
    expect(() => temporalLowFrequency(ramp([0, 1]), { sigma: 0 })).toThrow(ConfigError);
  });

  it('learnable head: W2 silu(W1 dx + b1) + b2 per pixel; EMA target head; shapes; no leaks', async () => {
    const net = new Network('head-test');
    net.param('w1', [1, 1], fromValues([1]));
    net.param('b1', [1], fromValues([0]));
    net.param('w2', [1, 1], fromValues([2]));
    net.param('b2', [1], fromValues([1]));
    const head = new MotionHead(net, 1);
    const silu = (v: number) => v / (1 + Math.exp(-v));
    expectTensorsClose(head.apply(ramp([0, 1, 3])), ramp([2 * silu(1) + 1, 2 * silu(2) + 1]), { atol: 1e-6 });
    const { head: target, ema } = head.emaTarget(0.5);
    net.variable('b2').assign(tf.tensor1d([3]));
    ema.update();
    expectTensorsClose(target.network.variable('b2'), tf.tensor1d([2]));
    const big = MotionHead.create({ channels: 2, hidden: 8, outChannels: 3 });
    const x = seededNormal([2, 3, 4, 4, 2], 3, 1);
    expect(big.apply(x).shape).toEqual([2, 2, 4, 4, 3]);
    expect(big.variables()).toHaveLength(4);
    await expectNoLeak(() => big.apply(x).dispose());
    expect(() => big.apply(tf.zeros([1, 2, 2, 2, 1]))).toThrow(ShapeError);
    expect(() => MotionHead.create({ channels: 0 })).toThrow(ConfigError);
    [head, target, big].forEach((h) => h.dispose());
  });
});
