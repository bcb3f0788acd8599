import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import { intOption } from '../options.js';
import { makeOutput } from '../output.js';

interface TrajectoriesOptions {
  teacher: string;
  n: number;
  steps: number;
  keep: string;
  shard: string;
  chunk: number;
  seed: number;
  out: string;
  data?: string;
  workers?: number;
  workerIpc?: boolean;
  json?: boolean;
}

/** Exit codes of a run stopped by a signal (128 + the signal's number). */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * `fewstep trajectories`: teacher ODE trajectories in resumable shards (AccVideo's SynVid; ADP's ODE
 * pairs). The pending chunks of the shard are written by `--workers` child processes (default: one
 * per CPU core, at most one per pending chunk; 1 = in this process), each loading the teacher once,
 * on the parent's backend with one thread; the files are byte-identical whatever the count.
 * An image-to-video teacher's samples are each solved under a conditioning frame of `--data`
 * (default: the teacher's provenance data spec), recorded in the chunks (`image`,
 * `imageNoiseSigma`) and in the shard JSON / index (`condition`); see write-trajectories.ts.
 */
export function trajectoriesCommand(): Command {
  return new Command('trajectories')
    .description(
      'write teacher ODE trajectories (noise, kept states, final sample) as sharded safetensors + index.json; a re-run shard skips finished chunks. ' +
        'The pending chunks are spread over --workers processes (same backend, one thread each); the output is byte-identical whatever the number of workers',
    )
    .requiredOption('--teacher <dir>', 'a teacher model directory')
    .requiredOption('--n <n>', 'number of trajectories (all shards)', intOption('--n', 1))
    .option('--steps <k>', 'teacher solver steps', intOption('--steps', 1), 50)
    .option('--keep <which>', "states to keep: 'key' (AccVideo key timesteps) | 'all'", 'key')
    .option('--shard <I/N>', 'write shard I of N (e.g. one SLURM array task each)', '0/1')
    .option('--chunk <n>', 'samples per chunk file (the unit of work of a worker and of resumption)', intOption('--chunk', 1), 64)
    .option('--seed <n>', 'seed of the noise (sample j uses a stream of (seed, j))', intOption('--seed', 0), 0)
    .option('--workers <n>', `worker processes for this shard's pending chunks (default: the CPU cores, here ${availableParallelism()}, at most one per pending chunk; 1 = in this process)`, intOption('--workers', 1))
    .addOption(new Option('--worker-ipc', 'internal: serve chunks to a parent `fewstep trajectories` over IPC').hideHelp())
    .option('--data <spec>', "image-to-video teachers: conditioning frames from 'gmm-i2v:...' (frame 0 of a video drawn for (seed, j)) or 'shapes-video:...' (frame 0 of clip j); default: the teacher's data spec. Refused for a t2v teacher")
    .requiredOption('--out <dir>', 'output directory')
    .option('--json', 'print one JSON object')
    .action(async (opts: TrajectoriesOptions) => {
      if (opts.workerIpc) {
        await workerMain(opts);
        return;
      }
      const out = makeOutput(Boolean(opts.json));
      const core = await import('@fewstep/core');
      if (opts.keep !== 'key' && opts.keep !== 'all') throw new core.ConfigError('--keep', opts.keep, "'key' or 'all'");
      const keep: 'key' | 'all' = opts.keep;
      const wt = await import('../trajectories/write-trajectories.js');
      const shard = wt.parseShard(opts.shard);
      const engine = await core.initEngine({ report: !opts.json });
      const started = performance.now();
      const o = { keep, n: opts.n, steps: opts.steps, shard, chunk: opts.chunk, seed: opts.seed, out: opts.out, teacher: opts.teacher };
      const plan = wt.planShard(o);
      const pending = plan.chunks.filter((c) => !wt.chunkDone(plan, c));
      const workers = Math.max(1, Math.min(opts.workers ?? availableParallelism(), pending.length));
      const report = (r: import('../trajectories/write-trajectories.js').ShardSummary): void => {
        const seconds = (performance.now() - started) / 1000;
        const via = workers > 1 ? ` by ${workers} workers` : '';
        out.text(`${r.shard}: samples ${r.samples[0]}..${r.samples[1] - 1} (${r.written} written${via}, ${r.skipped} already there) in ${seconds.toFixed(1)} s`);
        out.result({ ...r, workers, seconds });
      };
      if (workers === 1) {
        const recipes = await import('@fewstep/recipes');
        const loaded = await recipes.loadModelDirectory(opts.teacher);
        try {
          const condition = await trajectoryCondition(loaded, opts.data);
          const denoiser = recipes.modelDenoiser(loaded.model);
          report(await wt.writeTrajectoryShard(denoiser, loaded.manifest.sampleShape, { ...o, ...(condition ? { condition } : {}), onProgress: (d, total) => out.progress(`trajectories: ${d}/${total}`) }));
        } finally {
          loaded.dispose();
        }
        return;
      }
      // Pool: the workers start at once (each loads the teacher itself); meanwhile this process
      // loads it only to record the grid and the shard JSON, and frees it. If that fails (a bad
      // teacher, --keep key on a discrete-time one), the workers are stopped and its error is the one shown.
      await wt.prepareShardDir(plan);
      const total = plan.hi - plan.lo;
      const skipped = total - pending.reduce((s, c) => s + c.end - c.start, 0);
      let done = skipped;
      const { runChunkPool } = await import('../trajectories/worker-pool.js');
      const args = ['trajectories', '--teacher', opts.teacher, '--n', String(opts.n), '--steps', String(opts.steps), '--keep', keep, '--shard', opts.shard];
      args.push('--chunk', String(opts.chunk), '--seed', String(opts.seed), '--out', opts.out, '--worker-ipc');
      // The workers resolve the conditioning exactly as this process does (--data, else the teacher's provenance).
      if (opts.data !== undefined) args.push('--data', opts.data);
      const abort = new AbortController();
      const pool = runChunkPool({
        workers,
        chunks: pending,
        args,
        // Same backend as this process, one thread each (wasm / XNNPACK, TensorFlow, OpenMP).
        env: { ...process.env, FEWSTEP_BACKEND: engine.backend, FEWSTEP_WASM_THREADS: '1', TF_NUM_INTRAOP_THREADS: '1', TF_NUM_INTEROP_THREADS: '1', OMP_NUM_THREADS: '1' },
        signal: abort.signal,
        onStart: (pids) => out.progress(`trajectories: ${workers} workers (pids ${pids.join(', ')}, backend ${engine.backend}, 1 thread each) for ${pending.length} of ${plan.chunks.length} chunks`),
        onChunk: (c) => {
          done += c.end - c.start;
          out.progress(`trajectories: ${done}/${total}`);
        },
        onOutput: (line) => out.progress(line),
      });
      pool.catch(() => undefined); // handled below; not unhandled while the teacher loads
      let meta: Record<string, unknown>;
      try {
        const recipes = await import('@fewstep/recipes');
        const loaded = await recipes.loadModelDirectory(opts.teacher);
        try {
          const condition = await trajectoryCondition(loaded, opts.data);
          const denoiser = recipes.modelDenoiser(loaded.model);
          const { grid, keepTimes } = wt.trajectoryGrid(denoiser, o.steps, o.keep);
          meta = wt.shardMeta(denoiser, loaded.manifest.sampleShape, o, plan, { grid, keepTimes, seed: o.seed, teacher: o.teacher, ...(condition ? { condition } : {}) });
        } finally {
          loaded.dispose();
        }
      } catch (err) {
        abort.abort(err);
        await pool.catch(() => undefined);
        throw err;
      }
      try {
        await pool;
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        const signal = /^interrupted by (SIG[A-Z]+)/.exec((err as Error).message)?.[1];
        if (code === 'E_INTERRUPTED' && signal !== undefined) {
          out.progress(`fewstep: ${(err as Error).message}`);
          process.exit(SIGNAL_EXIT[signal] ?? 1);
        }
        throw err;
      }
      await wt.finishShard(o.out, plan, meta);
      report({ shard: plan.name, samples: [plan.lo, plan.hi], chunks: plan.chunks.map((c) => c.file), written: total - skipped, skipped });
    });
}

/** `--worker-ipc`: a pool worker (see trajectories/chunk-worker.ts). Loads the teacher once, serves chunks. */
async function workerMain(opts: TrajectoriesOptions): Promise<void> {
  const cw = await import('../trajectories/chunk-worker.js');
  const core = await import('@fewstep/core');
  if (!cw.hasParentChannel()) throw new core.ConfigError('--worker-ipc', true, 'only set by `fewstep trajectories` on the worker processes it starts', 'use --workers N instead');
  let dispose: (() => void) | undefined;
  try {
    const wt = await import('../trajectories/write-trajectories.js');
    const keep = opts.keep === 'all' ? 'all' : 'key';
    const shard = wt.parseShard(opts.shard);
    await core.initEngine({ report: false });
    const recipes = await import('@fewstep/recipes');
    const loaded = await recipes.loadModelDirectory(opts.teacher);
    dispose = loaded.dispose;
    const condition = await trajectoryCondition(loaded, opts.data);
    const denoiser = recipes.modelDenoiser(loaded.model);
    const { grid, keepTimes } = wt.trajectoryGrid(denoiser, opts.steps, keep);
    const plan = wt.planShard({ n: opts.n, shard, chunk: opts.chunk, out: opts.out });
    const ctx = { grid, keepTimes, seed: opts.seed, teacher: opts.teacher, ...(condition ? { condition } : {}) };
    await cw.serveChunks((c) => wt.writeTrajectoryChunk(denoiser, loaded.manifest.sampleShape, plan.dir, c, ctx));
  } catch (err) {
    await cw.reportWorkerError(err);
    throw err;
  } finally {
    dispose?.();
  }
}

/** The conditioning of a loaded teacher's trajectories (undefined for t2v); the same in the parent and in every worker. */
async function trajectoryCondition(loaded: import('@fewstep/recipes').LoadedModel, data: string | undefined): Promise<import('../trajectories/write-trajectories.js').TrajectoryCondition | undefined> {
  const wt = await import('../trajectories/write-trajectories.js');
  const { embedsImageNoise } = await import('../distill/i2v.js');
  return wt.resolveTrajectoryCondition(
    { task: loaded.task, provenanceData: loaded.manifest.provenance?.['data'], sampleShape: loaded.manifest.sampleShape, embedsNoiseLevel: embedsImageNoise(loaded.model.backbone) },
    data,
  );
}
