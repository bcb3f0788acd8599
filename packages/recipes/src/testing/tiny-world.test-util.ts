/**
 * @file Tiny seeded fixtures for recipe tests: a 4-mode video mixture `[2, 4, 4, 3]`, a tiny
 * flow-matching video DiT teacher (hidden 16, depth 1; random weights unless fitted) and data
 * sources for each recipe data kind; and their image-to-video twins (issue 10): the same mixture
 * as `gmm-i2v:` (frame 0 is the condition), an I2V tiny DiT (`imageCondition`, zero-initialised
 * layers perturbed so the image changes its output) and sources whose batches carry the
 * conditioning frame `image` `[B, H, W, C]` and its noise level `imageNoiseSigma` `[B]`. Fast on
 * the cpu / wasm backends.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  flowMatchingSchedule,
  generatedDataSource,
  gmmI2v,
  gmmVideo,
  inMemoryDataSource,
  sampleI2vPairs,
  seededRng,
  vpDiscreteSchedule,
  type DataSource,
  type GmmI2v,
  type GmmVideo,
} from '@fewstep/core';
import { VideoDiT, imageConditioning, perturbZeroInitialised } from '@fewstep/backbones';
import type { BackboneLike, DiffusionModel } from '../runtime/diffusion-model.js';

export const TINY_SPEC = 'gmm-video:modes=4,frames=2,size=4,channels=3,std=0.1,seed=3';
export const TINY_BATCH = 4;

export function tinyMixture(): GmmVideo {
  return gmmVideo(TINY_SPEC);
}

/** The tiny video DiT every fixture teacher uses (`extra` adds config, e.g. image conditioning). */
function tinyDiT(seed: number, extra: Record<string, unknown> = {}): BackboneLike {
  return VideoDiT.preset('tiny', { inChannels: 3, outChannels: 3, contextDim: null, pooledDim: null, hiddenDim: 16, depth: 2, heads: 2, freqDim: 16, seed, ...extra } as never) as unknown as BackboneLike;
}

/** Freezes the backbone and pairs it with flow matching + flow prediction, or VP discrete + epsilon. */
function frozenTeacher(backbone: BackboneLike, schedule: 'flow' | 'vp' | undefined): DiffusionModel {
  backbone.net.freeze();
  return schedule === 'vp'
    ? { backbone, schedule: vpDiscreteSchedule({ betaSchedule: 'scaled_linear' }), predictionType: 'epsilon' }
    : { backbone, schedule: flowMatchingSchedule(), predictionType: 'flow' };
}

/** A tiny video DiT teacher (flow matching + flow prediction, or VP discrete + epsilon). */
export function tinyTeacher(options: { seed?: number; schedule?: 'flow' | 'vp' } = {}): DiffusionModel {
  return frozenTeacher(tinyDiT(options.seed ?? 1), options.schedule);
}

/** `real` batches `{ x0 }` of exact mixture samples. */
export function realSource(gmm: GmmVideo = tinyMixture(), batch = TINY_BATCH): DataSource {
  return generatedDataSource({ name: 'data:tiny-gmm', config: { spec: gmm.toString(), batch }, make: (_c, rng) => {
      const { x0 } = gmm.sample(batch, rng);
      return { x0 };
    },
  });
}

/** `ode-pairs` batches `{ noise, x0 }` (x0 = exact samples standing in for teacher outputs). */
export function odePairSource(n = 16, batch = TINY_BATCH, gmm: GmmVideo = tinyMixture()): { source: DataSource; dispose(): void } {
  const rng = seededRng(5);
  const { x0 } = gmm.sample(n, rng);
  const noise = tf.randomNormal([n, ...gmm.shape], 0, 1, 'float32', 7);
  return { source: inMemoryDataSource({ name: 'data:tiny-pairs', tensors: { noise, x0 }, batchSize: batch }), dispose: () => tf.dispose([x0, noise]) };
}

/** `trajectories` batches `{ trajectory: [B, K + 1, ...] }` on the given times (noise first). */
export function trajectorySource(times: readonly number[], n = 16, batch = TINY_BATCH, gmm: GmmVideo = tinyMixture()): { source: DataSource; dispose(): void } {
  const rng = seededRng(9);
  const { x0 } = gmm.sample(n, rng);
  const eps = tf.randomNormal([n, ...gmm.shape], 0, 1, 'float32', 11);
  // The straight flow path between eps and x0 stands in for a teacher trajectory.
  const trajectory = tf.tidy(() => tf.stack(times.map((t) => tf.add(tf.mul(x0, 1 - t), tf.mul(eps, t))), 1));
  tf.dispose([x0, eps]);
  return { source: inMemoryDataSource({ name: 'data:tiny-trajectories', tensors: { trajectory }, batchSize: batch }), dispose: () => trajectory.dispose() };
}

// ---------------------------------------------------------------------------------------------
// Image-to-video

export const TINY_I2V_SPEC = 'gmm-i2v:modes=4,frames=2,size=4,channels=3,std=0.1,seed=3';

/** The tiny mixture as an image-to-video distribution (frame 0 = the condition). */
export function tinyI2vMixture(): GmmI2v {
  return gmmI2v(TINY_I2V_SPEC);
}

/**
 * The tiny DiT with image conditioning (concat + frame-0 mask, pooled tiny encoder, noise-level
 * embedding), its zero-initialised layers (the concat kernel and null embedding included)
 * perturbed so that the output depends on the image; frozen.
 */
export function tinyI2vTeacher(options: { seed?: number; schedule?: 'flow' | 'vp' } = {}): DiffusionModel {
  const backbone = tinyDiT(options.seed ?? 1, { imageCondition: imageConditioning() });
  perturbZeroInitialised(backbone.net, options.seed ?? 1, 0.2);
  return frozenTeacher(backbone, options.schedule);
}

/** `real` image-to-video batches `{ x0, image, imageNoiseSigma }` (`sampleI2vPairs`, clean conditions unless `sigmaAug`). */
export function i2vRealSource(gmm: GmmI2v = tinyI2vMixture(), batch = TINY_BATCH, sigmaAug = 0): DataSource {
  return generatedDataSource({
    name: 'data:tiny-gmm-i2v',
    config: { spec: gmm.toString(), batch, sigmaAug },
    make: (_c, rng) => {
      const { x0, condition, imageNoiseSigma } = sampleI2vPairs(gmm, batch, rng, { sigmaAug });
      return { x0, image: condition, imageNoiseSigma };
    },
  });
}

/**
 * `trajectories` image-to-video batches `{ trajectory, image, imageNoiseSigma }`: the straight
 * flow path between noise and an exact video stands in for a teacher trajectory, and the video's
 * first frame is the recorded condition.
 */
export function i2vTrajectorySource(times: readonly number[], n = 16, batch = TINY_BATCH, gmm: GmmI2v = tinyI2vMixture()): { source: DataSource; dispose(): void } {
  const { x0, condition, imageNoiseSigma } = sampleI2vPairs(gmm, n, seededRng(9));
  const eps = tf.randomNormal([n, ...gmm.shape], 0, 1, 'float32', 11);
  const trajectory = tf.tidy(() => tf.stack(times.map((t) => tf.add(tf.mul(x0, 1 - t), tf.mul(eps, t))), 1));
  tf.dispose([x0, eps]);
  const tensors = { trajectory, image: condition, imageNoiseSigma };
  return { source: inMemoryDataSource({ name: 'data:tiny-i2v-trajectories', tensors, batchSize: batch }), dispose: () => tf.dispose(Object.values(tensors)) };
}
