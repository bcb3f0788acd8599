/**
 * @file The view recipes take of a diffusion network: a backbone (anything with fewstep's
 * backbone surface), its noise schedule and its prediction type, and the `Denoiser` it defines.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Denoiser, Network, NoiseSchedule, PredictionType } from '@fewstep/core';

/** Extra backbone inputs by name (`context`, `pooled`, `classLabels`, ...), `[B, ...]` each. */
export type Conditioning = Readonly<Record<string, tf.Tensor>>;

/**
 * Structural view of a fewstep backbone (`VideoUNet`, `VideoDiT`, `ImageUNet` satisfy it), so a
 * third-party backbone works without importing ours.
 */
export interface BackboneLike {
  readonly kind: string;
  readonly net: Network;
  forward(inputs: { x: tf.Tensor; t: tf.Tensor; [k: string]: unknown }, options?: { taps?: string[] }): { out: tf.Tensor; taps: Record<string, tf.Tensor> };
  tapNames(): string[];
  toConfig(): unknown;
  /** The same architecture on another network (an EMA copy, a fake score, a LoRA-wrapped clone). */
  withNetwork(network: Network): BackboneLike;
}

/** A diffusion network: backbone + schedule + prediction type (a teacher, or a student's base). */
export interface DiffusionModel {
  readonly backbone: BackboneLike;
  readonly schedule: NoiseSchedule;
  readonly predictionType: PredictionType;
}

/**
 * The `Denoiser` of `model` (optionally on another backbone of the same architecture). Model time
 * is multiplied by `schedule.timestepScale` before the backbone embeds it (1000 for flow
 * matching, as SD3 / Wan embed `1000 t`; 1 for discrete schedules).
 */
export function modelDenoiser(model: DiffusionModel, backbone: BackboneLike = model.backbone): Denoiser<Conditioning> {
  const scale = model.schedule.timestepScale;
  return {
    schedule: model.schedule,
    predictionType: model.predictionType,
    predict: (xt, t, cond) => tf.tidy(() => backbone.forward({ x: xt, t: scale === 1 ? t : tf.mul(t, scale), ...(cond ?? {}) }).out),
  };
}

/** Backbone features ("taps") of `model` at `(x_t, t)`, with the same time scaling as {@link modelDenoiser}. */
export function modelTaps(model: DiffusionModel, backbone: BackboneLike, xt: tf.Tensor, t: tf.Tensor, taps: string[], cond?: Conditioning): Record<string, tf.Tensor> {
  const scale = model.schedule.timestepScale;
  return tf.tidy(() => {
    const r = backbone.forward({ x: xt, t: scale === 1 ? t : tf.mul(t, scale), ...(cond ?? {}) }, { taps });
    r.out.dispose();
    return r.taps;
  });
}
