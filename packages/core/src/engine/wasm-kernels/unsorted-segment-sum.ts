/**
 * `UnsortedSegmentSum` for the wasm backend (the gradient of `tf.gather`, hence of embedding
 * lookups):
 *
 *   out[s, ...] = Σ_{i : segmentIds[i] = s} x[i, ...],   x: [...ids.shape, ...rest],
 *   out: [numSegments, ...rest],
 *
 * ids outside [0, numSegments) are dropped, as TensorFlow and the cpu backend do. Cost
 * O(size(x) + numSegments·size(rest)): one pass over `x` plus zero-filling the output (the cpu
 * backend's kernel is O(numSegments · size(x)), a one-hot product). Rows are accumulated in index
 * order in float32.
 *
 * When every id is in range (checked on a zero-copy view of the ids), the work is handed to
 * wasm's C++ `ScatterNd` (indices `[count, 1]`), which sums duplicate indices and was measured
 * 3.5-4x faster than a JS loop for the accumulation (8192×64 rows: 1.0 ms vs 3.5 ms); with
 * out-of-range ids (which ScatterNd would write out of bounds) a JS loop over heap views is used.
 */
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { asWasm, dataOf, heapBuffer, i32View, runWasmKernel } from './wasm-internals.js';

function idsInRange(ids: Int32Array, numSegments: number): boolean {
  for (let i = 0, n = ids.length; i < n; i++) {
    const s = ids[i] as number;
    if (s < 0 || s >= numSegments) return false;
  }
  return true;
}

const unsortedSegmentSum: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = asWasm(b);
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = attrs as unknown as { numSegments: number };
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum on wasm supports float32 and int32 'x', got '${x.dtype}'.`);
  }
  const idsRank = segmentIds.shape.length;
  if (!tf.util.arraysEqual(x.shape.slice(0, idsRank), segmentIds.shape)) {
    throw new Error(
      `UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] must be a prefix of x shape [${x.shape}]. ` +
        `Fix: pass one segment id per leading element of x.`,
    );
  }
  const rest = x.shape.slice(idsRank);
  const width = tf.util.sizeFromShape(rest);
  const count = tf.util.sizeFromShape(segmentIds.shape);
  if (count > 0 && width > 0 && numSegments > 0 && idsInRange(i32View(backend, segmentIds), numSegments)) {
    return runWasmKernel(
      'ScatterNd',
      backend,
      {
        indices: { dataId: segmentIds.dataId, shape: [count, 1], dtype: 'int32' },
        updates: { dataId: x.dataId, shape: [count, ...rest], dtype: x.dtype },
      },
      { shape: [numSegments, ...rest] },
    );
  }
  const out = backend.makeOutput([numSegments, ...rest], x.dtype);
  const buffer = heapBuffer(backend);
  const view = (offset: number, length: number): Float32Array | Int32Array =>
    x.dtype === 'float32' ? new Float32Array(buffer, offset, length) : new Int32Array(buffer, offset, length);
  const o = view(dataOf(backend, out).memoryOffset, numSegments * width);
  o.fill(0);
  if (width === 0 || count === 0) return out;
  const xs = view(dataOf(backend, x).memoryOffset, count * width);
  const ids = i32View(backend, segmentIds);
  for (let i = 0; i < count; i++) {
    const s = ids[i] as number;
    if (s < 0 || s >= numSegments) continue;
    const src = i * width;
    const dst = s * width;
    for (let j = 0; j < width; j++) o[dst + j] = (o[dst + j] as number) + (xs[src + j] as number);
  }
  return out;
};

/** `UnsortedSegmentSum` kernel config (backendName 'wasm'). */
export const unsortedSegmentSumConfig: KernelConfig = {
  kernelName: 'UnsortedSegmentSum',
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum,
};
