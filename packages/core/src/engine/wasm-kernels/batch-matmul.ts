/**
 * A faster `BatchMatMul` for the wasm backend.
 *
 * Why wasm's own kernel is slow (tfjs-backend-wasm 4.22, `src/cc/batch_mat_mul_impl.cc`): it calls
 * XNNPACK's fully-connected operator (SIMD) only when there is ONE batch and NEITHER operand is
 * transposed; every other call (attention's `q·kᵀ`, any batch > 1, and most matmul gradients,
 * which use `transposeA`/`transposeB`) goes to a scalar blocked triple loop. Measured on one
 * thread of a Xeon (BENCHMARKS.md, wasm BatchMatMul): [8,256,64]·[8,256,64]ᵀ 1.9 → 16.3 GFLOP/s,
 * [8,256,256]·[8,256,64] 2.0 → 21.9 GFLOP/s, their forward+backward 1.1 → 13.4 and 1.6 → 15.4.
 *
 * This override keeps everything on the XNNPACK path:
 *  1. a transposed operand is transposed physically with wasm's `Transpose` kernel (O(size),
 *     memory-bound, negligible next to the O(M·N·K) product);
 *  2. when `b` has a single batch, all batches of `a` are stacked into one `[B·M, K] × [K, N]`
 *     product (one XNNPACK call);
 *  3. otherwise the kernel loops over the output batch and calls wasm's C++ `BatchMatMul` on
 *     zero-copy views (`[1, M, K] × [1, K, N] → [1, M, N]`) of each batch's block, so each call
 *     takes XNNPACK's fast path. Batch dimensions broadcast like NumPy.
 * Non-float32 inputs are delegated to wasm's original kernel (which rejects them).
 */
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { overrideWasmKernel } from './override-kernel.js';
import {
  asWasm,
  dataOf,
  disposeInfo,
  f32View,
  registerView,
  releaseView,
  runWasmKernel,
  type WasmBackend,
  type WasmModule,
} from './wasm-internals.js';

/** Below this M·N·K, wasm's scalar loop is faster than XNNPACK's per-call set-up (measured). */
const TINY_MATMUL_MNK = 2048;

type CppMatMul = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  transposeA: boolean,
  transposeB: boolean,
  outId: number,
) => void;

const cppMatMuls = new WeakMap<WasmModule, CppMatMul>();

/** wasm's exported C++ `BatchMatMul(a_id, a_shape, a_rank, b_id, b_shape, b_rank, tA, tB, out_id)`. */
function cppMatMul(backend: WasmBackend): CppMatMul {
  let fn = cppMatMuls.get(backend.wasm);
  if (fn === undefined) {
    fn = backend.wasm.cwrap('BatchMatMul', null, [
      'number',
      'array',
      'number',
      'number',
      'array',
      'number',
      'number',
      'number',
      'number',
    ]) as CppMatMul;
    cppMatMuls.set(backend.wasm, fn);
  }
  return fn;
}

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

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

/** `x` (`[batch, rows, cols]` row-major, given as `[batch, cols, rows]` transposed) made contiguous. */
function untranspose(backend: WasmBackend, x: TensorInfo, batch: number, rows: number, cols: number): TensorInfo {
  const x3: TensorInfo = { dataId: x.dataId, shape: [batch, cols, rows], dtype: x.dtype };
  return runWasmKernel('Transpose', backend, { x: x3 }, { perm: [0, 2, 1] });
}

function makeFastBatchMatMul(original: KernelFunc): KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return original(args);
    const backend = asWasm(args.backend);
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
    const batchA = tf.util.sizeFromShape(outerA);
    const batchB = tf.util.sizeFromShape(outerB);
    const batch = tf.util.sizeFromShape(outer);
    const outShape = [...outer, M, N];

    // wasm's own fast path (one batch, no transposes) needs nothing from us; for tiny matrices its
    // scalar loop beats a per-batch XNNPACK call (~3.5 µs each), as long as the batch shapes are
    // ones it broadcasts correctly (equal, or one side a single batch).
    if (!transposeA && !transposeB && batchA === 1 && batchB === 1) return original(args);
    const simpleBatch = batchA === batchB || batchA === 1 || batchB === 1;
    if (simpleBatch && M * N * K < TINY_MATMUL_MNK) return original(args);

    const out = backend.makeOutput(outShape, 'float32');
    if (batch * M * N === 0) return out;
    if (K === 0) {
      f32View(backend, out).fill(0);
      return out;
    }
    const a3 = transposeA ? untranspose(backend, a, batchA, M, K) : a;
    const b3 = transposeB ? untranspose(backend, b, batchB, K, N) : b;
    const matmul = cppMatMul(backend);
    const aOffset = dataOf(backend, a3).memoryOffset;
    const bOffset = dataOf(backend, b3).memoryOffset;
    const outOffset = dataOf(backend, out).memoryOffset;
    const views: number[] = [];
    try {
      if (batchB === 1) {
        // Stack every batch of a: [batch·M, K] × [K, N] in one call (batch === batchA here).
        const aId = registerView(backend, aOffset, batch * M * K);
        views.push(aId);
        const bId = dataOf(backend, b3).id;
        const outId = registerView(backend, outOffset, batch * M * N);
        views.push(outId);
        matmul(aId, shapeBytes([1, batch * M, K]), 3, bId, shapeBytes([1, K, N]), 3, false, false, outId);
      } else {
        const mapA = broadcastBatchIndex(outer, outerA);
        const mapB = broadcastBatchIndex(outer, outerB);
        const aShape = shapeBytes([1, M, K]);
        const bShape = shapeBytes([1, K, N]);
        for (let i = 0; i < batch; i++) {
          const aId = registerView(backend, aOffset + (mapA[i] as number) * M * K * 4, M * K);
          const bId = registerView(backend, bOffset + (mapB[i] as number) * K * N * 4, K * N);
          const outId = registerView(backend, outOffset + i * M * N * 4, M * N);
          try {
            matmul(aId, aShape, 3, bId, bShape, 3, false, false, outId);
          } finally {
            releaseView(backend, aId);
            releaseView(backend, bId);
            releaseView(backend, outId);
          }
        }
      }
    } finally {
      for (const id of views) releaseView(backend, id);
      if (a3 !== a) disposeInfo(backend, a3);
      if (b3 !== b) disposeInfo(backend, b3);
    }
    return out;
  };
}

/**
 * The `BatchMatMul` override (backendName 'wasm'). Built when this module loads, from whatever
 * non-fewstep kernel wasm registered, so building or registering it twice never wraps itself.
 */
export const batchMatMulConfig: KernelConfig = overrideWasmKernel('BatchMatMul', makeFastBatchMatMul);
