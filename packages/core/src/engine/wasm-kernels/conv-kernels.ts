/**
 * Convolution training kernels for the tfjs `wasm` backend (tfjs-backend-wasm 4.22), channels-last
 * only. Each is composed of wasm's fast XNNPACK kernels (`Conv2D`, `DepthwiseConv2dNative`,
 * batch-1 `BatchMatMul`) plus memory-bound reshuffles (pad, rank-3 transposes, heap copies):
 *
 * | kernel                                | wasm 4.22       | fewstep                                        |
 * |---------------------------------------|-----------------|------------------------------------------------|
 * | `Conv2DBackpropFilter`                | missing         | shifted-window im2col · dy, one matmul          |
 * | `Conv2DBackpropInput`                 | scalar loop     | polyphase stride-1 `conv2d`s                    |
 * | `Conv3D`                              | scalar loop     | sum over depth taps of `conv2d`                 |
 * | `Conv3DBackpropInputV2`               | scalar loop (1) | polyphase stride-1 3D convs                     |
 * | `Conv3DBackpropFilterV2`              | scalar loop     | shifted-window im2col · dy, one matmul          |
 * | `DepthwiseConv2dNativeBackpropInput`  | missing         | one `depthwiseConv2d` over zero-inserted dy     |
 * | `DepthwiseConv2dNativeBackpropFilter` | missing         | shifted windows · dy per channel                |
 *
 * (1) it also traps ("memory access out of bounds") on e.g. x [2,8,16,16,64], 3x3x3, 'same'.
 *
 * They make the gradients of `conv1d`, `conv2d`, `conv2dTranspose`, `depthwiseConv2d`,
 * `separableConv2d`, `conv3d` and the fused convolutions run on wasm. Measured (1 thread, SIMD,
 * interleaved runs, time relative to wasm's `conv2d` forward of the same FLOPs): x [4,32,32,64]
 * 3x3 64->64: dW 1.26x, dx 0.91x (wasm's own dx ~10x slower); stride 2: 1.49x / 1.44x; conv3d
 * x [2,8,16,16,64] 3x3x3: forward 1.05x, dW 1.42x, dx 1.16x (wasm's own forward ~30-100x slower).
 */
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import {
  backend_util,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  Conv3D,
  Conv3DBackpropFilterV2,
  Conv3DBackpropInputV2,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropInputAttrs,
  type Conv3DAttrs,
  type Conv3DBackpropFilterV2Attrs,
  type Conv3DBackpropInputV2Attrs,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type KernelConfig,
  type NamedAttrMap,
} from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../../errors.js';
import { convFilterGrad, depthwiseFilterGrad } from './conv-filter-grad.js';
import { reverseLeadingAxis, sliceFast, tensorKernel } from './conv-kernel-plumbing.js';
import { transposedConv, type Stride1Conv } from './conv-transpose.js';
import { conv3dByDepthTaps, depthTapsOf } from './conv3d.js';

type Shape4 = [number, number, number, number];
type Shape5 = [number, number, number, number, number];
type Pair = [number, number];

function attrsAs<T>(attrs: NamedAttrMap): T {
  return attrs as unknown as T;
}

function requireFloat32(kernel: string, tensors: Record<string, tf.Tensor>): void {
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== 'float32') {
      throw new ConfigError(`${kernel} input '${name}' dtype`, t.dtype, "'float32'", `cast it first: tf.cast(${name}, 'float32')`);
    }
  }
}

function requireChannelsLast(kernel: string, dataFormat: string | undefined, allowed: string): void {
  if (dataFormat !== undefined && dataFormat !== allowed) {
    throw new ConfigError(
      `${kernel} dataFormat`,
      dataFormat,
      `'${allowed}' (the wasm backend is channels-last only)`,
      `transpose the input to ${allowed} and pass dataFormat '${allowed}'`,
    );
  }
}

/**
 * `dy` cut to the output shape the convolution's geometry implies. tfjs's conv2d gradient drops
 * `dimRoundingMode`, so with 'ceil'/'round' it hands the backprop kernels a `dy` one row/column
 * larger than their recomputed geometry; the cpu backend ignores the surplus and so do we.
 */
function fitDy(what: string, dy: tf.Tensor, expected: readonly number[]): tf.Tensor {
  const same = dy.rank === expected.length && dy.shape.every((n, i) => n === expected[i]);
  if (same) return dy;
  const croppable = dy.rank === expected.length && dy.shape.every((n, i) => n >= (expected[i] as number)) && dy.shape[0] === expected[0] && dy.shape[dy.rank - 1] === expected[expected.length - 1];
  if (!croppable) {
    throw new ShapeError(what, dy.shape, `[${expected.join(', ')}] (from the convolution's geometry)`, 'check strides, pad and the shape attributes');
  }
  return sliceFast(dy, expected.map(() => 0), expected);
}

/** Zero padding after each axis implied by the output length (negative = unread input rows). */
function padAfter(n: readonly number[], k: readonly number[], s: readonly number[], d: readonly number[], before: readonly number[], o: readonly number[]): number[] {
  return n.map((nj, j) => ((o[j] as number) - 1) * (s[j] as number) + ((k[j] as number) - 1) * (d[j] as number) + 1 - nj - (before[j] as number));
}

/**
 * The filter reversed along its `r` spatial axes, optionally with its last two axes swapped:
 * `[K.., A, B] -> [K.., B, A]` (regular conv transpose) or kept (depthwise).
 */
function reverseSpatial(filter: tf.Tensor, r: number, swapChannels: boolean): tf.Tensor {
  const spatial = filter.shape.slice(0, r);
  const [a, b] = filter.shape.slice(r) as Pair;
  const taps = spatial.reduce((x, y) => x * y, 1);
  const reversed = reverseLeadingAxis(tf.reshape(filter, [taps, a, b]));
  if (!swapChannels) return tf.reshape(reversed, [...spatial, a * b, 1]);
  return tf.reshape(tf.transpose(reversed, [0, 2, 1]), [...spatial, b, a]);
}

/** `[B, O_h, O_w, C] -> [B, O_h*s_h, O_w*s_w, C]` with `dy` at multiples of the strides, zeros between. */
function zeroInsert(dy: tf.Tensor, sh: number, sw: number): tf.Tensor {
  const [b, oh, ow, c] = dy.shape as Shape4;
  const spread = tf.pad(tf.reshape(dy, [b, oh, 1, ow, 1, c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
  return tf.reshape(spread, [b, oh * sh, ow * sw, c]);
}

const explicit2d = (pads: Array<[number, number]>): backend_util.ExplicitPadding => [[0, 0], pads[0]!, pads[1]!, [0, 0]];

const conv2dStride1: Stride1Conv = (x, w, dilations, pads) =>
  tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, explicit2d(pads), 'NHWC', dilations as Pair);

const depthwiseStride1: Stride1Conv = (x, w, dilations, pads) =>
  tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, explicit2d(pads), 'NHWC', dilations as Pair);

const conv3dStride1: Stride1Conv = (x, w, dilations, pads) =>
  conv3dByDepthTaps(x, depthTapsOf(w), { strides: [1, 1, 1], dilations: dilations as [number, number, number], pads });

/** `Conv2DBackpropFilter`: `dW [K_h, K_w, C_in, C_out]` from `x [B, H, W, C_in]`, `dy [B, O_h, O_w, C_out]`. */
export const conv2DBackpropFilterConfig: KernelConfig = tensorKernel(Conv2DBackpropFilter, ({ x, dy }, attrs) => {
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrsAs<Conv2DBackpropFilterAttrs>(attrs);
  requireFloat32(Conv2DBackpropFilter, { x: x!, dy: dy! });
  requireChannelsLast(Conv2DBackpropFilter, dataFormat, 'NHWC');
  const info = backend_util.computeConv2DInfo(x!.shape as Shape4, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const g = fitDy(`${Conv2DBackpropFilter} dy`, dy!, info.outShape);
  return convFilterGrad(x!, g, {
    filterSize: [info.filterHeight, info.filterWidth],
    strides: [info.strideHeight, info.strideWidth],
    dilations: [1, 1],
    padBefore: [info.padInfo.top, info.padInfo.left],
  });
});

/** `Conv2DBackpropInput` (also `conv2dTranspose`): `dx [B, H, W, C_in]` from `dy`, `W [K_h, K_w, C_in, C_out]`. */
export const conv2DBackpropInputConfig: KernelConfig = tensorKernel(Conv2DBackpropInput, ({ dy, filter }, attrs) => {
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrsAs<Conv2DBackpropInputAttrs>(attrs);
  requireFloat32(Conv2DBackpropInput, { dy: dy!, filter: filter! });
  requireChannelsLast(Conv2DBackpropInput, dataFormat, 'NHWC');
  const info = backend_util.computeConv2DInfo(inputShape, filter!.shape as Shape4, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const g = fitDy(`${Conv2DBackpropInput} dy`, dy!, info.outShape);
  const wr = reverseSpatial(filter!, 2, true);
  const dx = transposedConv(
    g,
    wr,
    {
      inSize: [info.inHeight, info.inWidth],
      filterSize: [info.filterHeight, info.filterWidth],
      strides: [info.strideHeight, info.strideWidth],
      dilations: [1, 1],
      padBefore: [info.padInfo.top, info.padInfo.left],
    },
    conv2dStride1,
    info.inChannels,
  );
  wr.dispose();
  return dx;
});

/** `Conv3D`: `y [B, O_d, O_h, O_w, C_out]` from `x [B, D, H, W, C_in]`, `W [K_d, K_h, K_w, C_in, C_out]`. */
export const conv3DConfig: KernelConfig = tensorKernel(Conv3D, ({ x, filter }, attrs) => {
  const { strides, pad, dataFormat, dilations } = attrsAs<Conv3DAttrs>(attrs);
  requireFloat32(Conv3D, { x: x!, filter: filter! });
  requireChannelsLast(Conv3D, dataFormat, 'NDHWC');
  const info = backend_util.computeConv3DInfo(x!.shape as Shape5, filter!.shape as Shape5, strides, dilations, pad);
  const n = [info.inDepth, info.inHeight, info.inWidth];
  const k = [info.filterDepth, info.filterHeight, info.filterWidth];
  const s = [info.strideDepth, info.strideHeight, info.strideWidth] as const;
  const d = [info.dilationDepth, info.dilationHeight, info.dilationWidth] as const;
  const before = [info.padInfo.front, info.padInfo.top, info.padInfo.left];
  const after = padAfter(n, k, s, d, before, [info.outDepth, info.outHeight, info.outWidth]);
  const taps = depthTapsOf(filter!);
  const y = conv3dByDepthTaps(x!, taps, { strides: s, dilations: d, pads: before.map((b, j): Pair => [b, after[j]!]) });
  tf.dispose(taps);
  return y;
});

/** `Conv3DBackpropInputV2` (also `conv3dTranspose`): `dx [B, D, H, W, C_in]` from `dy`, `W`. */
export const conv3DBackpropInputV2Config: KernelConfig = tensorKernel(Conv3DBackpropInputV2, ({ dy, filter }, attrs) => {
  const { strides, pad, inputShape } = attrsAs<Conv3DBackpropInputV2Attrs>(attrs);
  requireFloat32(Conv3DBackpropInputV2, { dy: dy!, filter: filter! });
  const info = backend_util.computeConv3DInfo(inputShape, filter!.shape as Shape5, strides, 1, pad);
  const g = fitDy(`${Conv3DBackpropInputV2} dy`, dy!, info.outShape);
  const wr = reverseSpatial(filter!, 3, true);
  const dx = transposedConv(
    g,
    wr,
    {
      inSize: [info.inDepth, info.inHeight, info.inWidth],
      filterSize: [info.filterDepth, info.filterHeight, info.filterWidth],
      strides: [info.strideDepth, info.strideHeight, info.strideWidth],
      dilations: [1, 1, 1],
      padBefore: [info.padInfo.front, info.padInfo.top, info.padInfo.left],
    },
    conv3dStride1,
    info.inChannels,
  );
  wr.dispose();
  return dx;
});

/** `Conv3DBackpropFilterV2`: `dW [K_d, K_h, K_w, C_in, C_out]` from `x`, `dy`. */
export const conv3DBackpropFilterV2Config: KernelConfig = tensorKernel(Conv3DBackpropFilterV2, ({ x, dy }, attrs) => {
  const { strides, pad, filterShape } = attrsAs<Conv3DBackpropFilterV2Attrs>(attrs);
  requireFloat32(Conv3DBackpropFilterV2, { x: x!, dy: dy! });
  const info = backend_util.computeConv3DInfo(x!.shape as Shape5, filterShape, strides, 1, pad);
  const g = fitDy(`${Conv3DBackpropFilterV2} dy`, dy!, info.outShape);
  return convFilterGrad(x!, g, {
    filterSize: [info.filterDepth, info.filterHeight, info.filterWidth],
    strides: [info.strideDepth, info.strideHeight, info.strideWidth],
    dilations: [1, 1, 1],
    padBefore: [info.padInfo.front, info.padInfo.top, info.padInfo.left],
  });
});

/** `DepthwiseConv2dNativeBackpropInput`: `dx [B, H, W, C]` from `dy [B, O_h, O_w, C*M]`, `W [K_h, K_w, C, M]`. */
export const depthwiseConv2dNativeBackpropInputConfig: KernelConfig = tensorKernel(DepthwiseConv2dNativeBackpropInput, ({ dy, filter }, attrs) => {
  const { strides, dilations, pad, dimRoundingMode, inputShape } = attrsAs<DepthwiseConv2dNativeBackpropInputAttrs>(attrs);
  requireFloat32(DepthwiseConv2dNativeBackpropInput, { dy: dy!, filter: filter! });
  const info = backend_util.computeConv2DInfo(inputShape, filter!.shape as Shape4, strides, dilations ?? 1, pad, dimRoundingMode, true, 'channelsLast');
  const g = fitDy(`${DepthwiseConv2dNativeBackpropInput} dy`, dy!, info.outShape);
  const multiplier = filter!.shape[3] as number;
  const wr = reverseSpatial(filter!, 2, false);
  // Depthwise FLOPs are few and each phase's XNNPACK operator costs ~0.4 ms to create, so a
  // strided adjoint runs as ONE stride-1 correlation over dy with s-1 zeros inserted between
  // samples ("fractionally strided", Dumoulin & Visin 2016, section 4.5) instead of s_h*s_w phases.
  const [sh, sw] = [info.strideHeight, info.strideWidth];
  const dyUp = sh * sw > 1 ? zeroInsert(g, sh, sw) : g;
  const dxExpanded = transposedConv(
    dyUp,
    wr,
    {
      inSize: [info.inHeight, info.inWidth],
      filterSize: [info.filterHeight, info.filterWidth],
      strides: [1, 1],
      dilations: [info.dilationHeight, info.dilationWidth],
      padBefore: [info.padInfo.top, info.padInfo.left],
    },
    depthwiseStride1,
    info.outChannels,
  );
  wr.dispose();
  if (multiplier === 1) return dxExpanded;
  const [b, h, w] = dxExpanded.shape as Shape4;
  const dx = tf.sum(tf.reshape(dxExpanded, [b, h, w, info.inChannels, multiplier]), -1);
  dxExpanded.dispose();
  return dx;
});

/** `DepthwiseConv2dNativeBackpropFilter`: `dW [K_h, K_w, C, M]` from `x [B, H, W, C]`, `dy [B, O_h, O_w, C*M]`. */
export const depthwiseConv2dNativeBackpropFilterConfig: KernelConfig = tensorKernel(DepthwiseConv2dNativeBackpropFilter, ({ x, dy }, attrs) => {
  const { strides, dilations, pad, dimRoundingMode, filterShape } = attrsAs<DepthwiseConv2dNativeBackpropFilterAttrs>(attrs);
  requireFloat32(DepthwiseConv2dNativeBackpropFilter, { x: x!, dy: dy! });
  const info = backend_util.computeConv2DInfo(x!.shape as Shape4, filterShape, strides, dilations ?? 1, pad, dimRoundingMode, true, 'channelsLast');
  const g = fitDy(`${DepthwiseConv2dNativeBackpropFilter} dy`, dy!, info.outShape);
  return depthwiseFilterGrad(x!, g, {
    filterSize: [info.filterHeight, info.filterWidth],
    strides: [info.strideHeight, info.strideWidth],
    dilations: [info.dilationHeight, info.dilationWidth],
    padBefore: [info.padInfo.top, info.padInfo.left],
  });
});

/** Every convolution kernel fewstep adds to (or replaces in) the wasm backend. */
export const convKernelConfigs: KernelConfig[] = [
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  conv3DConfig,
  conv3DBackpropInputV2Config,
  conv3DBackpropFilterV2Config,
  depthwiseConv2dNativeBackpropInputConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
];
