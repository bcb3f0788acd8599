import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@fewstep/core';

/**
 * Resampling of the small position tables of the critics (DINOv2 position embeddings, SAM
 * absolute / relative position tables), reproducing `torch.nn.functional.interpolate` with
 * `align_corners=False`. Every mode is separable, so a resize is `Wh · X · Wwᵀ` with 1-D weight
 * matrices computed here (in float64) and applied as two matmuls: no backend kernel needed, works
 * on every tfjs backend.
 */

/** How one axis is resampled. */
export interface AxisResample {
  /**
   * `'cubic'`: Keys' cubic convolution, a = -0.75, border samples replicated (torch's
   * `mode='bicubic'`, `antialias=False`). `'cubic-aa'`: torch's `antialias=True` bicubic (PIL's
   * filter, a = -0.5, support widened by the downscale factor, weights renormalised at the
   * borders). `'linear'`: torch's `mode='linear'`.
   */
  readonly mode: 'cubic' | 'cubic-aa' | 'linear';
  /**
   * Source step per output sample. @default inSize / outSize (torch with `size=`); torch with
   * `scale_factor=s` uses `1 / s`.
   */
  readonly scale?: number;
}

const KEYS_A = -0.75;
const PIL_A = -0.5;

/** Cubic convolution kernel (Keys 1981, Eq. 15) for |x| <= 1. */
function cubic1(x: number, a: number): number {
  return ((a + 2) * x - (a + 3)) * x * x + 1;
}

/** Cubic convolution kernel for 1 < |x| < 2. */
function cubic2(x: number, a: number): number {
  return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
}

function checkSizes(inSize: number, outSize: number): void {
  for (const [field, v] of [
    ['resample input size', inSize],
    ['resample output size', outSize],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(field, v, 'a positive integer');
  }
}

/**
 * The `[outSize, inSize]` matrix (row-major, float64) of one resampled axis: `y = W · x`.
 * @example resampleWeights(7, 10, { mode: 'cubic' }) // DINOv2 position grid 7 -> 10
 */
export function resampleWeights(inSize: number, outSize: number, axis: AxisResample): Float64Array {
  checkSizes(inSize, outSize);
  const scale = axis.scale ?? inSize / outSize;
  if (!(scale > 0) || !Number.isFinite(scale)) throw new ConfigError('AxisResample.scale', scale, 'a positive finite number');
  const w = new Float64Array(outSize * inSize);
  const clamp = (j: number): number => Math.min(Math.max(j, 0), inSize - 1);
  for (let i = 0; i < outSize; i++) {
    const row = i * inSize;
    if (axis.mode === 'cubic') {
      // Source coordinate (half-pixel centres, not clamped for cubic), then 4 taps around it.
      const real = scale * (i + 0.5) - 0.5;
      const x0 = Math.floor(real);
      const t = real - x0;
      const taps = [cubic2(t + 1, KEYS_A), cubic1(t, KEYS_A), cubic1(1 - t, KEYS_A), cubic2(2 - t, KEYS_A)];
      for (let k = 0; k < 4; k++) w[row + clamp(x0 - 1 + k)]! += taps[k]!;
    } else if (axis.mode === 'linear') {
      const real = Math.max(scale * (i + 0.5) - 0.5, 0);
      const x0 = Math.floor(real);
      const x1 = x0 < inSize - 1 ? x0 + 1 : x0;
      const l1 = real - x0;
      w[row + x0]! += 1 - l1;
      w[row + x1]! += l1;
    } else {
      // Antialiased: the filter is stretched by the downscale factor; taps outside the input are
      // dropped and the remaining weights renormalised (torch's _compute_weights_aa).
      const support = scale >= 1 ? 2 * scale : 2;
      const invScale = scale >= 1 ? 1 / scale : 1;
      const centre = scale * (i + 0.5);
      const lo = Math.max(Math.trunc(centre - support + 0.5), 0);
      const hi = Math.min(Math.trunc(centre + support + 0.5), inSize);
      let total = 0;
      for (let j = lo; j < hi; j++) {
        const x = Math.abs((j - centre + 0.5) * invScale);
        const v = x < 1 ? cubic1(x, PIL_A) : x < 2 ? cubic2(x, PIL_A) : 0;
        w[row + j] = v;
        total += v;
      }
      if (total !== 0) for (let j = lo; j < hi; j++) w[row + j]! /= total;
    }
  }
  return w;
}

/**
 * Resizes a grid `[H, W, C]` to `[outH, outW, C]` (channels untouched), as
 * `F.interpolate(x.permute(2,0,1)[None], size=(outH, outW), ...)` does. Returns the input itself
 * (not a copy) when the size does not change and no explicit scale is given.
 */
export function resizeGrid(grid: tf.Tensor3D, outH: number, outW: number, rows: AxisResample, cols: AxisResample = rows): tf.Tensor3D {
  const [h, w, c] = grid.shape;
  if (h === outH && w === outW && rows.scale === undefined && cols.scale === undefined) return grid;
  return tf.tidy(() => {
    const wh = tf.tensor2d(Float32Array.from(resampleWeights(h, outH, rows)), [outH, h]);
    const ww = tf.tensor2d(Float32Array.from(resampleWeights(w, outW, cols)), [outW, w]);
    // Rows: [outH, h] · [h, w*C]; then columns: [outW, w] · [w, outH*C].
    const byRows = tf.reshape(tf.matMul(wh, tf.reshape(grid, [h, w * c])), [outH, w, c]);
    const colsFirst = tf.reshape(tf.transpose(byRows, [1, 0, 2]), [w, outH * c]);
    const out = tf.reshape(tf.matMul(ww, colsFirst), [outW, outH, c]);
    return tf.transpose(out, [1, 0, 2]) as tf.Tensor3D;
  });
}

/** Resizes rows `[L, C]` to `[outL, C]` along the first axis (1-D `F.interpolate` on `[1, C, L]`). */
export function resizeRows(rows: tf.Tensor2D, outL: number, axis: AxisResample): tf.Tensor2D {
  const [l] = rows.shape;
  if (l === outL && axis.scale === undefined) return rows;
  return tf.tidy(() => tf.matMul(tf.tensor2d(Float32Array.from(resampleWeights(l, outL, axis)), [outL, l]), rows));
}
