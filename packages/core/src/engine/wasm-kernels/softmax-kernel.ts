/**
 * `Softmax` on the wasm backend with fewstep's SIMD row kernel (wasm-elementwise-module.ts):
 * max, `exp` (polynomial, < 3e-8 relative) and sum, scale, per row of the last axis.
 * tfjs-backend-wasm 4.22's own takes ~2.4 ns per element on attention logits
 * (`[64, 256, 256]`: 10 ms of a video-unet-block training step). Non-float32 inputs and a `dim`
 * other than the last axis go to wasm's kernel.
 */
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { overrideWasmKernel } from './override-kernel.js';
import { asWasm, dataOf } from './wasm-internals.js';
import { wasmElementwise } from './wasm-elementwise.js';

function makeSoftmax(original: KernelFunc): KernelFunc {
  return (args) => {
    const { logits } = args.inputs as { logits: TensorInfo };
    const { dim } = args.attrs as unknown as { dim: number };
    const rank = logits.shape.length;
    if (logits.dtype !== 'float32' || rank === 0 || (dim !== -1 && dim !== rank - 1)) return original(args);
    const backend = asWasm(args.backend);
    const k = wasmElementwise(backend);
    const out = backend.makeOutput(logits.shape.slice(), 'float32');
    const n = logits.shape[rank - 1] as number;
    const size = tf.util.sizeFromShape(logits.shape);
    if (size > 0) k.softmax(dataOf(backend, logits).memoryOffset, dataOf(backend, out).memoryOffset, size / n, n);
    return out;
  };
}

/** The `Softmax` override (backendName 'wasm'). */
export const softmaxConfig: KernelConfig = overrideWasmKernel('Softmax', makeSoftmax);
