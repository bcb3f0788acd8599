/**
 * `Sum` and `Mean` over non-innermost axes for the wasm backend, without a transpose.
 *
 * tfjs-backend-wasm 4.22 reduces only innermost axes: for any other axis it first moves the
 * reduced axes last with its `Transpose` kernel (~5 ns per element), then reduces. Reductions
 * over leading or interleaved axes are everywhere in training: bias gradients (`Sum` over
 * `[B·T, C]` rows), GroupNorm statistics (`Mean` of `[N, H·W, G, C/G]` over axes 1 and 3), the
 * gradients of broadcast ops. Here the axes are collapsed into alternating runs of kept and
 * reduced axes and summed in memory order by a SIMD column-sum kernel (wasm-elementwise-module.ts)
 * into float64 accumulators (as the cpu backend's JS kernels do), then rounded once to float32.
 * Measured (1 thread, CPU time): `Sum` of `[4096, 64]` over axis 0 1.7 → 0.3 ms, GroupNorm's
 * `Mean` of `[16, 256, 32, 2]` over axes 1, 3 1.5 → 0.3 ms.
 * Innermost-only reductions, non-float32 inputs and empty tensors go to wasm's own kernels.
 */
import { alignUp } from './wasm-gemm.js';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { overrideWasmKernel } from './override-kernel.js';
import { asWasm, dataOf, disposeInfo, f32View, heapBuffer, type WasmBackend } from './wasm-internals.js';
import { wasmElementwise } from './wasm-elementwise.js';

/** A run of adjacent axes that are all kept or all reduced. */
interface AxisGroup {
  size: number;
  reduced: boolean;
}

/** Collapses `shape` into alternating kept/reduced groups (size-1 axes dropped). */
export function axisGroups(shape: readonly number[], axes: readonly number[]): AxisGroup[] {
  const groups: AxisGroup[] = [];
  shape.forEach((n, d) => {
    if (n === 1) return;
    const reduced = axes.includes(d);
    const last = groups[groups.length - 1];
    if (last !== undefined && last.reduced === reduced) last.size *= n;
    else groups.push({ size: n, reduced });
  });
  return groups;
}

/**
 * Sums the float32 block at byte offset `x` (laid out as `groups`, row-major, at least one
 * reduced group before the innermost kept group) over its reduced groups; returns the sums
 * (float64, the kept groups row-major).
 *
 * Stage 1 (SIMD, `colSum`): the innermost kept group (with the reduced group after it, if any)
 * is a "block" of contiguous columns; the reduced group before it supplies the rows each call
 * sums, the outer groups are walked in memory order. Stage 2 (JS, on the small intermediate):
 * the innermost reduced group, if any, is summed per kept element.
 */
export function sumGroupsOnHeap(backend: WasmBackend, x: number, groups: readonly AxisGroup[]): Float64Array {
  const n = groups.length;
  const tailReduced = groups[n - 1]!.reduced;
  const blockGroups = tailReduced ? 2 : 1;
  const block = groups.slice(n - blockGroups).reduce((p, g) => p * g.size, 1);
  const rowsGroup = groups[n - blockGroups - 1] as AxisGroup; // reduced, by alternation
  const outer = groups.slice(0, n - blockGroups - 1);
  const outerKept = outer.filter((g) => !g.reduced).reduce((p, g) => p * g.size, 1);
  const accLength = outerKept * block;
  const k = wasmElementwise(backend);
  const scratch = backend.makeOutput([2 * accLength + 2], 'float32');
  try {
    // 8-byte aligned start inside the scratch block (malloc aligns to 8 already; be safe).
    const base = alignUp(dataOf(backend, scratch).memoryOffset, 8);
    new Float64Array(heapBuffer(backend), base, accLength).fill(0);
    const outStride = new Array<number>(outer.length).fill(0);
    let stride = block;
    for (let j = outer.length - 1; j >= 0; j--) {
      if (!outer[j]!.reduced) {
        outStride[j] = stride;
        stride *= outer[j]!.size;
      }
    }
    const idx = new Array<number>(outer.length).fill(0);
    const total = outer.reduce((p, g) => p * g.size, 1);
    const step = rowsGroup.size * block * 4;
    let accRow = 0;
    for (let t = 0; t < total; t++) {
      k.colSum(x + t * step, rowsGroup.size, block, block * 4, base + accRow * 8);
      for (let j = outer.length - 1; j >= 0; j--) {
        accRow += outStride[j] as number;
        if (++(idx[j] as number) < outer[j]!.size) break;
        accRow -= (idx[j] as number) * (outStride[j] as number);
        idx[j] = 0;
      }
    }
    const acc = new Float64Array(heapBuffer(backend), base, accLength).slice();
    if (!tailReduced) return acc;
    const m = groups[n - 1]!.size;
    const out = new Float64Array(accLength / m);
    for (let i = 0, p = 0; i < out.length; i++) {
      let sum = 0;
      for (let q = 0; q < m; q++) sum += acc[p++] as number;
      out[i] = sum;
    }
    return out;
  } finally {
    disposeInfo(backend, scratch);
  }
}

/** True when every reduced axis comes after every kept axis of size > 1 (wasm reduces in place). */
function innermostOnly(groups: readonly AxisGroup[]): boolean {
  return groups.length <= 1 || (groups.length === 2 && groups[1]!.reduced);
}

function makeReduce(original: KernelFunc, mean: boolean): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    if (x.dtype !== 'float32') return original(args);
    const size = tf.util.sizeFromShape(x.shape);
    const axes = tf.util.parseAxisParam(axis, x.shape);
    const groups = axisGroups(x.shape, axes);
    if (size === 0 || innermostOnly(groups)) return original(args);
    const backend = asWasm(args.backend);
    const [outShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
    const shape = keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
    const acc = sumGroupsOnHeap(backend, dataOf(backend, x).memoryOffset, groups);
    const out = backend.makeOutput(shape, 'float32');
    const dst = f32View(backend, out);
    if (mean) {
      const count = size / acc.length;
      for (let i = 0; i < acc.length; i++) dst[i] = (acc[i] as number) / count;
    } else {
      dst.set(acc);
    }
    return out;
  };
}

/** The `Sum` override (backendName 'wasm'). */
export const sumConfig: KernelConfig = overrideWasmKernel('Sum', (original) => makeReduce(original, false));
/** The `Mean` override (backendName 'wasm'). */
export const meanConfig: KernelConfig = overrideWasmKernel('Mean', (original) => makeReduce(original, true));
