/**
 * @file Denoising-GAN features from a frozen diffusion teacher (AVDM2 Eq. 6, ADM Sec. 3.2,
 * AccVideo Eq. 7-8): the discriminator sees intermediate activations ("taps") of the teacher
 * evaluated on a noised sample x_t = alpha_t x0 + sigma_t eps.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, forwardDiffuse, type NoiseSchedule } from '@fewstep/core';

/**
 * Structural view of a backbone that can return named intermediate activations (fewstep's
 * VideoUNet / VideoDiT satisfy it). Loss packages may not import the backbones package.
 */
export interface FrozenTapSource {
  forward(
    inputs: { x: tf.Tensor; t: tf.Tensor; [k: string]: unknown },
    options: { taps: string[] },
  ): { out: tf.Tensor; taps: Record<string, tf.Tensor> };
}

/** Options of {@link teacherTapFeatures}. */
export interface TeacherTapOptions {
  /** The frozen teacher. Its variables must NOT be in the optimizer's variable list. */
  teacher: FrozenTapSource;
  /** Names of the taps to return, in order (at least one). */
  taps: readonly string[];
  /** Schedule used to noise clean inputs (omit when the caller passes x_t directly). */
  schedule?: NoiseSchedule;
}

/** Inputs of one feature extraction. */
export interface TeacherTapInputs {
  /** Clean sample x0 `[B, ...]` (e.g. the generator's output `[B, F, H, W, C]`), or x_t when `noised`. */
  x: tf.Tensor;
  /** Model time t: a number for the batch or `[B]`. */
  t: number | tf.Tensor;
  /** Noise eps, same shape as `x`; required unless `noised`. A constant for the gradient. */
  eps?: tf.Tensor;
  /** `x` is already x_t (skip the forward diffusion). @default false */
  noised?: boolean;
  /** Extra teacher inputs (conditioning, e.g. `{ cond: textEmbedding }`). */
  extra?: Record<string, unknown>;
}

/** A function returning the selected taps `name -> [B, ...]` for a (clean or noised) sample. */
export type TeacherTapFeatures = (inputs: TeacherTapInputs) => Record<string, tf.Tensor>;

/**
 * Builds the denoising-GAN feature extractor: x_t = alpha_t x + sigma_t eps (core `forwardDiffuse`,
 * skipped when `noised`), one teacher forward with `taps`, returns the requested taps only.
 * Differentiable in `x` (gradients flow through the frozen teacher back to the generator's sample);
 * the teacher's weights receive gradients only if the caller puts them in the variable list, which
 * it must not do. The teacher's final output is disposed.
 * @throws ConfigError on an empty tap list, a missing schedule or eps, or a tap the teacher omits.
 */
export function teacherTapFeatures(options: TeacherTapOptions): TeacherTapFeatures {
  const { teacher, taps, schedule } = options;
  if (taps.length === 0) throw new ConfigError('taps', taps, 'at least one tap name', "pass e.g. ['mid', 'up.0']");
  return (inputs) =>
    tf.tidy(() => {
      const b = inputs.x.shape[0] ?? 1;
      const t = typeof inputs.t === 'number' ? tf.fill([b], inputs.t) : inputs.t;
      let xt = inputs.x;
      if (inputs.noised !== true) {
        if (schedule === undefined) throw new ConfigError('schedule', schedule, 'a NoiseSchedule', 'pass options.schedule, or noised: true with x = x_t');
        if (inputs.eps === undefined) throw new ConfigError('eps', inputs.eps, 'a noise tensor shaped like x', 'pass eps, or noised: true with x = x_t');
        xt = forwardDiffuse(schedule, inputs.x, inputs.eps, t);
      }
      const result = teacher.forward({ ...inputs.extra, x: xt, t }, { taps: [...taps] });
      const out: Record<string, tf.Tensor> = {};
      for (const name of taps) {
        const tap = result.taps[name];
        if (tap === undefined) {
          throw new ConfigError('taps', name, `one of the teacher's taps [${Object.keys(result.taps).join(', ')}]`, 'check the tap names the backbone exposes');
        }
        out[name] = tap;
      }
      return out;
    });
}
