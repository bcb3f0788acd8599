/**
 * @file `fewstep trajectories`: the SynVid-style synthetic dataset (AccVideo Eq. 5) of teacher ODE
 * trajectories, in self-describing shards. Sample `j`'s noise is a pure function of `(seed, j)`, so
 * any chunk of any shard can be (re)made alone, by any process: a shard is a folder of chunk files
 * written atomically, a re-run skips the chunks that exist (a killed run loses at most the chunks
 * in flight, and never duplicates or drops a sample), and `index.json` lists every chunk of every
 * finished shard. The same files are ADP's ODE pairs (`noise`, `final`).
 *
 * The work is split so that a worker pool (`worker-pool.ts`) can share it: {@link planShard} (the
 * chunk list, no teacher needed), {@link writeTrajectoryChunk} (one chunk, a pure function of its
 * sample range), {@link finishShard} (shard JSON + index, built from the plan as the in-process
 * path builds it). {@link writeTrajectoryShard} is the in-process path (`--workers 1`).
 *
 * Chunk file tensors: `noise` [B, ...S], `trajectory` [B, K, ...S] (the kept states, K =
 * `times.length`, the last one the final sample), `final` [B, ...S], `index` [B] (sample ids).
 *
 * Image-to-video teachers (issue 10): every sample is solved under a conditioning frame, which the
 * chunk records next to the states: `image` [B, H, W, C] and `imageNoiseSigma` [B] (zeros: the
 * clean frame, `sigmaAug = 0`); the shard JSON and `index.json` record `condition: { data,
 * sigmaAug: 0 }`. Sample j's frame is a pure function of (data spec, seed, j), like its noise
 * ({@link conditionFrames}): for `gmm-i2v:` frame 0 of one exact video drawn from the stream
 * `deriveSeed(seed, 'condition/j')` (core's `sampleI2vPairs`), for `shapes-video:` frame 0 of clip
 * j of the spec (whose own `seed` picks the content; `--seed` does not change it). Where the paper
 * is silent (AccVideo's SynVid is text-to-video) these choices are ours: the condition is the
 * clean first frame of a video of the data, as `fewstep distill` uses for i2v datasets.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  ACCVIDEO_KEY_TIMESTEPS,
  ConfigError,
  FewstepError,
  GMM_I2V_PREFIX,
  ShapeError,
  ddimSampler,
  deriveSeed,
  firstFrame,
  gmmI2v,
  kStepTimesteps,
  randomNormal,
  sampleI2vPairs,
  seededRng,
  writeFileAtomic,
  writeSafetensors,
  type Denoiser,
} from '@fewstep/core';
import { ShapesVideo, parseShapesVideoSpec } from '@fewstep/data';

export interface TrajectoryShardOptions {
  n: number;
  /** Teacher solver steps (DDIM / Euler on flow matching). */
  steps: number;
  /** `key`: AccVideo's key timesteps (plus the end); `all`: every solver state. */
  keep: 'all' | 'key';
  shard: { index: number; count: number };
  /** Samples per chunk file. */
  chunk: number;
  seed: number;
  out: string;
  /** Recorded in the shard's JSON. */
  teacher: string;
  /** Image-to-video teachers: where the conditioning frames come from (see {@link resolveTrajectoryCondition}). */
  condition?: TrajectoryCondition;
  onProgress?: (done: number, total: number) => void;
}

export interface ShardSummary {
  shard: string;
  samples: [number, number];
  chunks: string[];
  written: number;
  skipped: number;
}

/** One chunk file: samples `start .. end - 1`. */
export interface ChunkPlan {
  start: number;
  end: number;
  file: string;
}

/** A shard's folder, sample range and chunk files, a pure function of (n, shard, chunk, out). */
export interface ShardPlan {
  /** `shard-IIIII-of-NNNNN` */
  name: string;
  /** `<out>/<name>`: the chunk files. */
  dir: string;
  lo: number;
  hi: number;
  chunks: ChunkPlan[];
}

/** What a chunk needs besides its range: the solver grid, the kept times and the provenance. */
export interface ChunkContext {
  grid: number[];
  keepTimes: number[];
  seed: number;
  /** The `--teacher` argument as given (recorded in each chunk's metadata). */
  teacher: string;
  /** Image-to-video teachers: the conditioning frames' source; absent for t2v (files unchanged). */
  condition?: TrajectoryCondition;
}

/** The conditioning of an image-to-video teacher's trajectories (issue 10). */
export interface TrajectoryCondition {
  /** `gmm-i2v:...` or `shapes-video:...`: where sample j's conditioning frame comes from. */
  data: string;
  /** Augmentation level of the frames: always 0 (the clean first frame), recorded as such. */
  sigmaAug: 0;
  /** Whether the teacher's backbone embeds `imageNoiseSigma` (it is passed to the teacher only then; a backbone without it refuses the input). */
  embedsNoiseLevel: boolean;
}

/** What the shard JSON and `index.json` record of a {@link TrajectoryCondition}. */
export function conditionRecord(c: TrajectoryCondition): { data: string; sigmaAug: 0 } {
  return { data: c.data, sigmaAug: c.sigmaAug };
}

/**
 * The conditioning of a teacher's trajectories, or undefined for a t2v teacher. The data spec is
 * `--data`, else (i2v) the teacher's provenance data spec; its videos must have the teacher's
 * sample shape. The pool's workers call it with the same arguments, so they agree with the parent.
 * @throws ConfigError for an i2v teacher without a usable spec, and for `--data` on a t2v teacher
 *   (its trajectories are unconditional; our choice: refuse rather than silently ignore it).
 * @throws ShapeError when the spec's videos are not `sampleShape`.
 */
export function resolveTrajectoryCondition(
  teacher: { task: 't2v' | 'i2v'; provenanceData: unknown; sampleShape: readonly number[]; embedsNoiseLevel: boolean },
  data: string | undefined,
): TrajectoryCondition | undefined {
  if (teacher.task === 't2v') {
    if (data !== undefined) throw new ConfigError('--data', data, 'no --data for a t2v teacher (its trajectories are unconditional)', 'drop --data, or pass an image-to-video (task i2v) teacher');
    return undefined;
  }
  const spec = data ?? (typeof teacher.provenanceData === 'string' ? teacher.provenanceData : undefined);
  const allowed = "'gmm-i2v:...' or 'shapes-video:...' (the conditioning frames of an image-to-video teacher)";
  if (spec === undefined) {
    throw new ConfigError('--data', spec, allowed, 'the teacher records no data spec: pass --data gmm-i2v:...|shapes-video:... (e.g. the spec it was trained on)');
  }
  let shape: readonly number[];
  if (spec.startsWith(GMM_I2V_PREFIX)) shape = gmmI2v(spec).shape;
  else if (spec.startsWith('shapes-video')) shape = new ShapesVideo(parseShapesVideoSpec(spec)).videoShape;
  else throw new ConfigError('--data', spec, allowed, spec.startsWith('gmm-video:') ? `use --data gmm-i2v:${spec.slice('gmm-video:'.length)}` : 'pass --data gmm-i2v:...|shapes-video:...');
  if (shape.join() !== teacher.sampleShape.join()) {
    throw new ShapeError(`--data ${spec} videos`, [...shape], `[${teacher.sampleShape.join(', ')}] (the teacher's sample shape)`, "pass the spec of the teacher's data");
  }
  return { data: spec, sigmaAug: 0, embedsNoiseLevel: teacher.embedsNoiseLevel };
}

/**
 * The conditioning frames of samples `start .. end - 1`: `[end - start, H, W, C]`, row i the frame
 * of sample `start + i`, a pure function of `(spec, seed, j)` (see the file comment).
 */
export function conditionFrames(spec: string, seed: number, start: number, end: number): tf.Tensor {
  if (spec.startsWith(GMM_I2V_PREFIX)) {
    const mixture = gmmI2v(spec);
    const rows = Array.from({ length: end - start }, (_, i) => {
      const p = sampleI2vPairs(mixture, 1, seededRng(deriveSeed(seed, `condition/${start + i}`)));
      tf.dispose([p.x0, p.imageNoiseSigma]);
      return p.condition;
    });
    const out = tf.concat(rows, 0);
    tf.dispose(rows);
    return out;
  }
  if (spec.startsWith('shapes-video')) {
    const b = new ShapesVideo(parseShapesVideoSpec(spec)).gather(Array.from({ length: end - start }, (_, i) => start + i));
    const out = firstFrame(b.videos);
    tf.dispose([b.videos, b.labels, b.tokens]);
    return out;
  }
  throw new ConfigError('--data', spec, "'gmm-i2v:...' or 'shapes-video:...'");
}

/** `I/N` -> { index, count }, 0 <= I < N. */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1) || !(index >= 0 && index < count)) throw new ConfigError('--shard', text, "'I/N' with 0 <= I < N (e.g. 0/4)");
  return { index, count };
}

/** The solver grid and the model times of the states kept. */
export function trajectoryGrid<C>(teacher: Denoiser<C>, steps: number, keep: 'all' | 'key'): { grid: number[]; keepTimes: number[] } {
  const base = kStepTimesteps(teacher.schedule, steps);
  if (keep === 'all') return { grid: base, keepTimes: [...base, teacher.schedule.time.kind === 'discrete' ? -1 : 0] };
  if (teacher.schedule.time.kind === 'discrete') throw new ConfigError('--keep', keep, "'all' for a discrete-time teacher (the key timesteps are flow-matching times)");
  const key = [...ACCVIDEO_KEY_TIMESTEPS];
  const grid = [...new Set([...base, ...key.slice(0, -1)])].filter((t) => t > 0 && t <= key[0]!).sort((a, b) => b - a);
  return { grid, keepTimes: key };
}

/** Shard `index` of `count` holds samples floor(n i / N) .. floor(n (i + 1) / N) - 1, in chunks of `chunk`. */
export function planShard(o: Pick<TrajectoryShardOptions, 'n' | 'shard' | 'chunk' | 'out'>): ShardPlan {
  const { index, count } = o.shard;
  const lo = Math.floor((o.n * index) / count);
  const hi = Math.floor((o.n * (index + 1)) / count);
  const name = `shard-${String(index).padStart(5, '0')}-of-${String(count).padStart(5, '0')}`;
  const chunks: ChunkPlan[] = [];
  for (let start = lo; start < hi; start += o.chunk) {
    const end = Math.min(hi, start + o.chunk);
    chunks.push({ start, end, file: `chunk-${String(start).padStart(8, '0')}-${String(end).padStart(8, '0')}.safetensors` });
  }
  return { name, dir: join(o.out, name), lo, hi, chunks };
}

/** True when the chunk's file exists (it is only ever renamed into place whole). */
export function chunkDone(plan: ShardPlan, c: ChunkPlan): boolean {
  return existsSync(join(plan.dir, c.file));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Creates the shard folder and removes the temp files (`<chunk>.tmp-<pid>-<hex>`, see core's
 * `writeFileAtomic`) that a killed writer left behind, i.e. those whose process is gone. A temp
 * file of a live process (another run on the same shard) is left alone; its chunk is remade
 * byte-identically by whoever gets there first.
 * @returns the number of stale temp files removed.
 */
export async function prepareShardDir(plan: ShardPlan): Promise<number> {
  await mkdir(plan.dir, { recursive: true });
  let removed = 0;
  for (const f of readdirSync(plan.dir)) {
    const m = /^chunk-\d+-\d+\.safetensors\.tmp-(\d+)-[0-9a-f]+$/.exec(f);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) {
      rmSync(join(plan.dir, f), { force: true });
      removed += 1;
    }
  }
  return removed;
}

/**
 * Solves the teacher ODE from the noise of samples `c.start .. c.end - 1` (sample j's noise from
 * the stream `deriveSeed(seed, 'trajectory/j')`, so the bytes do not depend on who writes the
 * chunk or on what was written before) and writes the chunk file atomically. With
 * `ctx.condition`, sample j is solved under its conditioning frame (`cond: { image,
 * imageNoiseSigma = 0 }`) and the chunk records `image` and `imageNoiseSigma`.
 */
export async function writeTrajectoryChunk<C>(teacher: Denoiser<C>, sampleShape: readonly number[], dir: string, c: ChunkPlan, ctx: ChunkContext): Promise<void> {
  const { start, end } = c;
  const sampler = ddimSampler({ steps: ctx.grid.length, timesteps: ctx.grid });
  const image = ctx.condition ? conditionFrames(ctx.condition.data, ctx.seed, start, end) : undefined;
  const imageNoiseSigma = image ? tf.zeros([end - start]) : undefined;
  const noise = tf.tidy(() => tf.concat(Array.from({ length: end - start }, (_, i) => randomNormal([1, ...sampleShape], seededRng(deriveSeed(ctx.seed, `trajectory/${start + i}`)))), 0));
  const cond = image ? ({ image, ...(ctx.condition!.embedsNoiseLevel ? { imageNoiseSigma } : {}) } as C) : undefined;
  let r: ReturnType<typeof sampler.sample>;
  try {
    r = sampler.sample(teacher, noise, { returnTrajectory: true, ...(cond === undefined ? {} : { cond }) });
  } catch (e) {
    tf.dispose([noise, ...(image ? [image, imageNoiseSigma!] : [])]);
    throw e;
  }
  const states = r.trajectory!;
  try {
    const kept = ctx.keepTimes.map((t, i) => (i === ctx.keepTimes.length - 1 ? states[states.length - 1]! : states[r.times.indexOf(t)]!));
    const trajectory = tf.stack(kept, 1);
    try {
      const tensors = {
        noise: { dtype: 'F32' as const, shape: noise.shape, data: (await noise.data()) as Float32Array },
        trajectory: { dtype: 'F32' as const, shape: trajectory.shape, data: (await trajectory.data()) as Float32Array },
        final: { dtype: 'F32' as const, shape: r.sample.shape, data: (await r.sample.data()) as Float32Array },
        index: { dtype: 'I32' as const, shape: [end - start], data: Int32Array.from({ length: end - start }, (_, i) => start + i) },
        ...(image && imageNoiseSigma
          ? {
              image: { dtype: 'F32' as const, shape: image.shape, data: (await image.data()) as Float32Array },
              imageNoiseSigma: { dtype: 'F32' as const, shape: imageNoiseSigma.shape, data: (await imageNoiseSigma.data()) as Float32Array },
            }
          : {}),
      };
      const metadata: Record<string, string> = { 'fewstep.times': JSON.stringify(ctx.keepTimes), 'fewstep.teacher': ctx.teacher };
      if (ctx.condition) metadata['fewstep.condition'] = JSON.stringify(conditionRecord(ctx.condition));
      await writeSafetensors(join(dir, c.file), tensors, { metadata });
    } finally {
      trajectory.dispose();
    }
  } finally {
    tf.dispose([noise, r.sample, ...states, ...(image ? [image, imageNoiseSigma!] : [])]);
  }
}

/** The shard's JSON (everything recorded about how its samples were made). */
export function shardMeta<C>(teacher: Denoiser<C>, sampleShape: readonly number[], o: TrajectoryShardOptions, plan: ShardPlan, ctx: ChunkContext): Record<string, unknown> {
  return {
    format: 'fewstep-trajectory-shard',
    version: 1,
    shard: { index: o.shard.index, count: o.shard.count },
    samples: [plan.lo, plan.hi],
    teacher: o.teacher,
    solver: 'ddim (eta 0; Euler on flow matching)',
    solverSteps: o.steps,
    grid: ctx.grid,
    keep: o.keep,
    times: ctx.keepTimes,
    guidance: null,
    schedule: teacher.schedule.toConfig(),
    predictionType: teacher.predictionType,
    seed: o.seed,
    sampleShape: [...sampleShape],
    ...(ctx.condition ? { condition: conditionRecord(ctx.condition) } : {}),
    chunks: plan.chunks.map((c) => c.file),
  };
}

/** Writes the shard's JSON (only once every chunk exists) and rebuilds `index.json`. */
export async function finishShard(out: string, plan: ShardPlan, meta: Record<string, unknown>): Promise<void> {
  const missing = plan.chunks.filter((c) => !chunkDone(plan, c)).map((c) => c.file);
  if (missing.length > 0) {
    throw new FewstepError(
      'E_TRAJECTORY_MISSING',
      `${plan.name}: ${missing.length} chunk file(s) missing after the run (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}); the shard JSON was not written. Fix: re-run the same command, it makes only the missing chunks.`,
    );
  }
  await writeFileAtomic(join(out, `${plan.name}.json`), [new TextEncoder().encode(JSON.stringify(meta, null, 2) + '\n')]);
  await writeIndex(out);
}

/** Writes (or completes) one shard in this process; returns what it holds. */
export async function writeTrajectoryShard<C>(teacher: Denoiser<C>, sampleShape: readonly number[], o: TrajectoryShardOptions): Promise<ShardSummary> {
  const plan = planShard(o);
  await prepareShardDir(plan);
  const { grid, keepTimes } = trajectoryGrid(teacher, o.steps, o.keep);
  const ctx: ChunkContext = { grid, keepTimes, seed: o.seed, teacher: o.teacher, ...(o.condition ? { condition: o.condition } : {}) };
  let written = 0;
  let skipped = 0;
  for (const c of plan.chunks) {
    if (chunkDone(plan, c)) skipped += c.end - c.start;
    else {
      await writeTrajectoryChunk(teacher, sampleShape, plan.dir, c, ctx);
      written += c.end - c.start;
    }
    o.onProgress?.(written + skipped, plan.hi - plan.lo);
  }
  await finishShard(o.out, plan, shardMeta(teacher, sampleShape, o, plan, ctx));
  return { shard: plan.name, samples: [plan.lo, plan.hi], chunks: plan.chunks.map((c) => c.file), written, skipped };
}

/**
 * `index.json`: every finished shard (its JSON) and the samples covered; image-to-video shards
 * also list their `condition`, and the index records it once at the top when every shard agrees.
 */
export async function writeIndex(out: string): Promise<{ shards: number; samples: number }> {
  const shards = readdirSync(out)
    .filter((f) => /^shard-\d+-of-\d+\.json$/.test(f))
    .sort()
    .map((f) => ({ file: f, ...(JSON.parse(readFileSync(join(out, f), 'utf8')) as { samples: [number, number]; chunks: string[]; condition?: { data: string; sigmaAug: number } }) }));
  const samples = shards.reduce((s, x) => s + (x.samples[1] - x.samples[0]), 0);
  const conditions = new Set(shards.map((s) => JSON.stringify(s.condition ?? null)));
  const shared = shards[0]?.condition !== undefined && conditions.size === 1 ? { condition: shards[0].condition } : {};
  const index = {
    format: 'fewstep-trajectories',
    version: 1,
    ...shared,
    shards: shards.map((s) => ({ file: s.file, samples: s.samples, ...(s.condition ? { condition: s.condition } : {}), chunks: s.chunks })),
    samples,
  };
  await writeFileAtomic(join(out, 'index.json'), [new TextEncoder().encode(JSON.stringify(index, null, 2) + '\n')]);
  return { shards: shards.length, samples };
}
