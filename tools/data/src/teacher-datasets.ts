/**
 * @file Datasets distillation recipes read, made from a data distribution or a teacher:
 * `real` batches of exact mixture samples, AccVideo's synthetic teacher trajectories (SynVid,
 * AccVideo Eq. 5) and ADP's ODE pairs (noise, teacher output; ADM paper Sec. 3.3).
 *
 * Image-to-video (issue 10): a `gmm-i2v:` mixture gives `{ x0, image, imageNoiseSigma }` batches
 * (the video, its first frame as the condition, the condition's augmentation level); teacher
 * trajectories and ODE pairs of an image-conditioned teacher are solved under given conditioning
 * frames (`condition`) and record them next to the states: `{ trajectory, image, imageNoiseSigma }`
 * and `{ noise, x0, image, imageNoiseSigma }`, row i solved under condition i. Recipes then see the
 * condition as batch conditioning (`RecipeContext.cond`).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigError,
  GMM_I2V_PREFIX,
  ShapeError,
  ddimSampler,
  generatedDataSource,
  inMemoryDataSource,
  kStepTimesteps,
  randomNormal,
  sampleI2vPairs,
  seededRng,
  type DataSource,
  type Denoiser,
  type GaussianMixture,
} from '@fewstep/core';

/**
 * `real` batches of exact samples of a mixture (batch `(epoch, index)` is a pure function of the
 * seed): `{ x0 }`, or for an image-to-video mixture (`firstFrameCondition`, default: the mixture
 * prints as a `gmm-i2v:` spec) `{ x0, image, imageNoiseSigma }` with `image` = frame 0 of `x0`
 * plus `sigmaAug` noise (`sampleI2vPairs`; default 0, the clean frame).
 */
export function mixtureSource(mixture: GaussianMixture & { toString(): string }, batchSize: number, options: { firstFrameCondition?: boolean; sigmaAug?: number } = {}): DataSource {
  const i2v = options.firstFrameCondition ?? mixture.toString().startsWith(GMM_I2V_PREFIX);
  if (!i2v) {
    if (options.sigmaAug !== undefined) throw new ConfigError('sigmaAug', options.sigmaAug, 'undefined (the batches carry no condition)', 'pass firstFrameCondition: true or a gmm-i2v: mixture');
    return generatedDataSource({
      name: 'data:gmm-video',
      config: { spec: mixture.toString(), batchSize },
      make: (_cursor, rng) => ({ x0: mixture.sample(batchSize, rng).x0 }),
    });
  }
  const sigmaAug = options.sigmaAug ?? 0;
  return generatedDataSource({
    name: 'data:gmm-i2v',
    config: { spec: mixture.toString(), batchSize, sigmaAug },
    make: (_cursor, rng) => {
      const { x0, condition, imageNoiseSigma } = sampleI2vPairs(mixture, batchSize, rng, { sigmaAug });
      return { x0, image: condition, imageNoiseSigma };
    },
  });
}

/** Conditioning frames of a teacher-made dataset: `image` `[n, H, W, C]`, `imageNoiseSigma` `[n]` (default 0). */
type ConditionFrames = { readonly image: tf.Tensor; readonly imageNoiseSigma?: tf.Tensor };

/** The recorded conditions: copies of `image`, and `imageNoiseSigma` (zeros when not given). */
type RecordedCondition = { image: tf.Tensor; imageNoiseSigma: tf.Tensor };

/** Checks the conditions against `n` samples of `sampleShape` `[F, H, W, C]`. */
function checkConditions(c: ConditionFrames, n: number, sampleShape: readonly number[]): void {
  const frame = sampleShape.slice(-3);
  if (c.image.rank !== 4 || c.image.shape[0] !== n || c.image.shape.slice(1).join() !== frame.join()) {
    throw new ShapeError('condition.image', c.image.shape, `[${n}, ${frame.join(', ')}] (one conditioning frame per sample, the samples' frame shape)`);
  }
  if (c.imageNoiseSigma !== undefined && (c.imageNoiseSigma.size !== n || c.imageNoiseSigma.rank !== 1)) {
    throw new ShapeError('condition.imageNoiseSigma', c.imageNoiseSigma.shape, `[${n}]`);
  }
}

/** Rows `[from, from + b)` of the conditions, as the denoiser's conditioning. */
function conditionRows(c: ConditionFrames, from: number, b: number): { image: tf.Tensor; imageNoiseSigma?: tf.Tensor } {
  return tf.tidy(() => ({
    image: tf.slice(c.image, from, b),
    ...(c.imageNoiseSigma === undefined ? {} : { imageNoiseSigma: tf.slice(c.imageNoiseSigma, from, b) }),
  }));
}

function recordConditions(c: ConditionFrames, n: number): RecordedCondition {
  return { image: tf.clone(c.image), imageNoiseSigma: c.imageNoiseSigma === undefined ? tf.zeros([n]) : tf.clone(c.imageNoiseSigma) };
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
  /**
   * Image-to-video teachers: trajectory i is solved under conditioning frame i (`image`
   * `[n, H, W, C]`, already noise-augmented, and its level `imageNoiseSigma` `[n]`); the result
   * then records them (`{ trajectory, image, imageNoiseSigma }`).
   */
  condition?: { readonly image: tf.Tensor; readonly imageNoiseSigma?: tf.Tensor };
}

/**
 * Teacher ODE trajectories (deterministic DDIM = Euler on flow matching) from seeded noise, keeping
 * the states at `keep`: the solver grid is the `solverSteps`-step grid with the kept times added,
 * so every kept state is an exact solver state: noise first (`keep[0]`), the final state last.
 * @returns `[n, keep.length, ...sample]`; with `condition`, `{ trajectory, image, imageNoiseSigma }`
 */
export function teacherTrajectories<C>(teacher: Denoiser<C>, sampleShape: readonly number[], o: TrajectoryOptions & { condition?: undefined }): tf.Tensor;
export function teacherTrajectories<C>(
  teacher: Denoiser<C>,
  sampleShape: readonly number[],
  o: TrajectoryOptions & { condition: { readonly image: tf.Tensor; readonly imageNoiseSigma?: tf.Tensor } },
): { trajectory: tf.Tensor; image: tf.Tensor; imageNoiseSigma: tf.Tensor };
export function teacherTrajectories<C>(teacher: Denoiser<C>, sampleShape: readonly number[], o: TrajectoryOptions): tf.Tensor | ({ trajectory: tf.Tensor } & RecordedCondition) {
  const keep = [...o.keep];
  if (keep.length < 2 || keep.some((t, i) => i > 0 && !(t < keep[i - 1]!))) throw new ConfigError('keep', keep, 'at least two descending model times');
  const end = keep[keep.length - 1]!;
  const base = kStepTimesteps(teacher.schedule, o.solverSteps);
  const grid = [...new Set([...base, ...keep.slice(0, -1)])].filter((t) => t > end && t <= keep[0]!).sort((a, b) => b - a);
  if (grid[0] !== keep[0]) grid.unshift(keep[0]!);
  const sampler = ddimSampler({ steps: grid.length, timesteps: grid, ...(teacher.schedule.time.kind === 'continuous' ? { tEnd: end } : {}) });
  if (o.condition) checkConditions(o.condition, o.n, sampleShape);
  const batch = o.batchSize ?? 64;
  const rng = seededRng(o.seed);
  const parts: tf.Tensor[] = [];
  for (let done = 0; done < o.n; done += batch) {
    const b = Math.min(batch, o.n - done);
    const noise = randomNormal([b, ...sampleShape], rng);
    const cond = o.condition ? conditionRows(o.condition, done, b) : undefined;
    const r = sampler.sample(teacher, noise, { returnTrajectory: true, ...(cond ? { cond: cond as C } : {}) });
    const states = r.trajectory!;
    const picked = keep.map((t, i) => (i === keep.length - 1 ? states[states.length - 1]! : states[r.times.indexOf(t)]!));
    if (picked.some((p) => p === undefined)) throw new Error(`trajectory times ${r.times.join(', ')} miss one of ${keep.join(', ')}`);
    parts.push(tf.stack(picked, 1));
    tf.dispose([noise, r.sample, ...states, ...(cond ? Object.values(cond) : [])]);
    o.onProgress?.(Math.min(o.n, done + b), o.n);
  }
  const out = tf.concat(parts, 0);
  tf.dispose(parts);
  return o.condition ? { trajectory: out, ...recordConditions(o.condition, o.n) } : out;
}

/** Options of {@link teacherOdePairs}. */
export interface OdePairOptions {
  n: number;
  /** Teacher solver steps (deterministic DDIM / Euler). */
  solverSteps: number;
  batchSize?: number;
  seed: number;
  onProgress?: (done: number, total: number) => void;
  /** Image-to-video teachers: pair i is solved under conditioning frame i, recorded in the result (see {@link TrajectoryOptions.condition}). */
  condition?: { readonly image: tf.Tensor; readonly imageNoiseSigma?: tf.Tensor };
}

/**
 * ODE pairs `(noise, teacher(noise))` for ADP: `{ noise, x0 }` each `[n, ...sample]`; with
 * `condition`, also the conditions they were solved under (`image`, `imageNoiseSigma`).
 */
export function teacherOdePairs<C>(teacher: Denoiser<C>, sampleShape: readonly number[], o: OdePairOptions & { condition?: undefined }): { noise: tf.Tensor; x0: tf.Tensor };
export function teacherOdePairs<C>(
  teacher: Denoiser<C>,
  sampleShape: readonly number[],
  o: OdePairOptions & { condition: { readonly image: tf.Tensor; readonly imageNoiseSigma?: tf.Tensor } },
): { noise: tf.Tensor; x0: tf.Tensor; image: tf.Tensor; imageNoiseSigma: tf.Tensor };
export function teacherOdePairs<C>(teacher: Denoiser<C>, sampleShape: readonly number[], o: OdePairOptions): { noise: tf.Tensor; x0: tf.Tensor } | ({ noise: tf.Tensor; x0: tf.Tensor } & RecordedCondition) {
  const sampler = ddimSampler({ steps: o.solverSteps, spacing: teacher.schedule.time.kind === 'discrete' ? 'trailing' : 'uniform' });
  if (o.condition) checkConditions(o.condition, o.n, sampleShape);
  const batch = o.batchSize ?? 64;
  const rng = seededRng(o.seed);
  const noises: tf.Tensor[] = [];
  const outs: tf.Tensor[] = [];
  for (let done = 0; done < o.n; done += batch) {
    const b = Math.min(batch, o.n - done);
    const noise = randomNormal([b, ...sampleShape], rng);
    noises.push(noise);
    const cond = o.condition ? conditionRows(o.condition, done, b) : undefined;
    outs.push(sampler.sample(teacher, noise, cond ? { cond: cond as C } : {}).sample);
    if (cond) tf.dispose(Object.values(cond));
    o.onProgress?.(Math.min(o.n, done + b), o.n);
  }
  const out = { noise: tf.concat(noises, 0), x0: tf.concat(outs, 0), ...(o.condition ? recordConditions(o.condition, o.n) : {}) };
  tf.dispose([...noises, ...outs]);
  return out;
}

/** An in-memory source over teacher-made tensors (shuffled per epoch, resumable cursor). */
export function tensorSource(name: string, tensors: tf.NamedTensorMap, batchSize: number): DataSource {
  return inMemoryDataSource({ name, tensors, batchSize });
}
