/**
 * Training kernels fewstep registers for the tfjs `wasm` backend, which ships without them
 * (ARCHITECTURE.md, Engine). Each is built from kernels wasm does have, so it runs at their speed.
 */
import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { convKernelConfigs } from './conv-kernels.js';
import { miscKernelConfigs } from './misc-kernels.js';

/** Every kernel config fewstep adds to (or replaces in) the wasm backend. */
export const wasmTrainingKernelConfigs: readonly KernelConfig[] = [...convKernelConfigs, ...miscKernelConfigs];

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
