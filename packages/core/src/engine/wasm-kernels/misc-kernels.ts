/**
 * fewstep's non-convolution wasm training kernels (ARCHITECTURE.md, Engine). tfjs-backend-wasm
 * 4.22 lacks `UnsortedSegmentSum` (gather's gradient, so embeddings), every complex64 kernel
 * (`Complex`, `Real`, `Imag`, `ComplexAbs`, `FFT`, `IFFT`, hence `tf.spectral.*` and `tf.abs` of a
 * complex tensor) and `Einsum`; its `BatchMatMul` is ~10x slower than it could be whenever a
 * batch > 1 or a transpose is involved (batch-matmul.ts). Registered by
 * `registerWasmTrainingKernels()` (index.ts).
 *
 * Importing this module also (idempotently) teaches the wasm backend to read complex64 tensors
 * (complex-storage.ts) and registers a gradient for `Einsum`, which tfjs defines for no backend
 * (einsum-grad.ts).
 */
import '@tensorflow/tfjs-backend-wasm';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { batchMatMulConfig } from './batch-matmul.js';
import { complexKernelConfigs } from './complex-kernels.js';
import { einsumConfig } from './einsum.js';
import { registerEinsumGradient } from './einsum-grad.js';
import { fftKernelConfigs } from './fft.js';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.js';

registerEinsumGradient();

/** Kernel configs (backendName 'wasm') this module adds to or replaces in the wasm backend. */
export const miscKernelConfigs: KernelConfig[] = [
  batchMatMulConfig,
  unsortedSegmentSumConfig,
  ...complexKernelConfigs,
  ...fftKernelConfigs,
  einsumConfig,
];
