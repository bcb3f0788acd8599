import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@fewstep/core';

/** Token grid of a video under a patch size: `(F/pt, H/ph, W/pw)`. @throws ShapeError when a size does not divide */
export function patchGrid(what: string, shape: readonly number[], patch: readonly [number, number, number]): [number, number, number] {
  const [, f, h, w] = shape as [number, number, number, number];
  const [pt, ph, pw] = patch;
  if (shape.length !== 5 || f % pt !== 0 || h % ph !== 0 || w % pw !== 0) {
    throw new ShapeError(what, shape, `[B, F, H, W, C] with F, H, W multiples of the patch size [${patch.join(', ')}]`);
  }
  return [f / pt, h / ph, w / pw];
}

/**
 * 3D patchify: `[B, F, H, W, C]` to tokens `[B, N, pt*ph*pw*C]`, tokens ordered (frame, row,
 * column), each patch flattened as `(pt, ph, pw, C)`; a rank-6 transpose.
 */
export function patchify3d(x: tf.Tensor, patch: readonly [number, number, number]): tf.Tensor {
  return tf.tidy(() => {
    const [b, f, h, w, c] = x.shape as [number, number, number, number, number];
    const [pt, ph, pw] = patch;
    const [fp, hp, wp] = [f / pt, h / ph, w / pw];
    const grid = tf.reshape(x, [b * fp, pt, hp, ph, wp, pw * c]);
    return tf.reshape(tf.transpose(grid, [0, 2, 4, 1, 3, 5]), [b, fp * hp * wp, pt * ph * pw * c]);
  });
}

/** Inverse of {@link patchify3d}: `[B, N, pt*ph*pw*C]` to `[B, F, H, W, C]` for the grid `(fp, hp, wp)`. */
export function unpatchify3d(tokens: tf.Tensor, grid: readonly [number, number, number], patch: readonly [number, number, number]): tf.Tensor {
  return tf.tidy(() => {
    const [b, , pc] = tokens.shape as [number, number, number];
    const [fp, hp, wp] = grid;
    const [pt, ph, pw] = patch;
    const c = pc / (pt * ph * pw);
    const t = tf.reshape(tokens, [b * fp, hp, wp, pt, ph, pw * c]);
    return tf.reshape(tf.transpose(t, [0, 3, 1, 4, 2, 5]), [b, fp * pt, hp * ph, wp * pw, c]);
  });
}
