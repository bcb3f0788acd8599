/**
 * 3D convolution on the wasm backend as a sum of XNNPACK 2D convolutions.
 *
 * `y[b, o_d] = sum_{k_d} conv2d(x[b, o_d*s_d + k_d*d_d - p_d], W[k_d])`: for every depth tap the
 * frames it reads (one per output depth, all batches) are folded into the batch axis of a single
 * `conv2d` with the 2D filter slice `W[k_d]`, and the `K_d` results are added (`tf.addN`).
 * tfjs-backend-wasm 4.22's own `Conv3D` is a scalar loop (~0.5 GFLOP/s); this runs at the speed of
 * its XNNPACK `Conv2D` (x [2,8,16,16,64], 3x3x3: within 5% of three `conv2d`s of the same FLOPs).
 */
import * as tf from '@tensorflow/tfjs-core';
import { sliceFast } from './conv-kernel-plumbing.js';
import { phaseSplit } from './conv-phase-split.js';

/** Geometry of a 3D correlation: per spatial axis (depth, height, width). */
export interface Conv3dSpec {
  strides: readonly [number, number, number];
  dilations: readonly [number, number, number];
  /** Zero padding `[before, after]` per axis; a negative amount crops the input instead. */
  pads: ReadonlyArray<readonly [number, number]>;
}

/** Output length of a correlation over `n` (padded) samples. */
export function convOutLength(n: number, k: number, s: number, d: number): number {
  return Math.floor((n - (k - 1) * d - 1) / s) + 1;
}

/**
 * 3D correlation `y[b, o, co] = sum_{k, ci} x[b, o*s + k*d - p, ci] * W[k, ci, co]` with the
 * filter given per depth tap.
 * @param x input `[B, D, H, W, C_in]`
 * @param taps `K_d` filters `[K_h, K_w, C_in, C_out]`, `taps[k_d] = W[k_d]`
 * @returns `[B, O_d, O_h, O_w, C_out]`
 */
export function conv3dByDepthTaps(x: tf.Tensor, taps: readonly tf.Tensor[], spec: Conv3dSpec): tf.Tensor {
  const [batch, depth, height, width, inChannels] = x.shape as [number, number, number, number, number];
  const [kh, kw, , outChannels] = taps[0]!.shape as [number, number, number, number];
  const kd = taps.length;
  const [sd, sh, sw] = spec.strides;
  const [dd, dh, dw] = spec.dilations;
  const [[pd0, pd1], [ph0, ph1], [pw0, pw1]] = spec.pads as [[number, number], [number, number], [number, number]];
  const outD = convOutLength(depth + pd0 + pd1, kd, sd, dd);
  const outH = convOutLength(height + ph0 + ph1, kh, sh, dh);
  const outW = convOutLength(width + pw0 + pw1, kw, sw, dw);
  if (outD <= 0 || outH <= 0 || outW <= 0 || batch === 0) {
    return tf.zeros([batch, Math.max(outD, 0), Math.max(outH, 0), Math.max(outW, 0), outChannels]);
  }
  // Depth taps whose frames all fall in the zero padding contribute nothing.
  const live: number[] = [];
  for (let k = 0; k < kd; k++) {
    for (let o = 0; o < outD; o++) {
      const i = o * sd + k * dd - pd0;
      if (i >= 0 && i < depth) {
        live.push(k);
        break;
      }
    }
  }
  if (live.length === 0) return tf.zeros([batch, outD, outH, outW, outChannels]);

  return tf.tidy(() => {
    // Crop negative pads; pad (zeros) the depth axis so every tap reads `outD` whole frames.
    const cropH: [number, number] = [Math.max(0, -ph0), Math.max(0, -ph1)];
    const cropW: [number, number] = [Math.max(0, -pw0), Math.max(0, -pw1)];
    let xc = x;
    const h = height - cropH[0] - cropH[1];
    const w = width - cropW[0] - cropW[1];
    if (cropH[0] + cropH[1] + cropW[0] + cropW[1] > 0) {
      xc = sliceFast(x, [0, 0, cropH[0], cropW[0], 0], [batch, depth, h, w, inChannels]);
    }
    const frame = h * w * inChannels;
    const needD = (outD - 1) * sd + (kd - 1) * dd + 1;
    const qd = Math.ceil(needD / sd);
    const before = pd0;
    const after = qd * sd - needD + (needD - depth - pd0);
    let xd = tf.reshape(xc, [batch, depth, frame]);
    if (before < 0 || after < 0) {
      xd = sliceFast(xd, [0, Math.max(0, -before), 0], [batch, depth - Math.max(0, -before) - Math.max(0, -after), frame]);
    }
    if (before > 0 || after > 0) xd = tf.pad(xd, [[0, 0], [Math.max(0, before), Math.max(0, after)], [0, 0]]);
    // With a depth stride, split the depth axis into phases so each tap's frames are contiguous.
    const phased = sd === 1 ? tf.reshape(xd, [1, batch, qd, frame]) : phaseSplit(tf.reshape(xd, [batch, qd * sd, frame]), [qd], [sd]);
    const pads: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0],
      [Math.max(0, ph0), Math.max(0, ph1)],
      [Math.max(0, pw0), Math.max(0, pw1)],
      [0, 0],
    ];
    const outs = live.map((k) => {
      const t = k * dd;
      const frames = sliceFast(phased, [t % sd, 0, Math.floor(t / sd), 0], [1, batch, outD, frame]);
      const y = tf.conv2d(
        tf.reshape(frames, [batch * outD, h, w, inChannels]) as tf.Tensor4D,
        taps[k] as tf.Tensor4D,
        [sh, sw],
        pads,
        'NHWC',
        [dh, dw],
      );
      frames.dispose();
      return y;
    });
    const sum = outs.length === 1 ? outs[0]! : tf.addN(outs);
    return tf.reshape(sum, [batch, outD, outH, outW, outChannels]);
  });
}

/** `W [K_d, K_h, K_w, C_in, C_out]` as `K_d` filters `[K_h, K_w, C_in, C_out]`. */
export function depthTapsOf(filter: tf.Tensor): tf.Tensor[] {
  const [kd, kh, kw, ci, co] = filter.shape as [number, number, number, number, number];
  return tf.tidy(() => {
    const flat = tf.reshape(filter, [kd, kh * kw * ci * co]);
    return Array.from({ length: kd }, (_, k) => tf.reshape(sliceFast(flat, [k, 0], [1, kh * kw * ci * co]), [kh, kw, ci, co]));
  });
}
