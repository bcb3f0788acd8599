/**
 * @file `fewstep trajectories`: the SynVid-style synthetic dataset (AccVideo Eq. 5) of teacher ODE
 * trajectories, in self-describing shards. Sample `j`'s noise is a pure function of `(seed, j)`, so
 * any chunk of any shard can be (re)made alone: a shard is a folder of chunk files written
 * atomically, a re-run skips the chunks that exist (a killed run loses at most the chunk in
 * flight, and never duplicates or drops a sample), and `index.json` lists every chunk of every
 * finished shard. The same files are ADP's ODE pairs (`noise`, `final`).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  ACCVIDEO_KEY_TIMESTEPS,
  ConfigError,
  ddimSampler,
  deriveSeed,
  kStepTimesteps,
  randomNormal,
  seededRng,
  writeFileAtomic,
  writeSafetensors,
  type Denoiser,
} from '@fewstep/core';

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
  onProgress?: (done: number, total: number) => void;
}

export interface ShardSummary {
  shard: string;
  samples: [number, number];
  chunks: string[];
  written: number;
  skipped: number;
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

/** Writes (or completes) one shard; returns what it holds. */
export async function writeTrajectoryShard<C>(teacher: Denoiser<C>, sampleShape: readonly number[], o: TrajectoryShardOptions): Promise<ShardSummary> {
  const { index, count } = o.shard;
  const lo = Math.floor((o.n * index) / count);
  const hi = Math.floor((o.n * (index + 1)) / count);
  const name = `shard-${String(index).padStart(5, '0')}-of-${String(count).padStart(5, '0')}`;
  const dir = join(o.out, name);
  await mkdir(dir, { recursive: true });
  const { grid, keepTimes } = trajectoryGrid(teacher, o.steps, o.keep);
  const sampler = ddimSampler({ steps: grid.length, timesteps: grid });
  const chunks: string[] = [];
  let written = 0;
  let skipped = 0;
  for (let start = lo; start < hi; start += o.chunk) {
    const end = Math.min(hi, start + o.chunk);
    const file = `chunk-${String(start).padStart(8, '0')}-${String(end).padStart(8, '0')}.safetensors`;
    chunks.push(file);
    if (existsSync(join(dir, file))) {
      skipped += end - start;
      o.onProgress?.(written + skipped, hi - lo);
      continue;
    }
    const noise = tf.tidy(() => tf.concat(Array.from({ length: end - start }, (_, i) => randomNormal([1, ...sampleShape], seededRng(deriveSeed(o.seed, `trajectory/${start + i}`)))), 0));
    const r = sampler.sample(teacher, noise, { returnTrajectory: true });
    const states = r.trajectory!;
    const kept = keepTimes.map((t, i) => (i === keepTimes.length - 1 ? states[states.length - 1]! : states[r.times.indexOf(t)]!));
    const trajectory = tf.stack(kept, 1);
    const tensors = {
      noise: { dtype: 'F32' as const, shape: noise.shape, data: (await noise.data()) as Float32Array },
      trajectory: { dtype: 'F32' as const, shape: trajectory.shape, data: (await trajectory.data()) as Float32Array },
      final: { dtype: 'F32' as const, shape: r.sample.shape, data: (await r.sample.data()) as Float32Array },
      index: { dtype: 'I32' as const, shape: [end - start], data: Int32Array.from({ length: end - start }, (_, i) => start + i) },
    };
    await writeSafetensors(join(dir, file), tensors, { metadata: { 'fewstep.times': JSON.stringify(keepTimes), 'fewstep.teacher': o.teacher } });
    tf.dispose([noise, trajectory, r.sample, ...states]);
    written += end - start;
    o.onProgress?.(written + skipped, hi - lo);
  }
  const meta = {
    format: 'fewstep-trajectory-shard',
    version: 1,
    shard: { index, count },
    samples: [lo, hi],
    teacher: o.teacher,
    solver: 'ddim (eta 0; Euler on flow matching)',
    solverSteps: o.steps,
    grid,
    keep: o.keep,
    times: keepTimes,
    guidance: null,
    schedule: teacher.schedule.toConfig(),
    predictionType: teacher.predictionType,
    seed: o.seed,
    sampleShape: [...sampleShape],
    chunks,
  };
  await writeFileAtomic(join(o.out, `${name}.json`), [new TextEncoder().encode(JSON.stringify(meta, null, 2) + '\n')]);
  await writeIndex(o.out);
  return { shard: name, samples: [lo, hi], chunks, written, skipped };
}

/** `index.json`: every finished shard (its JSON) and the samples covered. */
export async function writeIndex(out: string): Promise<{ shards: number; samples: number }> {
  const shards = readdirSync(out)
    .filter((f) => /^shard-\d+-of-\d+\.json$/.test(f))
    .sort()
    .map((f) => ({ file: f, ...(JSON.parse(readFileSync(join(out, f), 'utf8')) as { samples: [number, number]; chunks: string[] }) }));
  const samples = shards.reduce((s, x) => s + (x.samples[1] - x.samples[0]), 0);
  await writeFile(join(out, 'index.json'), JSON.stringify({ format: 'fewstep-trajectories', version: 1, shards: shards.map((s) => ({ file: s.file, samples: s.samples, chunks: s.chunks })), samples }, null, 2) + '\n');
  return { shards: shards.length, samples };
}
