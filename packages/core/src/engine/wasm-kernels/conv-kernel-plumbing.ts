/**
 * Plumbing shared by fewstep's wasm convolution kernels: a kernel written with public tfjs ops on
 * `tf.Tensor`s becomes a `KernelConfig` whose reference counts end balanced, and a few heap-level
 * copies that tfjs-backend-wasm 4.22 does slowly.
 *
 * Why a custom slice: wasm's `Slice` kernel (`dist/kernels/Slice.js`) starts with
 * `backend.readSync(x)`, which copies the WHOLE source out of the heap, so cutting many small
 * windows out of one big tensor (the taps of a convolution) costs O(taps * |source|).
 * {@link sliceFast} and {@link copyRuns} read the source through a heap view instead.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { asWasm, heapArray } from './wasm-internals.js';

/** The active backend as `BackendWasm`; throws if fewstep's wasm kernels run elsewhere. */
export function activeWasmBackend(backend: unknown = tf.backend()): BackendWasm {
  const b = backend as Partial<BackendWasm> | null;
  if (b == null || typeof b.typedArrayFromHeap !== 'function' || typeof b.makeOutput !== 'function') {
    throw new Error(
      `fewstep's wasm convolution kernels need the tfjs 'wasm' backend, but the active backend is ` +
        `'${tf.getBackend()}'. Fix: register these kernels with backendName 'wasm' only.`,
    );
  }
  return b as BackendWasm;
}

/**
 * Builds a wasm `KernelConfig` from `compute`, which receives the kernel's inputs as engine
 * tensors and may use any public op (nested kernels are never recorded on the gradient tape).
 * Intermediates are freed by a `tf.tidy`; the result's data id gets one extra backend reference
 * before its `Tensor` wrapper is disposed, so the engine's own wrapper of the returned
 * `TensorInfo` owns it alone and `tf.memory().numTensors` ends balanced.
 */
export function tensorKernel(
  kernelName: string,
  compute: (inputs: Record<string, tf.Tensor>, attrs: NamedAttrMap) => tf.Tensor,
): KernelConfig {
  const kernelFunc = ({ inputs, attrs, backend }: { inputs: Record<string, TensorInfo>; attrs?: NamedAttrMap; backend: unknown }) => {
    const wasm = activeWasmBackend(backend);
    const given = new Set<tf.Tensor>();
    const out = tf.tidy(() => {
      const tensors: Record<string, tf.Tensor> = {};
      for (const [name, info] of Object.entries(inputs)) {
        if (info instanceof tf.Tensor) {
          tensors[name] = info;
          given.add(info);
        } else {
          // A bare TensorInfo (a kernel called from another kernel): wrap it with its own reference.
          tensors[name] = tf.engine().makeTensorFromTensorInfo(info);
          wasm.incRef(info.dataId);
        }
      }
      return compute(tensors, attrs ?? {});
    });
    wasm.incRef(out.dataId);
    if (!given.has(out)) out.dispose();
    return { dataId: out.dataId, shape: out.shape.slice(), dtype: out.dtype };
  };
  return { kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc };
}

/** Wraps a fresh backend output (`makeOutput`, refCount 1) as the engine tensor that owns it. */
function adopt(info: TensorInfo): tf.Tensor {
  return tf.engine().makeTensorFromTensorInfo(info);
}

/**
 * `tf.slice(x, begin, size)` for float32 `x` on wasm without copying the whole source first:
 * the window is copied as runs of its innermost contiguous extent straight from the heap.
 */
export function sliceFast(x: tf.Tensor, begin: readonly number[], size: readonly number[]): tf.Tensor {
  const rank = x.rank;
  if (size.every((n, i) => n === x.shape[i])) return tf.clone(x);
  if (size.some((n) => n === 0)) return tf.zeros(size.slice(), x.dtype);
  const backend = activeWasmBackend();
  const out = backend.makeOutput(size.slice(), x.dtype);
  // Views only after the last allocation: growing the wasm memory detaches older views.
  const src = heapArray(asWasm(backend), x);
  const dst = heapArray(asWasm(backend), out);
  const strides = [...tf.util.computeStrides(x.shape), 1];
  // Axes [inner, rank) form one contiguous run per outer index.
  let inner = rank - 1;
  while (inner > 0 && size[inner] === x.shape[inner]) inner--;
  const run = (size[inner] as number) * (strides[inner] as number);
  const base = begin.reduce((acc, b, i) => acc + b * (strides[i] as number), 0);
  const outer = size.slice(0, inner);
  const idx = new Array<number>(inner).fill(0);
  const total = outer.reduce((a, b) => a * b, 1);
  let offset = base;
  for (let n = 0, o = 0; n < total; n++, o += run) {
    dst.set(src.subarray(offset, offset + run), o);
    // Odometer over the outer axes, updating the source offset incrementally.
    for (let axis = inner - 1; axis >= 0; axis--) {
      offset += strides[axis] as number;
      if (++(idx[axis] as number) < (outer[axis] as number)) break;
      offset -= (idx[axis] as number) * (strides[axis] as number);
      idx[axis] = 0;
    }
  }
  return adopt(out);
}

/** Layout of one im2col row as `count` runs of the source, `stride` apart. */
export interface RunLayout {
  /** Runs per row. */
  count: number;
  /** Distance between the starts of consecutive runs. */
  stride: number;
  /** Length of every run but the last. */
  length: number;
  /** Length of the last run (<= `length`). */
  lastLength: number;
}

/**
 * Gathers rows made of runs of a float32 tensor's flat data: row `i` of the result is
 * `flat(x)[starts[i] + r*stride .. + length)` for `r = 0..count-1` (the last run `lastLength`
 * long), concatenated. Used to build im2col matrices from a flattened channel-first input, one
 * row per (tap, channel) and one run per image.
 * @returns `[starts.length, (count-1)*length + lastLength]`
 */
export function copyRuns(x: tf.Tensor, starts: ArrayLike<number>, runs: RunLayout): tf.Tensor2D {
  const { count, stride, length, lastLength } = runs;
  const rowLength = (count - 1) * length + lastLength;
  const backend = activeWasmBackend();
  const out = backend.makeOutput([starts.length, rowLength], x.dtype);
  const src = heapArray(asWasm(backend), x);
  const dst = heapArray(asWasm(backend), out);
  let o = 0;
  for (let i = 0; i < starts.length; i++) {
    for (let r = 0; r < count; r++) {
      const s = (starts[i] as number) + r * stride;
      const n = r === count - 1 ? lastLength : length;
      if (s < 0 || s + n > src.length) {
        throw new Error(`copyRuns: run [${s}, ${s + n}) lies outside a tensor of ${src.length} elements.`);
      }
      dst.set(src.subarray(s, s + n), o);
      o += n;
    }
  }
  return adopt(out) as tf.Tensor2D;
}

/**
 * `x` viewed as `[n, rest]` with its `n` leading blocks in reverse order (`tf.reverse(x, 0)`
 * as one heap copy; wasm's `Reverse` kernel takes ~35 ns per element).
 */
export function reverseLeadingAxis(x: tf.Tensor): tf.Tensor {
  const n = x.shape[0] as number;
  const block = n === 0 ? 0 : x.size / n;
  const backend = activeWasmBackend();
  const out = backend.makeOutput(x.shape.slice(), x.dtype);
  const src = heapArray(asWasm(backend), x);
  const dst = heapArray(asWasm(backend), out);
  for (let i = 0; i < n; i++) dst.set(src.subarray((n - 1 - i) * block, (n - i) * block), i * block);
  return adopt(out);
}

/**
 * Pads (positive amounts) and crops (negative amounts) the spatial axes `1..r` of a channels-last
 * tensor `[B, n_1..n_r, C]`; `before[j]`, `after[j]` apply to spatial axis `j`.
 */
export function padOrCrop(x: tf.Tensor, before: readonly number[], after: readonly number[]): tf.Tensor {
  const r = before.length;
  const crop = before.some((v) => v < 0) || after.some((v) => v < 0);
  let y = x;
  if (crop) {
    const begin = [0, ...before.map((v) => Math.max(0, -v)), 0];
    const size = x.shape.map((n, axis) => {
      if (axis === 0 || axis === r + 1) return n;
      return n - Math.max(0, -(before[axis - 1] as number)) - Math.max(0, -(after[axis - 1] as number));
    });
    y = sliceFast(x, begin, size);
  }
  if (before.some((v) => v > 0) || after.some((v) => v > 0)) {
    const paddings: Array<[number, number]> = [[0, 0], ...before.map((v, j): [number, number] => [Math.max(0, v), Math.max(0, after[j] as number)]), [0, 0]];
    const padded = tf.pad(y, paddings);
    if (y !== x) y.dispose();
    y = padded;
  }
  return y === x ? tf.clone(x) : y;
}
