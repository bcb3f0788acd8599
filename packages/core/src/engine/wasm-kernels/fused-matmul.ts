/**
 * `_FusedMatMul` (`tf.fused.matMul`: `act(a·b + bias)`) on fewstep's GEMM for the wasm backend.
 *
 * wasm's own kernel (tfjs-backend-wasm 4.22) uses XNNPACK only for one batch without transposes
 * and a scalar loop otherwise (like its BatchMatMul, see batch-matmul.ts). Here the output is
 * first filled with the bias broadcast over rows, then the product is accumulated onto it
 * (`C = bias; C += a·b`, so the bias costs one pass over C), and a non-linear activation runs as
 * wasm's own element-wise kernel afterwards. Inputs the override does not handle (non-float32,
 * a bias that is not `[N]` or `[1]`, an activation wasm has no kernel for) go to the original.
 */
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { gemmInto, matMulGeometry } from './batch-matmul.js';
import { overrideWasmKernel } from './override-kernel.js';
import { asWasm, dataOf, disposeInfo, f32View, runWasmKernel } from './wasm-internals.js';
import { wasmGemm } from './wasm-gemm.js';

interface FusedAttrs {
  transposeA: boolean;
  transposeB: boolean;
  activation?: string;
  leakyreluAlpha?: number;
}

/** Activations applied after the product, as the wasm kernel that computes them. */
const ACTIVATION_KERNELS: Record<string, string> = {
  relu: 'Relu',
  relu6: 'Relu6',
  sigmoid: 'Sigmoid',
  elu: 'Elu',
  leakyrelu: 'LeakyRelu',
  prelu: 'Prelu',
};

function makeFusedMatMul(original: KernelFunc): KernelFunc {
  return (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as { a: TensorInfo; b: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
    const { transposeA, transposeB, activation = 'linear', leakyreluAlpha } = args.attrs as unknown as FusedAttrs;
    const g0 = a.dtype === 'float32' && b.dtype === 'float32';
    const biasOk = bias == null || (bias.dtype === 'float32' && bias.shape.length === 1);
    const actOk = activation === 'linear' || ACTIVATION_KERNELS[activation] !== undefined;
    if (!g0 || !biasOk || !actOk) return original(args);
    const backend = asWasm(args.backend);
    const g = matMulGeometry(a, b, transposeA, transposeB);
    const biasSize = bias == null ? 0 : tf.util.sizeFromShape(bias.shape);
    if (bias != null && biasSize !== g.N && biasSize !== 1) return original(args);
    wasmGemm(backend);
    const out = backend.makeOutput(g.outShape, 'float32');
    const size = tf.util.sizeFromShape(g.outShape);
    if (size > 0) {
      if (bias != null) {
        const c = f32View(backend, out);
        const row = f32View(backend, bias, biasSize);
        if (biasSize === 1) c.fill(row[0] as number);
        else for (let o = 0; o < size; o += g.N) c.set(row, o);
      }
      gemmInto(backend, a, b, transposeA, transposeB, g, dataOf(backend, out).memoryOffset, bias != null);
    }
    if (activation === 'linear') return out;
    const kernel = ACTIVATION_KERNELS[activation] as string;
    let activated: TensorInfo;
    if (kernel === 'Prelu') activated = runWasmKernel(kernel, backend, { x: out, alpha: preluActivationWeights as TensorInfo });
    else if (kernel === 'LeakyRelu') activated = runWasmKernel(kernel, backend, { x: out }, { alpha: leakyreluAlpha ?? 0.2 });
    else activated = runWasmKernel(kernel, backend, { x: out });
    disposeInfo(backend, out);
    return activated;
  };
}

/** The `_FusedMatMul` override (backendName 'wasm'). */
export const fusedMatMulConfig: KernelConfig = overrideWasmKernel('_FusedMatMul', makeFusedMatMul);
