/**
 * Multi-threaded tfjs wasm backend in Node (XNNPACK's pthreadpool on `worker_threads`).
 *
 * tfjs-backend-wasm 4.22 ships a threaded SIMD build but never uses it in Node: the flag
 * `WASM_HAS_MULTITHREAD_SUPPORT` answers false whenever `IS_NODE` (tfjs issue 3830). Forcing the
 * flag alone is not enough; four things stand in the way, each worked around here for the
 * duration of the backend's initialisation only:
 *  1. Emscripten spawns its pthread pool (8 workers, PTHREAD_POOL_SIZE) with `new Worker(url)`
 *     where `url` is a `blob:` URL tfjs made for the worker script; Node's `worker_threads`
 *     cannot load blob URLs. A `globalThis.Worker` shim starts the same script (the package's
 *     `wasm-out/...threaded-simd.worker.js` exports it as a string) with `{ eval: true }`.
 *     Emscripten assigns `global.Worker = worker_threads.Worker` first, so the shim is installed
 *     as a getter that ignores assignments.
 *  2. Each worker is told to `importScripts` the main script from a `Blob`, which Node cannot
 *     import; the shim's `postMessage` swaps it for the path of the package's
 *     `wasm-out/tfjs-backend-wasm-threaded-simd.js`, the same Emscripten glue.
 *  3. The C++ side caps the pool at `emscripten_num_logical_cores() / 2`, i.e. `os.cpus().length
 *     / 2` in Node: 1 thread on a 2-core machine whatever `setThreadsCount` says. `os.cpus` is
 *     stubbed to report `2 × threads` CPUs while the module initialises.
 *  4. Worker threads running the pool keep Node's event loop alive; they are `unref()`ed, so a
 *     script still exits when its work is done.
 * XNNPACK runs its operators (convolutions and the fully-connected matmul path, which fewstep's
 * BatchMatMul override uses for every batch) on the pool. Measured on a 16-core Xeon, Node 20:
 * 1024² matMul 25 / 34 / 55 / 124 GFLOP/s and a [8,64,64,64]⊛[3,3,64,64] conv2d 25 / 37 / 53 / 110
 * GFLOP/s with 1 / 2 / 4 / 8 threads (BENCHMARKS.md, wasm threads). Kernels written in JS (e.g.
 * the FFT) stay single-threaded.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker as NodeWorker, type WorkerOptions } from 'node:worker_threads';
import { ConfigError, FewstepError } from '../errors.js';

/** The most threads the threaded build's prespawned worker pool provides. */
export const MAX_WASM_THREADS = 8;

const requireFromHere = createRequire(import.meta.url);

interface PthreadModule {
  PThread?: { runningWorkers: Array<{ unref(): void }>; unusedWorkers: Array<{ unref(): void }> };
}

/** Paths of the threaded build's worker script module and main Emscripten glue. */
function threadedBuildFiles(): { workerCode: string; mainScript: string } {
  const workerModule = requireFromHere.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js');
  const mainScript = requireFromHere.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const { wasmWorkerContents } = requireFromHere(workerModule) as { wasmWorkerContents: string };
  // The exported template literal turned the script's "\n" escapes into newlines inside string
  // literals; tfjs re-escapes them the same way before making its Blob.
  return { workerCode: wasmWorkerContents.replace(/\n/g, '\\n'), mainScript };
}

/** Builds the `Worker` class Emscripten's pthread code gets while the shim is installed. */
function makePthreadWorker(workerCode: string, mainScript: string): typeof NodeWorker {
  return class PthreadWorker extends NodeWorker {
    constructor(_url: string | URL, _options?: WorkerOptions) {
      super(workerCode, { eval: true });
    }
    override postMessage(message: unknown, transferList?: Parameters<NodeWorker['postMessage']>[1]): void {
      const m = message as { cmd?: string; urlOrBlob?: unknown } | null;
      if (m !== null && typeof m === 'object' && m.cmd === 'load' && typeof m.urlOrBlob !== 'string') {
        super.postMessage({ ...m, urlOrBlob: mainScript }, transferList);
        return;
      }
      super.postMessage(message, transferList);
    }
  };
}

/** Runs `fn` with `globalThis.Worker` pinned to `Worker` and `os.cpus()` reporting `cpus` CPUs. */
async function withPthreadShims<T>(Worker: typeof NodeWorker, cpus: number, fn: () => Promise<T>): Promise<T> {
  const previousWorker = Object.getOwnPropertyDescriptor(globalThis, 'Worker');
  const realCpus = os.cpus;
  Object.defineProperty(globalThis, 'Worker', { get: () => Worker, set: () => undefined, configurable: true });
  os.cpus = () => {
    const real = realCpus();
    return Array.from({ length: Math.max(cpus, real.length) }, (_, i) => real[i % real.length] as os.CpuInfo);
  };
  // The pool's workers are unref()ed while idle; keep the loop alive until they report in.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    return await fn();
  } finally {
    clearInterval(keepAlive);
    os.cpus = realCpus;
    if (previousWorker) Object.defineProperty(globalThis, 'Worker', previousWorker);
    else delete (globalThis as { Worker?: unknown }).Worker;
  }
}

/**
 * Initialises tfjs's wasm backend with its threaded SIMD build and `threads` XNNPACK threads, in
 * Node, and makes it the active backend. Must run before the wasm backend is first initialised
 * (before any `tf.setBackend('wasm')`). `threads === 1` initialises the ordinary single-threaded
 * SIMD build.
 * @returns the thread count XNNPACK actually uses.
 */
export async function enableWasmThreads(threads: number): Promise<number> {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    throw new ConfigError(
      'threads',
      threads,
      `an integer from 1 to ${MAX_WASM_THREADS}`,
      `pass the number of CPU cores to use (this machine reports ${os.cpus().length}).`,
    );
  }
  if (tf.engine().registry['wasm'] !== undefined) {
    throw new FewstepError(
      'E_WASM_THREADS',
      `Cannot enable wasm threads (requested ${threads}): the wasm backend is already initialised ` +
        `with ${getThreadsCount()} thread(s). Fix: call enableWasmThreads() before tf.setBackend('wasm') or tf.ready().`,
    );
  }
  if (threads === 1) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    await tf.setBackend('wasm');
    return getThreadsCount();
  }
  const { workerCode, mainScript } = threadedBuildFiles();
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  setThreadsCount(threads);
  const ok = await withPthreadShims(makePthreadWorker(workerCode, mainScript), 2 * threads, () => tf.setBackend('wasm'));
  if (!ok) {
    throw new FewstepError(
      'E_WASM_THREADS',
      `The threaded wasm backend failed to initialise with ${threads} threads. ` +
        `Fix: use enableWasmThreads(1) (single-threaded SIMD), or check that Node >= 20 supports SharedArrayBuffer and worker_threads.`,
    );
  }
  const wasm = (tf.backend() as unknown as { wasm: PthreadModule }).wasm;
  for (const worker of [...(wasm.PThread?.runningWorkers ?? []), ...(wasm.PThread?.unusedWorkers ?? [])]) worker.unref();
  return getThreadsCount();
}
