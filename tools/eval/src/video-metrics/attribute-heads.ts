/**
 * @file The caption-attribute heads of the video feature network and their training objective.
 *
 * A shapes-video caption is 1-3 clauses `a <colour> <shape> moving <direction>` with distinct
 * colours within a clip, so the attributes factor per colour: for each colour k of the palette
 * (K = 5) the head predicts `z_k` (is an object of colour k present?), shape logits `s_k` `[S]`
 * (S = 3) and direction logits `d_k` `[Dir]` (Dir = 4): logits `[N, K * (1 + S + Dir)]`, read as
 * `[N, K, 1 + S + Dir]`. The loss (our choice; the issue names only "cross-entropy on the caption
 * attributes") is
 *
 *   L = mean_{n,k} BCE(z_nk, y_nk) + sum_{n,k: y_nk = 1} [CE(s_nk, shape_nk) + CE(d_nk, dir_nk)] / max(1, sum y)
 *
 * with `y_nk` = 1 when colour k is in clip n: binary cross-entropy on presence for every slot,
 * softmax cross-entropy on shape and direction only for the objects that exist.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@fewstep/core';
import type { PredictedObject, VideoAttributePredictions } from './feature-extractor.js';

/** The attribute vocabularies a head predicts (in label order). */
export interface AttributeVocabulary {
  readonly colours: readonly string[];
  readonly shapes: readonly string[];
  readonly directions: readonly string[];
}

/** Logits per colour slot: presence + shapes + directions. */
export function slotWidth(v: AttributeVocabulary): number {
  return 1 + v.shapes.length + v.directions.length;
}

/** Total head outputs `K * (1 + S + Dir)`. */
export function headWidth(v: AttributeVocabulary): number {
  return v.colours.length * slotWidth(v);
}

/** Per-colour targets of a batch (constants for the gradient). */
export interface AttributeTargets {
  /** `[B, K]` 1 where colour k is in the clip. */
  readonly presence: tf.Tensor2D;
  /** `[B, K, S]` one-hot shape of the object of colour k (zeros where absent). */
  readonly shape: tf.Tensor3D;
  /** `[B, K, Dir]` one-hot direction (zeros where absent). */
  readonly direction: tf.Tensor3D;
}

/**
 * One-hot as float32: tfjs-backend-wasm 4.22's OneHot ignores a float32 `dtype` (it writes int32
 * bits, reading as 1.4e-45), so build it as int32 and cast.
 */
function oneHotFloat(indices: tf.Tensor1D, depth: number): tf.Tensor2D {
  return tf.cast(tf.oneHot(indices, depth), 'float32') as tf.Tensor2D;
}

/**
 * Per-colour targets from shapes-video labels int32 `[B, M, 3]` (`[shape, colour, direction]` per
 * object, rows of -1 for absent objects; `ShapesVideoBatch.labels`). Call inside `tf.tidy`.
 */
export function attributeTargets(labels: tf.Tensor, v: AttributeVocabulary): AttributeTargets {
  if (labels.rank !== 3 || labels.shape[2] !== 3) throw new ShapeError('labels', labels.shape, '[B, maxShapes, 3] ([shape, colour, direction] per object, -1 rows when absent)');
  const [b, m] = labels.shape as [number, number, number];
  const k = v.colours.length;
  const s = v.shapes.length;
  const d = v.directions.length;
  let presence: tf.Tensor = tf.zeros([b, k]);
  let shape: tf.Tensor = tf.zeros([b, k, s]);
  let direction: tf.Tensor = tf.zeros([b, k, d]);
  const idx = tf.cast(labels, 'int32');
  const zero = tf.scalar(0, 'int32');
  for (let q = 0; q < m; q++) {
    const row = tf.reshape(tf.slice(idx, [0, q, 0], [b, 1, 3]), [b, 3]);
    const [si, ci, di] = tf.split(row, 3, 1).map((x) => tf.reshape(x, [b])) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
    const valid = tf.cast(tf.greaterEqual(ci, zero), 'float32');
    const colour = tf.mul(oneHotFloat(tf.maximum(ci, zero) as tf.Tensor1D, k), tf.reshape(valid, [b, 1]));
    const c3 = tf.reshape(colour, [b, k, 1]);
    presence = tf.add(presence, colour);
    shape = tf.add(shape, tf.mul(c3, tf.reshape(oneHotFloat(tf.maximum(si, zero) as tf.Tensor1D, s), [b, 1, s])));
    direction = tf.add(direction, tf.mul(c3, tf.reshape(oneHotFloat(tf.maximum(di, zero) as tf.Tensor1D, d), [b, 1, d])));
  }
  return { presence: presence as tf.Tensor2D, shape: shape as tf.Tensor3D, direction: direction as tf.Tensor3D };
}

/** Splits head logits `[N, K * (1 + S + Dir)]` into presence `[N, K]`, shape `[N, K, S]` and direction `[N, K, Dir]` logits. */
export function splitHeadLogits(logits: tf.Tensor, v: AttributeVocabulary): { presence: tf.Tensor2D; shape: tf.Tensor3D; direction: tf.Tensor3D } {
  const n = logits.shape[0]!;
  const k = v.colours.length;
  const s = v.shapes.length;
  const d = v.directions.length;
  if (logits.rank !== 2 || logits.shape[1] !== headWidth(v)) throw new ShapeError('head logits', logits.shape, `[N, ${headWidth(v)}] (K * (1 + S + Dir))`);
  const r = tf.reshape(logits, [n, k, 1 + s + d]);
  const [z, sl, dl] = tf.split(r, [1, s, d], 2) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
  return { presence: tf.reshape(z, [n, k]) as tf.Tensor2D, shape: sl, direction: dl };
}

/** The loss and its parts (scalars). */
export interface AttributeLoss {
  readonly loss: tf.Scalar;
  readonly presenceBce: tf.Scalar;
  readonly shapeCe: tf.Scalar;
  readonly directionCe: tf.Scalar;
  /** Fraction of (clip, colour) presence decisions that are right. */
  readonly presenceAccuracy: tf.Scalar;
  /** Fraction of present objects whose shape / direction argmax is right. */
  readonly shapeAccuracy: tf.Scalar;
  readonly directionAccuracy: tf.Scalar;
}

/** The attribute loss of the file comment (call inside `tf.tidy` / a gradient closure). */
export function attributeLoss(logits: tf.Tensor, targets: AttributeTargets, v: AttributeVocabulary): AttributeLoss {
  const { presence: z, shape: sl, direction: dl } = splitHeadLogits(logits, v);
  const y = targets.presence;
  // BCE with logits, stable: max(z, 0) - z y + log(1 + exp(-|z|)).
  const presenceBce = tf.mean(tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))))) as tf.Scalar;
  const count = tf.maximum(tf.sum(y), 1);
  const ce = (logit: tf.Tensor, oneHot: tf.Tensor): tf.Scalar => tf.div(tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logit, -1)))), count) as tf.Scalar;
  const shapeCe = ce(sl, targets.shape);
  const directionCe = ce(dl, targets.direction);
  const loss = tf.add(tf.add(presenceBce, shapeCe), directionCe) as tf.Scalar;
  const hit = (logit: tf.Tensor, oneHot: tf.Tensor): tf.Tensor => tf.cast(tf.equal(tf.argMax(logit, -1), tf.argMax(oneHot, -1)), 'float32');
  const presenceAccuracy = tf.mean(tf.cast(tf.equal(tf.greater(z, 0), tf.greater(y, 0.5)), 'float32')) as tf.Scalar;
  const shapeAccuracy = tf.div(tf.sum(tf.mul(hit(sl, targets.shape), y)), count) as tf.Scalar;
  const directionAccuracy = tf.div(tf.sum(tf.mul(hit(dl, targets.direction), y)), count) as tf.Scalar;
  return { loss, presenceBce, shapeCe, directionCe, presenceAccuracy, shapeAccuracy, directionAccuracy };
}

/** Reads head logits `[N, K * (1 + S + Dir)]` into plain per-video predictions. */
export function decodeAttributePredictions(logits: tf.Tensor, v: AttributeVocabulary): VideoAttributePredictions {
  const n = logits.shape[0]!;
  const k = v.colours.length;
  const w = slotWidth(v);
  const s = v.shapes.length;
  const values = logits.dataSync();
  const presence: number[][] = [];
  const shape: number[][] = [];
  const direction: number[][] = [];
  const objects: PredictedObject[][] = [];
  const argMax = (off: number, len: number): number => {
    let best = 0;
    for (let i = 1; i < len; i++) if (values[off + i]! > values[off + best]!) best = i;
    return best;
  };
  for (let i = 0; i < n; i++) {
    const p: number[] = [];
    const sh: number[] = [];
    const di: number[] = [];
    const objs: PredictedObject[] = [];
    for (let c = 0; c < k; c++) {
      const base = (i * k + c) * w;
      const prob = 1 / (1 + Math.exp(-values[base]!));
      const si = argMax(base + 1, s);
      const dd = argMax(base + 1 + s, v.directions.length);
      p.push(prob);
      sh.push(si);
      di.push(dd);
      if (prob > 0.5) objs.push({ colour: v.colours[c]!, shape: v.shapes[si]!, direction: v.directions[dd]!, confidence: prob });
    }
    presence.push(p);
    shape.push(sh);
    direction.push(di);
    objects.push(objs);
  }
  return { colours: [...v.colours], shapes: [...v.shapes], directions: [...v.directions], presence, shape, direction, objects };
}
