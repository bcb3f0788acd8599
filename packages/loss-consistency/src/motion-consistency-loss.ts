/**
 * @file MCM's disentangled motion distillation (MCM Eq. 6): the consistency-distillation loss applied
 * to motion representations only,
 *
 * `L_MCD = mean_b lambda_b d( M-(f_theta-(x^phi_{t_n}, t_n))_b , M(f_theta(x_{t_{n+m}}, t_{n+m}))_b )`
 *
 * with `M` one of `motion-representations.ts`. For the learnable head, `M` is the trained head and
 * `M-` its EMA target; for the fixed representations `M- = M`.
 *
 * Constants (no gradient): `target`, `weights` and the EMA head `targetMotionHead` (its variables
 * must not be in the trained variable list). Differentiated: `pred` and, for `'learnable'`, the
 * `motionHead` variables (pass them to `tf.variableGrads` with the student's).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, defineLoss } from '@fewstep/core';
import { checkWeights, weightedMean } from './consistency-distillation-loss.js';
import { correlationVolume, frameDifference, temporalHighFrequency, temporalLowFrequency } from './motion-representations.js';
import { consistencyDistance, ICT_HUBER_C, validateDistanceOptions, type ConsistencyDistance } from './pseudo-huber.js';

/** MCM Table 5's motion representations. */
export const MOTION_REPRESENTATIONS = ['frame-difference', 'correlation', 'low-frequency', 'high-frequency', 'learnable'] as const;
export type MotionRepresentationKind = (typeof MOTION_REPRESENTATIONS)[number];

/** Options of {@link motionConsistencyLoss}. */
export interface MotionConsistencyOptions {
  /** Which `M` (MCM Table 5: the learnable head is best). @default 'learnable' */
  representation: MotionRepresentationKind;
  /** Correlation window radius r ((2r+1)^2 offsets). @default 1 */
  correlationRadius: number;
  /** Temporal low-pass radius in frames. @default 1 */
  temporalRadius: number;
  /** Temporal low-pass Gaussian std in frames. @default 1 */
  temporalSigma: number;
  /** `'pseudo-huber'` (iCT; MCM) or `'l2'`. @default 'pseudo-huber' */
  distance: ConsistencyDistance;
  /** Pseudo-Huber `c` (per sqrt(D) when `scaleCWithSqrtDim`). @default 0.00054 */
  huberC: number;
  /** iCT's `c = huberC * sqrt(D)`, D = elements of `M(x)` per sample. @default true */
  scaleCWithSqrtDim: boolean;
}

/** Inputs of {@link motionConsistencyLoss}. */
export interface MotionConsistencyInputs {
  /** `[B, F, H, W, C]` student prediction `f_theta(x_{t_{n+m}}, t_{n+m})` (differentiable). */
  pred: tf.Tensor;
  /** `[B, F, H, W, C]` EMA target `f_theta-(x^phi_{t_n}, t_n)` (constant). */
  target: tf.Tensor;
  /** `[B]` weights `lambda(t_n)` (constant); omitted = 1. */
  weights?: tf.Tensor;
  /** Learnable `M` (e.g. `(x) => head.apply(x)`), required for `'learnable'`. */
  motionHead?: (video: tf.Tensor) => tf.Tensor;
  /** Its EMA target `M-` (constant), required for `'learnable'`. */
  targetMotionHead?: (video: tf.Tensor) => tf.Tensor;
}

/** `M(x)` for a fixed representation. */
export function motionRepresentation(kind: Exclude<MotionRepresentationKind, 'learnable'>, x: tf.Tensor, options: MotionConsistencyOptions): tf.Tensor {
  switch (kind) {
    case 'frame-difference':
      return frameDifference(x);
    case 'correlation':
      return correlationVolume(x, options.correlationRadius);
    case 'low-frequency':
      return temporalLowFrequency(x, { radius: options.temporalRadius, sigma: options.temporalSigma });
    case 'high-frequency':
      return temporalHighFrequency(x, { radius: options.temporalRadius, sigma: options.temporalSigma });
  }
}

/** MCM Eq. 6: consistency distillation on motion representations. */
export const motionConsistencyLoss = defineLoss<MotionConsistencyOptions, MotionConsistencyInputs>({
  name: 'consistency:motion-consistency',
  description: 'consistency distillation applied to a motion representation M of the student and EMA-target videos',
  equation: 'MCM Eq. 6 (CD of LCM Eq. 9 on M(x))',
  defaults: {
    representation: 'learnable',
    correlationRadius: 1,
    temporalRadius: 1,
    temporalSigma: 1,
    distance: 'pseudo-huber',
    huberC: ICT_HUBER_C,
    scaleCWithSqrtDim: true,
  },
  requires: ['student', 'emaStudent', 'teacher'],
  trains: 'student',
  validate: (o) => {
    if (!(MOTION_REPRESENTATIONS as readonly string[]).includes(o.representation)) {
      throw new ConfigError('representation', o.representation, `one of ${MOTION_REPRESENTATIONS.join(', ')}`, "use 'learnable' (MCM's best) or 'frame-difference'");
    }
    if (!(Number.isInteger(o.correlationRadius) && o.correlationRadius >= 0)) throw new ConfigError('correlationRadius', o.correlationRadius, 'an integer >= 0', 'use 1');
    if (!(Number.isInteger(o.temporalRadius) && o.temporalRadius >= 0)) throw new ConfigError('temporalRadius', o.temporalRadius, 'an integer >= 0', 'use 1');
    if (!(o.temporalSigma > 0)) throw new ConfigError('temporalSigma', o.temporalSigma, 'a number > 0', 'use 1 (frames)');
    validateDistanceOptions(o);
  },
  compute: ({ pred, target, weights, motionHead, targetMotionHead }, options) =>
    tf.tidy(() => {
      checkWeights(weights, pred);
      let mPred: tf.Tensor;
      let mTarget: tf.Tensor;
      if (options.representation === 'learnable') {
        if (!motionHead || !targetMotionHead) {
          throw new ConfigError('motionHead', motionHead ? 'set' : undefined, 'both motionHead and targetMotionHead', "pass the head and its EMA target, or pick a fixed representation such as 'frame-difference'");
        }
        mPred = motionHead(pred);
        mTarget = targetMotionHead(target);
      } else {
        mPred = motionRepresentation(options.representation, pred, options);
        mTarget = motionRepresentation(options.representation, target, options);
      }
      const d = consistencyDistance(mPred, mTarget, options);
      return { loss: weightedMean(d, weights), metrics: { distance: tf.mean(d) as tf.Scalar } };
    }),
});
