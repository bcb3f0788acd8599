/**
 * @file Classifier-free guidance (Ho & Salimans 2022) with the formula named in the API.
 *
 * Two conventions exist in the wild and are easy to confuse:
 * - `'uncond + w * (cond - uncond)'` (the default; Ho & Salimans' `(1 + w')` form with `w = 1 + w'`;
 *   diffusers' `guidance_scale`): `w = 1` is the plain conditional prediction, `w = 0` unconditional.
 * - `'cond + w * (cond - uncond)'` (the original CFG paper, Imagen, some video code bases): `w = 0` is
 *   the conditional prediction. It equals the default formula with `w_default = w + 1`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import type { Rng } from './rng.js';

export type GuidanceFormula = 'uncond + w * (cond - uncond)' | 'cond + w * (cond - uncond)';
export const GUIDANCE_FORMULAS: readonly GuidanceFormula[] = ['uncond + w * (cond - uncond)', 'cond + w * (cond - uncond)'];
export const DEFAULT_GUIDANCE_FORMULA: GuidanceFormula = 'uncond + w * (cond - uncond)';

/** A guidance scale: a constant, or `{ min, max }` to draw one uniformly per call. */
export type GuidanceScale = number | { readonly min: number; readonly max: number };

function checkFormula(formula: string): asserts formula is GuidanceFormula {
  if (!(GUIDANCE_FORMULAS as readonly string[]).includes(formula)) {
    throw new ConfigError('guidance.formula', formula, GUIDANCE_FORMULAS.map((f) => `'${f}'`).join(', '));
  }
}

/** Converts a scale written for `formula` to the default formula's scale (`w + 1` for `'cond + ...'`). */
export function toDefaultGuidanceScale(w: number, formula: GuidanceFormula): number {
  checkFormula(formula);
  return formula === 'cond + w * (cond - uncond)' ? w + 1 : w;
}

/** Converts a default-formula scale to `formula`'s convention (`w - 1` for `'cond + ...'`). */
export function fromDefaultGuidanceScale(w: number, formula: GuidanceFormula): number {
  checkFormula(formula);
  return formula === 'cond + w * (cond - uncond)' ? w - 1 : w;
}

/** Resolves a {@link GuidanceScale}: a constant as is, a range by one uniform draw from `rng`. */
export function resolveGuidanceScale(scale: GuidanceScale, rng?: Rng): number {
  if (typeof scale === 'number') {
    if (!Number.isFinite(scale)) throw new ConfigError('guidance.scale', scale, 'a finite number or { min, max }');
    return scale;
  }
  if (!(Number.isFinite(scale.min) && Number.isFinite(scale.max) && scale.min <= scale.max)) {
    throw new ConfigError('guidance.scale', scale, '{ min, max } with finite min <= max', 'e.g. { min: 6, max: 8 } (ADM on SDXL)');
  }
  if (rng === undefined) {
    throw new ConfigError('guidance.rng', undefined, 'a seeded Rng', 'a guidance range needs an rng to draw the scale from');
  }
  return scale.min + (scale.max - scale.min) * rng();
}

/**
 * Combines conditional and unconditional predictions. The predictions may be of any
 * {@link PredictionType}: every conversion between types is affine, so guidance commutes with it.
 * @param cond,uncond `[B, ...]` predictions at the same `x_t`, `t`
 * @param w scale in `formula`'s convention
 */
export function applyGuidance(
  cond: tf.Tensor,
  uncond: tf.Tensor,
  w: number,
  formula: GuidanceFormula = DEFAULT_GUIDANCE_FORMULA,
): tf.Tensor {
  checkFormula(formula);
  return tf.tidy(() => {
    const diff = tf.sub(cond, uncond);
    return formula === 'uncond + w * (cond - uncond)' ? tf.add(uncond, tf.mul(diff, w)) : tf.add(cond, tf.mul(diff, w));
  });
}
