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
  bench
    .command('analytic')
    .description('sampling throughput of the exact Gaussian-mixture teacher at 50 and 4 steps (Euler on flow matching, DDIM on VP)')
    .option('--spec <spec>', 'the mixture', 'gmm-video:modes=16,frames=8,size=8,channels=3,std=0.05,seed=7')
    .option('--batch <n>', 'samples per batch', intOption('--batch', 1), 64)
    .option('--json', 'print one JSON object')
    .action(async (opts: { spec: string; batch: number; json?: boolean }) => {
      const out = makeOutput(Boolean(opts.json));
      const core = await import('@fewstep/core');
      await core.initEngine({ report: !opts.json });
      const results = [];
      for (const schedule of ['flow', 'vp'] as const) {
        const r = await core.benchAnalyticSampling({ spec: opts.spec, batch: opts.batch, schedule });
        results.push(r);
        out.text(`${r.sampler} on ${r.backend}, ${r.spec}, batch ${r.batch}`);
        for (const x of r.results) out.text(`  ${String(x.steps).padStart(3)} steps (NFE ${x.nfe}): ${x.samplesPerSecond.toFixed(1)} samples/s`);
      }
      out.result({ results });
    });
  bench
    .command('backbones')
    .description('forward and forward+backward ms of each backbone preset on the resolved backend')
    .option('--presets <names>', 'comma-separated presets', 'tiny,small')
    .option('--backbones <names>', 'comma-separated: video-unet,video-dit,image-unet,text-encoder')
    .option('--reps <n>', 'timed repetitions (median)', intOption('--reps', 1), 3)
    .option('--json', 'print one JSON object')
    .action(async (opts: { presets: string; backbones?: string; reps: number; json?: boolean }) => {
      const out = makeOutput(Boolean(opts.json));
      const core = await import('@fewstep/core');
      const { benchBackbones, formatBenchTable } = await import('@fewstep/backbones');
      const engine = await core.initEngine({ report: !opts.json });
      const rows = await benchBackbones({
        presets: opts.presets.split(','),
        reps: opts.reps,
        ...(opts.backbones ? { backbones: opts.backbones.split(',') } : {}),
        onProgress: (m) => out.progress(m),
      });
      out.text(formatBenchTable(rows));
      out.result({ backend: engine.backend, rows });
    });
  return bench;
}
