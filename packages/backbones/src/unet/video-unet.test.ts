import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { Adam, ConfigError, initEngine, ShapeError, valueAndGrads } from '@fewstep/core';
import { expectTensorsClose, seededNormal } from '@fewstep/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DenoiserInputs } from '../backbone-types.js';
import {
  checkConfigRoundTrip,
  checkFrozenForward,
  checkGradientsReachTrainable,
  checkNoLeak,
  checkOutputShapes,
  checkTaps,
  perturbZeroInitialised,
} from '../testing-conformance.js';
import { imageUNetFromVideo } from './image-unet.js';
import { VideoUNet } from './video-unet.js';

const CTX = 32;
function inputs(b: number, f: number, h: number, w: number, seed = 1): DenoiserInputs {
  return {
    x: seededNormal([b, f, h, w, 4], seed),
    t: tf.tensor1d(Array.from({ length: b }, (_, i) => 100 + 300 * i)),
    context: seededNormal([b, 3, CTX], seed + 1),
  };
}

let unet: VideoUNet;
let small: DenoiserInputs;

beforeAll(async () => {
  await initEngine({ backend: 'wasm', report: false });
  unet = VideoUNet.preset('tiny');
  small = inputs(1, 2, 8, 8);
});
afterAll(() => {
  unet.dispose();
  tf.dispose(Object.values(small));
});

describe('VideoUNet (tiny) conformance', () => {
  it('has 0.3-1M parameters and gives [B, F, H, W, C] for several F, H, W (F = 1 included)', () => {
    expect(unet.numParameters()).toBeGreaterThan(300_000);
    expect(unet.numParameters()).toBeLessThan(1_000_000);
    const cases = [inputs(1, 1, 8, 8), inputs(2, 3, 8, 16), inputs(1, 4, 16, 8)];
    checkOutputShapes(unet, [
      { inputs: cases[0]!, out: [1, 1, 8, 8, 4], taps: { 'down.0': [1, 1, 8, 8, 32], 'down.1': [1, 1, 4, 4, 48], mid: [1, 1, 4, 4, 48], 'up.1': [1, 1, 8, 8, 32] } },
      { inputs: cases[1]!, out: [2, 3, 8, 16, 4] },
      { inputs: cases[2]!, out: [1, 4, 16, 8, 4], taps: { 'up.0': [1, 4, 8, 4, 48] } },
    ]);
    cases.forEach((c) => tf.dispose(Object.values(c)));
  });

  it('feature taps: all / none / subset, same pass, unknown names rejected', () => {
    expect(unet.tapNames()).toEqual(['down.0', 'down.1', 'mid', 'up.0', 'up.1']);
    checkTaps(unet, small);
  });

  it('no tensor leaks in forward and forward + backward', () => {
    checkNoLeak(unet, small);
  });

  it('config round trip: JSON-equal config, identical weights and outputs', () => {
    const fresh = VideoUNet.preset('tiny', { seed: 5 });
    try {
      checkConfigRoundTrip(fresh, (c) => VideoUNet.fromConfig(c), small, (s) => perturbZeroInitialised(s.net, 3));
    } finally {
      fresh.dispose();
    }
  });

  it('gradients reach exactly the trainable variables (part frozen)', () => {
    const net = VideoUNet.preset('tiny', { seed: 2 });
    try {
      perturbZeroInitialised(net.net, 7);
      net.net.freeze('down.0');
      net.net.freeze('time_embed');
      const n = checkGradientsReachTrainable(net, small);
      expect(n).toBe(net.net.trainableVariables().size);
      expect(n).toBeLessThan(net.net.variables().size);
    } finally {
      net.dispose();
    }
  });

  it('a frozen forward does no gradient work; gradients still reach the input (discriminator on a frozen teacher)', async () => {
    const { x, ...rest } = small;
    await checkFrozenForward(unet, small, { x, inject: (v) => ({ ...rest, x: v }) });
    expect(unet.net.trainableVariables().size).toBe(unet.net.variables().size);
  });
});

describe('VideoUNet behaviour', () => {
  it('starts as its image UNet applied frame by frame (motion modules are zero-initialised)', () => {
    const image = imageUNetFromVideo(unet);
    try {
      const video = unet.forward(small, { taps: ['mid'] });
      const frames = image.forward(small, { taps: ['mid'] });
      expectTensorsClose(video.out, frames.out, { rtol: 1e-6, what: 'video vs image UNet' });
      expectTensorsClose(video.taps.mid!, frames.taps.mid!, { rtol: 1e-6, what: 'mid tap' });
      tf.dispose([video.out, frames.out, video.taps.mid!, frames.taps.mid!]);
    } finally {
      image.dispose();
    }
  });

  it('motion modules mix frames once trained; clone() and withNetwork() run the same function', () => {
    const net = VideoUNet.preset('tiny', { seed: 4 });
    const copy = net.clone('copy');
    try {
      perturbZeroInitialised(net.net, 9);
      perturbZeroInitialised(copy.net, 9);
      const a = net.predict(small.x, small.t, { context: small.context! });
      const b = copy.predict(small.x, small.t, { context: small.context! });
      expectTensorsClose(b, a, { rtol: 0, what: 'clone' });
      // Changing frame 1 changes frame 0's output only through the motion modules.
      const x2 = tf.concat([tf.slice(small.x, [0, 0, 0, 0, 0], [1, 1, 8, 8, 4]), tf.mul(tf.slice(small.x, [0, 1, 0, 0, 0], [1, 1, 8, 8, 4]), -1)], 1);
      const c = net.predict(x2, small.t, { context: small.context! });
      const d0 = tf.max(tf.abs(tf.sub(tf.slice(a, [0, 0, 0, 0, 0], [1, 1, 8, 8, 4]), tf.slice(c, [0, 0, 0, 0, 0], [1, 1, 8, 8, 4])))).dataSync()[0]!;
      expect(d0).toBeGreaterThan(1e-4);
      tf.dispose([a, b, x2, c]);
    } finally {
      net.dispose();
      copy.dispose();
    }
  });

  it('rejects missing conditioning and bad shapes with typed errors', () => {
    expect(() => unet.forward({ x: small.x, t: small.t })).toThrow(ConfigError);
    expect(() => unet.forward({ ...small, pooled: tf.zeros([1, 4]) })).toThrow(/pooledDim/);
    const odd = tf.zeros([1, 2, 7, 8, 4]);
    expect(() => unet.forward({ ...small, x: odd })).toThrow(ShapeError);
    expect(() => unet.forward({ ...small, x: tf.zeros([1, 8, 8, 4]) })).toThrow(/rank 5/);
    expect(() => unet.forward({ ...small, t: tf.zeros([3]) })).toThrow(ShapeError);
    expect(() => VideoUNet.preset('tiny', { channels: [32, 30] })).toThrow(/heads/);
    expect(() => VideoUNet.preset('huge')).toThrow(/'tiny', 'small', 'base'/);
    expect(() => VideoUNet.preset('tiny', { chanels: [8] } as never)).toThrow(/chanels/);
  });

  it('guidance-scale and pooled embeddings condition the output', () => {
    const net = VideoUNet.preset('tiny', { guidanceEmbedding: true, pooledDim: 8, seed: 6 });
    try {
      const pooled = seededNormal([1, 8], 3);
      const a = net.predict(small.x, small.t, { context: small.context!, pooled, guidanceScale: tf.tensor1d([3]) });
      const b = net.predict(small.x, small.t, { context: small.context!, pooled, guidanceScale: tf.tensor1d([8]) });
      expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!).toBeGreaterThan(1e-5);
      tf.dispose([pooled, a, b]);
    } finally {
      net.dispose();
    }
  });

  it('overfits one fixed noisy batch: loss drops > 5x in 20 Adam steps', async () => {
    const net = VideoUNet.preset('tiny', { seed: 11 });
    const x = seededNormal([1, 2, 8, 8, 4], 21);
    const eps = seededNormal([1, 2, 8, 8, 4], 22);
    const t = tf.tensor1d([400]);
    const context = seededNormal([1, 3, CTX], 23);
    const opt = new Adam({ lr: 3e-3 });
    const losses: number[] = [];
    try {
      for (let step = 0; step < 20; step++) {
        const { value, grads } = valueAndGrads(net.net, () => tf.tidy(() => tf.mean(tf.squaredDifference(net.predict(x, t, { context }), eps)) as tf.Scalar));
        losses.push((await value.data())[0]!);
        await opt.step(grads, net.net);
        value.dispose();
        tf.dispose([...grads.values()]);
      }
    } finally {
      opt.dispose();
      net.dispose();
      tf.dispose([x, eps, t, context]);
    }
    console.log(`tiny video UNet overfit: ${losses.map((l) => l.toFixed(3)).join(" ")}`);
    expect(losses[0]! / losses[losses.length - 1]!).toBeGreaterThan(5);
  });
});
