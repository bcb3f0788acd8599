/**
 * @file The consistency-model parameterization `f(x, t) = c_skip(t) x + c_out(t) F(x, t)`
 * (CM Eq. 3; LCM Eq. 5 with `F` the teacher-style x0-prediction; OSV Sec. 3.3), with
 * `c_skip(0) = 1`, `c_out(0) = 0` so that `f(x, 0) = x`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { appendDims, lcmBoundaryCondition, ShapeError, type BoundaryCondition, type Coefficient } from '@fewstep/core';

/**
 * `c_skip x + c_out x0`, the boundary-parameterized consistency output.
 * @param cSkip a number or `[B]` tensor
 * @param cOut a number or `[B]` tensor
 * @param x `[B, ...]` the noisy input `x_t`
 * @param modelX0 `[B, ...]` the network's x0-prediction at `(x_t, t)` (LCM: `predictX0Eps(...).x0`)
 * @returns `[B, ...]` `f(x_t, t)`
 */
export function consistencyPrediction(cSkip: Coefficient, cOut: Coefficient, x: tf.Tensor, modelX0: tf.Tensor): tf.Tensor {
  if (x.shape.join(',') !== modelX0.shape.join(',')) {
    throw new ShapeError('consistencyPrediction modelX0', modelX0.shape, `[${x.shape.join(', ')}] (the shape of x)`, 'pass the x0-prediction for the same [B, ...] input x');
  }
  return tf.tidy(() => tf.add(tf.mul(x, appendDims(cSkip, x.rank)), tf.mul(modelX0, appendDims(cOut, x.rank))));
}

/**
 * `(c_skip, c_out)` as `[B]` tensors for per-sample times `t` (model time), from a core boundary
 * condition (default: LCM's, `lcmBoundaryCondition()`).
 * @param t per-sample model times, length B
 */
export function boundaryCoefficients(t: readonly number[], boundary: BoundaryCondition = lcmBoundaryCondition()): { cSkip: tf.Tensor; cOut: tf.Tensor } {
  return {
    cSkip: tf.tensor1d(t.map((ti) => boundary.cSkip(ti)), 'float32'),
    cOut: tf.tensor1d(t.map((ti) => boundary.cOut(ti)), 'float32'),
  };
}
