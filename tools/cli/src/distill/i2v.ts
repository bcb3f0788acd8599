/**
 * @file Image-to-video pieces of the distillation pipeline (issue 10): conditioning frames for
 * datasets and evaluation, a first-frame-conditioned view of a video data source, and scoring
 * samples against the exact first-frame-conditioned mixture (`conditionalMixtureMetrics`).
 *
 * Conventions: a condition is the clean first frame of a video of the data (`sigmaAug = 0`, the
 * metrics' default); the backbone additionally gets `imageNoiseSigma` (zeros) when its image
 * conditioning embeds the augmentation level.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  conditionalMixtureMetrics,
  firstFrame,
  mixtureMetrics,
  randomNormal,
  sampleI2vPairs,
  seededRng,
  streamRng,
  type DataSource,
  type Denoiser,
  type GaussianMixture,
  type Sampler,
  type ConditionalMixtureMetrics,
} from '@fewstep/core';
import type { BackboneLike, Conditioning } from '@fewstep/recipes';

/** Conditioning frames `image` `[n, H, W, C]` and their augmentation levels `imageNoiseSigma` `[n]`. */
export interface ConditionFrames {
  image: tf.Tensor;
  imageNoiseSigma: tf.Tensor;
}

/** Whether a backbone's image conditioning embeds `imageNoiseSigma` (so it may be passed). */
export function embedsImageNoise(backbone: BackboneLike): boolean {
  const c = (backbone.toConfig() as { imageCondition?: { noiseAugment?: boolean } | null } | null)?.imageCondition;
  return c?.noiseAugment === true;
}

/** The backbone inputs of conditions: `{ image, imageNoiseSigma }` (the level only when the backbone embeds it). */
export function imageInputs(backbone: BackboneLike, c: ConditionFrames): Conditioning {
  return embedsImageNoise(backbone) ? { image: c.image, imageNoiseSigma: c.imageNoiseSigma } : { image: c.image };
}

/** `n` conditions of a first-frame-conditioned mixture: frame 0 of fresh exact videos (seeded). */
export function mixtureConditions(mixture: GaussianMixture, n: number, seed: number, sigmaAug = 0): ConditionFrames {
  const { condition, x0, imageNoiseSigma } = sampleI2vPairs(mixture, n, seededRng(seed), { sigmaAug });
  x0.dispose();
  return { image: condition, imageNoiseSigma };
}

/** `n` conditions from a video data source: frame 0 of its first batches (read from `seed`'s first cursor). */
export async function dataConditions(source: DataSource, n: number, seed: number): Promise<ConditionFrames> {
  const frames: tf.Tensor[] = [];
  let cursor = { epoch: 0, index: 0 };
  let have = 0;
  while (have < n) {
    const batch = await source.next(cursor, seed);
    cursor = batch.next;
    const x0 = batch.tensors['x0'];
    if (x0 === undefined) throw new Error(`data source '${source.name}' has no x0 key`);
    const f = batch.tensors['image'] ? tf.clone(batch.tensors['image']) : firstFrame(x0);
    frames.push(f);
    have += f.shape[0]!;
    tf.dispose(Object.values(batch.tensors));
  }
  const image = tf.tidy(() => tf.slice(tf.concat(frames, 0), 0, n));
  tf.dispose(frames);
  return { image, imageNoiseSigma: tf.zeros([n]) };
}

/**
 * A video source with each video's first frame as its condition: batches `{ ...batch, image,
 * imageNoiseSigma }`, `image = x0[:, 0] + sigmaAug e` (e from the run seed's stream of that batch,
 * so a resumed run sees the same conditions). For data without conditions of its own
 * (`shapes-video:`); `gmm-i2v:` mixtures make pairs themselves (`mixtureSource`).
 */
export function firstFrameConditionSource(source: DataSource, options: { sigmaAug?: number } = {}): DataSource {
  const sigmaAug = options.sigmaAug ?? 0;
  return {
    name: `${source.name}+first-frame`,
    config: { source: source.config ?? null, firstFrameCondition: { sigmaAug } },
    ...(source.resumable === undefined ? {} : { resumable: source.resumable }),
    async next(cursor, seed) {
      const batch = await source.next(cursor, seed);
      const x0 = batch.tensors['x0'];
      if (x0 === undefined || x0.rank !== 5 || x0.shape[1]! < 2) {
        tf.dispose(Object.values(batch.tensors));
        throw new Error(`first-frame conditioning needs video batches x0 [B, F >= 2, H, W, C] from '${source.name}'`);
      }
      const b = x0.shape[0]!;
      const image = tf.tidy(() => {
        const f0 = firstFrame(x0);
        return sigmaAug > 0 ? tf.add(f0, tf.mul(randomNormal(f0.shape, streamRng(seed, cursor.epoch, `data/first-frame/${cursor.index}`)), sigmaAug)) : f0;
      });
      return { tensors: { ...batch.tensors, image, imageNoiseSigma: tf.fill([b], sigmaAug) }, next: batch.next };
    },
  };
}

/** Ground-truth metrics of image-to-video samples (sample i against condition i). */
export interface I2vMetrics extends Pick<ConditionalMixtureMetrics, 'firstFrameRmse' | 'firstFramePrecision' | 'precision' | 'modeAgreement' | 'modeCoverage' | 'totalVariation' | 'energyDistance'> {
  /** Within-mode spread of the samples' marginal (over the conditions) vs the data's (1 is right). */
  spreadRatio: number;
}

/** Scores `samples` `[n, F, H, W, C]` against `conditions` under the conditional mixture (and the marginal spread). */
export function i2vMetrics(mixture: GaussianMixture, conditions: tf.Tensor, samples: tf.Tensor): I2vMetrics {
  const c = conditionalMixtureMetrics(mixture, conditions, samples);
  const m = mixtureMetrics(mixture, samples);
  return {
    firstFrameRmse: c.firstFrameRmse,
    firstFramePrecision: c.firstFramePrecision,
    precision: c.precision,
    modeAgreement: c.modeAgreement,
    modeCoverage: c.modeCoverage,
    totalVariation: c.totalVariation,
    energyDistance: c.energyDistance,
    spreadRatio: m.spreadRatio,
  };
}

/**
 * Samples `n` videos with `sampler` under the conditions (noise from `seededRng(noiseSeed)`,
 * stochastic steps from `rng`) and times it; the caller disposes `sample`.
 */
export async function sampleUnderConditions(
  denoiser: Denoiser<Conditioning>,
  sampler: Sampler,
  backbone: BackboneLike,
  conditions: ConditionFrames,
  shape: readonly number[],
  options: { noiseSeed: number; rng: number; dropImage?: boolean },
): Promise<{ sample: tf.Tensor; nfe: number; msPerSample: number }> {
  const n = conditions.image.shape[0]!;
  const noise = randomNormal([n, ...shape], seededRng(options.noiseSeed));
  const inputs = imageInputs(backbone, conditions);
  const cond = options.dropImage ? Object.fromEntries(Object.entries(inputs).filter(([k]) => k !== 'image')) : inputs;
  const t0 = performance.now();
  const r = sampler.sample(denoiser, noise, { cond, rng: options.rng });
  await r.sample.data();
  const msPerSample = (performance.now() - t0) / n;
  noise.dispose();
  return { sample: r.sample, nfe: r.nfe, msPerSample };
}
