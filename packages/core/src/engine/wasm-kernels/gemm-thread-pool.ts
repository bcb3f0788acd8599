/**
 * A pool of Node worker threads that run fewstep's generated GEMM kernels on the tfjs wasm
 * backend's SHARED heap (threaded build, see ../wasm-threads.ts), so one product, convolution
 * or batch can be split across cores.
 *
 * Each worker instantiates the same compiled module on the same `WebAssembly.Memory` and waits
 * on its own control block (a SharedArrayBuffer: `[seq, done, fn, nargs, args...]`). To run a
 * job the main thread writes the call, bumps `seq` and notifies; runs its own part; then waits
 * until every worker has set `done = seq` (`-seq` when the call trapped). Calls are i32-only
 * (byte addresses on the heap), so nothing is copied. Workers are `unref()`ed: they never keep
 * the process alive.
 */
import { Worker } from 'node:worker_threads';
import type { WasmCompiledModule, WasmMemory } from './webassembly-api.js';

const MAX_ARGS = 32;
const CONTROL_INTS = 4 + MAX_ARGS;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, names } = workerData;
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const fns = names.map((n) => exports[n]);
const ctl = new Int32Array(control);
let seen = 0;
for (;;) {
  Atomics.wait(ctl, 0, seen);
  const seq = Atomics.load(ctl, 0);
  if (seq === seen) continue;
  seen = seq;
  const fn = ctl[2];
  if (fn < 0) break;
  const args = [];
  for (let i = 0; i < ctl[3]; i++) args.push(ctl[4 + i]);
  let ok = true;
  try { fns[fn](...args); } catch (e) { ok = false; }
  Atomics.store(ctl, 1, ok ? seq : -seq);
  Atomics.notify(ctl, 1);
}
`;

/** One call: export name and its i32 arguments. */
export interface PoolCall {
  fn: string;
  args: number[];
}

/** Worker threads running calls of one generated module on a shared heap. */
export class GemmThreadPool {
  /** Threads a job is split over: the workers plus the calling thread. */
  readonly size: number;
  private readonly controls: Int32Array[] = [];
  private readonly workers: Worker[] = [];
  private readonly names: string[];
  private seq = 0;

  constructor(module: WasmCompiledModule, memory: WasmMemory, workers: number, names: readonly string[]) {
    this.names = names.slice();
    for (let i = 0; i < workers; i++) {
      const control = new SharedArrayBuffer(4 * CONTROL_INTS);
      this.controls.push(new Int32Array(control));
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control, names: this.names } });
      worker.unref();
      this.workers.push(worker);
    }
    this.size = workers + 1;
  }

  /**
   * Runs `calls[0]` on the calling thread (through `local`) and `calls[i]` on worker `i - 1`,
   * all at once; returns when all are done. At most {@link size} calls.
   */
  run(calls: readonly PoolCall[], local: (call: PoolCall) => void): void {
    if (calls.length > this.size) throw new Error(`GemmThreadPool.run: ${calls.length} calls for ${this.size} threads.`);
    const seq = ++this.seq;
    for (let i = 1; i < calls.length; i++) {
      const call = calls[i] as PoolCall;
      const ctl = this.controls[i - 1] as Int32Array;
      const fn = this.names.indexOf(call.fn);
      if (fn < 0 || call.args.length > MAX_ARGS) throw new Error(`GemmThreadPool: unknown call '${call.fn}' or too many arguments.`);
      ctl[2] = fn;
      ctl[3] = call.args.length;
      ctl.set(call.args, 4);
      Atomics.store(ctl, 0, seq);
      Atomics.notify(ctl, 0);
    }
    let error: unknown;
    try {
      if (calls[0] !== undefined) local(calls[0]);
    } catch (e) {
      error = e;
    }
    let trapped = false;
    for (let i = 1; i < calls.length; i++) {
      const ctl = this.controls[i - 1] as Int32Array;
      for (;;) {
        const done = Atomics.load(ctl, 1);
        if (done === seq) break;
        if (done === -seq) {
          trapped = true;
          break;
        }
        Atomics.wait(ctl, 1, done, 1000);
      }
    }
    if (error !== undefined) throw error;
    if (trapped) throw new Error('fewstep wasm GEMM: a worker thread trapped (memory access out of bounds?) while running its part.');
  }

  /** Stops the workers. */
  terminate(): void {
    const seq = ++this.seq;
    for (const ctl of this.controls) {
      ctl[2] = -1;
      Atomics.store(ctl, 0, seq);
      Atomics.notify(ctl, 0);
    }
    for (const w of this.workers) void w.terminate();
  }
}
