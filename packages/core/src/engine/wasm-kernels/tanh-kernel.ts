/**
 * `Tanh` on the wasm backend with fewstep's SIMD kernel (wasm-elementwise-module.ts): tfjs-backend-
 * wasm 4.22 calls libm's scalar `tanhf` per element (~25-30 ns); the SIMD version takes ~3-6 ns and is
 * within 5e-7 relative of `Math.tanh` (what the cpu backend uses). It matters for GELU (tanh
 * approximation) in transformer MLPs: 20 ms of a dit-block training step. Non-float32 inputs go
 * to wasm's kernel.
 */
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { overrideWasmKernel } from './override-kernel.js';
import { asWasm, dataOf } from './wasm-internals.js';
import { wasmElementwise } from './wasm-elementwise.js';

function makeTanh(original: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype !== 'float32') return original(args);
    const backend = asWasm(args.backend);
    const k = wasmElementwise(backend);
    const out = backend.makeOutput(x.shape.slice(), 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    if (n > 0) k.tanh(dataOf(backend, x).memoryOffset, dataOf(backend, out).memoryOffset, n);
    return out;
  };
}

/** The `Tanh` override (backendName 'wasm'). */
export const tanhConfig: KernelConfig = overrideWasmKernel('Tanh', makeTanh);
