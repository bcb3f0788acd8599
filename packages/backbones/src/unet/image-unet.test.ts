import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, StateMismatchError, applyLora } from '@fewstep/core';
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
import { copySpatialWeights, ImageUNet, imageUNetFromVideo } from './image-unet.js';
import { VideoUNet } from './video-unet.js';

let unet: ImageUNet;
let batch: DenoiserInputs;

beforeAll(async () => {
  await initEngine({ backend: 'wasm', report: false });
  unet = ImageUNet.preset('tiny', { contextDim: null });
  batch = { x: seededNormal([2, 8, 8, 4], 1), t: tf.tensor1d([10, 900]) };
});
afterAll(() => {
  unet.dispose();
  tf.dispose(Object.values(batch));
});

describe('ImageUNet (tiny, unconditional) conformance', () => {
  it('output shapes for [B, H, W, C] and [B, F, H, W, C]', () => {
    const x5 = seededNormal([1, 3, 16, 8, 4], 2);
    const t1 = tf.tensor1d([5]);
    checkOutputShapes(unet, [
      { inputs: batch, out: [2, 8, 8, 4], taps: { 'down.1': [2, 4, 4, 48], 'up.1': [2, 8, 8, 32] } },
      { inputs: { x: x5, t: t1 }, out: [1, 3, 16, 8, 4], taps: { mid: [1, 3, 8, 4, 48] } },
    ]);
    tf.dispose([x5, t1]);
  });

  it('taps, leaks, gradients, frozen forward, config round trip', async () => {
    checkTaps(unet, batch);
    checkNoLeak(unet, batch);
    const fresh = ImageUNet.preset('tiny', { contextDim: null, seed: 9 });
    try {
      checkConfigRoundTrip(fresh, (c) => ImageUNet.fromConfig(c), batch);
      perturbZeroInitialised(fresh.net, 2);
      fresh.net.freeze('up.0');
      checkGradientsReachTrainable(fresh, batch);
    } finally {
      fresh.dispose();
    }
    await checkFrozenForward(unet, batch, { x: batch.x, inject: (x) => ({ x, t: batch.t }) });
  });

  it('a [B, F, H, W, C] input is F independent frames', () => {
    const x5 = seededNormal([1, 2, 8, 8, 4], 3);
    const t = tf.tensor1d([300]);
    const joint = unet.predict(x5, t);
    const frame1 = unet.predict(tf.reshape(tf.slice(x5, [0, 1], [1, 1]), [1, 8, 8, 4]), t);
    expectTensorsClose(tf.reshape(tf.slice(joint, [0, 1], [1, 1]), [1, 8, 8, 4]), frame1, { rtol: 1e-5 });
    tf.dispose([x5, t, joint, frame1]);
  });
});

describe('copySpatialWeights', () => {
  it('copies every spatial parameter by name, LoRA deltas folded in; rejects mismatched architectures', () => {
    const video = VideoUNet.preset('tiny', { seed: 3 });
    const image = ImageUNet.preset('tiny', { seed: 4 });
    const other = ImageUNet.preset('tiny', { channels: [16, 32], seed: 4 });
    try {
      const spatial = [...video.net.variables().keys()].filter((n) => !n.includes('.temporal.'));
      expect([...image.net.variables().keys()]).toEqual(spatial);
      const lora = applyLora(video.net, { rank: 2, targets: (n) => n.endsWith('attn1.to_q.kernel') && !n.includes('temporal'), seed: 1 });
      perturbZeroInitialised(video.net, 5); // makes the LoRA B factors non-zero
      copySpatialWeights(video, image);
      const name = 'mid.attn.0.blocks.0.attn1.to_q.kernel';
      expectTensorsClose(image.net.variable(name), tf.tidy(() => video.net.kernel(name)), { rtol: 0 });
      expect(() => copySpatialWeights(video, other)).toThrow(StateMismatchError);
      lora.dispose();
      const fromVideo = imageUNetFromVideo(video);
      expect(fromVideo.config.channels).toEqual(video.config.channels);
      fromVideo.dispose();
    } finally {
      video.dispose();
      image.dispose();
      other.dispose();
    }
  });
});
