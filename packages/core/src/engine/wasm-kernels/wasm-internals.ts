/**
 * Typed access to the parts of `@tensorflow/tfjs-backend-wasm` 4.22's `BackendWasm` that fewstep's
 * wasm kernels need and the package does not type publicly: the tensor table (`dataIdMap`), the
 * Emscripten module (heap, `cwrap`, C++ tensor registry) and the private id counter.
 *
 * Layout facts relied on (read from `dist/backend_wasm.js`): every non-string tensor is one
 * `_malloc`ed block at `memoryOffset`, `size * bytesPerElement(dtype)` bytes long, registered with
 * the C++ side under a numeric `id`; `disposeData` frees the block and unregisters the id.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { DataType, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { isWasmMemory, webAssembly, type WasmMemory } from './webassembly-api.js';

/** One row of `BackendWasm.dataIdMap`. */
export interface WasmTensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: DataType;
  refCount: number;
}

/** The Emscripten module behind the wasm backend (the members fewstep uses). */
export interface WasmModule {
  HEAPU8: Uint8Array;
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: unknown[]) => unknown;
  tfjs: {
    registerTensor(id: number, size: number, memoryOffset: number): void;
    disposeData(id: number): void;
  };
}

/** The members of `BackendWasm` used by fewstep's kernels. */
export interface WasmBackend {
  wasm: WasmModule;
  dataIdMap: { get(dataId: object): WasmTensorData | undefined };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: DataType, memoryOffset?: number): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
  /** Adds a reference to `dataId`'s block (a kernel output sharing an input's block). */
  incRef(dataId: object): void;
  readSync(dataId: object, start?: number, end?: number): unknown;
}

/** Narrows the `backend` argument of a kernel function to the wasm backend's internals. */
export function asWasm(backend: unknown): WasmBackend {
  const b = backend as Partial<WasmBackend> | null;
  if (b == null || b.wasm == null || b.dataIdMap == null || typeof b.makeOutput !== 'function') {
    throw new Error(
      `fewstep wasm kernel called with a backend that is not tfjs-backend-wasm 4.x (no 'wasm' module or 'dataIdMap'). ` +
        `Fix: register these kernels for backendName 'wasm' only.`,
    );
  }
  return b as WasmBackend;
}

/** The `dataIdMap` row of `t` (throws a descriptive error if the tensor is not on this backend). */
export function dataOf(backend: WasmBackend, t: TensorInfo): WasmTensorData {
  const d = backend.dataIdMap.get(t.dataId);
  if (d === undefined) throw new Error(`Tensor of shape [${t.shape.join(', ')}] is not stored on the wasm backend.`);
  return d;
}

/**
 * A Float32Array over the heap block of `t` (no copy). `length` defaults to the element count
 * (pass `2 * size` for complex64, which is stored as interleaved re/im pairs). Create views only
 * after the kernel's last allocation: growing the wasm memory detaches older views.
 */
export function f32View(backend: WasmBackend, t: TensorInfo, length = tf.util.sizeFromShape(t.shape)): Float32Array {
  return new Float32Array(heapBuffer(backend), dataOf(backend, t).memoryOffset, length);
}

/**
 * The heap's current buffer, read from the `WebAssembly.Memory` itself. `Module.HEAPU8` is only
 * refreshed by Emscripten's glue on the thread that grew the memory (or at its next
 * `GROWABLE_HEAP_*` access): in the threaded build a growth by another thread would leave it
 * short (a view past its end throws a RangeError), in the single-threaded build it is always
 * current. Reading `memory.buffer` is correct in both.
 */
export function heapBuffer(backend: WasmBackend): ArrayBuffer | SharedArrayBuffer {
  return heapMemory(backend).buffer;
}

/** A view (no copy) over the heap block of a float32, int32 or bool tensor, typed by its dtype. */
export function heapArray(backend: WasmBackend, t: TensorInfo): Float32Array | Int32Array | Uint8Array {
  const { memoryOffset } = dataOf(backend, t);
  const n = tf.util.sizeFromShape(t.shape);
  switch (t.dtype) {
    case 'float32':
      return new Float32Array(heapBuffer(backend), memoryOffset, n);
    case 'int32':
      return new Int32Array(heapBuffer(backend), memoryOffset, n);
    case 'bool':
      return new Uint8Array(heapBuffer(backend), memoryOffset, n);
    default:
      throw new Error(`heapArray: dtype '${t.dtype}' is not stored as plain numbers on the wasm heap.`);
  }
}

/** An Int32Array over the heap block of the int32 tensor `t` (no copy). */
export function i32View(backend: WasmBackend, t: TensorInfo): Int32Array {
  return new Int32Array(heapBuffer(backend), dataOf(backend, t).memoryOffset, tf.util.sizeFromShape(t.shape));
}

/**
 * Registers `size` elements starting at byte `memoryOffset` as a C++-side tensor without
 * allocating or copying (a view into another tensor's block). Release with {@link releaseView},
 * never with `disposeData` (which would free memory the view does not own).
 * @returns the C++ tensor id.
 */
export function registerView(backend: WasmBackend, memoryOffset: number, size: number): number {
  const id = backend.dataIdNextNumber++;
  backend.wasm.tfjs.registerTensor(id, size, memoryOffset);
  return id;
}

/** Unregisters a view created by {@link registerView} (also drops any XNNPACK operator cached on it). */
export function releaseView(backend: WasmBackend, id: number): void {
  backend.wasm.tfjs.disposeData(id);
}

/** Calls the kernel currently registered for `kernelName` on wasm (throws if there is none). */
export function runWasmKernel(
  kernelName: string,
  backend: WasmBackend,
  inputs: Record<string, TensorInfo> | TensorInfo[],
  attrs: Record<string, unknown> = {},
): TensorInfo {
  const config = tf.getKernel(kernelName, 'wasm');
  if (config === undefined) throw new Error(`The wasm backend has no '${kernelName}' kernel registered.`);
  const out = (config.kernelFunc as KernelFunc)({ inputs: inputs as never, backend: backend as never, attrs: attrs as never });
  if (Array.isArray(out)) throw new Error(`Kernel '${kernelName}' returned several outputs; expected one.`);
  return out;
}

/** Frees a kernel's intermediate result. */
export function disposeInfo(backend: WasmBackend, t: TensorInfo): void {
  backend.disposeData(t.dataId);
}

/** The wasm backend's linear memory (the threaded build's is a shared memory). */
export function heapMemory(backend: WasmBackend): WasmMemory {
  const m = backend.wasm as unknown as { wasmMemory?: unknown; asm?: { memory?: unknown } };
  const memory = m.wasmMemory ?? m.asm?.memory;
  if (!isWasmMemory(memory)) {
    throw new Error(
      `fewstep's generated wasm kernels cannot find the tfjs wasm backend's WebAssembly.Memory (neither Module.wasmMemory nor Module.asm.memory). ` +
        `Fix: use @tensorflow/tfjs-backend-wasm 4.22, or do not register fewstep's wasm kernels.`,
    );
  }
  return memory;
}

/**
 * Instantiates generated module bytes (built by `makeBytes` for this heap's sharedness) on the
 * backend's heap, once per backend and `key`.
 */
export function instantiateOnHeap<T>(backend: WasmBackend, key: string, makeBytes: (memory: { shared: boolean; maximumPages: number }) => Uint8Array): T {
  let perBackend = instances.get(backend.wasm);
  if (perBackend === undefined) {
    perBackend = new Map();
    instances.set(backend.wasm, perBackend);
  }
  let exports = perBackend.get(key);
  if (exports === undefined) {
    const memory = heapMemory(backend);
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const module = new webAssembly.Module(makeBytes({ shared, maximumPages: 65536 }));
    exports = new webAssembly.Instance(module, { env: { memory } }).exports;
    perBackend.set(key, exports);
  }
  return exports as T;
}

const instances = new WeakMap<object, Map<string, Record<string, unknown>>>();
