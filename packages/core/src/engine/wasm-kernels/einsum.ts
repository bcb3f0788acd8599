/**
 * `Einsum` for the wasm backend, lowered onto wasm kernels: `Sum` (labels only one operand has),
 * `Transpose`, and one `BatchMatMul` (fewstep's XNNPACK-backed override when registered).
 *
 * Supported equations are tfjs's (tfjs-core `ops/einsum.ts`): one or two operands, an explicit
 * `->`, no repeated label within one operand (so `'ii->i'` is rejected, as on cpu), no `...`.
 * Validation reuses `backend_util.decodeEinsumEquation` / `checkEinsumDimSizes`, so errors read
 * exactly as on the cpu backend. float32 only for two operands (wasm's BatchMatMul is float32).
 *
 * Two operands `A`, `B` → output `O`: labels are grouped into batch (A, B and O), free-A (A and O),
 * free-B (B and O) and contracted (A and B, not O); labels only in one operand and not in O are
 * summed out first. Then `C[batch, freeA, freeB] = Σ_contr A[batch, freeA, contr] ·
 * B[batch, contr, freeB]` is one batched matmul, and a final transpose orders `O`.
 */
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { asWasm, disposeInfo, runWasmKernel, type WasmBackend } from './wasm-internals.js';

/** An einsum equation split into operand terms and the output term (whitespace removed). */
export interface EinsumTerms {
  inputs: string[];
  output: string;
}

/** Parses (and validates, with tfjs's own checks) an einsum equation for `numTensors` operands. */
export function parseEinsum(equation: string, numTensors: number): EinsumTerms {
  tf.backend_util.decodeEinsumEquation(equation, numTensors);
  const [lhs = '', output = ''] = equation.replace(/\s/g, '').split('->');
  if (new Set(output).size !== output.length) {
    throw new Error(`Einsum output '${output}' repeats a label; each output label must appear once.`);
  }
  return { inputs: lhs.split(','), output };
}

/** A kernel intermediate with one label per axis; `owned` ones are disposed when replaced. */
interface Labeled {
  info: TensorInfo;
  labels: string;
  owned: boolean;
}

class EinsumLowering {
  private readonly temps: TensorInfo[] = [];
  constructor(private readonly backend: WasmBackend) {}

  /** Records a kernel output this lowering owns. */
  track(info: TensorInfo): TensorInfo {
    this.temps.push(info);
    return info;
  }

  /** Sums out every label of `x` not in `keep`. */
  sumOut(x: Labeled, keep: (label: string) => boolean): Labeled {
    const axes = [...x.labels].flatMap((l, i) => (keep(l) ? [] : [i]));
    if (axes.length === 0) return x;
    const info = this.track(runWasmKernel('Sum', this.backend, { x: x.info }, { axis: axes, keepDims: false }));
    return { info, labels: [...x.labels].filter(keep).join(''), owned: true };
  }

  /** Transposes `x` so its labels read `target` (a permutation of them). */
  permute(x: Labeled, target: string): Labeled {
    if (x.labels === target) return x;
    const perm = [...target].map((l) => x.labels.indexOf(l));
    const info = this.track(runWasmKernel('Transpose', this.backend, { x: x.info }, { perm }));
    return { info, labels: target, owned: true };
  }

  /** Frees every intermediate except `keep`. */
  release(keep: TensorInfo): void {
    for (const t of this.temps) if (t !== keep) disposeInfo(this.backend, t);
  }
}

function sizeOfLabels(labels: string, dims: Map<string, number>): number {
  let n = 1;
  for (const l of labels) n *= dims.get(l) as number;
  return n;
}

const einsumKernel: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = asWasm(b);
  const tensors = (Array.isArray(inputs) ? inputs : Object.values(inputs)) as TensorInfo[];
  const { equation } = attrs as unknown as { equation: string };
  const decoded = tf.backend_util.decodeEinsumEquation(equation, tensors.length);
  tf.backend_util.checkEinsumDimSizes(decoded.allDims.length, decoded.idDims, tensors as tf.Tensor[]);
  const { inputs: terms, output } = parseEinsum(equation, tensors.length);
  const dims = new Map<string, number>();
  terms.forEach((term, t) => [...term].forEach((l, i) => dims.set(l, (tensors[t] as TensorInfo).shape[i] as number)));
  const outShape = [...output].map((l) => dims.get(l) as number);
  const low = new EinsumLowering(backend);
  const inOutput = (l: string) => output.includes(l);

  let result: Labeled;
  if (tensors.length === 1) {
    const x: Labeled = { info: tensors[0] as TensorInfo, labels: terms[0] as string, owned: false };
    result = low.permute(low.sumOut(x, inOutput), output);
  } else {
    const [termA, termB] = terms as [string, string];
    let a: Labeled = { info: tensors[0] as TensorInfo, labels: termA, owned: false };
    let bb: Labeled = { info: tensors[1] as TensorInfo, labels: termB, owned: false };
    if (a.info.dtype !== 'float32' || bb.info.dtype !== 'float32') {
      throw new Error(`Einsum with two operands on wasm needs float32 tensors, got ${a.info.dtype} and ${bb.info.dtype}.`);
    }
    a = low.sumOut(a, (l) => inOutput(l) || termB.includes(l));
    bb = low.sumOut(bb, (l) => inOutput(l) || termA.includes(l));
    const batch = [...output].filter((l) => a.labels.includes(l) && bb.labels.includes(l)).join('');
    const freeA = [...output].filter((l) => a.labels.includes(l) && !bb.labels.includes(l)).join('');
    const freeB = [...output].filter((l) => bb.labels.includes(l) && !a.labels.includes(l)).join('');
    const contr = [...a.labels].filter((l) => bb.labels.includes(l) && !inOutput(l)).join('');
    const nBatch = sizeOfLabels(batch, dims);
    const M = sizeOfLabels(freeA, dims);
    const N = sizeOfLabels(freeB, dims);
    const K = sizeOfLabels(contr, dims);
    // Use matmul's transpose flags when an operand already has the transposed layout.
    const transposeA = a.labels === batch + contr + freeA && a.labels !== batch + freeA + contr;
    const transposeB = bb.labels === batch + freeB + contr && bb.labels !== batch + contr + freeB;
    if (!transposeA) a = low.permute(a, batch + freeA + contr);
    if (!transposeB) bb = low.permute(bb, batch + contr + freeB);
    const a3: TensorInfo = { ...a.info, shape: transposeA ? [nBatch, K, M] : [nBatch, M, K] };
    const b3: TensorInfo = { ...bb.info, shape: transposeB ? [nBatch, N, K] : [nBatch, K, N] };
    const product = low.track(runWasmKernel('BatchMatMul', backend, { a: a3, b: b3 }, { transposeA, transposeB }));
    const labels = batch + freeA + freeB;
    product.shape = [...labels].map((l) => dims.get(l) as number);
    result = low.permute({ info: product, labels, owned: true }, output);
  }

  if (!result.owned) {
    // A no-op equation such as 'ij->ij': share the input's block, as Reshape does.
    (backend as unknown as { incRef(dataId: object): void }).incRef(result.info.dataId);
    low.release(result.info);
    return { dataId: result.info.dataId, shape: outShape, dtype: result.info.dtype };
  }
  low.release(result.info);
  return { ...result.info, shape: outShape };
};

/** `Einsum` kernel config (backendName 'wasm'). */
export const einsumConfig: KernelConfig = {
  kernelName: 'Einsum',
  backendName: 'wasm',
  kernelFunc: einsumKernel,
};
