import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@fewstep/core';
import { BenchTrainer } from './bench-trainer.js';
import { median } from './median.js';
import { profileKernels } from './profile-step.js';
import { findTorchPython, runTorchTwin } from './torch-twin.js';
import { ENGINE_WORKLOADS, ENGINE_WORKLOAD_NAMES, type BenchShapes } from './workloads/index.js';

/** Options of {@link runEngineBench}. */
export interface EngineBenchOptions {
  /** Workloads to run, by name. @default all of {@link ENGINE_WORKLOAD_NAMES} */
  workloads?: string[];
  /** Timed steps per workload; the reported time is their median. Use ≥ 10 for real numbers. @default 10 */
  steps?: number;
  /** Untimed steps before timing. @default 3 */
  warmup?: number;
  /** Run the PyTorch twin (if a Python with torch is found) after the tfjs workloads. @default true */
  torch?: boolean;
  /** `torch.set_num_threads` of the twin. @default 2 */
  torchThreads?: number;
  /** Also run one step per workload under `tf.profile` and report the top kernels. @default false */
  profile?: boolean;
  /** Rows per workload in the profile. @default 8 */
  profileTop?: number;
  /** Shape overrides (tests use small ones); the twin gets the same shapes. */
  shapes?: BenchShapes;
  onProgress?: (msg: string) => void;
}

/** One workload's figures. */
export interface EngineBenchWorkloadResult {
  /** Median ms per training step on the tfjs backend. */
  ms: number;
  /** Median ms per step of the PyTorch twin. */
  torchMs?: number;
  /** ms / torchMs (lower is better; 1 = parity). */
  ratio?: number;
  /** Nominal GFLOP/s (3 × forward conv/matMul FLOPs per step). */
  gflops?: number;
  /** Trainable scalars. */
  params?: number;
  /** First-step loss (before any update) on tfjs and in the twin: equal when the forward math is. */
  loss0?: number;
  torchLoss0?: number;
  /** Loss of the last timed step (after warmup + steps − 1 updates): equal when gradients and AdamW are. */
  lossLast?: number;
  torchLossLast?: number;
  /** loss0 within 1e-3 and lossLast within 1e-2 (relative) of the twin's. */
  lossMatch?: boolean;
}

/** Result of {@link runEngineBench}. */
export interface EngineBenchResult {
  backend: string;
  steps: number;
  warmup: number;
  workloads: Record<string, EngineBenchWorkloadResult>;
  torch: {
    available: boolean;
    reason?: string;
    version?: string;
    threads?: number;
    python?: string;
    /** BLAS library of the twin's matmuls; `referenceBlas` marks the slow netlib one. */
    blas?: string;
    referenceBlas?: boolean;
  };
  /** Top kernels of one profiled step per workload (when `profile` was set). */
  profile?: Record<string, Array<{ kernel: string; ms: number; share: number; calls?: number; inclusiveMs?: number }>>;
}

const LOSS0_RTOL = 1e-3;
const LOSS_LAST_RTOL = 1e-2;

function close(a: number | undefined, b: number | undefined, rtol: number): boolean {
  return a !== undefined && b !== undefined && Math.abs(a - b) <= rtol * Math.abs(b);
}

function checkInt(field: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigError(field, value, `an integer >= ${min}`, `pass ${field} >= ${min}`);
  }
}

/**
 * The engine benchmark: trains each workload on the current tfjs backend (median ms of `steps`
 * steps after `warmup`), then runs the PyTorch twin (`python/engine_bench.py`, CPU,
 * `torch.set_num_threads(torchThreads)`) on identical shapes, weights and inputs, and reports
 * ratio = tfjs ms / torch ms. The backend must already be initialised (the CLI does it; for
 * wasm, fewstep's training kernels must be registered).
 */
export async function runEngineBench(opts: EngineBenchOptions = {}): Promise<EngineBenchResult> {
  const names = opts.workloads ?? [...ENGINE_WORKLOAD_NAMES];
  for (const n of names) {
    if (!ENGINE_WORKLOAD_NAMES.includes(n)) {
      throw new ConfigError('workloads', n, ENGINE_WORKLOAD_NAMES.join(', '), 'pick engine workloads from that list');
    }
  }
  const steps = opts.steps ?? 10;
  const warmup = opts.warmup ?? 3;
  const threads = opts.torchThreads ?? 2;
  checkInt('steps', steps, 1);
  checkInt('warmup', warmup, 0);
  checkInt('torchThreads', threads, 1);
  const progress = opts.onProgress ?? (() => undefined);
  if (steps < 10) progress(`note: steps=${steps} < 10, medians are not meaningful timings`);

  const result: EngineBenchResult = { backend: tf.getBackend(), steps, warmup, workloads: {}, torch: { available: false } };
  const shapes: Record<string, object> = {};

  for (const def of ENGINE_WORKLOADS.filter((w) => names.includes(w.name))) {
    const s = { ...def.defaults, ...((opts.shapes as Record<string, object> | undefined)?.[def.name] ?? {}) };
    shapes[def.name] = s;
    const model = def.build(s);
    const trainer = new BenchTrainer(model);
    try {
      progress(`${def.name}: ${def.description} (${trainer.parameterCount} params), ${warmup} warm-up + ${steps} steps`);
      let loss0: number | undefined;
      let lossLast = NaN;
      for (let i = 0; i < warmup; i++) {
        const l = await trainer.step();
        loss0 ??= l;
      }
      const times: number[] = [];
      for (let i = 0; i < steps; i++) {
        const t0 = performance.now();
        const l = await trainer.step();
        times.push(performance.now() - t0);
        loss0 ??= l;
        lossLast = l;
      }
      const ms = median(times);
      result.workloads[def.name] = { ms, gflops: model.flopsPerStep / (ms * 1e6), params: trainer.parameterCount, loss0, lossLast };
      progress(`${def.name}: ${ms.toFixed(1)} ms/step (min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)})`);
      if (opts.profile) {
        const rows = await profileKernels(() => trainer.step(), opts.profileTop ?? 8);
        (result.profile ??= {})[def.name] = rows;
        progress(`${def.name} profile: ${rows.slice(0, 3).map((r) => `${r.kernel} ${(100 * r.share).toFixed(0)}%`).join(', ')}`);
      }
    } catch (e) {
      const msg = (e as Error).message;
      const fix = /not registered/.test(msg)
        ? `register fewstep's training kernels for '${result.backend}' first (initEngine() does; or registerWasmTrainingKernels() from @fewstep/core)`
        : 'run the workload alone (workloads: [name]) to see the full error';
      throw new Error(`Engine bench workload '${def.name}' failed on backend '${result.backend}': ${msg}. Fix: ${fix}.`, { cause: e });
    } finally {
      trainer.dispose();
    }
  }

  if (opts.torch === false) {
    result.torch = { available: false, reason: 'disabled (torch: false)' };
    return result;
  }
  const probe = findTorchPython();
  if (!probe.ok) {
    result.torch = { available: false, reason: probe.reason };
    progress(`torch twin skipped: ${probe.reason}`);
    return result;
  }
  progress(`torch twin: ${probe.python} (torch ${probe.version}, ${threads} threads)`);
  try {
    const twin = await runTorchTwin({ python: probe.python, workloads: Object.keys(shapes), steps, warmup, threads, shapes });
    result.torch = {
      available: true,
      version: twin.torch,
      threads: twin.threads,
      python: probe.python,
      blas: twin.blas,
      referenceBlas: twin.referenceBlas,
    };
    if (twin.referenceBlas) {
      progress(`WARNING: torch runs its matmuls on the netlib reference BLAS (${twin.blas}), ~10x slower than OpenBLAS: ratios of matmul-heavy workloads flatter tfjs`);
    }
    for (const [name, w] of Object.entries(result.workloads)) {
      const t = twin.workloads[name];
      if (!t) continue;
      w.torchMs = t.ms;
      w.ratio = w.ms / t.ms;
      w.torchLoss0 = t.loss0;
      w.torchLossLast = t.lossLast;
      w.lossMatch = close(w.loss0, t.loss0, LOSS0_RTOL) && close(w.lossLast, t.lossLast, LOSS_LAST_RTOL);
      if (!w.lossMatch) {
        progress(
          `WARNING ${name}: losses differ from the twin (loss0 ${w.loss0} vs ${t.loss0}, last ${w.lossLast} vs ${t.lossLast}): the two compute different math`,
        );
      }
    }
  } catch (e) {
    result.torch = { available: false, reason: `twin failed: ${(e as Error).message}`, python: probe.python };
    progress(`torch twin failed: ${(e as Error).message}`);
  }
  return result;
}
