import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@fewstep/core';
import type { VideoAttributeClassifier, VideoFeatureExtractor } from './feature-extractor.js';
import { diversity, sharpness, temporalChange } from './frame-metrics.js';
import { videoMetrics } from './video-metrics.js';

/** Features = the per-channel mean of each video (D = C): a mean shift d moves every feature by d. */
const channelMeans: VideoFeatureExtractor = {
  name: 'test:channel-means',
  version: 'x',
  featureDim: 3,
  extract: (v) => tf.tidy(() => tf.mean(v, [1, 2, 3])),
};

/** A classifier that sees one red circle moving left in every video. */
const redCircleLeft: VideoAttributeClassifier = {
  classify: (v) => {
    const n = v.shape[0]!;
    return {
      colours: ['red', 'blue'],
      shapes: ['circle', 'square'],
      directions: ['left', 'right'],
      presence: Array.from({ length: n }, () => [0.9, 0.1]),
      shape: Array.from({ length: n }, () => [0, 0]),
      direction: Array.from({ length: n }, () => [0, 0]),
      objects: Array.from({ length: n }, () => [{ colour: 'red', shape: 'circle', direction: 'left', confidence: 0.9 }]),
    };
  },
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('videoMetrics', () => {
  let reference: tf.Tensor;
  beforeAll(() => {
    reference = tf.tidy(() => tf.tanh(tf.randomNormal([24, 3, 5, 5, 3], 0, 1, 'float32', 3)));
  });
  afterAll(() => reference.dispose());

  it('is computed from the right tensors: FD 0 against itself, 3 d^2 for a mean shift d under channel means', () => {
    const before = tf.memory().numTensors;
    const same = videoMetrics({ samples: reference, reference, extractor: channelMeans });
    expect(same.frechetDistance).toBeLessThan(1e-9);
    expect(same.sharpnessRatio).toBeCloseTo(1, 12);
    expect(same.temporalChangeRatio).toBeCloseTo(1, 12);
    expect(same.diversityRatio).toBeCloseTo(1, 12);
    const shifted = tf.add(reference, 0.2);
    const m = videoMetrics({ samples: shifted, reference, extractor: channelMeans });
    // Shifting every pixel by 0.2 moves each channel mean by 0.2 and leaves covariances, the
    // Laplacian, frame differences and pairwise distances as they were.
    expect(m.frechetDistance).toBeCloseTo(3 * 0.04, 5);
    expect(m.frechetMeanTerm).toBeCloseTo(3 * 0.04, 5);
    expect(m.sharpness).toBeCloseTo(sharpness(reference), 4);
    expect(m.temporalChange).toBeCloseTo(temporalChange(reference), 5);
    expect(m.diversity).toBeCloseTo(diversity(reference), 4);
    expect(m).toMatchObject({ n: 24, nReference: 24, featureNet: { name: 'test:channel-means', version: 'x', featureDim: 3 } });
    shifted.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('samples scaled by 1/2: temporal change and diversity ratios 1/2, sharpness ratio 1/4', () => {
    const half = tf.mul(reference, 0.5);
    const m = videoMetrics({ samples: half, reference, extractor: channelMeans });
    expect(m.temporalChangeRatio).toBeCloseTo(0.5, 6);
    expect(m.diversityRatio).toBeCloseTo(0.5, 6);
    expect(m.sharpnessRatio).toBeCloseTo(0.25, 6);
    half.dispose();
  });

  it('caption agreement: null with a reason without captions or classifier, a score with both', () => {
    const noCaptions = videoMetrics({ samples: reference, reference, extractor: channelMeans, classifier: redCircleLeft });
    expect(noCaptions.captionAgreement).toBeNull();
    expect(noCaptions.captionAgreementReason).toMatch(/carry no captions/);
    const noClassifier = videoMetrics({ samples: reference, reference, extractor: channelMeans, captions: Array(24).fill('a red circle moving left') });
    expect(noClassifier.captionAgreement).toBeNull();
    expect(noClassifier.captionAgreementReason).toMatch(/has no attribute classifier/);
    const captions = Array.from({ length: 24 }, (_, i) => (i % 4 === 0 ? 'a blue circle moving left' : 'a red circle moving left'));
    const m = videoMetrics({ samples: reference, reference, extractor: channelMeans, classifier: redCircleLeft, captions, referenceCaptions: Array(24).fill('a red square moving right') });
    // The blue captions name the wrong colour; shape and direction are read at the blue slot (circle, left).
    expect(m.captionAgreement).toEqual({ n: 24, skipped: 0, colour: 0.75, shape: 1, direction: 1, all: 0.75 });
    expect(m.captionAgreementReason).toBeNull();
    expect(m.captionAgreementRef).toMatchObject({ colour: 1, shape: 0, direction: 0, all: 0 });
    expect(JSON.parse(JSON.stringify(m))).toEqual(m);
  });

  it('refuses non-video inputs and sets of one video', () => {
    const flat = tf.zeros([2, 3]);
    const single = tf.zeros([1, 3, 5, 5, 3]);
    expect(() => videoMetrics({ samples: flat, reference, extractor: channelMeans })).toThrow(ShapeError);
    expect(() => videoMetrics({ samples: single, reference, extractor: channelMeans })).toThrow(ShapeError);
    tf.dispose([flat, single]);
  });

  it('checks what a user extractor returns', () => {
    const wrong: VideoFeatureExtractor = { name: 'test:wrong', version: 1, featureDim: 4, extract: (v) => tf.tidy(() => tf.mean(v, [1, 2, 3])) };
    expect(() => videoMetrics({ samples: reference, reference, extractor: wrong })).toThrow(/features of extractor 'test:wrong' has shape \[24, 3\], expected \[24, 4\]/);
  });
});
