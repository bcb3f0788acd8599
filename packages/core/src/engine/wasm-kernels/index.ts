/**
 * Training kernels fewstep registers for the tfjs `wasm` backend (ARCHITECTURE.md, Engine): the
 * ones it ships without (convolution gradients, complex, FFT, segment sums, einsum) and faster
 * replacements of some it has: matrix products and 2D convolutions on fewstep's generated
 * relaxed-SIMD GEMM (wasm-gemm.ts, conv-gemm.ts; split over threads with the threaded build),
 * SIMD reductions, broadcasts, tanh and softmax (wasm-elementwise-module.ts), a copy-free
 * `Identity`, and `Transpose`/`Tile` fixes (layout-kernels.ts).
 */
import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { convGemmKernelConfigs } from './conv-gemm-kernels.js';
import { convKernelConfigs } from './conv-kernels.js';
import { miscKernelConfigs } from './misc-kernels.js';

/**
 * Every kernel config fewstep adds to (or replaces in) the wasm backend. The GEMM convolution
 * configs take the place of conv-kernels.ts's `Conv2DBackpropFilter` (and fall back to it).
 */
export const wasmTrainingKernelConfigs: readonly KernelConfig[] = [
  ...convKernelConfigs.filter((c) => !convGemmKernelConfigs.some((g) => g.kernelName === c.kernelName)),
  ...convGemmKernelConfigs,
  ...miscKernelConfigs,
];

/**
 * Registers fewstep's wasm training kernels. Idempotent: a kernel already registered for wasm is
 * replaced (wasm's own version is the one fewstep overrides on purpose, e.g. a faster BatchMatMul).
 * @returns the names of the kernels registered.
 */
export function registerWasmTrainingKernels(): string[] {
  const names: string[] = [];
  for (const config of wasmTrainingKernelConfigs) {
    const backendName = config.backendName;
    if (getKernel(config.kernelName, backendName) !== undefined) unregisterKernel(config.kernelName, backendName);
    registerKernel(config);
    names.push(config.kernelName);
  }
  return names;
}
