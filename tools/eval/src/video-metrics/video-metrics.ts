/**
 * @file `videoMetrics`: every video metric of a sample set against a reference set, as one plain
 * (JSON-ready) object: the Frechet distance of their features under any
 * {@link VideoFeatureExtractor} (frechet-distance.ts), per-frame sharpness, temporal change and
 * diversity of both sets with sample / reference ratios (frame-metrics.ts), and caption agreement
 * of the samples (and of the reference, when it has captions) under an attribute classifier
 * (caption-agreement.ts; by default the extractor itself when it classifies, as
 * `fewstep-video-features` does). Videos are `[N, F, H, W, C]` in [-1, 1]; the two sets may differ
 * in N but the pixel statistics are only comparable at the same `[F, H, W, C]`.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@fewstep/core';
import { captionAgreement, type CaptionAgreement } from './caption-agreement.js';
import { extractFeatures, isAttributeClassifier, type VideoAttributeClassifier, type VideoFeatureExtractor } from './feature-extractor.js';
import { frameStatistics, type DiversityOptions } from './frame-metrics.js';
import { featureStatistics, frechetTerms } from './frechet-distance.js';

/** Inputs of {@link videoMetrics}. Tensors stay owned by the caller. */
export interface VideoMetricsOptions {
  /** `[N, F, H, W, C]` generated videos. */
  readonly samples: tf.Tensor;
  /** `[M, F, H, W, C]` real videos. */
  readonly reference: tf.Tensor;
  readonly extractor: VideoFeatureExtractor;
  /** One caption per sample (the prompt it was generated from); absent or all empty: no caption agreement. */
  readonly captions?: readonly string[];
  /** One caption per reference video (scores the classifier on real data, for comparison). */
  readonly referenceCaptions?: readonly string[];
  /** @default the extractor when it implements `classify`; `null` disables caption agreement */
  readonly classifier?: VideoAttributeClassifier | null;
  /** Videos per extractor call. @default 64 */
  readonly batchSize?: number;
  readonly diversity?: DiversityOptions;
}

/** What {@link videoMetrics} returns (plain numbers, strings and nulls). */
export interface VideoMetrics {
  /** Samples N and reference videos M. */
  readonly n: number;
  readonly nReference: number;
  /** Frechet distance `d^2` of the features, with its mean and covariance terms. */
  readonly frechetDistance: number;
  readonly frechetMeanTerm: number;
  readonly frechetCovarianceTerm: number;
  /** Variance of the Laplacian of luminance, averaged over frames. */
  readonly sharpness: number;
  readonly sharpnessRef: number;
  readonly sharpnessRatio: number | null;
  /** Mean absolute frame-to-frame change (null for single frames). */
  readonly temporalChange: number | null;
  readonly temporalChangeRef: number | null;
  readonly temporalChangeRatio: number | null;
  /** Mean pairwise L2 distance between videos. */
  readonly diversity: number | null;
  readonly diversityRef: number | null;
  readonly diversityRatio: number | null;
  /** Caption agreement of the samples, or null with `captionAgreementReason`. */
  readonly captionAgreement: CaptionAgreement | null;
  readonly captionAgreementReason: string | null;
  /** The classifier's agreement on the reference's own captions (null when it has none). */
  readonly captionAgreementRef: CaptionAgreement | null;
  readonly featureNet: { readonly name: string; readonly version: number | string; readonly featureDim: number };
}

const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b);

/** Every video metric of `samples` against `reference` (see the file comment). */
export function videoMetrics(o: VideoMetricsOptions): VideoMetrics {
  const { samples, reference, extractor } = o;
  if (samples.rank !== 5) throw new ShapeError('samples', samples.shape, '[N, F, H, W, C] videos');
  if (reference.rank !== 5) throw new ShapeError('reference', reference.shape, '[M, F, H, W, C] videos');
  if (samples.shape[0]! < 2 || reference.shape[0]! < 2) throw new ShapeError(samples.shape[0]! < 2 ? 'samples' : 'reference', samples.shape[0]! < 2 ? samples.shape : reference.shape, 'at least 2 videos (a covariance and a pairwise distance need two)');
  // 1. Frechet distance of the features.
  const fs = extractFeatures(extractor, samples, o.batchSize);
  const fr = extractFeatures(extractor, reference, o.batchSize);
  let fd: ReturnType<typeof frechetTerms>;
  try {
    fd = frechetTerms(featureStatistics(fs, 'sample features'), featureStatistics(fr, 'reference features'));
  } finally {
    fs.dispose();
    fr.dispose();
  }
  // 2. Pixel statistics.
  const s = frameStatistics(samples, o.diversity);
  const r = frameStatistics(reference, o.diversity);
  // 3. Caption agreement.
  const classifier = o.classifier === undefined ? (isAttributeClassifier(extractor) ? extractor : null) : o.classifier;
  let agreement: CaptionAgreement | null = null;
  let reason: string | null;
  let agreementRef: CaptionAgreement | null = null;
  if (classifier === null) reason = `the feature extractor '${extractor.name}' has no attribute classifier (pass one as 'classifier')`;
  else if (o.captions === undefined || o.captions.every((c) => c.trim() === '')) reason = 'the samples carry no captions: an unconditional model is sampled without prompts';
  else {
    const res = captionAgreement(classifier.classify(samples), o.captions);
    agreement = res.score;
    reason = res.reason;
  }
  if (classifier !== null && o.referenceCaptions !== undefined && o.referenceCaptions.some((c) => c.trim() !== '')) {
    agreementRef = captionAgreement(classifier.classify(reference), o.referenceCaptions).score;
  }
  return {
    n: samples.shape[0]!,
    nReference: reference.shape[0]!,
    frechetDistance: fd.distance,
    frechetMeanTerm: fd.meanTerm,
    frechetCovarianceTerm: fd.covarianceTerm,
    sharpness: s.sharpness,
    sharpnessRef: r.sharpness,
    sharpnessRatio: ratio(s.sharpness, r.sharpness),
    temporalChange: s.temporalChange,
    temporalChangeRef: r.temporalChange,
    temporalChangeRatio: ratio(s.temporalChange, r.temporalChange),
    diversity: s.diversity,
    diversityRef: r.diversity,
    diversityRatio: ratio(s.diversity, r.diversity),
    captionAgreement: agreement,
    captionAgreementReason: reason,
    captionAgreementRef: agreementRef,
    featureNet: { name: extractor.name, version: extractor.version, featureDim: extractor.featureDim },
  };
}
