/**
 * 2D convolution (channels-last) as an implicit-im2col GEMM on fewstep's wasm GEMM
 * (wasm-gemm.ts), for the forward pass and the filter gradient.
 *
 * Forward: with `x` zero padded to `P [B, H_p, W_p, C_in]`, output row `(b, y)` is
 * `Y[b, y] [W_o, C_out] = Σ_{k_h, k_w} P_{b, y, k}[W_o, C_in] · W[k_h, k_w] [C_in, C_out]`, where
 * `P_{b, y, k}` row `x` is the pixel `P[b, y*s_h + k_h*d_h, x*s_w + k_w*d_w]`: a strided view of
 * the padded input, so the im2col matrix is never built. Each output row is one GEMM over the
 * `K_h·K_w` taps (the micro-kernel walks the taps as segments of `C_in`), written straight into
 * the output; the packed filter is shared by all rows. Cost over the plain product: one copy of
 * `x` into its padded buffer.
 *
 * Filter gradient: `dW[k] [C_in, C_out] = Σ_{b, y} P_{b, y, k}ᵀ · dY[b, y]`, one GEMM per
 * (output row, tap) reading `P` in place (channels contiguous) and the output row's `dY`
 * packed once for all taps.
 *
 * Strides and dilations are the row stride and tap offsets of the view, so any 2D geometry with
 * non-negative padding works. Measured speeds: conv-gemm-kernels.ts.
 */
import type { backend_util, TensorInfo } from '@tensorflow/tfjs-core';
import { dataOf, disposeInfo, f32View, heapBuffer, type WasmBackend } from './wasm-internals.js';
import { MR } from './wasm-gemm-module.js';
import { wasmGemm } from './wasm-gemm.js';

type Conv2DInfo = backend_util.Conv2DInfo;

/** Rows and columns of the padded input a convolution reads. */
interface PaddedGeometry {
  hp: number;
  wp: number;
}

function paddedGeometry(info: Conv2DInfo): PaddedGeometry {
  const needH = (info.outHeight - 1) * info.strideHeight + (info.filterHeight - 1) * info.dilationHeight + 1;
  const needW = (info.outWidth - 1) * info.strideWidth + (info.filterWidth - 1) * info.dilationWidth + 1;
  return {
    hp: Math.max(needH, info.padInfo.top + info.inHeight),
    wp: Math.max(needW, info.padInfo.left + info.inWidth),
  };
}

/** True when the implicit GEMM handles this geometry (channels-last, non-negative pads). */
export function convGemmApplies(info: Conv2DInfo): boolean {
  return (
    info.dataFormat === 'channelsLast' &&
    info.padInfo.top >= 0 &&
    info.padInfo.left >= 0 &&
    info.inChannels >= MR &&
    info.outHeight > 0 &&
    info.outWidth > 0
  );
}

/**
 * `x [B, H, W, C]` copied into a zero-filled `[B, H_p, W_p, C]` buffer at offset (top, left), or
 * `x` itself when no padding is needed. The caller disposes a returned buffer that is not `x`.
 */
function padInput(backend: WasmBackend, x: TensorInfo, info: Conv2DInfo, g: PaddedGeometry): TensorInfo {
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: c } = info;
  const { top, left } = info.padInfo;
  if (top === 0 && left === 0 && g.hp === h && g.wp === w) return x;
  const padded = backend.makeOutput([b, g.hp, g.wp, c], 'float32');
  const dst = f32View(backend, padded);
  const src = f32View(backend, x);
  dst.fill(0);
  const row = w * c;
  for (let n = 0; n < b; n++) {
    for (let y = 0; y < h; y++) {
      const s = (n * h + y) * row;
      dst.set(src.subarray(s, s + row), ((n * g.hp + y + top) * g.wp + left) * c);
    }
  }
  return padded;
}

/** Byte offsets of the filter taps in the padded input (row-major over `[K_h, K_w]`). */
function tapOffsets(info: Conv2DInfo, wp: number): number[] {
  const offsets: number[] = [];
  for (let kh = 0; kh < info.filterHeight; kh++) {
    for (let kw = 0; kw < info.filterWidth; kw++) {
      offsets.push((kh * info.dilationHeight * wp + kw * info.dilationWidth) * info.inChannels * 4);
    }
  }
  return offsets;
}

/** Per output row `(b, y)`: byte offset of the padded-input row it starts reading at. */
function inputRows(base: number, info: Conv2DInfo, g: PaddedGeometry): Int32Array {
  const rows = new Int32Array(info.batchSize * info.outHeight);
  for (let n = 0; n < info.batchSize; n++) {
    for (let y = 0; y < info.outHeight; y++) {
      rows[n * info.outHeight + y] = base + (n * g.hp + y * info.strideHeight) * g.wp * info.inChannels * 4;
    }
  }
  return rows;
}

/**
 * Writes (or, with `accumulate`, adds) `conv2d(x, filter)` into the float32 output block at byte
 * offset `out` (`[B, H_o, W_o, C_out]`).
 * @param x `[B, H, W, C_in]` float32
 * @param filter `[K_h, K_w, C_in, C_out]` float32
 */
export function conv2dGemmInto(backend: WasmBackend, x: TensorInfo, filter: TensorInfo, info: Conv2DInfo, out: number, accumulate: boolean): void {
  const gemm = wasmGemm(backend);
  const g = paddedGeometry(info);
  const padded = padInput(backend, x, info, g);
  try {
    const rowBytes = info.outWidth * info.outChannels * 4;
    const aRows = inputRows(dataOf(backend, padded).memoryOffset, info, g);
    const cRows = new Int32Array(aRows.length);
    for (let r = 0; r < cRows.length; r++) cRows[r] = out + r * rowBytes;
    gemm.gemmConvRows(
      aRows,
      cRows,
      info.outWidth,
      info.outChannels,
      tapOffsets(info, g.wp),
      info.inChannels,
      info.strideWidth * info.inChannels * 4,
      dataOf(backend, filter).memoryOffset,
      info.outChannels * 4,
      4,
      info.outChannels * 4,
      accumulate,
    );
  } finally {
    if (padded !== x) disposeInfo(backend, padded);
  }
}

/**
 * `dW [K_h, K_w, C_in, C_out]` of `conv2d(x, W)` given `dy [B, H_o, W_o, C_out]`, written into the
 * float32 block at byte offset `dw`. Requires `C_in % 4 == 0`.
 */
export function conv2dFilterGradGemmInto(backend: WasmBackend, x: TensorInfo, dy: TensorInfo, info: Conv2DInfo, dw: number): void {
  const gemm = wasmGemm(backend);
  const g = paddedGeometry(info);
  const padded = padInput(backend, x, info, g);
  try {
    const size = info.filterHeight * info.filterWidth * info.inChannels * info.outChannels;
    new Float32Array(heapBuffer(backend), dw, size).fill(0);
    const xRows = inputRows(dataOf(backend, padded).memoryOffset, info, g);
    const dyBase = dataOf(backend, dy).memoryOffset;
    const dyRows = new Int32Array(xRows.length);
    for (let r = 0; r < dyRows.length; r++) dyRows[r] = dyBase + r * info.outWidth * info.outChannels * 4;
    gemm.gemmConvFilterRows(xRows, dyRows, info.outWidth, info.inChannels, info.outChannels, tapOffsets(info, g.wp), info.strideWidth * info.inChannels * 4, dw);
  } finally {
    if (padded !== x) disposeInfo(backend, padded);
  }
}

/** True when {@link conv2dFilterGradGemmInto} handles this geometry. */
export function convFilterGradGemmApplies(info: Conv2DInfo): boolean {
  return convGemmApplies(info) && info.inChannels % MR === 0;
}
