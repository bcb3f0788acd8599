import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '../register-gradients.js';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { expectMatchesCpu, expectTensorsClose, seededNormal, withGrads as withGradsOf } from '@fewstep/testing';
import { registerWasmTrainingKernels } from './index.js';
import { conv2DGemmConfig, fusedConv2DGemmConfig, conv2DBackpropFilterGemmConfig } from './conv-gemm-kernels.js';

type Pad2 = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
type Pair = [number, number];

/** wasm (with fewstep's kernels) against the cpu reference, same seeded inputs, no leaks. */
const matchesCpu = (what: string, shapes: number[][], f: (...xs: tf.Tensor[]) => tf.Tensor[]): Promise<void> =>
  expectMatchesCpu(what, shapes, f, { seed: 31, seedStep: 7 });
const withGrads = (op: (...xs: tf.Tensor[]) => tf.Tensor): ((...xs: tf.Tensor[]) => tf.Tensor[]) => withGradsOf(op, 99);

const conv2d = (s: number | Pair, p: Pad2, d: number | Pair = 1) => (x: tf.Tensor, w: tf.Tensor) =>
  tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, p, 'NHWC', d);

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmTrainingKernels();
  for (const c of [conv2DGemmConfig, fusedConv2DGemmConfig, conv2DBackpropFilterGemmConfig]) {
    expect(tf.getKernel(c.kernelName, 'wasm')).toBe(c);
  }
});

describe('implicit-GEMM Conv2D / FusedConv2D / Conv2DBackpropFilter on wasm match cpu', () => {
  const explicit: Pad2 = [[0, 0], [1, 2], [0, 1], [0, 0]];
  const cases: Array<[string, number[], number[], number | Pair, Pad2]> = [
    ['same s1', [2, 7, 6, 4], [3, 3, 4, 5], 1, 'same'],
    ['valid s1', [2, 7, 6, 8], [3, 3, 8, 9], 1, 'valid'],
    ['same s2', [2, 9, 8, 4], [3, 3, 4, 12], 2, 'same'],
    ['valid s2 (odd input)', [2, 9, 7, 4], [3, 3, 4, 5], 2, 'valid'],
    ['strides [1,2]', [1, 8, 9, 12], [3, 3, 12, 7], [1, 2], 'same'],
    ['explicit pads', [2, 6, 7, 4], [3, 3, 4, 6], 2, explicit],
    ['1x1', [3, 5, 4, 8], [1, 1, 8, 16], 1, 'valid'],
    ['5x4 filter', [2, 9, 8, 4], [5, 4, 4, 3], 1, 'same'],
    ['C_in 6 (filter gradient falls back)', [2, 6, 5, 6], [3, 3, 6, 5], 1, 'same'],
    ['C_in 3 (XNNPACK forward)', [2, 6, 5, 3], [3, 3, 3, 5], 1, 'same'],
    ['wide rows (M > 128)', [1, 3, 150, 4], [3, 3, 4, 8], 1, 'same'],
  ];
  for (const [name, xs, ws, s, p] of cases) {
    it(`conv2d ${name}: forward, dx, dW`, async () => {
      await matchesCpu(`conv2d ${name}`, [xs, ws], withGrads(conv2d(s, p)));
    });
  }

  it('conv2d with C_in 300 (taps split into pieces of at most 256 channels)', async () => {
    await matchesCpu('conv2d C_in 300', [[1, 5, 6, 300], [3, 3, 300, 9]], withGrads(conv2d(1, 'same')));
  });

  it('dilated conv2d forward (tfjs has no gradient for dilation > 1)', async () => {
    await matchesCpu('dilation 2', [[2, 9, 10, 4], [3, 3, 4, 6]], (x, w) => [conv2d(1, 'same', 2)(x!, w!)]);
    await matchesCpu('dilation [2,1] valid', [[2, 9, 10, 4], [3, 2, 4, 6]], (x, w) => [conv2d(1, 'valid', [2, 1])(x!, w!)]);
  });

  for (const activation of ['linear', 'relu', 'relu6', 'sigmoid', 'elu', 'leakyrelu'] as const) {
    it(`fused conv2d + bias + ${activation}: forward and gradients`, async () => {
      const op = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
        tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, bias: b, strides: 1, pad: 'same', activation, leakyreluAlpha: 0.1 });
      await matchesCpu(`fused ${activation}`, [[2, 6, 7, 8], [3, 3, 8, 10], [10]], activation === 'linear' ? withGrads(op) : (x, w, b) => [op(x!, w!, b!)]);
    });
  }

  it('fused conv2d with prelu', async () => {
    await matchesCpu('fused prelu', [[2, 6, 7, 8], [3, 3, 8, 10], [10], [10]], (x, w, b, a) => [
      tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, bias: b, strides: 2, pad: 'same', activation: 'prelu', preluActivationWeights: a }),
    ]);
  });

  it('matches cpu on a bench-sized layer (x [2,16,16,32], 3x3 32->32)', async () => {
    await matchesCpu('bench-sized', [[2, 16, 16, 32], [3, 3, 32, 32]], withGrads(conv2d(1, 'same')));
  });
});
