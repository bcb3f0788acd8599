/**
 * `Conv2D`, `FusedConv2D` and `Conv2DBackpropFilter` for the wasm backend on fewstep's
 * implicit-im2col GEMM (conv-gemm.ts), replacing XNNPACK's convolution (tfjs-backend-wasm 4.22,
 * 128-bit SIMD without FMA) and the im2col-matrix filter gradient of conv-filter-grad.ts.
 *
 * Measured on one thread of a shared Xeon (CPU time, min of 9): x [4,32,32,64] ⊛ [3,3,64,64]
 * 'same' forward 9.3 ms (32.6 GFLOP/s; XNNPACK ~20), filter gradient 8.6 ms (35 GFLOP/s);
 * the conv-train step (forward, input and filter gradients of 4 such layers) 265-283 → ~170 ms.
 * `Conv2DBackpropInput` (conv-kernels.ts) runs its stride-1 correlations through `Conv2D`, so it
 * is on the GEMM too. Geometries the GEMM does not take (channels-first, fewer than 4 input
 * channels, empty outputs, non-float32; `C_in % 4 != 0` for the filter gradient) go to the
 * previous kernel: wasm's own `Conv2D`/`FusedConv2D`, fewstep's im2col `Conv2DBackpropFilter`.
 */
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import {
  backend_util,
  Conv2D,
  Conv2DBackpropFilter,
  FusedConv2D,
  type Conv2DAttrs,
  type Conv2DBackpropFilterAttrs,
  type FusedConv2DAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { conv2dFilterGradGemmInto, conv2dGemmInto, convFilterGradGemmApplies, convGemmApplies } from './conv-gemm.js';
import { conv2DBackpropFilterConfig as imColFilterGradConfig } from './conv-kernels.js';
import { overrideWasmKernel } from './override-kernel.js';
import { asWasm, dataOf, disposeInfo, f32View, runWasmKernel } from './wasm-internals.js';
import { wasmGemm } from './wasm-gemm.js';

type Shape4 = [number, number, number, number];

/** Activations applied after the convolution, as the wasm kernel that computes them. */
const ACTIVATION_KERNELS: Record<string, string> = {
  relu: 'Relu',
  relu6: 'Relu6',
  sigmoid: 'Sigmoid',
  elu: 'Elu',
  leakyrelu: 'LeakyRelu',
  prelu: 'Prelu',
};

function convInfoOf(x: TensorInfo, filter: TensorInfo, attrs: Conv2DAttrs): backend_util.Conv2DInfo | undefined {
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || x.shape.length !== 4 || filter.shape.length !== 4) return undefined;
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return undefined;
  const info = backend_util.computeConv2DInfo(x.shape as Shape4, filter.shape as Shape4, attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  return convGemmApplies(info) ? info : undefined;
}

function makeConv2D(original: KernelFunc): KernelFunc {
  return (args) => {
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    const info = convInfoOf(x, filter, args.attrs as unknown as Conv2DAttrs);
    if (info === undefined) return original(args);
    const backend = asWasm(args.backend);
    wasmGemm(backend);
    const out = backend.makeOutput(info.outShape, 'float32');
    conv2dGemmInto(backend, x, filter, info, dataOf(backend, out).memoryOffset, false);
    return out;
  };
}

function makeFusedConv2D(original: KernelFunc): KernelFunc {
  return (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
    const attrs = args.attrs as unknown as FusedConv2DAttrs;
    const activation = attrs.activation ?? 'linear';
    const info = convInfoOf(x, filter, attrs);
    const biasOk = bias == null || (bias.dtype === 'float32' && tf.util.sizeFromShape(bias.shape) === info?.outChannels && bias.shape.length === 1);
    if (info === undefined || !biasOk || (activation !== 'linear' && ACTIVATION_KERNELS[activation] === undefined)) return original(args);
    const backend = asWasm(args.backend);
    wasmGemm(backend);
    const out = backend.makeOutput(info.outShape, 'float32');
    if (bias != null) {
      const c = f32View(backend, out);
      const row = f32View(backend, bias);
      for (let o = 0; o < c.length; o += row.length) c.set(row, o);
    }
    conv2dGemmInto(backend, x, filter, info, dataOf(backend, out).memoryOffset, bias != null);
    if (activation === 'linear') return out;
    const kernel = ACTIVATION_KERNELS[activation] as string;
    let activated: TensorInfo;
    if (kernel === 'Prelu') activated = runWasmKernel(kernel, backend, { x: out, alpha: preluActivationWeights as TensorInfo });
    else if (kernel === 'LeakyRelu') activated = runWasmKernel(kernel, backend, { x: out }, { alpha: attrs.leakyreluAlpha ?? 0.2 });
    else activated = runWasmKernel(kernel, backend, { x: out });
    disposeInfo(backend, out);
    return activated;
  };
}

/** `Conv2DBackpropFilter` on the GEMM, else fewstep's im2col-matrix version (conv-kernels.ts). */
const conv2DBackpropFilterKernel: KernelFunc = (args) => {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as Conv2DBackpropFilterAttrs;
  const fallback = (): ReturnType<KernelFunc> => imColFilterGradConfig.kernelFunc(args);
  if (x.dtype !== 'float32' || dy.dtype !== 'float32' || (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC')) return fallback();
  const info = backend_util.computeConv2DInfo(x.shape as Shape4, attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  if (!convFilterGradGemmApplies(info) || dy.shape.some((n, i) => n !== info.outShape[i])) return fallback();
  const backend = asWasm(args.backend);
  wasmGemm(backend);
  const dw = backend.makeOutput(attrs.filterShape.slice(), 'float32');
  conv2dFilterGradGemmInto(backend, x, dy, info, dataOf(backend, dw).memoryOffset);
  return dw;
};

/** The `Conv2D` override (backendName 'wasm'). */
export const conv2DGemmConfig: KernelConfig = overrideWasmKernel(Conv2D, makeConv2D);
/** The `FusedConv2D` override (backendName 'wasm'). */
export const fusedConv2DGemmConfig: KernelConfig = overrideWasmKernel(FusedConv2D, makeFusedConv2D);
/** `Conv2DBackpropFilter` (backendName 'wasm'), replacing conv-kernels.ts's config when registered after it. */
export const conv2DBackpropFilterGemmConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterKernel,
};

/** The GEMM convolution configs, registered after convKernelConfigs. */
export const convGemmKernelConfigs: KernelConfig[] = [conv2DGemmConfig, fusedConv2DGemmConfig, conv2DBackpropFilterGemmConfig];
