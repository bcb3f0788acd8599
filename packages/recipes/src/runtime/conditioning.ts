/**
 * @file Conditioning as recipes see it (`RecipeContext.cond`): every batch key that is not data
 * (`x0`, `noise`, `trajectory`, `images`, `condition`) reaches the teacher, the student, the fake
 * score and every critic that reads the teacher's features. Image-to-video batches (issue 10) carry
 * `image` `[B, H, W, C]` (the conditioning frame, already noise-augmented) and `imageNoiseSigma`
 * `[B]` (its augmentation level, SVD's `cond_aug`); the backbones' `imageCondition` config reads
 * them (`@fewstep/backbones` `image-conditioning.ts`).
 *
 * Helpers here:
 * - {@link emptyConditioning}: the classifier-free-guidance unconditional input: text embeddings
 *   zeroed (`context` / `pooled`: no empty-prompt embedding comes with a batch) and the image
 *   dropped (`withoutImage`: the learned null image embedding, OSV's `c_zero`, SVD's empty
 *   condition); the noise level stays, as in SVD.
 * - {@link repeatConditioning}: the conditioning of a batch stacked `k` times (`[real; fake]` passes).
 * - {@link withConditionFrame}: a video with its conditioning frame prepended, `[B, 1 + F, H, W, C]`
 *   (what a video critic sees on image-to-video: the condition and the frames that follow it).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@fewstep/core';
import type { Conditioning } from './diffusion-model.js';

/** The image-to-video inputs of a backbone (`@fewstep/backbones` `ImageInputs`). */
export const IMAGE_CONDITION_KEYS = ['image', 'imageNoiseSigma', 'imageMask', 'dropImage'] as const;

/** Text-embedding keys zeroed in the unconditional branch. */
const TEXT_KEYS = new Set(['context', 'pooled']);

/** Keys that carry the image itself (dropped in the unconditional branch; the noise level stays). */
const IMAGE_KEYS = new Set(['image', 'imageMask', 'dropImage']);

/** Whether `cond` carries a conditioning frame (`image`). */
export function hasImageCondition(cond: Conditioning | undefined): cond is Conditioning & { image: tf.Tensor } {
  return cond?.['image'] !== undefined;
}

/**
 * The CFG unconditional input of `cond`: `context` / `pooled` zeroed, `image` / `imageMask` /
 * `dropImage` dropped (the backbone then uses its null image embedding), every other key (masks,
 * `imageNoiseSigma`, `guidanceScale`) kept. The caller owns the new zero tensors.
 */
export function emptyConditioning(cond: Conditioning): Conditioning {
  const out: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(cond)) {
    if (IMAGE_KEYS.has(k)) continue;
    out[k] = TEXT_KEYS.has(k) ? tf.zerosLike(v) : v;
  }
  return out;
}

/**
 * `cond` for a batch made of `times` copies of its batch stacked on axis 0 (e.g. one critic pass
 * over `concat([real, fake])`): each tensor concatenated `times` times. Undefined stays undefined.
 */
export function repeatConditioning(cond: Conditioning | undefined, times: number): Conditioning | undefined {
  if (cond === undefined || times === 1) return cond;
  return tf.tidy(() => Object.fromEntries(Object.entries(cond).map(([k, v]) => [k, tf.concat(new Array<tf.Tensor>(times).fill(v), 0)])));
}

/**
 * `cond` (batch B) for a stack of `n = k B` samples made of `k` copies of the batch (e.g.
 * `concat([real, fake])`): {@link repeatConditioning} by k; `cond` itself when n = B.
 * @throws ShapeError when n is not a multiple of B
 */
export function conditioningForBatch(cond: Conditioning | undefined, n: number): Conditioning | undefined {
  const first = cond === undefined ? undefined : Object.values(cond)[0];
  if (first === undefined) return cond;
  const b = first.shape[0]!;
  if (n === b) return cond;
  if (n % b !== 0) throw new ShapeError('conditioning batch', first.shape, `a batch dividing ${n} (the stacked samples are copies of the conditioned batch)`);
  return repeatConditioning(cond, n / b);
}

/**
 * The video `x` `[B, F, H, W, C]` with the conditioning frame `cond.image` `[B, H, W, C]` prepended
 * as frame 0: `[B, 1 + F, H, W, C]`; `x` itself (not a copy) without an image.
 * @throws ShapeError when the image is not `[B, H, W, C]` of `x`
 */
export function withConditionFrame(x: tf.Tensor, cond: Conditioning | undefined): tf.Tensor {
  if (!hasImageCondition(cond)) return x;
  const image = cond.image;
  const [b, , h, w, c] = x.shape as [number, number, number, number, number];
  if (x.rank !== 5 || image.rank !== 4 || image.shape[0] !== b || image.shape[1] !== h || image.shape[2] !== w || image.shape[3] !== c) {
    throw new ShapeError('conditioning frame', image.shape, `[${b}, ${h}, ${w}, ${c}] (x's batch and frame shape; x is [${x.shape.join(', ')}])`);
  }
  return tf.tidy(() => tf.concat([tf.expandDims(tf.cast(image, x.dtype), 1), x], 1));
}
