import { Command } from 'commander';
import { intOption } from '../options.js';
import { makeOutput } from '../output.js';

/** The benchmarks live in the repository's private tools/bench package (not published). */
async function loadBench(): Promise<typeof import('@fewstep/bench')> {
  try {
    return await import('@fewstep/bench');
  } catch (err) {
    throw Object.assign(
      new Error(
        `'fewstep bench' needs the benchmark package @fewstep/bench, which is not published (${(err as Error).message.split('\n')[0]}). ` +
          'Fix: run it from a clone of the fewstep repository after `npm ci`.',
      ),
      { code: 'E_BENCH_UNAVAILABLE' },
    );
  }
}

export function benchCommand(): Command {
  const bench = new Command('bench').description('benchmarks that print figures (never timed tests)');
  bench
    .command('engine')
    .description('time the engine workloads (conv-train, video-unet-block-train, dit-block-train) on the resolved backend, and the same in PyTorch when it is installed')
    .option('--json', 'print one JSON object { backend, workloads: { name: { ms, torchMs?, ratio? } } }')
    .option('--steps <n>', 'timed steps per workload (median is reported)', intOption('--steps', 10), 10)
    .option('--warmup <n>', 'untimed warm-up steps', intOption('--warmup', 0), 3)
    .option('--workloads <names>', 'comma-separated subset of workloads')
    .option('--no-torch', 'skip the PyTorch twin')
    .option('--profile', 'also report the top kernels of one step of each workload')
    .action(async (opts: { json?: boolean; steps: number; warmup: number; workloads?: string; torch: boolean; profile?: boolean }) => {
      const out = makeOutput(Boolean(opts.json));
      // Heavy modules load lazily so `fewstep --help` stays instant.
      const { initEngine } = await import('@fewstep/core');
      const { formatEngineBenchTable, runEngineBench } = await loadBench();
      const engine = await initEngine();
      const result = await runEngineBench({
        steps: opts.steps,
        warmup: opts.warmup,
        torch: opts.torch,
        profile: Boolean(opts.profile),
        ...(opts.workloads ? { workloads: opts.workloads.split(',').map((s) => s.trim()) } : {}),
        onProgress: (m) => out.progress(m),
      });
      out.result({ ...result, backendReport: engine.report });
      out.text(formatEngineBenchTable(result));
    });
  return bench;
}
