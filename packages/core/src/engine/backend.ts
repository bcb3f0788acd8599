import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError, ConfigError } from '../errors.js';
import { ConsoleLogger, type Logger } from '../di/logger.js';

/** Compute backends fewstep can run on, in the order it tries them (ARCHITECTURE.md, Engine). */
export const BACKEND_NAMES = ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** What `initEngine` chose and why; also registered in the container as `Tokens.Engine`. */
export interface EngineInfo {
  backend: BackendName;
  /** The package that provides it, e.g. '@tensorflow/tfjs-node-gpu'. */
  provider: string;
  /** True when FEWSTEP_BACKEND or the `backend` option chose it. */
  forced: boolean;
  /** Why each earlier candidate was passed over, and why this one was taken. */
  reasons: string[];
  /** Kernels fewstep registered for this backend (wasm training kernels). */
  kernels: string[];
  /** The one-line report printed at start-up. */
  report: string;
}

/** Loads a module by specifier; injectable so tests can simulate installed / missing peers. */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

export interface InitEngineOptions {
  /** Overrides FEWSTEP_BACKEND. */
  backend?: string;
  /** @default process.env */
  env?: Record<string, string | undefined>;
  /** @default a ConsoleLogger */
  logger?: Logger;
  /** @default dynamic `import()` */
  importer?: ModuleImporter;
  /** Print the one-line report through the logger. @default true */
  report?: boolean;
  /**
   * wasm only: XNNPACK worker threads (1 = the single-threaded SIMD build). Overrides
   * FEWSTEP_WASM_THREADS. @default {@link DEFAULT_WASM_THREADS}
   */
  threads?: number;
}

/** Threads the wasm backend uses unless FEWSTEP_WASM_THREADS or the `threads` option says otherwise. */
export const DEFAULT_WASM_THREADS = 1;

/** Measured on this project's 2-core reference machine (BENCHMARKS.md, conv-train). */
export const CPU_SLOWDOWN_NOTE =
  'the plain cpu backend trains a 4-layer 64-channel conv net at about 0.05 GFLOP/s, roughly 2800x slower than PyTorch on the same CPU';

const defaultImporter: ModuleImporter = (s) => import(s);

interface Attempt {
  ok: boolean;
  provider: string;
  reason: string;
  kernels?: string[];
}

async function tryTensorflow(importer: ModuleImporter): Promise<Attempt> {
  const missing: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await importer(pkg);
    } catch (err) {
      missing.push(`${pkg} not installed (${shortError(err)})`.replace(' (not found)', ''));
      continue;
    }
    if (await setBackendQuiet('tensorflow')) return { ok: true, provider: pkg, reason: `${pkg} is installed` };
    missing.push(`${pkg} is installed but the 'tensorflow' backend failed to initialise`);
  }
  return { ok: false, provider: '@tensorflow/tfjs-node', reason: missing.join('; ') };
}

async function tryWebgpu(importer: ModuleImporter): Promise<Attempt> {
  let dawn: { create?: (flags: string[]) => unknown; globals?: Record<string, unknown> };
  try {
    dawn = (await importer('webgpu')) as typeof dawn;
    await importer('@tensorflow/tfjs-backend-webgpu');
  } catch (err) {
    return { ok: false, provider: 'webgpu', reason: `webgpu + @tensorflow/tfjs-backend-webgpu not installed (${shortError(err)})`.replace(' (not found)', '') };
  }
  try {
    if (dawn.globals) Object.assign(globalThis, dawn.globals);
    const g = globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } };
    if (!g.navigator?.gpu && dawn.create) {
      Object.defineProperty(globalThis, 'navigator', { value: { ...(g.navigator ?? {}), gpu: dawn.create([]) }, configurable: true });
    }
    const adapter = await g.navigator?.gpu?.requestAdapter();
    if (!adapter) return { ok: false, provider: 'webgpu', reason: 'webgpu is installed but no GPU adapter was found' };
  } catch (err) {
    return { ok: false, provider: 'webgpu', reason: `webgpu adapter request failed (${shortError(err)})` };
  }
  if (await setBackendQuiet('webgpu')) return { ok: true, provider: '@tensorflow/tfjs-backend-webgpu', reason: 'a WebGPU adapter is available' };
  return { ok: false, provider: 'webgpu', reason: "the 'webgpu' backend failed to initialise" };
}

async function tryWasm(importer: ModuleImporter, threads: number): Promise<Attempt> {
  try {
    await importer('@tensorflow/tfjs-backend-wasm');
  } catch (err) {
    return { ok: false, provider: '@tensorflow/tfjs-backend-wasm', reason: `@tensorflow/tfjs-backend-wasm failed to load (${shortError(err)})` };
  }
  let threadNote = '';
  if (threads > 1 && tf.engine().registry['wasm'] === undefined) {
    const { enableWasmThreads } = await import('./wasm-threads.js');
    try {
      threadNote = `, ${await enableWasmThreads(threads)} threads`;
    } catch (err) {
      threadNote = `, 1 thread (threads unavailable: ${shortError(err)})`;
    }
  } else if (threads > 1) {
    threadNote = ', threads unchanged (the wasm backend was already initialised)';
  }
  if (!(await setBackendQuiet('wasm'))) {
    return { ok: false, provider: '@tensorflow/tfjs-backend-wasm', reason: "the 'wasm' backend failed to initialise" };
  }
  const { registerWasmTrainingKernels } = await import('./wasm-kernels/index.js');
  const kernels = registerWasmTrainingKernels();
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  return {
    ok: true,
    provider: '@tensorflow/tfjs-backend-wasm',
    reason: `wasm (${simd ? 'SIMD' : 'no SIMD'}${threadNote}) is always installed; fewstep registered ${kernels.length} training kernels`,
    kernels,
  };
}

async function tryCpu(importer: ModuleImporter): Promise<Attempt> {
  try {
    await importer('@tensorflow/tfjs-backend-cpu');
  } catch (err) {
    return { ok: false, provider: '@tensorflow/tfjs-backend-cpu', reason: `failed to load (${shortError(err)})` };
  }
  if (await setBackendQuiet('cpu')) return { ok: true, provider: '@tensorflow/tfjs-backend-cpu', reason: 'the plain cpu backend' };
  return { ok: false, provider: '@tensorflow/tfjs-backend-cpu', reason: "the 'cpu' backend failed to initialise" };
}

const attempts: Record<BackendName, (importer: ModuleImporter, threads: number) => Promise<Attempt>> = {
  tensorflow: tryTensorflow,
  webgpu: tryWebgpu,
  wasm: tryWasm,
  cpu: tryCpu,
};

const installHint: Record<BackendName, string> = {
  tensorflow: 'install a native binding: `npm i @tensorflow/tfjs-node-gpu` (CUDA 11.2 / cuDNN 8.1) or `npm i @tensorflow/tfjs-node`',
  webgpu: 'install `npm i webgpu @tensorflow/tfjs-backend-webgpu` on a machine with a GPU adapter',
  wasm: 'reinstall dependencies (`npm ci`): @tensorflow/tfjs-backend-wasm ships its .wasm files inside the package',
  cpu: 'reinstall dependencies (`npm ci`)',
};

/**
 * Chooses and initialises the tfjs backend, in order: an explicit choice (`options.backend` or
 * `FEWSTEP_BACKEND`), else `tensorflow` (tfjs-node-gpu, then tfjs-node), else `webgpu`, else
 * `wasm` (with fewstep's training kernels), else `cpu` with a loud warning. Prints one line
 * saying what was chosen and why.
 *
 * @throws ConfigError if the explicit choice is not one of {@link BACKEND_NAMES}.
 * @throws BackendUnavailableError if the explicit choice cannot be initialised.
 */
export async function initEngine(options: InitEngineOptions = {}): Promise<EngineInfo> {
  const env = options.env ?? process.env;
  const log = options.logger ?? new ConsoleLogger();
  const importer = options.importer ?? defaultImporter;
  const explicit = options.backend ?? (env['FEWSTEP_BACKEND'] || undefined);
  const threads = resolveThreads(options.threads, env['FEWSTEP_WASM_THREADS']);
  const reasons: string[] = [];

  if (explicit !== undefined) {
    if (!(BACKEND_NAMES as readonly string[]).includes(explicit)) {
      throw new ConfigError('FEWSTEP_BACKEND', explicit, BACKEND_NAMES.map((b) => `'${b}'`).join(', '), 'unset it to let fewstep choose, or pick one of the allowed values');
    }
    const name = explicit as BackendName;
    const a = await attempts[name](importer, threads);
    if (!a.ok) throw new BackendUnavailableError(name, a.reason, BACKEND_NAMES, installHint[name] + ', or unset FEWSTEP_BACKEND to let fewstep choose');
    reasons.push(`forced by ${options.backend !== undefined ? 'the backend option' : 'FEWSTEP_BACKEND'}`, a.reason);
    const info = finish(name, a, true, reasons);
    if (name === 'cpu') log.warn(cpuWarning(true));
    if (options.report !== false) log.info(info.report);
    return info;
  }

  for (const name of BACKEND_NAMES) {
    const a = await attempts[name](importer, threads);
    if (!a.ok) {
      reasons.push(`${name}: ${a.reason}`);
      continue;
    }
    reasons.push(a.reason);
    const info = finish(name, a, false, reasons);
    if (name === 'cpu') log.warn(cpuWarning(false));
    if (options.report !== false) log.info(info.report);
    return info;
  }
  throw new BackendUnavailableError('any', reasons.join('; '), BACKEND_NAMES, 'reinstall dependencies with `npm ci`');
}

function resolveThreads(option: number | undefined, env: string | undefined): number {
  const value = option ?? (env ? Number(env) : DEFAULT_WASM_THREADS);
  if (!Number.isInteger(value) || value < 1 || value > 8) {
    throw new ConfigError(option !== undefined ? 'threads' : 'FEWSTEP_WASM_THREADS', option ?? env, 'an integer from 1 to 8', 'use the number of CPU cores, or 1 for the single-threaded build');
  }
  return value;
}

function finish(name: BackendName, a: Attempt, forced: boolean, reasons: string[]): EngineInfo {
  const report = `backend: ${name} (${a.provider})${forced ? ', forced' : ''} - ${reasons.join('; ')}`;
  return { backend: name, provider: a.provider, forced, reasons, kernels: a.kernels ?? [], report };
}

function cpuWarning(forced: boolean): string {
  return (
    `\n${'!'.repeat(78)}\n` +
    `!! fewstep is running on the plain tfjs 'cpu' backend${forced ? ' (forced by FEWSTEP_BACKEND=cpu)' : ' because no faster backend could start'}.\n` +
    `!! Expect training to be thousands of times slower: ${CPU_SLOWDOWN_NOTE}.\n` +
    `!! Fix: use the default wasm backend (unset FEWSTEP_BACKEND, \`npm ci\`), or ${installHint.tensorflow}.\n` +
    `${'!'.repeat(78)}`
  );
}

async function setBackendQuiet(name: string): Promise<boolean> {
  // tfjs logs its own warnings on a failed backend init; the reasons end up in our report.
  const warn = console.warn;
  console.warn = () => {};
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  } finally {
    console.warn = warn;
  }
}

function shortError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return 'not found';
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.slice(0, 160);
}
