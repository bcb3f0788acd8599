/**
 * @file Datasets distillation recipes read, made from a data distribution or a teacher:
 * `real` batches of exact mixture samples, AccVideo's synthetic teacher trajectories (SynVid,
 * AccVideo Eq. 5) and ADP's ODE pairs (noise, teacher output; ADM paper Sec. 3.3).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ddimSampler, generatedDataSource, inMemoryDataSource, kStepTimesteps, randomNormal, seededRng, type DataSource, type Denoiser, type GaussianMixture } from '@fewstep/core';

/** `real` batches `{ x0 }` of exact samples of a mixture (batch `(epoch, index)` is a pure function of the seed). */
export function mixtureSource(mixture: GaussianMixture & { toString(): string }, batchSize: number): DataSource {
  return generatedDataSource({
    name: 'data:gmm-video',
    config: { spec: mixture.toString(), batchSize },
    make: (_cursor, rng) => ({ x0: mixture.sample(batchSize, rng).x0 }),
  });
}

/** Options of {@link teacherTrajectories}. */
export interface TrajectoryOptions {
  /** Number of trajectories. */
  n: number;
  /** Model times to keep, descending, first = the noise end (AccVideo's key timesteps t'_5..t'_0). */
  keep: readonly number[];
  /** Solver steps of the teacher's grid (AccVideo: 50 Euler steps); the kept times are inserted into it. */
  solverSteps: number;
  /** Samples per solver call. */
  batchSize?: number;
  seed: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Teacher ODE trajectories (deterministic DDIM = Euler on flow matching) from seeded noise, keeping
 * the states at `keep`: the solver grid is the `solverSteps`-step grid with the kept times added,
 * so every kept state is an exact solver state. @returns `[n, keep.length, ...sample]`
 */
export function teacherTrajectories<C>(teacher: Denoiser<C>, sampleShape: readonly number[], o: TrajectoryOptions): tf.Tensor {
  const keep = [...o.keep];
  if (keep.length < 2 || keep.some((t, i) => i > 0 && !(t < keep[i - 1]!))) throw new ConfigError('keep', keep, 'at least two descending model times');
  const end = keep[keep.length - 1]!;
  const base = kStepTimesteps(teacher.schedule, o.solverSteps);
  const grid = [...new Set([...base, ...keep.slice(0, -1)])].filter((t) => t > end && t <= keep[0]!).sort((a, b) => b - a);
  if (grid[0] !== keep[0]) grid.unshift(keep[0]!);
  const sampler = ddimSampler({ steps: grid.length, timesteps: grid, ...(teacher.schedule.time.kind === 'continuous' ? { tEnd: end } : {}) });
  const batch = o.batchSize ?? 64;
  const rng = seededRng(o.seed);
  const parts: tf.Tensor[] = [];
  for (let done = 0; done < o.n; done += batch) {
    const b = Math.min(batch, o.n - done);
    const noise = randomNormal([b, ...sampleShape], rng);
    const r = sampler.sample(teacher, noise, { returnTrajectory: true });
    const states = r.trajectory!;
    const picked = keep.map((t, i) => (i === keep.length - 1 ? states[states.length - 1]! : states[r.times.indexOf(t)]!));
    if (picked.some((p) => p === undefined)) throw new Error(`trajectory times ${r.times.join(', ')} miss one of ${keep.join(', ')}`);
    parts.push(tf.stack(picked, 1));
    tf.dispose([noise, r.sample, ...states]);
    o.onProgress?.(Math.min(o.n, done + b), o.n);
  }
  const out = tf.concat(parts, 0);
  tf.dispose(parts);
  return out;
}

/** Options of {@link teacherOdePairs}. */
export interface OdePairOptions {
  n: number;
  /** Teacher solver steps (deterministic DDIM / Euler). */
  solverSteps: number;
  batchSize?: number;
  seed: number;
  onProgress?: (done: number, total: number) => void;
}

/** ODE pairs `(noise, teacher(noise))` for ADP: `{ noise, x0 }` each `[n, ...sample]`. */
export function teacherOdePairs<C>(teacher: Denoiser<C>, sampleShape: readonly number[], o: OdePairOptions): { noise: tf.Tensor; x0: tf.Tensor } {
  const sampler = ddimSampler({ steps: o.solverSteps, spacing: teacher.schedule.time.kind === 'discrete' ? 'trailing' : 'uniform' });
  const batch = o.batchSize ?? 64;
  const rng = seededRng(o.seed);
  const noises: tf.Tensor[] = [];
  const outs: tf.Tensor[] = [];
  for (let done = 0; done < o.n; done += batch) {
    const b = Math.min(batch, o.n - done);
    const noise = randomNormal([b, ...sampleShape], rng);
    noises.push(noise);
    outs.push(sampler.sample(teacher, noise).sample);
    o.onProgress?.(Math.min(o.n, done + b), o.n);
  }
  const out = { noise: tf.concat(noises, 0), x0: tf.concat(outs, 0) };
  tf.dispose([...noises, ...outs]);
  return out;
}

/** An in-memory source over teacher-made tensors (shuffled per epoch, resumable cursor). */
export function tensorSource(name: string, tensors: tf.NamedTensorMap, batchSize: number): DataSource {
  return inMemoryDataSource({ name, tensors, batchSize });
}
