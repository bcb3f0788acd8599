/**
 * @file The pluggable contracts of the video metrics: a {@link VideoFeatureExtractor} maps videos
 * `[N, F, H, W, C]` to features `[N, D]` (the Frechet distance's space; fewstep's own is the
 * `fewstep-video-features` network, a user may pass e.g. an I3D they load), and an optional
 * {@link VideoAttributeClassifier} predicts the caption attributes of each video (caption
 * agreement). The metrics code only ever talks to these interfaces.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@fewstep/core';

/**
 * Anything that maps videos to feature vectors. `extract` returns a NEW tensor `[N, featureDim]`
 * that the caller disposes; it must not dispose its input. Name and version identify the feature
 * space in reports: Frechet distances are comparable only within one `name@version`.
 *
 * @example
 * const mine: VideoFeatureExtractor = {
 *   name: 'i3d-kinetics400', version: 1, featureDim: 400,
 *   extract: (videos) => tf.tidy(() => myI3d.predict(videos) as tf.Tensor2D),
 * };
 * videoMetrics({ samples, reference, extractor: mine });
 */
export interface VideoFeatureExtractor {
  readonly name: string;
  readonly version: number | string;
  readonly featureDim: number;
  /** `[N, F, H, W, C]` (fewstep's [-1, 1]) to `[N, featureDim]`. */
  extract(videos: tf.Tensor): tf.Tensor;
}

/** One object a classifier sees in a video. */
export interface PredictedObject {
  readonly colour: string;
  readonly shape: string;
  readonly direction: string;
  /** Probability that an object of this colour is present. */
  readonly confidence: number;
}

/**
 * Per-video attribute predictions over a fixed colour vocabulary (one slot per colour: a
 * shapes-video clip never repeats a colour). Plain arrays: no tensors to dispose.
 */
export interface VideoAttributePredictions {
  readonly colours: readonly string[];
  readonly shapes: readonly string[];
  readonly directions: readonly string[];
  /** `[N][K]` probability that colour k is present. */
  readonly presence: readonly (readonly number[])[];
  /** `[N][K]` most likely shape index of the object of colour k (meaningful where present). */
  readonly shape: readonly (readonly number[])[];
  /** `[N][K]` most likely direction index of the object of colour k (meaningful where present). */
  readonly direction: readonly (readonly number[])[];
  /** `[N]` the objects judged present (presence > 0.5), in colour order. */
  readonly objects: readonly (readonly PredictedObject[])[];
}

/** Anything that predicts the caption attributes of videos (used by caption agreement). */
export interface VideoAttributeClassifier {
  classify(videos: tf.Tensor): VideoAttributePredictions;
}

/** Whether `x` also implements {@link VideoAttributeClassifier}. */
export function isAttributeClassifier(x: unknown): x is VideoAttributeClassifier {
  return typeof x === 'object' && x !== null && typeof (x as { classify?: unknown }).classify === 'function';
}

/**
 * Runs `extractor.extract` over `videos` in chunks of `batchSize` and checks the result is
 * `[N, featureDim]` and finite. The caller disposes the result.
 */
export function extractFeatures(extractor: VideoFeatureExtractor, videos: tf.Tensor, batchSize = 64): tf.Tensor2D {
  if (videos.rank !== 5) throw new ShapeError('videos', videos.shape, '[N, F, H, W, C]');
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError('extractFeatures.batchSize', batchSize, 'an integer >= 1');
  const n = videos.shape[0]!;
  const parts: tf.Tensor[] = [];
  try {
    for (let i = 0; i < n; i += batchSize) {
      const b = Math.min(batchSize, n - i);
      const chunk = n <= batchSize ? videos : tf.slice(videos, [i, 0, 0, 0, 0], [b, -1, -1, -1, -1]);
      try {
        const f = extractor.extract(chunk);
        parts.push(f);
        if (f.rank !== 2 || f.shape[0] !== b || f.shape[1] !== extractor.featureDim) {
          throw new ShapeError(`features of extractor '${extractor.name}'`, f.shape, `[${b}, ${extractor.featureDim}] (N, featureDim)`, 'return one featureDim vector per video');
        }
      } finally {
        if (chunk !== videos) chunk.dispose();
      }
    }
    const out = parts.length === 1 ? tf.clone(parts[0]!) : tf.concat(parts, 0);
    const finite = tf.tidy(() => tf.all(tf.isFinite(out)).dataSync()[0] === 1);
    if (!finite) {
      out.dispose();
      throw new ConfigError(`features of extractor '${extractor.name}'`, 'NaN or Inf', 'finite values', 'check the inputs (fewstep videos are in [-1, 1]) and the extractor');
    }
    return out as tf.Tensor2D;
  } finally {
    tf.dispose(parts);
  }
}
