import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Network } from '@fewstep/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak, expectTensorsClose, seededNormal } from '@fewstep/testing';
import { head2d, temporalHead1d } from '../heads/discriminator-heads.js';
import { criticFeatures } from './critic-features.js';
import { tinyCritic } from './test-sources.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('criticFeatures', () => {
  it('video frames -> grids [B*F, h, w, D] equal to the critic run per frame (class token dropped); temporal view', async () => {
    const net = new Network('critic', { seed: 1 });
    const critic = tinyCritic(net, 2, 6, 3);
    const features = criticFeatures({ critic, layers: [0, 2], patchSize: 2, prefixTokens: 1 });
    const video = seededNormal([2, 3, 4, 6, 3], 1);
    const { grids, temporal } = features(video);
    expect(grids.map((g) => g.shape)).toEqual([[6, 2, 3, 6], [6, 2, 3, 6]]);
    expect(temporal!.map((g) => g.shape)).toEqual([[2, 3, 2, 3, 6], [2, 3, 2, 3, 6]]);
    // Frame (b=1, f=2) is row 1*3+2 = 5; its patch (i=1, j=2) is token 1 + 1*3 + 2 = 6.
    const frame = tf.reshape(tf.slice(video, [1, 2, 0, 0, 0], [1, 1, -1, -1, -1]), [1, 4, 6, 3]);
    const [state] = critic.hiddenStates(frame, [2]);
    const token = tf.reshape(tf.slice(state!, [0, 6, 0], [1, 1, -1]), [6]);
    expectTensorsClose(tf.reshape(tf.slice(grids[1]!, [5, 1, 2, 0], [1, 1, 1, -1]), [6]), token, { atol: 1e-6, what: 'grid token' });
    expectTensorsClose(tf.reshape(tf.slice(temporal![1]!, [1, 2, 1, 2, 0], [1, 1, 1, 1, -1]), [6]), token, { atol: 1e-6, what: 'temporal token' });
    await expectNoLeak(() => {
      const r = features(video);
      return [...r.grids, ...(r.temporal ?? [])];
    });
    // Ready for the heads.
    const dnet = new Network('d', { seed: 2 });
    const y2 = head2d(dnet, 'h2', { inChannels: 6, channels: [4] }).forward(grids[0]!);
    const y1 = temporalHead1d(dnet, 'h1', { inChannels: 6, channels: 4 }).forward(temporal![0]!);
    expect([y2.shape, y1.shape]).toEqual([[6, 1, 2, 1], [2, 3, 1]]);
    tf.dispose([video, frame, state!, token, y1, y2, ...grids, ...temporal!]);
    net.dispose();
    dnet.dispose();
  });

  it('latents: first 3 channels or a fixed projection, bilinear upsampling to size; gradients reach the latents', () => {
    const net = new Network('critic', { seed: 3 });
    const critic = tinyCritic(net, 2, 4, 1);
    const latents = seededNormal([1, 2, 2, 2, 4], 2);
    const first3 = criticFeatures({ critic, layers: [0], patchSize: 2, prefixTokens: 1, input: 'latents', size: 4 });
    const proj = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]];
    const projected = criticFeatures({ critic, layers: [0], patchSize: 2, prefixTokens: 1, input: 'latents', size: 4, latentToRgb: proj });
    const a = first3(latents).grids[0]!;
    const b = projected(latents).grids[0]!;
    expect(a.shape).toEqual([2, 2, 2, 4]);
    expectTensorsClose(b, a, { atol: 1e-5, what: 'identity projection = first 3 channels' });
    // By hand: upsample the first 3 channels, then run the critic.
    const rgb = tf.image.resizeBilinear(tf.slice(tf.reshape(latents, [2, 2, 2, 4]), [0, 0, 0, 0], [-1, -1, -1, 3]) as tf.Tensor4D, [4, 4]);
    const [s] = critic.hiddenStates(rgb, [0]);
    expectTensorsClose(a, tf.reshape(tf.slice(s!, [0, 1, 0], [-1, -1, -1]), [2, 2, 2, 4]), { atol: 1e-6, what: 'latent grid' });
    const g = tf.grad((z: tf.Tensor) => tf.sum(tf.square(projected(z).grids[0]!)))(latents);
    const perChannel = tf.sum(tf.abs(g), [0, 1, 2, 3]).arraySync() as number[];
    expect(perChannel.slice(0, 3).every((v) => v > 0)).toBe(true);
    expect(perChannel[3]).toBe(0); // the projection ignores channel 3
    tf.dispose([latents, a, b, rgb, s!, g]);
    net.dispose();
  });

  it('validates options and shapes', () => {
    const net = new Network('critic', { seed: 1 });
    const critic = tinyCritic(net, 2, 4, 1);
    expect(() => criticFeatures({ critic, layers: [], patchSize: 2 })).toThrow(/layers/);
    expect(() => criticFeatures({ critic, layers: [0], patchSize: 2, size: 5 })).toThrow(/multiple/);
    expect(() => criticFeatures({ critic, layers: [0], patchSize: 2, input: 'latents' })).toThrow(/size/);
    const x = seededNormal([1, 3, 3, 3], 1);
    expect(() => criticFeatures({ critic, layers: [0], patchSize: 2 })(x)).toThrow(/patchSize/);
    const y = seededNormal([1, 4, 4, 3], 2);
    expect(() => criticFeatures({ critic, layers: [0], patchSize: 2, prefixTokens: 0 })(y)).toThrow(/prefixTokens/);
    expect(() => criticFeatures({ critic, layers: [0], patchSize: 2 })(seededNormal([1, 4, 4, 2], 3))).toThrow(/RGB/);
    expect(() => criticFeatures({ critic, layers: [0], patchSize: 2, input: 'latents', size: 4 })(seededNormal([1, 4, 4, 2], 3))).toThrow(/C >= 3/);
    y.dispose();
    x.dispose();
    net.dispose();
  });
});
