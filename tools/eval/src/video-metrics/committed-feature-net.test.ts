/**
 * The committed `fewstep-video-features` v1 (tools/eval/assets/video-features-v1): it reads fresh
 * shapes-video clips' captions well, and its Frechet distance separates real clips from noise and
 * from blurred clips. Thresholds are the values measured on these clips minus a margin (see the
 * asset README for the held-out accuracy of the training run).
 *
 * This file runs on the wasm backend (as `fewstep eval` does), not on cpu: the cpu backend's
 * convolutions take about 6x longer, and the Frechet distance needs a few hundred clips per set
 * before its finite-sample bias (about D / N for D = 128 features) stops hiding the differences.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '@fewstep/core';
import { ShapesVideo } from '@fewstep/data';
import { captionAgreement } from './caption-agreement.js';
import { defaultVideoFeatureNetDir, loadVideoFeatureNet } from './default-feature-net.js';
import { featureStatistics, frechetDistance, type FeatureStatistics } from './frechet-distance.js';
import type { VideoFeatureNet } from './video-feature-net.js';

const N = 256;
let net: VideoFeatureNet;
let real: { videos: tf.Tensor5D; captions: string[] };

const statsOf = (videos: tf.Tensor): FeatureStatistics => {
  const f = net.extract(videos);
  try {
    return featureStatistics(f);
  } finally {
    f.dispose();
  }
};

beforeAll(async () => {
  await initEngine({ backend: 'wasm', report: false });
  net = await loadVideoFeatureNet();
  // Fresh clips: another content seed than the training data (seed 1).
  const b = new ShapesVideo('shapes-video:frames=8,size=16,seed=7').batch(0, N);
  tf.dispose([b.labels, b.tokens]);
  real = { videos: b.videos, captions: b.captions };
});

afterAll(() => {
  real.videos.dispose();
  net.dispose();
});

describe('the committed feature network (fewstep-video-features v1)', () => {
  it('is small, versioned and records how it was trained', () => {
    expect(statSync(join(defaultVideoFeatureNetDir(), 'model.safetensors')).size).toBeLessThan(1 << 20);
    expect(net.config).toMatchObject({ name: 'fewstep-video-features', version: 1, input: { frames: 8, size: 16, channels: 3 }, featureDim: 128 });
    expect(net.config.data).toMatch(/^shapes-video:frames=8,size=16,seed=1,/);
    const heldOut = (net.provenance as { heldOut: { n: number; caption: { all: number } } }).heldOut;
    expect(heldOut.n).toBeGreaterThanOrEqual(512);
    expect(heldOut.caption.all).toBeGreaterThan(0.8);
  });

  it('reads fresh clips with their true captions well, and shuffled captions near chance', () => {
    const preds = net.classify(real.videos);
    const right = captionAgreement(preds, real.captions).score!;
    expect(right.n).toBe(N);
    // Measured on these 256 clips: colour 0.96, shape 0.92, direction 0.97, all 0.86.
    expect(right.colour).toBeGreaterThan(0.9);
    expect(right.shape).toBeGreaterThan(0.8);
    expect(right.direction).toBeGreaterThan(0.9);
    expect(right.all).toBeGreaterThan(0.75);
    // Each clip gets the caption of the next one.
    const shuffled = captionAgreement(preds, real.captions.map((_, i) => real.captions[(i + 1) % N]!)).score!;
    // Measured: colour 0.03, all 0.004 (chance: a random caption rarely names the same colour set).
    expect(shuffled.colour).toBeLessThan(0.1);
    expect(shuffled.all).toBeLessThan(0.05);
  });

  it('Frechet distance: real vs real (two seeds) is much smaller than real vs noise and real vs blurred', () => {
    const other = new ShapesVideo('shapes-video:frames=8,size=16,seed=8').batch(0, N);
    const noise = tf.tidy(() => tf.clipByValue(tf.randomNormal(real.videos.shape, 0, 0.5, 'float32', 4), -1, 1));
    // A 3x3 box blur of every frame.
    const blurred = tf.tidy(() => tf.reshape(tf.avgPool(tf.reshape(real.videos, [N * 8, 16, 16, 3]) as tf.Tensor4D, 3, 1, 'same'), real.videos.shape));
    const s = statsOf(real.videos);
    const fdReal = frechetDistance(s, statsOf(other.videos));
    const fdNoise = frechetDistance(s, statsOf(noise));
    const fdBlur = frechetDistance(s, statsOf(blurred));
    // Measured with 256 clips per set: real 43, noise 643, blurred 185.
    expect(fdNoise).toBeGreaterThan(10 * fdReal);
    expect(fdBlur).toBeGreaterThan(3 * fdReal);
    tf.dispose([other.videos, other.labels, other.tokens, noise, blurred]);
  });
});
