import { Command } from 'commander';
import { intOption } from '../options.js';
import { makeOutput } from '../output.js';

/** `fewstep trajectories`: teacher ODE trajectories in resumable shards (AccVideo's SynVid; ADP's ODE pairs). */
export function trajectoriesCommand(): Command {
  return new Command('trajectories')
    .description('write teacher ODE trajectories (noise, kept states, final sample) as sharded safetensors + index.json; a re-run shard skips finished chunks')
    .requiredOption('--teacher <dir>', 'a teacher model directory')
    .requiredOption('--n <n>', 'number of trajectories (all shards)', intOption('--n', 1))
    .option('--steps <k>', 'teacher solver steps', intOption('--steps', 1), 50)
    .option('--keep <which>', "states to keep: 'key' (AccVideo key timesteps) | 'all'", 'key')
    .option('--shard <I/N>', 'write shard I of N (e.g. one SLURM array task each)', '0/1')
    .option('--chunk <n>', 'samples per chunk file', intOption('--chunk', 1), 64)
    .option('--seed <n>', 'seed of the noise (sample j uses a stream of (seed, j))', intOption('--seed', 0), 0)
    .requiredOption('--out <dir>', 'output directory')
    .option('--json', 'print one JSON object')
    .action(async (opts: { teacher: string; n: number; steps: number; keep: string; shard: string; chunk: number; seed: number; out: string; json?: boolean }) => {
      const out = makeOutput(Boolean(opts.json));
      const core = await import('@fewstep/core');
      if (opts.keep !== 'key' && opts.keep !== 'all') throw new core.ConfigError('--keep', opts.keep, "'key' or 'all'");
      const { parseShard, writeTrajectoryShard } = await import('../trajectories/write-trajectories.js');
      const shard = parseShard(opts.shard);
      await core.initEngine({ report: !opts.json });
      const recipes = await import('@fewstep/recipes');
      const loaded = await recipes.loadModelDirectory(opts.teacher);
      const started = performance.now();
      try {
        const r = await writeTrajectoryShard(recipes.modelDenoiser(loaded.model), loaded.manifest.sampleShape, {
          keep: opts.keep as 'key' | 'all',
          n: opts.n,
          steps: opts.steps,
          shard,
          chunk: opts.chunk,
          seed: opts.seed,
          out: opts.out,
          teacher: opts.teacher,
          onProgress: (d, total) => out.progress(`trajectories: ${d}/${total}`),
        });
        const seconds = (performance.now() - started) / 1000;
        out.text(`${r.shard}: samples ${r.samples[0]}..${r.samples[1] - 1} (${r.written} written, ${r.skipped} already there) in ${seconds.toFixed(1)} s`);
        out.result({ ...r, seconds });
      } finally {
        loaded.dispose();
      }
    });
}
