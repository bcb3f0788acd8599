/**
 * complex64 tensors on the wasm backend.
 *
 * tfjs-backend-wasm 4.22 has no complex support: it allocates `size * 8` bytes for a complex64
 * tensor (`bytesPerElement('complex64') === 8`) and copies the values it is given, but its
 * `readSync` throws "Unknown dtype complex64" and no kernel produces or consumes complex64.
 *
 * fewstep's convention: a complex64 tensor of shape S is ONE heap block of `2 * size(S)` float32,
 * interleaved `[re0, im0, re1, im1, ...]`. That is exactly the layout `tf.tensor(values, S,
 * 'complex64')` writes and `dataSync()` returns on the cpu backend, so uploads already work and
 * only `readSync` needs teaching (patched once on `BackendWasm.prototype`, idempotent). Reshape
 * works unchanged (it shares the block); kernels that copy (Identity, Cast) are overridden in
 * complex-kernels.ts.
 */
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { heapBuffer, type WasmBackend } from './wasm-internals.js';

const PATCHED = Symbol.for('fewstep.wasm.complexReadSync');

type ReadSync = (this: WasmBackend, dataId: object, start?: number, end?: number) => unknown;

/**
 * Teaches `BackendWasm#readSync` (hence `dataSync`/`data`/`array`) to read complex64 tensors as
 * interleaved Float32Array pairs, like the cpu backend. Idempotent; other dtypes are untouched.
 */
export function installComplexReadSupport(): void {
  const proto = BackendWasm.prototype as unknown as { readSync: ReadSync; [PATCHED]?: boolean };
  if (proto[PATCHED] === true) return;
  const original = proto.readSync;
  proto.readSync = function readSyncWithComplex(this: WasmBackend, dataId: object, start?: number, end?: number) {
    const data = this.dataIdMap.get(dataId);
    if (data === undefined || data.dtype !== 'complex64') return original.call(this, dataId, start, end);
    const size = tf.util.sizeFromShape(data.shape);
    const from = start ?? 0;
    const to = end ?? size;
    const bytes = new Uint8Array(heapBuffer(this)).slice(data.memoryOffset + from * 8, data.memoryOffset + to * 8);
    return new Float32Array(bytes.buffer);
  };
  Object.defineProperty(proto, PATCHED, { value: true, enumerable: false });
}

installComplexReadSupport();
