import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@fewstep/core';

/** How a head's `d` channels are shared between the time, height and width axes (each even). */
export interface RopeAxes {
  readonly t: number;
  readonly h: number;
  readonly w: number;
}

/**
 * Splits a head dimension between the three axes: about a quarter to time, the rest halved
 * between height and width (HunyuanVideo uses 16/56/56 of 128; this rule gives 32/48/48).
 * @throws ConfigError unless `headDim` is even and >= 6
 */
export function ropeAxes(headDim: number): RopeAxes {
  if (!Number.isInteger(headDim) || headDim < 6 || headDim % 2 !== 0) {
    throw new ConfigError('head dim (hiddenDim / heads)', headDim, 'an even integer >= 6 for 3D RoPE', 'change hiddenDim or heads');
  }
  const t = Math.max(2, 2 * Math.floor(headDim / 8));
  const rest = headDim - t;
  const h = Math.max(2, 2 * Math.floor(rest / 4));
  return { t, h, w: rest - h };
}

/**
 * cos / sin tables `[N, d]` of 3D rotary position embedding (Su et al. 2021, RoFormer Eq. 34,
 * applied per axis as in HunyuanVideo / CogVideoX 3D RoPE) for a token grid `(fp, hp, wp)`
 * flattened in that order. Within each axis chunk of width `2m` the layout is "rotate half"
 * (GPT-NeoX): channel `i` and `i + m` form a pair rotated by `pos * theta^(-2i / 2m)`.
 */
export function rope3dTables(fp: number, hp: number, wp: number, axes: RopeAxes, theta = 10000): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const d = axes.t + axes.h + axes.w;
  const n = fp * hp * wp;
  const cos = new Float32Array(n * d);
  const sin = new Float32Array(n * d);
  const chunks: [number, number][] = [
    [axes.t, 0],
    [axes.h, 1],
    [axes.w, 2],
  ];
  let idx = 0;
  for (let f = 0; f < fp; f++) {
    for (let y = 0; y < hp; y++) {
      for (let x = 0; x < wp; x++, idx++) {
        const pos = [f, y, x];
        let off = idx * d;
        for (const [width, axis] of chunks) {
          const m = width / 2;
          for (let i = 0; i < m; i++) {
            const angle = pos[axis]! * Math.pow(theta, (-2 * i) / width);
            cos[off + i] = cos[off + m + i] = Math.cos(angle);
            sin[off + i] = sin[off + m + i] = Math.sin(angle);
          }
          off += width;
        }
      }
    }
  }
  return { cos: tf.tensor2d(cos, [n, d]), sin: tf.tensor2d(sin, [n, d]) };
}

/**
 * Rotates `x` `[..., N, d]` by the tables of {@link rope3dTables}: `x * cos + rotateHalf(x) * sin`,
 * where, per axis chunk `[a, b]` (halves), `rotateHalf = [-b, a]`.
 */
export function applyRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor, axes: RopeAxes): tf.Tensor {
  return tf.tidy(() => {
    const sizes = [axes.t / 2, axes.t / 2, axes.h / 2, axes.h / 2, axes.w / 2, axes.w / 2];
    const p = tf.split(x, sizes, -1);
    const rotated = tf.concat([tf.neg(p[1]!), p[0]!, tf.neg(p[3]!), p[2]!, tf.neg(p[5]!), p[4]!], -1);
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
  });
}
