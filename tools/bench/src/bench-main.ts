/**
 * Stand-alone runner of the engine bench, for working on the bench without the `fewstep` CLI
 * (which is the normal entry: `fewstep bench engine`):
 *
 *   npx tsx --conditions=@fewstep/source tools/bench/src/bench-main.ts [--backend wasm|cpu] [--steps 10] [--warmup 3]
 *       [--workloads conv-train,dit-block-train] [--no-torch] [--profile] [--json] [--threads N]
 *
 * `--threads N` (wasm only, default 1): initialise the wasm backend's threaded SIMD build with N
 * XNNPACK threads (`enableWasmThreads` from @fewstep/core; use a fresh process per setting).
 *
 * Sets the backend itself; on wasm it registers fewstep's training kernels from @fewstep/core
 * when that package loads.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { runEngineBench } from './engine-bench.js';
import { formatEngineBenchTable } from './format-table.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function registerKernels(): Promise<string> {
  // A variable specifier: the bench must not fail to type-check or load while core is in flux.
  const specifier = '@fewstep/core';
  try {
    const core = (await import(specifier)) as { registerWasmTrainingKernels?: () => string[] };
    if (typeof core.registerWasmTrainingKernels !== 'function') return '@fewstep/core has no registerWasmTrainingKernels';
    return `registered ${core.registerWasmTrainingKernels().join(', ')}`;
  } catch (e) {
    return `@fewstep/core did not load (${(e as Error).message.split('\n')[0]}); wasm training kernels NOT registered`;
  }
}

async function initWasmThreads(threads: number): Promise<string> {
  const specifier = '@fewstep/core';
  const core = (await import(specifier)) as { enableWasmThreads?: (n: number) => Promise<number> };
  if (typeof core.enableWasmThreads !== 'function') throw new Error('@fewstep/core has no enableWasmThreads; cannot use --threads');
  return `wasm threads: ${await core.enableWasmThreads(threads)}`;
}

const backend = arg('--backend') ?? 'wasm';
const threads = Number(arg('--threads') ?? 1);
if (backend === 'wasm' && threads !== 1) process.stderr.write(`${await initWasmThreads(threads)}\n`);
await tf.setBackend(backend);
await tf.ready();
const json = process.argv.includes('--json');
const log = (m: string): void => {
  process.stderr.write(`${m}\n`);
};
if (backend === 'wasm') log(await registerKernels());
const workloads = arg('--workloads');
const result = await runEngineBench({
  steps: Number(arg('--steps') ?? 10),
  warmup: Number(arg('--warmup') ?? 3),
  torch: !process.argv.includes('--no-torch'),
  profile: process.argv.includes('--profile'),
  ...(workloads ? { workloads: workloads.split(',') } : {}),
  onProgress: log,
});
process.stdout.write(json ? `${JSON.stringify(result)}\n` : `${formatEngineBenchTable(result)}\n`);
