/**
 * Transposed convolution (the input gradient of a convolution) as stride-1 correlations, by the
 * polyphase ("sub-pixel") decomposition.
 *
 * The forward correlation reads `x[o*s + k*d - p]`, so its adjoint is
 * `dx[i] = sum_{(o, k): o*s + k*d - p = i} dy[o] W[k]`. Split `i = s*i' + r` by phase `r`:
 *  - `s > 1` (then `d = 1`): only taps `k = k0 + s*m` with `k0 = (r + p) mod s` reach phase `r`,
 *    and they read `dy[i' + q - m]` with `q = floor((r + p) / s)`: a stride-1 correlation of `dy`
 *    with the reversed sub-filter `W[k0 + s*(M-1-m')]`, zero padding `M - 1 - q` before.
 *  - `s = 1`: one phase, all taps, `dx[i] = sum_k dy[i + p - k*d] W[k]`: a correlation with the
 *    reversed filter at dilation `d`, padding `d*(K-1) - p` before.
 * Every tap is used by exactly one phase, so the FLOPs equal the forward convolution's (no zeros
 * are inserted into `dy`). The phases are interleaved by {@link phaseMerge}.
 * Reference: Shi et al. 2016, "Is the deconvolution layer the same as a convolutional layer?"
 * (arXiv:1609.07009); Dumoulin & Visin 2016, "A guide to convolution arithmetic", section 4.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../../errors.js';
import { sliceFast } from './conv-kernel-plumbing.js';
import { phaseMerge, phaseSplit } from './conv-phase-split.js';

/** Geometry of the forward correlation whose adjoint is taken, per spatial axis. */
export interface TransposedConvSpec {
  /** `n_j`: spatial size of the result (the forward convolution's input). */
  inSize: readonly number[];
  /** `K_j`: filter size. */
  filterSize: readonly number[];
  strides: readonly number[];
  dilations: readonly number[];
  /** `p_j`: zero padding before axis `j` in the forward convolution (may be negative). */
  padBefore: readonly number[];
}

/**
 * A stride-1 correlation `y[i] = sum_m x[i + dil*m - pads[j][0]] w[m]` with zero padding
 * `pads[j] = [before, after]` (both >= 0), returning `[B, L_1..L_r, C_out]`.
 */
export type Stride1Conv = (x: tf.Tensor, w: tf.Tensor, dilations: number[], pads: Array<[number, number]>) => tf.Tensor;

interface PhaseAxis {
  /** Number of filter taps reaching this phase (`M`). */
  taps: number;
  /** Index, in the reversed filter, of this phase's first tap, modulo the stride. */
  residue: number;
  /** `q`: offset of the phase's first `dy` sample. */
  q: number;
  /** Dilation of the phase's correlation. */
  dilation: number;
}

const mod = (a: number, n: number): number => ((a % n) + n) % n;

function phaseAxis(r: number, k: number, s: number, d: number, p: number): PhaseAxis {
  if (s === 1) return { taps: k, residue: 0, q: p, dilation: d };
  const k0 = mod(r + p, s);
  const taps = k0 < k ? Math.ceil((k - k0) / s) : 0;
  return { taps, residue: taps > 0 ? k - 1 - k0 - s * (taps - 1) : 0, q: Math.floor((r + p) / s), dilation: 1 };
}

/** Row-major enumeration of all multi-indices below `sizes`. */
function multiIndices(sizes: readonly number[]): number[][] {
  let out: number[][] = [[]];
  for (const n of sizes) out = out.flatMap((prefix) => Array.from({ length: n }, (_, i) => [...prefix, i]));
  return out;
}

/**
 * Adjoint of a strided, dilated, padded correlation with respect to its input.
 * @param dy `[B, o_1..o_r, C_dy]`
 * @param reversedFilter the filter reversed along every spatial axis, `[K_1..K_r, ...channels]`;
 *   its spatial axes are sliced per phase and the result passed to `conv` unchanged otherwise
 * @param conv the stride-1 correlation to run per phase
 * @param outChannels channels of `conv`'s output
 * @returns `[B, n_1..n_r, outChannels]`
 */
export function transposedConv(
  dy: tf.Tensor,
  reversedFilter: tf.Tensor,
  spec: TransposedConvSpec,
  conv: Stride1Conv,
  outChannels: number,
): tf.Tensor {
  const r = spec.inSize.length;
  const batch = dy.shape[0] as number;
  const outSize = dy.shape.slice(1, r + 1);
  const dyChannels = dy.shape[r + 1] as number;
  const { inSize, filterSize: k, strides: s, dilations: d, padBefore: p } = spec;
  for (let j = 0; j < r; j++) {
    if ((s[j] as number) > 1 && (d[j] as number) > 1) {
      throw new ConfigError(
        'strides/dilations',
        { strides: s, dilations: d },
        'on every axis, a stride of 1 or a dilation of 1 (as tfjs requires for convolution gradients)',
        'use stride 1 where a dilation > 1 is needed, or dilation 1 with strides',
      );
    }
  }
  const lq = inSize.map((n, j) => Math.ceil(n / (s[j] as number)));
  const phaseCount = s.reduce((a, b) => a * b, 1);

  return tf.tidy(() => {
    // Filter phases: pad each spatial axis to a multiple of its stride, then split by residue.
    const filterChannels = reversedFilter.shape.slice(r);
    const fc = filterChannels.reduce((a, b) => a * b, 1);
    const kq = k.map((kj, j) => Math.ceil(kj / (s[j] as number)));
    let filterPhases = tf.reshape(reversedFilter, [1, ...k, fc]);
    if (phaseCount > 1) {
      const padded = tf.pad(filterPhases, [[0, 0], ...k.map((kj, j): [number, number] => [0, (kq[j] as number) * (s[j] as number) - kj]), [0, 0]]);
      filterPhases = tf.reshape(phaseSplit(padded, kq, s), [phaseCount, ...kq, fc]);
    }
    const phaseOutputs = multiIndices(s).map((phase) => {
      const axes = phase.map((ph, j) => phaseAxis(ph, k[j] as number, s[j] as number, d[j] as number, p[j] as number));
      const before = axes.map((a) => a.dilation * (a.taps - 1) - a.q);
      const after = axes.map((a, j) => (lq[j] as number) - (outSize[j] as number) + a.q);
      const crop0 = before.map((v) => Math.max(0, -v));
      const crop1 = after.map((v) => Math.max(0, -v));
      const kept = outSize.map((o, j) => o - (crop0[j] as number) - (crop1[j] as number));
      if (axes.some((a) => a.taps === 0) || kept.some((n) => n <= 0)) return tf.zeros([batch, ...lq, outChannels]);
      const residueIndex = axes.reduce((acc, a, j) => acc * (s[j] as number) + a.residue, 0);
      const taps = axes.map((a) => a.taps);
      const sub =
        phaseCount === 1
          ? reversedFilter
          : tf.reshape(sliceFast(filterPhases, [residueIndex, ...taps.map(() => 0), 0], [1, ...taps, fc]), [...taps, ...filterChannels]);
      const cropped = crop0.some((c) => c > 0) || crop1.some((c) => c > 0);
      const dyPhase = cropped ? sliceFast(dy, [0, ...crop0, 0], [batch, ...kept, dyChannels]) : dy;
      const pads = before.map((b, j): [number, number] => [Math.max(0, b), Math.max(0, after[j] as number)]);
      return conv(dyPhase, sub, axes.map((a) => a.dilation), pads);
    });
    if (phaseCount === 1) return cropTo(phaseOutputs[0]!, inSize);
    const stacked = tf.stack(phaseOutputs, 0);
    return cropTo(phaseMerge(stacked, batch, lq, s, outChannels), inSize);
  });
}

/** Crops the spatial axes of `[B, m_1..m_r, C]` to their first `n_j` entries. */
function cropTo(y: tf.Tensor, n: readonly number[]): tf.Tensor {
  const r = n.length;
  if (n.every((nj, j) => y.shape[j + 1] === nj)) return y;
  return sliceFast(y, y.shape.map(() => 0), [y.shape[0] as number, ...n, y.shape[r + 1] as number]);
}
