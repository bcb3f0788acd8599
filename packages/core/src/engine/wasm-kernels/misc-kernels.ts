/**
 * fewstep's non-convolution wasm training kernels (ARCHITECTURE.md, Engine). tfjs-backend-wasm
 * 4.22 lacks `UnsortedSegmentSum` (gather's gradient, so embeddings), every complex64 kernel
 * (`Complex`, `Real`, `Imag`, `ComplexAbs`, `FFT`, `IFFT`, hence `tf.spectral.*` and `tf.abs` of a
 * complex tensor) and `Einsum`. Replaced for speed: `BatchMatMul` and `_FusedMatMul` (fewstep's
 * relaxed-SIMD GEMM, batch-matmul.ts, fused-matmul.ts), `Sum`/`Mean` over non-innermost axes
 * (reduce-kernels.ts), `Add`/`Sub`/`Multiply`/`RealDiv` with short inner broadcasts
 * (broadcast-binary.ts), `Tanh`, `Softmax` (SIMD), `Identity` (no copy, complex-kernels.ts),
 * `Transpose` (merged axes) and `Tile` (layout-kernels.ts). Registered by
 * `registerWasmTrainingKernels()` (index.ts).
 *
 * Importing this module also (idempotently) teaches the wasm backend to read complex64 tensors
 * (complex-storage.ts) and registers a gradient for `Einsum`, which tfjs defines for no backend
 * (einsum-grad.ts).
 */
import '@tensorflow/tfjs-backend-wasm';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { batchMatMulConfig } from './batch-matmul.js';
import { broadcastBinaryConfigs } from './broadcast-binary.js';
import { complexKernelConfigs } from './complex-kernels.js';
import { einsumConfig } from './einsum.js';
import { registerEinsumGradient } from './einsum-grad.js';
import { fftKernelConfigs } from './fft.js';
import { fusedMatMulConfig } from './fused-matmul.js';
import { meanConfig, sumConfig } from './reduce-kernels.js';
import { tileConfig, transposeConfig } from './layout-kernels.js';
import { softmaxConfig } from './softmax-kernel.js';
import { tanhConfig } from './tanh-kernel.js';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.js';

registerEinsumGradient();

/** Kernel configs (backendName 'wasm') this module adds to or replaces in the wasm backend. */
export const miscKernelConfigs: KernelConfig[] = [
  batchMatMulConfig,
  fusedMatMulConfig,
  unsortedSegmentSumConfig,
  ...complexKernelConfigs.filter((c) => !broadcastBinaryConfigs.some((b) => b.kernelName === c.kernelName)),
  ...broadcastBinaryConfigs,
  sumConfig,
  meanConfig,
  tanhConfig,
  softmaxConfig,
  transposeConfig,
  tileConfig,
  ...fftKernelConfigs,
  einsumConfig,
];
