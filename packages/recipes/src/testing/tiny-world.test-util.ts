/**
 * @file Tiny seeded fixtures for recipe tests: a 4-mode video mixture `[2, 4, 4, 3]`, a tiny
 * flow-matching video DiT teacher (hidden 16, depth 1; random weights unless fitted) and data
 * sources for each recipe data kind. Fast on the cpu / wasm backends.
 */
import * as tf from '@tensorflow/tfjs-core';
import { flowMatchingSchedule, generatedDataSource, gmmVideo, inMemoryDataSource, seededRng, vpDiscreteSchedule, type DataSource, type GmmVideo } from '@fewstep/core';
import { VideoDiT } from '@fewstep/backbones';
import type { BackboneLike, DiffusionModel } from '../runtime/diffusion-model.js';

export const TINY_SPEC = 'gmm-video:modes=4,frames=2,size=4,channels=3,std=0.1,seed=3';
export const TINY_BATCH = 4;

export function tinyMixture(): GmmVideo {
  return gmmVideo(TINY_SPEC);
}

/** A tiny video DiT teacher (flow matching + flow prediction, or VP discrete + epsilon). */
export function tinyTeacher(options: { seed?: number; schedule?: 'flow' | 'vp' } = {}): DiffusionModel {
  const backbone = VideoDiT.preset('tiny', {
    inChannels: 3,
    outChannels: 3,
    contextDim: null,
    pooledDim: null,
    hiddenDim: 16,
    depth: 2,
    heads: 2,
    freqDim: 16,
    seed: options.seed ?? 1,
  } as never) as unknown as BackboneLike;
  backbone.net.freeze();
  return options.schedule === 'vp'
    ? { backbone, schedule: vpDiscreteSchedule({ betaSchedule: 'scaled_linear' }), predictionType: 'epsilon' }
    : { backbone, schedule: flowMatchingSchedule(), predictionType: 'flow' };
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
