/**
 * @file Frame SDM (AVDM2 Eq. 8): score distribution matching on K random frames of a generated
 * video, with a 2D teacher `eps_phi2D` and a 2D fake score `eps_psi2D`.
 *
 * Steps: pick K distinct frames per video (uniformly, without replacement, from `inputs.rng`);
 * reshape to images `[B*K, H, W, C]`; draw one `t'` per image, `t' = tMin_s + u (tMax_s - tMin_s)`
 * with `u ~ U[tMin, tMax]` (fractions of the schedule's time range; paper `[0.2T, 0.98T]`); noise
 * with `eps' ~ N(0, I)` from the same rng; query both denoisers as eps-predictions; apply the
 * surrogate of `score-distribution-matching-loss.ts`. The noisy input is built from a
 * stop-gradient copy of the frames, so the denoisers sit outside the gradient path; the gradient
 * reaches the generator through the K selected frames only (other frames get exactly zero).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, defineLoss, forwardDiffuse, predictAs, randomNormal, type Denoiser, type Rng } from '@fewstep/core';
import {
  SDM_DEFAULTS,
  scoreDistributionMatching,
  validateSdmOptions,
  type ScoreDistributionMatchingOptions,
} from './score-distribution-matching-loss.js';
import { stopGradient } from './stop-gradient.js';

/** Options of {@link frameSdmLoss} (AVDM2 Eq. 8); also takes the options of Eq. 4. */
export interface FrameSdmOptions extends ScoreDistributionMatchingOptions {
  /** K, frames drawn per video. Not given in the paper (our choice). @default 4 */
  frames?: number;
  /** Lower end of `t'`, as a fraction of the schedule's time range. @default 0.2 (paper 0.2T) */
  tMin?: number;
  /** Upper end of `t'`, as a fraction of the schedule's time range. @default 0.98 (paper 0.98T) */
  tMax?: number;
}

/** Inputs of {@link frameSdmLoss}. Only `video` is differentiable. */
export interface FrameSdmInputs {
  /** Generated video `G_theta(eps)` `[B, F, H, W, C]` (differentiable). */
  video: tf.Tensor;
  /** Frozen 2D teacher `eps_phi2D` on images `[N, H, W, C]`; its schedule noises the frames. */
  teacher: Denoiser;
  /** 2D fake score `eps_psi2D` (same schedule as the teacher), frozen during this loss. */
  fakeScore: Denoiser;
  /** Seeded source of the frame choice, `t'` and `eps'` (e.g. core's `seededRng(seed)`). */
  rng: Rng;
  /** Optional per-video conditioning `[B, ...]`, repeated for each of the K frames. */
  cond?: tf.Tensor;
}

export const FRAME_SDM_DEFAULTS: Readonly<Required<FrameSdmOptions>> = Object.freeze({ ...SDM_DEFAULTS, frames: 4, tMin: 0.2, tMax: 0.98 });

/** K distinct frame indices in `[0, F)` per video (partial Fisher-Yates), flattened to `b * F + f`. */
export function pickFrames(batch: number, numFrames: number, k: number, rng: Rng): number[] {
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    const idx = Array.from({ length: numFrames }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(rng() * (numFrames - i));
      [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
      out.push(b * numFrames + (idx[i] as number));
    }
  }
  return out;
}

function validateFrameSdm(o: FrameSdmOptions): void {
  validateSdmOptions(o);
  if (o.frames !== undefined && !(Number.isInteger(o.frames) && o.frames >= 1)) {
    throw new ConfigError('frames', o.frames, 'an integer >= 1 (and <= the number of frames F)', 'use e.g. 4');
  }
  const lo = o.tMin ?? FRAME_SDM_DEFAULTS.tMin;
  const hi = o.tMax ?? FRAME_SDM_DEFAULTS.tMax;
  if (!(lo >= 0 && lo <= hi && hi <= 1)) {
    throw new ConfigError('tMin / tMax', `${lo} / ${hi}`, 'fractions with 0 <= tMin <= tMax <= 1', 'use the paper range 0.2 / 0.98');
  }
}

/**
 * Frame SDM (AVDM2 Eq. 8). Trains the generator; the 2D teacher and 2D fake score are frozen here
 * (the fake score is trained by `sdm:fake-score-denoising`). Metrics: `gradRms`, `meanWeight`,
 * `meanTime` (mean `t'`).
 */
export const frameSdmLoss = defineLoss<FrameSdmOptions, FrameSdmInputs>({
  name: 'sdm:frame-sdm',
  description: 'Score distribution matching on K random frames of a generated video, with 2D teacher and fake score.',
  equation: 'AVDM2 Eq. 8',
  defaults: FRAME_SDM_DEFAULTS,
  requires: ['generator', 'teacher', 'fakeScore'],
  trains: 'generator',
  validate: validateFrameSdm,
  compute: (inputs, options) => {
    const o = { ...FRAME_SDM_DEFAULTS, ...options };
    const { video, teacher, fakeScore, rng } = inputs;
    if (video.rank !== 5) throw new ShapeError('video', video.shape, '[B, F, H, W, C]');
    const [B, F, H, W, C] = video.shape as [number, number, number, number, number];
    if (o.frames > F) throw new ConfigError('frames', o.frames, `an integer in [1, ${F}] (F of the video)`, 'draw fewer frames');
    if (JSON.stringify(teacher.schedule.toConfig()) !== JSON.stringify(fakeScore.schedule.toConfig())) {
      throw new ConfigError('fakeScore.schedule', fakeScore.schedule.toConfig(), 'the teacher schedule', 'initialise the fake score from the teacher');
    }
    const schedule = teacher.schedule;
    const N = B * o.frames;
    const index = pickFrames(B, F, o.frames, rng);
    const span = schedule.tMax - schedule.tMin;
    const times = Float32Array.from({ length: N }, () => schedule.tMin + span * (o.tMin + (o.tMax - o.tMin) * rng()));
    return tf.tidy(() => {
      const frames = tf.gather(tf.reshape(video, [B * F, H, W, C]), tf.tensor1d(index, 'int32'));
      const t = tf.tensor1d(times, 'float32');
      const eps = randomNormal([N, H, W, C], rng);
      const xt = forwardDiffuse(schedule, stopGradient(frames), eps, t);
      const cond = inputs.cond === undefined ? undefined : tf.gather(inputs.cond, tf.tensor1d(index.map((i) => Math.floor(i / F)), 'int32'));
      const epsPhi = stopGradient(predictAs(teacher, 'eps', xt, t, { cond }));
      const epsPsi = stopGradient(predictAs(fakeScore, 'eps', xt, t, { cond }));
      const { loss, gradRms, meanWeight } = scoreDistributionMatching({ sample: frames, epsPhi, epsPsi, t, schedule, xt }, o);
      return { loss, metrics: { gradRms, meanWeight, meanTime: tf.mean(t) as tf.Scalar } };
    });
  },
});
