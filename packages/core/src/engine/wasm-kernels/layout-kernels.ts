/**
 * `Transpose` and `Tile` for the wasm backend, fixing two slow paths of tfjs-backend-wasm 4.22.
 *
 * Transpose: wasm's kernel only drops size-1 axes; its C++ has fast 2-D to 4-D paths and a
 * generic one ~100x slower for rank 5+. Axes that are adjacent in the input and stay adjacent
 * (in order) in the output move as one block, so they are merged first: `[B, F, H, W, C]` with
 * perm `[0, 2, 3, 1, 4]` (frames to the middle) is the rank-4 `[B, F, H·W, C]` with perm
 * `[0, 2, 1, 3]`. A permutation that merges to the identity is a reshape: the result shares the
 * input's block (as `Reshape` does). Every caller of `tf.transpose` benefits; the merged call
 * still runs on wasm's C++.
 *
 * Tile: wasm's kernel computes every output element's source index (~25x slower than a fill);
 * here the innermost axes whose repeat count is 1 form a contiguous block that is copied whole,
 * and each repeat of the axis before them is one more copy of `d_k` blocks.
 */
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { overrideWasmKernel } from './override-kernel.js';
import { asWasm, dataOf, heapArray } from './wasm-internals.js';

/** Merged transpose: the input shape and permutation after dropping size-1 axes and merging runs. */
export function mergeTransposeAxes(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  // Drop size-1 axes (renumbering the rest).
  const index = new Array<number>(shape.length).fill(-1);
  let r = 0;
  shape.forEach((n, d) => {
    if (n !== 1) index[d] = r++;
  });
  const p = perm.filter((d) => (shape[d] as number) !== 1).map((d) => index[d] as number);
  const sizes = shape.filter((n) => n !== 1);
  // Runs of consecutive input axes in output order become one axis.
  const runs: number[][] = [];
  for (const d of p) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[last.length - 1] === d - 1) last.push(d);
    else runs.push([d]);
  }
  const byInput = runs.slice().sort((a, b) => (a[0] as number) - (b[0] as number));
  return {
    shape: byInput.map((run) => run.reduce((acc, d) => acc * (sizes[d] as number), 1)),
    perm: runs.map((run) => byInput.indexOf(run)),
  };
}

function makeTranspose(original: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { perm } = args.attrs as unknown as { perm: number[] };
    if (x.dtype === 'string' || x.dtype === 'complex64') return original(args);
    const backend = asWasm(args.backend);
    const outShape = perm.map((d) => x.shape[d] as number);
    const merged = mergeTransposeAxes(x.shape, perm);
    if (merged.perm.every((d, i) => d === i)) {
      // Only size-1 axes move: the same data in a new shape.
      backend.incRef(x.dataId);
      return { dataId: x.dataId, shape: outShape, dtype: x.dtype };
    }
    const rankWasm = x.shape.filter((n) => n !== 1).length;
    if (merged.shape.length === rankWasm) return original(args);
    const out = original({
      inputs: { x: { dataId: x.dataId, shape: merged.shape, dtype: x.dtype } },
      backend: args.backend,
      attrs: { perm: merged.perm },
    }) as TensorInfo;
    out.shape = outShape;
    dataOf(backend, out).shape = outShape;
    return out;
  };
}

function makeTile(original: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { reps } = args.attrs as unknown as { reps: number[] };
    if (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool') return original(args);
    const rank = x.shape.length;
    const outShape = x.shape.map((n, i) => n * (reps[i] as number));
    const backend = asWasm(args.backend);
    const out = backend.makeOutput(outShape, x.dtype);
    if (tf.util.sizeFromShape(outShape) === 0) return out;
    const src = heapArray(backend, x);
    const dst = heapArray(backend, out);
    if (rank === 0) {
      dst[0] = src[0] as number;
      return out;
    }
    // Innermost axes with rep 1 (after axis k) form a contiguous block of `inner` elements.
    let k = rank - 1;
    let inner = 1;
    while (k > 0 && reps[k] === 1) {
      inner *= x.shape[k] as number;
      k--;
    }
    const run = (x.shape[k] as number) * inner; // one source run along axis k
    const repeat = reps[k] as number;
    // Odometer over output axes 0..k-1; source index wraps modulo the input size.
    const outer = outShape.slice(0, k);
    const total = outer.reduce((a, b) => a * b, 1);
    const srcStrides = x.shape.map((_, i) => x.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    const idx = new Array<number>(k).fill(0);
    let s = 0;
    for (let t = 0, o = 0; t < total; t++) {
      const from = src.subarray(s, s + run);
      for (let q = 0; q < repeat; q++, o += run) dst.set(from, o);
      for (let j = k - 1; j >= 0; j--) {
        idx[j] = (idx[j] as number) + 1;
        const d = x.shape[j] as number;
        // Source moves one step along axis j, wrapping to 0 every d steps.
        s += (idx[j] as number) % d === 0 ? -(d - 1) * (srcStrides[j] as number) : (srcStrides[j] as number);
        if ((idx[j] as number) < (outer[j] as number)) break;
        idx[j] = 0;
      }
    }
    return out;
  };
}

/** The `Transpose` override (backendName 'wasm'). */
export const transposeConfig: KernelConfig = overrideWasmKernel('Transpose', makeTranspose);
/** The `Tile` override (backendName 'wasm'). */
export const tileConfig: KernelConfig = overrideWasmKernel('Tile', makeTile);
