/**
 * A faster `BatchMatMul` for the wasm backend, on fewstep's own GEMM (wasm-gemm.ts).
 *
 * Why wasm's own kernel is slow (tfjs-backend-wasm 4.22, `src/cc/batch_mat_mul_impl.cc`): it calls
 * XNNPACK's fully-connected operator (SIMD, no FMA) only when there is ONE batch and NEITHER
 * operand is transposed; every other call (attention's `q·kᵀ`, any batch > 1, most matmul
 * gradients, which use `transposeA`/`transposeB`) goes to a scalar blocked triple loop.
 *
 * This override runs every float32 product on fewstep's relaxed-SIMD GEMM, which reads a
 * transposed operand in place (no physical transpose) and needs no per-call operator set-up:
 *  1. when `b` has a single batch and `a` is not transposed, all batches of `a` are stacked into
 *     one `[B·M, K] × [K, N]` product;
 *  2. small per-batch products (attention over few tokens) run as one batched call inside wasm;
 *  3. otherwise one GEMM per output batch. Batch dimensions broadcast like NumPy.
 * Measured (1 thread, Xeon, interleaved): dit-block attention `q·kᵀ` [12,512,32]·[12,512,32]ᵀ
 * and the `transposeA` weight gradients run 3-4x faster than through XNNPACK + transposes,
 * plain products ~1.7x (wasm-gemm.ts). Non-float32 inputs go to wasm's original kernel.
 */
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { overrideWasmKernel } from './override-kernel.js';
import { asWasm, dataOf, type WasmBackend } from './wasm-internals.js';
import { wasmGemm } from './wasm-gemm.js';

/** For each flat index of the broadcast batch shape `out`, the flat index into batch shape `x`. */
function broadcastBatchIndex(out: number[], x: number[]): Int32Array {
  const n = tf.util.sizeFromShape(out);
  const map = new Int32Array(n);
  const xSize = tf.util.sizeFromShape(x);
  if (xSize === n) {
    for (let i = 0; i < n; i++) map[i] = i;
    return map;
  }
  if (xSize === 1) return map;
  const outStrides = tf.util.computeStrides(out);
  const xStrides = tf.util.computeStrides(x);
  const offset = out.length - x.length;
  for (let i = 0; i < n; i++) {
    let rem = i;
    let xi = 0;
    for (let d = 0; d < out.length; d++) {
      const stride = d < out.length - 1 ? (outStrides[d] as number) : 1;
      const coord = Math.floor(rem / stride);
      rem -= coord * stride;
      const xd = d - offset;
      if (xd >= 0 && (x[xd] as number) !== 1) xi += coord * (xd < x.length - 1 ? (xStrides[xd] as number) : 1);
    }
    map[i] = xi;
  }
  return map;
}

/** Geometry of one `BatchMatMul`/`_FusedMatMul` call, byte strides on the wasm heap. */
export interface MatMulGeometry {
  M: number;
  N: number;
  K: number;
  /** Broadcast batch shape of the output. */
  outer: number[];
  outShape: number[];
  /** For each output batch, the batch of a / of b. */
  mapA: Int32Array;
  mapB: Int32Array;
  batchA: number;
  batchB: number;
}

/** Shapes, broadcasting and transposes of `a·b` (tfjs's BatchMatMul semantics). */
export function matMulGeometry(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): MatMulGeometry {
  const aRank = a.shape.length;
  const bRank = b.shape.length;
  const M = (transposeA ? a.shape[aRank - 1] : a.shape[aRank - 2]) as number;
  const K = (transposeA ? a.shape[aRank - 2] : a.shape[aRank - 1]) as number;
  const kB = (transposeB ? b.shape[bRank - 1] : b.shape[bRank - 2]) as number;
  const N = (transposeB ? b.shape[bRank - 2] : b.shape[bRank - 1]) as number;
  tf.util.assert(
    K === kB,
    () =>
      `Error in matMul: inner shapes (${K}) and (${kB}) of Tensors with shapes ${a.shape} and ${b.shape} ` +
      `and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
  );
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  return {
    M,
    N,
    K,
    outer,
    outShape: [...outer, M, N],
    mapA: broadcastBatchIndex(outer, outerA),
    mapB: broadcastBatchIndex(outer, outerB),
    batchA: tf.util.sizeFromShape(outerA),
    batchB: tf.util.sizeFromShape(outerB),
  };
}

/**
 * Writes `a·b` (batched, broadcast, optionally transposed) into the float32 block at byte
 * offset `out` with fewstep's GEMM. With `accumulate`, adds to what `out` holds.
 */
export function gemmInto(
  backend: WasmBackend,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  g: MatMulGeometry,
  out: number,
  accumulate: boolean,
): void {
  const { M, N, K } = g;
  const gemm = wasmGemm(backend);
  const aOff = dataOf(backend, a).memoryOffset;
  const bOff = dataOf(backend, b).memoryOffset;
  const aRow = transposeA ? 4 : K * 4;
  const aK = transposeA ? M * 4 : 4;
  const bK = transposeB ? 4 : N * 4;
  const bCol = transposeB ? K * 4 : 4;
  const batch = g.mapA.length;
  if (g.batchB === 1 && !transposeA && g.batchA === batch) {
    // Every batch of a times the same b: one [batch·M, K] × [K, N] product.
    gemm.gemm(batch * M, N, K, aOff, aRow, aK, bOff, bK, bCol, out, N * 4, accumulate);
    return;
  }
  if (batch === 1) {
    gemm.gemm(M, N, K, aOff, aRow, aK, bOff, bK, bCol, out, N * 4, accumulate);
    return;
  }
  const aAddr = new Int32Array(batch);
  const bAddr = new Int32Array(batch);
  for (let i = 0; i < batch; i++) {
    aAddr[i] = aOff + (g.mapA[i] as number) * M * K * 4;
    bAddr[i] = bOff + (g.mapB[i] as number) * K * N * 4;
  }
  gemm.gemmBatch(batch, M, N, K, aAddr, aRow, aK, bAddr, bK, bCol, out, accumulate);
}

function makeFastBatchMatMul(original: KernelFunc): KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return original(args);
    const backend = asWasm(args.backend);
    const g = matMulGeometry(a, b, transposeA, transposeB);
    wasmGemm(backend); // set-up allocations first (they may grow the heap)
    const out = backend.makeOutput(g.outShape, 'float32');
    if (tf.util.sizeFromShape(g.outShape) === 0) return out;
    gemmInto(backend, a, b, transposeA, transposeB, g, dataOf(backend, out).memoryOffset, false);
    return out;
  };
}

/**
 * The `BatchMatMul` override (backendName 'wasm'). Built when this module loads, from whatever
 * non-fewstep kernel wasm registered, so building or registering it twice never wraps itself.
 */
export const batchMatMulConfig: KernelConfig = overrideWasmKernel('BatchMatMul', makeFastBatchMatMul);
