/**
 * fewstep's SIMD element-wise kernels (wasm-elementwise-module.ts), instantiated once per wasm
 * backend on its heap.
 */
import { elementwiseModuleBytes, type ElementwiseExports } from './wasm-elementwise-module.js';
import { enableRelaxedSimd } from './relaxed-simd.js';
import { instantiateOnHeap, type WasmBackend } from './wasm-internals.js';

/** The element-wise kernels of `backend` (compiled on first use). */
export function wasmElementwise(backend: WasmBackend): ElementwiseExports {
  const fma = enableRelaxedSimd();
  return instantiateOnHeap<ElementwiseExports>(backend, `elementwise-${fma}`, (memory) => elementwiseModuleBytes(fma, memory));
}
