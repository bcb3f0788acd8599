/**
 * Filter gradients of (2D, 3D and depthwise) convolutions as one large XNNPACK matrix product
 * over a "shifted-window" im2col matrix.
 *
 * `dW[k, ci, co] = sum_{b, o} x[b, o*s + k*d - p, ci] * dy[b, o, co]`. After zero padding `x` and
 * splitting each strided axis into its `s` phases ({@link phaseSplit}), tap `k` reads phase
 * `(k*d) mod s` at offset `floor(k*d / s)`: with `x` (per phase) and `dy` laid out on the same
 * grid `[Q_1..Q_r]` per image and flattened, every tap becomes one contiguous run per image of
 * the flat channel-first input, shifted by a constant. Grid points outside the true output carry
 * a zero in the padded `dy`, so whatever the shifted window reads there contributes nothing.
 * Stacking the windows of all `(tap, ci)` gives `P^T [K*C_in, L]` and `dW = P^T · dy [L, C_out]`,
 * a plain (non-transposed, batch-1) product: the only one wasm 4.22 runs on XNNPACK. The extra
 * work is the padding of the grid (`L / (B*prod(o))`, e.g. 1.06 for 32x32 images and a 3x3 filter).
 * The depthwise variant multiplies each channel's windows by that channel's `dy` columns.
 */
import * as tf from '@tensorflow/tfjs-core';
import { copyRuns, padOrCrop, sliceFast, type RunLayout } from './conv-kernel-plumbing.js';
import { phaseSplit } from './conv-phase-split.js';

/** Geometry of the forward correlation, per spatial axis. */
export interface FilterGradSpec {
  filterSize: readonly number[];
  strides: readonly number[];
  dilations: readonly number[];
  /** `p_j`: zero padding before axis `j` (may be negative). */
  padBefore: readonly number[];
  /** im2col windows are built in groups of taps holding at most this many floats. @default 2^24 (64 MiB) */
  maxWindowFloats?: number;
}

const MAX_WINDOW_FLOATS = 1 << 24;

const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** Shared set-up: the flat channel-first phases of `x`, the flat padded `dy`, and tap offsets. */
interface ShiftedWindows {
  /** `[C_in, S*B*prod(Q)]` */
  xFlatT: tf.Tensor;
  /** `[L, C_dy]`: `dy` on the window grid, first `L` grid points. */
  dyFlat: tf.Tensor2D;
  /** Window length `L`. */
  length: number;
  /** Per tap (row-major over the filter's spatial axes): offset of its window in one channel's row. */
  tapOffsets: number[];
  /** Length of one channel's row in `xFlatT`. */
  rowLength: number;
  /** A window is one run per image. */
  runs: RunLayout;
}

/**
 * The window grid of one image is `[o_1, Q_2, .., Q_r]`: the leading axis is not padded (each
 * image is its own run, so a shifted window never needs rows past `o_1`), the others are padded
 * to whole phases `Q_j` so that a tap is a constant shift of the flat index.
 */
function shiftedWindows(x: tf.Tensor, dy: tf.Tensor, spec: FilterGradSpec): ShiftedWindows {
  const r = spec.filterSize.length;
  const batch = x.shape[0] as number;
  const inSize = x.shape.slice(1, r + 1);
  const channels = x.shape[r + 1] as number;
  const outSize = dy.shape.slice(1, r + 1);
  const dyChannels = dy.shape[r + 1] as number;
  const { filterSize: k, strides: s, dilations: d, padBefore: p } = spec;
  // Span of x read per axis, rounded up to whole phases.
  const q = outSize.map((o, j) => Math.ceil(((o - 1) * (s[j] as number) + ((k[j] as number) - 1) * (d[j] as number) + 1) / (s[j] as number)));
  const padded = padOrCrop(
    x,
    p,
    q.map((qj, j) => qj * (s[j] as number) - (p[j] as number) - (inSize[j] as number)),
  );
  const phases = s.some((sj) => sj > 1) ? phaseSplit(padded, q, s) : padded;
  if (phases !== padded) padded.dispose();
  const image = prod(q);
  const rowLength = prod(s) * batch * image;
  const flat = tf.reshape(phases, [rowLength, channels]);
  phases.dispose();
  const xFlatT = tf.transpose(flat);
  flat.dispose();

  // Offsets: phase block + shift on the [Q_1..Q_r] grid of an image (row-major strides).
  const strides = q.map((_, j) => prod(q.slice(j + 1)));
  const tapOffsets: number[] = [];
  let maxInnerShift = 0;
  const visit = (j: number, phaseIndex: number, shift: number, innerShift: number): void => {
    if (j === r) {
      tapOffsets.push(phaseIndex * batch * image + shift);
      maxInnerShift = Math.max(maxInnerShift, innerShift);
      return;
    }
    const sj = s[j] as number;
    for (let kj = 0; kj < (k[j] as number); kj++) {
      const t = kj * (d[j] as number);
      const step = Math.floor(t / sj) * (strides[j] as number);
      visit(j + 1, phaseIndex * sj + (t % sj), shift + step, j === 0 ? 0 : innerShift + step);
    }
  };
  visit(0, 0, 0, 0);
  // One run per image over its [o_1, Q_2..] grid; the last run stops `maxInnerShift` early so no
  // window reads past the end of its phase block (those grid points are padding: dy = 0).
  const run = (outSize[0] as number) * (strides[0] as number);
  const runs: RunLayout = { count: batch, stride: image, length: run, lastLength: run - maxInnerShift };
  const length = batch * run - maxInnerShift;
  const dyPadded = padOrCrop(
    dy,
    outSize.map(() => 0),
    outSize.map((o, j) => (j === 0 ? 0 : (q[j] as number) - o)),
  );
  const dyAll = tf.reshape(dyPadded, [batch * run, dyChannels]);
  dyPadded.dispose();
  const dyFlat = (maxInnerShift === 0 ? dyAll : sliceFast(dyAll, [0, 0], [length, dyChannels])) as tf.Tensor2D;
  if (dyFlat !== dyAll) dyAll.dispose();
  return { xFlatT, dyFlat, length, tapOffsets, rowLength, runs };
}

/**
 * Filter gradient of a regular correlation.
 * @param x input `[B, n_1..n_r, C_in]`
 * @param dy output gradient `[B, o_1..o_r, C_out]`
 * @returns `dW [K_1..K_r, C_in, C_out]`
 */
export function convFilterGrad(x: tf.Tensor, dy: tf.Tensor, spec: FilterGradSpec): tf.Tensor {
  const r = spec.filterSize.length;
  const inChannels = x.shape[r + 1] as number;
  const outChannels = dy.shape[r + 1] as number;
  const filterShape = [...spec.filterSize, inChannels, outChannels];
  if (x.size === 0 || dy.size === 0) return tf.zeros(filterShape);
  return tf.tidy(() => {
    const w = shiftedWindows(x, dy, spec);
    const taps = w.tapOffsets.length;
    const group = Math.max(1, Math.min(taps, Math.floor((spec.maxWindowFloats ?? MAX_WINDOW_FLOATS) / (inChannels * w.length))));
    const parts: tf.Tensor[] = [];
    for (let t0 = 0; t0 < taps; t0 += group) {
      const starts: number[] = [];
      for (let t = t0; t < Math.min(taps, t0 + group); t++) {
        for (let ci = 0; ci < inChannels; ci++) starts.push(ci * w.rowLength + (w.tapOffsets[t] as number));
      }
      const windows = copyRuns(w.xFlatT, starts, w.runs);
      parts.push(tf.matMul(windows, w.dyFlat));
      windows.dispose();
    }
    const dW = parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
    return tf.reshape(dW, filterShape);
  });
}

/**
 * Filter gradient of a depthwise correlation with channel multiplier `M`
 * (`y[.., ci*M + m] = sum_k x[.., ci] W[k, ci, m]`).
 * @param x input `[B, n_1..n_r, C]`
 * @param dy output gradient `[B, o_1..o_r, C*M]`
 * @returns `dW [K_1..K_r, C, M]`
 */
export function depthwiseFilterGrad(x: tf.Tensor, dy: tf.Tensor, spec: FilterGradSpec): tf.Tensor {
  const r = spec.filterSize.length;
  const channels = x.shape[r + 1] as number;
  const multiplier = (dy.shape[r + 1] as number) / channels;
  const filterShape = [...spec.filterSize, channels, multiplier];
  if (x.size === 0 || dy.size === 0) return tf.zeros(filterShape);
  return tf.tidy(() => {
    const w = shiftedWindows(x, dy, spec);
    const taps = w.tapOffsets.length;
    // dy per channel: [C, L, M].
    const dyChannels = tf.transpose(tf.reshape(w.dyFlat, [w.length, channels, multiplier]), [1, 0, 2]);
    const group = Math.max(1, Math.min(taps, Math.floor((spec.maxWindowFloats ?? MAX_WINDOW_FLOATS) / (channels * w.length))));
    const parts: tf.Tensor[] = [];
    for (let t0 = 0; t0 < taps; t0 += group) {
      const t1 = Math.min(taps, t0 + group);
      const starts: number[] = [];
      for (let ci = 0; ci < channels; ci++) {
        for (let t = t0; t < t1; t++) starts.push(ci * w.rowLength + (w.tapOffsets[t] as number));
      }
      const windows = tf.reshape(copyRuns(w.xFlatT, starts, w.runs), [channels, t1 - t0, w.length]);
      parts.push(tf.matMul(windows, dyChannels)); // [C, g, M]
      windows.dispose();
    }
    const perChannel = parts.length === 1 ? parts[0]! : tf.concat(parts, 1); // [C, K, M]
    return tf.reshape(tf.transpose(perChannel, [1, 0, 2]), filterShape);
  });
}
