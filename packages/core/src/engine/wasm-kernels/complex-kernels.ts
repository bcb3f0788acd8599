/**
 * complex64 kernels for the wasm backend: `Complex`, `Real`, `Imag`, `ComplexAbs`, plus complex64
 * cases of `Identity` (which no longer copies, for any dtype), `Cast` (wasm's own versions throw
 * on complex64) and `Add`, `Sub`,
 * `Multiply` (wasm's own versions log "Unknown dtype" and return garbage for complex64).
 * Storage convention: interleaved re/im float32 pairs (complex-storage.ts). Other kernels
 * (Slice, Concat, Sum, ...) still reject complex64 on wasm.
 *
 * All are O(size) JS loops over heap views (no copies besides the output); they match the cpu
 * backend bit for bit except `ComplexAbs`, which both compute as `Math.hypot(re, im)` in float64
 * and round once.
 */
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import type { DataType, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { installComplexReadSupport } from './complex-storage.js';
import { overrideWasmKernel } from './override-kernel.js';
import { asWasm, dataOf, f32View, heapBuffer, runWasmKernel, type WasmBackend } from './wasm-internals.js';

installComplexReadSupport();

/** Element count of `t`. */
function sizeOf(t: TensorInfo): number {
  return tf.util.sizeFromShape(t.shape);
}

/** A typed view over a real tensor of any numeric dtype (float32, int32, bool). */
function realView(backend: WasmBackend, t: TensorInfo): Float32Array | Int32Array | Uint8Array {
  const buffer = heapBuffer(backend);
  const offset = dataOf(backend, t).memoryOffset;
  const n = sizeOf(t);
  switch (t.dtype) {
    case 'float32':
      return new Float32Array(buffer, offset, n);
    case 'int32':
      return new Int32Array(buffer, offset, n);
    case 'bool':
      return new Uint8Array(buffer, offset, n);
    default:
      throw new Error(`Expected a float32, int32 or bool tensor, got dtype '${t.dtype}'.`);
  }
}

/** Makes a complex64 output of `shape` from real parts `re` and imaginary parts `im` (or zeros). */
function makeComplex(backend: WasmBackend, shape: number[], fill: (out: Float32Array) => void): TensorInfo {
  const out = backend.makeOutput(shape, 'complex64');
  fill(f32View(backend, out, 2 * tf.util.sizeFromShape(shape)));
  return out;
}

/** `Complex({real, imag})`: interleaves two float32 tensors of the same shape. */
const complexKernel: KernelFunc = ({ inputs, backend: b }) => {
  const backend = asWasm(b);
  const { real, imag } = inputs as { real: TensorInfo; imag: TensorInfo };
  if (!tf.util.arraysEqual(real.shape, imag.shape)) {
    throw new Error(`Complex: real shape [${real.shape}] and imag shape [${imag.shape}] must match.`);
  }
  return makeComplex(backend, real.shape, (out) => {
    const re = realView(backend, real);
    const im = realView(backend, imag);
    for (let i = 0, n = re.length; i < n; i++) {
      out[2 * i] = re[i] as number;
      out[2 * i + 1] = im[i] as number;
    }
  });
};

/** A float32 output with `out[i] = f(re_i, im_i)` over the complex64 input. */
function mapComplex(backend: WasmBackend, input: TensorInfo, f: (re: number, im: number) => number): TensorInfo {
  if (input.dtype !== 'complex64') {
    throw new Error(`Expected a complex64 tensor, got dtype '${input.dtype}'. Fix: build it with tf.complex(real, imag).`);
  }
  const out = backend.makeOutput(input.shape, 'float32');
  const n = sizeOf(input);
  const c = f32View(backend, input, 2 * n);
  const o = f32View(backend, out, n);
  for (let i = 0; i < n; i++) o[i] = f(c[2 * i] as number, c[2 * i + 1] as number);
  return out;
}

const realKernel: KernelFunc = ({ inputs, backend }) =>
  mapComplex(asWasm(backend), (inputs as { input: TensorInfo }).input, (re) => re);

const imagKernel: KernelFunc = ({ inputs, backend }) =>
  mapComplex(asWasm(backend), (inputs as { input: TensorInfo }).input, (_re, im) => im);

const complexAbsKernel: KernelFunc = ({ inputs, backend }) =>
  mapComplex(asWasm(backend), (inputs as { x: TensorInfo }).x, (re, im) => Math.hypot(re, im));

/** Copies a complex64 tensor (wasm's Identity reads it as float32 of half the length). */
function copyComplex(backend: WasmBackend, x: TensorInfo): TensorInfo {
  const n = 2 * sizeOf(x);
  return makeComplex(backend, x.shape, (out) => out.set(f32View(backend, x, n)));
}

/**
 * `Identity` without a copy: the result shares `x`'s heap block and the backend's reference count
 * goes up by one, exactly as wasm's own `Reshape` (and the cpu backend's `Identity`) do; tensors
 * are immutable, so sharing is safe, and the block is freed when the last sharer is disposed.
 * wasm's own Identity copies (205 calls, 7% of a video-unet-block training step). Strings keep
 * wasm's path (they are not stored on the heap).
 */
function makeIdentity(original: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype === 'string') return original(args);
    asWasm(args.backend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  };
}

/** Casts to/from complex64 the way the cpu backend does: real part in, zero imaginary part. */
function makeCast(original: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { dtype } = args.attrs as unknown as { dtype: DataType };
    if (dtype !== 'complex64' && x.dtype !== 'complex64') return original(args);
    const backend = asWasm(args.backend);
    if (dtype === 'complex64') {
      if (x.dtype === 'complex64') return copyComplex(backend, x);
      return makeComplex(backend, x.shape, (out) => {
        const re = realView(backend, x);
        out.fill(0);
        for (let i = 0, n = re.length; i < n; i++) out[2 * i] = re[i] as number;
      });
    }
    // complex64 -> real dtype: keep the real part, then cast it (int32 truncates, bool tests != 0).
    const n = sizeOf(x);
    const out = backend.makeOutput(x.shape, dtype);
    const c = f32View(backend, x, 2 * n);
    const o = realView(backend, out);
    if (dtype === 'bool') for (let i = 0; i < n; i++) o[i] = (c[2 * i] as number) !== 0 ? 1 : 0;
    else if (dtype === 'int32') for (let i = 0; i < n; i++) o[i] = Math.trunc(c[2 * i] as number);
    else for (let i = 0; i < n; i++) o[i] = c[2 * i] as number;
    return out;
  };
}

/** Splits a complex64 tensor into new float32 real and imaginary tensors. */
function splitComplex(backend: WasmBackend, x: TensorInfo): [TensorInfo, TensorInfo] {
  return [mapComplex(backend, x, (re) => re), mapComplex(backend, x, (_re, im) => im)];
}

/** Interleaves float32 `re` and `im` (same shape) into a new complex64 tensor. */
function joinComplex(backend: WasmBackend, re: TensorInfo, im: TensorInfo): TensorInfo {
  return makeComplex(backend, re.shape, (out) => {
    const r = f32View(backend, re);
    const i = f32View(backend, im);
    for (let k = 0, n = r.length; k < n; k++) {
      out[2 * k] = r[k] as number;
      out[2 * k + 1] = i[k] as number;
    }
  });
}

/**
 * Add/Sub/Multiply with complex64 operands, computed on the real and imaginary parts with wasm's
 * own float32 kernel (so broadcasting works as for real tensors):
 *   (a+bi) ± (c+di) = (a±c) + (b±d)i,   (a+bi)(c+di) = (ac−bd) + (ad+bc)i.
 */
function makeComplexBinary(kind: 'add' | 'sub' | 'mul'): (original: KernelFunc) => KernelFunc {
  return (original) => (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    if (a.dtype !== 'complex64' && b.dtype !== 'complex64') return original(args);
    const backend = asWasm(args.backend);
    if (a.dtype !== 'complex64' || b.dtype !== 'complex64') {
      throw new Error(`Binary op on complex64 needs both operands complex64, got ${a.dtype} and ${b.dtype}. Fix: tf.cast the other to 'complex64'.`);
    }
    const temps: TensorInfo[] = [];
    const run = (x: TensorInfo, y: TensorInfo): TensorInfo => {
      const out = original({ inputs: { a: x, b: y }, backend: args.backend, attrs: {} }) as TensorInfo;
      temps.push(out);
      return out;
    };
    const [ar, ai] = splitComplex(backend, a);
    const [br, bi] = splitComplex(backend, b);
    temps.push(ar, ai, br, bi);
    let re: TensorInfo;
    let im: TensorInfo;
    if (kind === 'mul') {
      // Products with the float Multiply kernel, then float Sub / Add (broadcast shapes already match).
      re = runWasmKernel('Sub', backend, { a: run(ar, br), b: run(ai, bi) });
      im = runWasmKernel('Add', backend, { a: run(ar, bi), b: run(ai, br) });
      temps.push(re, im);
    } else {
      re = run(ar, br);
      im = run(ai, bi);
    }
    const out = joinComplex(backend, re, im);
    for (const t of temps) backend.disposeData(t.dataId);
    return out;
  };
}

/** Kernel configs (backendName 'wasm') for complex64 support. */
export const complexKernelConfigs: KernelConfig[] = [
  { kernelName: 'Complex', backendName: 'wasm', kernelFunc: complexKernel },
  { kernelName: 'Real', backendName: 'wasm', kernelFunc: realKernel },
  { kernelName: 'Imag', backendName: 'wasm', kernelFunc: imagKernel },
  { kernelName: 'ComplexAbs', backendName: 'wasm', kernelFunc: complexAbsKernel },
  overrideWasmKernel('Identity', makeIdentity),
  overrideWasmKernel('Cast', makeCast),
  overrideWasmKernel('Add', makeComplexBinary('add')),
  overrideWasmKernel('Sub', makeComplexBinary('sub')),
  overrideWasmKernel('Multiply', makeComplexBinary('mul')),
];
