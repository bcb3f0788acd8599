/**
 * @file AccVideo (Zhang et al. 2025, "AccVideo: Accelerating Video Diffusion Model with Synthetic
 * Dataset"): trajectory-based few-step guidance (Eq. 6) plus adversarial training on the teacher's
 * intermediate data distributions (Eq. 7-8), following Algorithm 1.
 *
 * Data (`trajectories`): `trajectory` `[B, m + 1, F, H, W, C]`, the teacher's ODE states
 * `l'_{t'_m}, ..., l'_{t'_0}` at the key timesteps `t'_m = 1 > ... > t'_0 = 0` (noise first, clean
 * last; {@link accVideoTrajectoryTimes} tells a data generator which times to keep).
 *
 * Each step takes one segment k in [0, m) (Algorithm 1 line 5 cycles k = m-1, ..., 0; `segmentOrder:
 * 'random'` draws it uniformly, Eq. 6's E_k) and
 * - Eq. 6: regresses the student velocity `s_beta(l'_{t'_{k+1}}, t'_{k+1})` to the secant
 *   `(l'_{t'_k} - l'_{t'_{k+1}}) / (t'_k - t'_{k+1})` (`trajectoryLoss`, @fewstep/loss-consistency);
 * - Algorithm 1 lines 11-17: pushes fresh noise z into `Q_m` when k = m-1, pops `B` states
 *   `l^gen_{t'_{k+1}}` from `Q_{k+1}`, takes one student Euler step (Eq. 5) to `l^gen_{t'_k}` (with
 *   gradient) and pushes its values into `Q_k` ({@link LatentQueues}, checkpointed with the run);
 * - Eq. 7-8: `D(l, t'_k) = H_k(v_theta(l, t'_k))`, the frozen teacher as a noise-aware feature
 *   extractor (its last tap for t'_k > 0, an earlier tap for t'_k = 0: the paper's 60th / 40th of
 *   60 layers) and m timestep-aware 2D heads H_k (`timestepAwareHeads`, @fewstep/loss-adversarial);
 *   real = `l'_{t'_k}` of the batch, fake = `l^gen_{t'_k}`.
 * Total `L_traj + lambda_adv L_adv` for the student; the heads phase trains H_k with
 * `lambda_adv L_adv` on the same fake states (the newest B of `Q_k`).
 *
 * Choices where the paper is silent (ours): Eq. 7's GAN in logits with the non-saturating
 * generator loss (`logisticGeneratorLoss`; `logisticDiscriminatorLoss` for the heads); the queue
 * capacity (in samples; a capacity below the batch size is a ConfigError at the first step); when
 * `Q_{k+1}` holds fewer than B states (with `segmentOrder: 'random'`; the cycle never finds it
 * empty) the student is simulated from the batch's own noise `l'_{t'_m}` down to `t'_{k+1}` (no
 * gradient) instead; with conditioning (text prompts, image-to-video conditioning frames) the
 * queues are bypassed the same way, since they hold latents only and a queued state must be
 * continued under its own condition (Algorithm 1 line 12 pushes each state as a tuple with the
 * rest of its sample). Image-to-video: the trajectories record the condition they were solved
 * under (`{ trajectory, image, imageNoiseSigma }` batches, see @fewstep/data's
 * `teacherTrajectories`), which reaches the student's steps and the teacher-feature critic through
 * `rc.cond` (stacked for the critic's `[real; fake]` pass). Velocity: for flow-matching teachers with
 * flow prediction the network output itself (`eps - x0 = dx/dt`); for other continuous schedules
 * the secant of the student's DDIM step over the segment. The key timesteps are model times in
 * [0, 1]: discrete-time (VP, T = 1000) teachers are rejected (the student spec's grid could not
 * name their times).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  ACCVIDEO_KEY_TIMESTEPS,
  ACCVIDEO_UNIFORM_TIMESTEPS,
  ConfigError,
  Network,
  ShapeError,
  predictX0Eps,
  streamRng,
  type Denoiser,
  type NoiseSchedule,
} from '@fewstep/core';
import { trajectoryLoss, type TrajectoryLossInputs } from '@fewstep/loss-consistency';
import { logisticDiscriminatorLoss, logisticGeneratorLoss, timestepAwareHeads, type TimestepAwareHeads } from '@fewstep/loss-adversarial';
import { defineRecipe, phase, use, type TermOptions } from '../runtime/define-recipe.js';
import { conditioningForBatch } from '../runtime/conditioning.js';
import { modelTaps, type BackboneLike, type Conditioning, type DiffusionModel } from '../runtime/diffusion-model.js';
import { detach, type RecipeContext } from '../runtime/recipe-context.js';
import { customRole, fromTeacher, type RoleSpec } from '../runtime/roles.js';
import type { StudentSpec } from '../runtime/student.js';
import { LatentQueues, latentQueuesRole } from './latent-queues.js';

export const ACCVIDEO_TIMESTEP_LISTS = ['key', 'uniform'] as const;
export type AccVideoTimestepList = (typeof ACCVIDEO_TIMESTEP_LISTS)[number];
export type AccVideoSegmentOrder = 'cycle' | 'random';

export const accVideoOptions = z.strictObject({
  /** Key timesteps 1, 0.9651, 0.9130, 0.8235, 0.6363, 0 (Sec. 4.2) or the ablation's uniform grid (Table 4). */
  timesteps: z.enum(ACCVIDEO_TIMESTEP_LISTS).default('key'),
  /** lambda_adv, the weight of the adversarial loss (Sec. 5: 0.1). */
  lambdaAdv: z.number().min(0).default(0.1),
  /** AdamW learning rate of the student (Sec. 5: 5e-6). */
  lr: z.number().positive().default(5e-6),
  /** AdamW learning rate of the projection heads (Sec. 5: 5e-6, one optimizer setting for both). */
  headsLr: z.number().positive().default(5e-6),
  /** AdamW weight decay (the paper is silent: torch's default 0.01). */
  weightDecay: z.number().min(0).default(0.01),
  /** Segment k per step: Algorithm 1's loop k = m-1, ..., 0 (`cycle`) or uniform (`random`). */
  segmentOrder: z.enum(['cycle', 'random']).default('cycle'),
  /** Capacity of each latent queue, in samples (paper silent; 32 = its total batch). Must be >= the batch size. */
  queueCapacity: z.number().int().min(1).default(32),
  /** Widths of each head's 4x4 stride-2 blocks (paper: "a 2D convolutional neural network"). */
  headChannels: z.array(z.number().int().min(1)).min(1).default([64, 64]),
  /** Teacher tap for t'_k > 0. @default the last tap (paper: the final, 60th layer) */
  tapNoisy: z.string().min(1).optional(),
  /** Teacher tap for t'_k = 0. @default the tap at 2/3 of the depth (paper: the 40th of 60 layers) */
  tapClean: z.string().min(1).optional(),
});
export type AccVideoOptions = z.infer<typeof accVideoOptions>;

/**
 * The trajectory times `t'_m = 1 > ... > t'_0 = 0` the recipe trains on: the data generator keeps
 * the teacher's ODE states at exactly these times (noise first).
 */
export function accVideoTrajectoryTimes(options: { timesteps?: AccVideoTimestepList } = {}): number[] {
  const list = options.timesteps ?? 'key';
  if (list === 'key') return [...ACCVIDEO_KEY_TIMESTEPS];
  if (list === 'uniform') return [...ACCVIDEO_UNIFORM_TIMESTEPS];
  throw new ConfigError('timesteps', list, ACCVIDEO_TIMESTEP_LISTS.join(', '));
}

/** The m-step ODE student on the key (or uniform) grid without its final 0 (5 steps, Sec. 4.2). */
export function accVideoStudent(options: { timesteps?: AccVideoTimestepList }): StudentSpec {
  const times = accVideoTrajectoryTimes(options);
  return { parameterization: 'velocity', sampler: 'ode', steps: times.length - 1, timesteps: times.slice(0, -1) };
}

/** AccVideo's times are model times in [0, 1]: flow matching (the paper) or continuous VP. */
export function checkAccVideoSchedule(schedule: NoiseSchedule): void {
  if (schedule.time.kind !== 'continuous' || schedule.tMin !== 0 || schedule.tMax !== 1) {
    throw new ConfigError(
      'teacher.schedule',
      schedule.type,
      'a continuous-time schedule on [0, 1] (flow matching, as the paper\'s HunyuanVideo)',
      "AccVideo's key timesteps are model times in [0, 1]; distill a flow-matching teacher",
    );
  }
}

/** One trajectory segment: k, the trajectory indices of `t'_{k+1}` (from) and `t'_k` (to), and the times. */
export interface AccVideoSegment {
  readonly k: number;
  readonly m: number;
  readonly iFrom: number;
  readonly iTo: number;
  readonly tFrom: number;
  readonly tTo: number;
}

/**
 * The step's segment k. `cycle`: `k = m - 1 - (step mod m)` (Algorithm 1 line 5); `random`: uniform
 * from a stream keyed by the step only, so every phase of the step sees the same k.
 */
export function accVideoSegment(rc: RecipeContext<any>, times: readonly number[], order: AccVideoSegmentOrder): AccVideoSegment {
  const m = times.length - 1;
  const k = order === 'cycle' ? m - 1 - (rc.step % m) : Math.floor(streamRng(rc.seed, rc.step, 'accvideo/segment')() * m);
  return { k, m, iFrom: m - k - 1, iTo: m - k, tFrom: times[m - k - 1]!, tTo: times[m - k]! };
}

/** The batch's trajectory `[B, m + 1, ...sampleShape]` (checked against the times). */
export function trajectoryBatch(rc: RecipeContext<any>, times: readonly number[]): tf.Tensor {
  const traj = rc.data('trajectory');
  const want = [times.length, ...rc.sampleShape];
  if (traj.rank !== want.length + 1 || traj.shape.slice(1).join(',') !== want.join(',')) {
    throw new ShapeError('batch trajectory', traj.shape, `[B, ${want.join(', ')}] (states at ${times.join(', ')}, noise first)`, 'generate the trajectories at accVideoTrajectoryTimes(options)');
  }
  return traj;
}

/** Trajectory state `i` of every sample `[B, ...sampleShape]`. */
export function trajectoryState(traj: tf.Tensor, i: number): tf.Tensor {
  return tf.tidy(() => tf.squeeze(tf.slice(traj, [0, i], [-1, 1]), [1]));
}

/**
 * The student velocity `dx/dt` at `(x, t)` for a step to `tNext`: the raw output of a flow-matching
 * flow-prediction network (`eps - x0`), else the secant of the DDIM step `(x_{t'} - x_t) / (t' - t)`.
 */
export function studentVelocity(denoiser: Denoiser<Conditioning>, x: tf.Tensor, t: number, tNext: number, cond?: Conditioning): tf.Tensor {
  return tf.tidy(() => {
    if (denoiser.predictionType === 'flow' && denoiser.schedule.type === 'flow-matching') return denoiser.predict(x, tf.fill([x.shape[0]!], t), cond);
    const { x0, eps } = predictX0Eps(denoiser, x, t, cond === undefined ? {} : { cond });
    const s = denoiser.schedule;
    return tf.div(tf.sub(tf.add(tf.mul(x0, s.alpha(tNext)), tf.mul(eps, s.sigma(tNext))), x), tNext - t);
  });
}

/** One student Euler step (AccVideo Eq. 5): `x + (t' - t) v`. Differentiable through the student. */
export function studentStep(denoiser: Denoiser<Conditioning>, x: tf.Tensor, t: number, tNext: number, cond?: Conditioning): tf.Tensor {
  return tf.tidy(() => tf.add(x, tf.mul(studentVelocity(denoiser, x, t, tNext, cond), tNext - t)));
}

/** Runs the student (no gradient) from `x` at `times[from]` to `times[to]`; the caller owns the result. */
export function simulateStudent(rc: RecipeContext<any>, x: tf.Tensor, times: readonly number[], from: number, to: number): tf.Tensor {
  const g = rc.denoiser(rc.studentRole);
  let cur = detach(x);
  for (let i = from; i < to; i++) {
    const next = tf.tidy(() => detach(studentStep(g, cur, times[i]!, times[i + 1]!, rc.cond)));
    cur.dispose();
    cur = next;
  }
  return cur;
}

/** Options the trajectory term reads (AccVideo and the hybrids built on its data). */
export type AccVideoTrajectoryOptions = { timesteps: AccVideoTimestepList; segmentOrder: AccVideoSegmentOrder };

/** Inputs of `trajectoryLoss` (AccVideo Eq. 6) on the step's segment: `use(trajectoryLoss, accVideoTrajectoryInputs)`. */
export function accVideoTrajectoryInputs(rc: RecipeContext<AccVideoTrajectoryOptions>): TrajectoryLossInputs {
  const times = accVideoTrajectoryTimes(rc.options);
  const { iFrom, iTo, tFrom, tTo } = accVideoSegment(rc, times, rc.options.segmentOrder);
  const traj = trajectoryBatch(rc, times);
  const latentFrom = trajectoryState(traj, iFrom);
  const latentTo = trajectoryState(traj, iTo);
  const velocity = studentVelocity(rc.denoiser(rc.studentRole), latentFrom, tFrom, tTo, rc.cond);
  return { velocity, latentFrom, latentTo, tFrom, tTo };
}

/** The default discriminator taps: the last tap (t > 0) and the tap at 2/3 of the depth (t = 0). */
export function accVideoTaps(backbone: BackboneLike, options: { tapNoisy?: string | undefined; tapClean?: string | undefined }): { tapNoisy: string; tapClean: string } {
  const names = backbone.tapNames();
  if (names.length === 0) throw new ConfigError('teacher taps', names, 'a backbone exposing intermediate taps', 'use a fewstep VideoDiT / VideoUNet teacher');
  const tapNoisy = options.tapNoisy ?? names[names.length - 1]!;
  const tapClean = options.tapClean ?? names[Math.max(0, Math.round((2 / 3) * names.length) - 1)]!;
  for (const [field, tap] of [['tapNoisy', tapNoisy], ['tapClean', tapClean]] as const) {
    if (!names.includes(tap)) throw new ConfigError(field, tap, `one of the teacher's taps: ${names.join(', ')}`);
  }
  return { tapNoisy, tapClean };
}

/**
 * Channel counts of the teacher's `taps` (one probe forward on zeros; conditioning inputs are
 * zero-filled from the backbone config's `contextDim` / `pooledDim` / `guidanceEmbedding` when present).
 */
export function teacherTapChannels(teacher: DiffusionModel, sampleShape: readonly number[], taps: readonly string[]): number[] {
  const cfg = (teacher.backbone.toConfig() ?? {}) as Record<string, unknown>;
  return tf.tidy(() => {
    const cond: Record<string, tf.Tensor> = {};
    if (typeof cfg.contextDim === 'number') cond.context = tf.zeros([1, 1, cfg.contextDim]);
    if (typeof cfg.pooledDim === 'number') cond.pooled = tf.zeros([1, cfg.pooledDim]);
    if (cfg.guidanceEmbedding === true) cond.guidanceScale = tf.zeros([1]);
    const out = modelTaps(teacher, teacher.backbone, tf.zeros([1, ...sampleShape]), tf.fill([1], 0.5), [...taps], cond);
    return taps.map((n) => out[n]!.shape[out[n]!.rank - 1]!);
  });
}

/**
 * Frozen-teacher features `name -> [N, ...]` at `(x, t)` (model time t, the batch's conditioning;
 * for `x = concat([real, fake])` the conditioning is stacked to match: `conditioningForBatch`).
 */
export function teacherFeatures(rc: RecipeContext<any>, x: tf.Tensor, t: number | tf.Tensor, taps: readonly string[]): Record<string, tf.Tensor> {
  return tf.tidy(() => modelTaps(rc.teacherModel, rc.teacherModel.backbone, x, typeof t === 'number' ? tf.fill([x.shape[0]!], t) : t, [...taps], conditioningForBatch(rc.cond, x.shape[0]!)));
}

/** What the `discriminator` role offers: the m timestep-aware heads and the taps they read. */
export interface AccVideoDiscriminator {
  readonly heads: TimestepAwareHeads;
  readonly tapNoisy: string;
  readonly tapClean: string;
}

/** The heads H_0..H_{m-1} (one {@link timestepAwareHeads} network) on the frozen teacher's taps. */
export function accVideoDiscriminatorRole(): RoleSpec<AccVideoOptions> {
  return customRole<AccVideoOptions, AccVideoDiscriminator>((env) => {
    checkAccVideoSchedule(env.teacher.schedule);
    const m = accVideoTrajectoryTimes(env.options).length - 1;
    const { tapNoisy, tapClean } = accVideoTaps(env.teacher.backbone, env.options);
    const [cNoisy, cClean] = teacherTapChannels(env.teacher, env.sampleShape, [tapNoisy, tapClean]);
    if (cNoisy !== cClean) throw new ConfigError('tapClean', tapClean, `a tap with ${cNoisy} channels like tapNoisy '${tapNoisy}' (found ${cClean})`, 'pick taps of one width');
    const net = new Network(env.role, { seed: env.seed });
    return { net, api: { heads: timestepAwareHeads(net, 'heads', { inChannels: cNoisy!, channels: env.options.headChannels, heads: m }), tapNoisy, tapClean } };
  });
}

/** `D(l, t'_k) = H_k(v_theta(l, t'_k))` (Eq. 8): logits `[B, F, h, w, 1]` of the states `l` at `t'_k`. */
export function accVideoLogits(rc: RecipeContext<AccVideoOptions>, x: tf.Tensor, segment: AccVideoSegment): tf.Tensor {
  const d = rc.api<AccVideoDiscriminator>('discriminator');
  const tap = segment.tTo === 0 ? d.tapClean : d.tapNoisy;
  return tf.tidy(() => d.heads.forward(teacherFeatures(rc, x, segment.tTo, [tap])[tap]!, new Array<number>(x.shape[0]!).fill(segment.k)));
}

/**
 * `{ weight }` options of a term whose loss has no options (`LogisticOptions` is
 * `Record<string, never>`, which `Partial<O> & TermOptions` cannot satisfy with a weight).
 */
export function weightOnly<R, O>(weight: (o: R) => number): (o: R) => Partial<O> & TermOptions {
  return (o) => ({ weight: weight(o) }) as TermOptions as Partial<O> & TermOptions;
}

function queuesFor(rc: RecipeContext<AccVideoOptions>, batch: number): LatentQueues | undefined {
  if (rc.cond !== undefined) return undefined; // latents-only queues cannot keep each state's prompt
  const queues = rc.api<LatentQueues>('latentQueues');
  if (batch > queues.capacity) throw new ConfigError('queueCapacity', queues.capacity, `>= the batch size ${batch}`, `set queueCapacity: ${batch} or more`);
  return queues;
}

/** Generator side of Algorithm 1 lines 11-17: `l^gen_{t'_k}` (differentiable in the last step), pushed to Q_k. */
export function accVideoFakeStates(rc: RecipeContext<AccVideoOptions>, segment: AccVideoSegment): tf.Tensor {
  const times = accVideoTrajectoryTimes(rc.options);
  const traj = trajectoryBatch(rc, times);
  const b = traj.shape[0]!;
  const queues = queuesFor(rc, b);
  if (queues !== undefined && segment.k === segment.m - 1) queues.push(segment.m, rc.randomNormal([b, ...rc.sampleShape], 'accvideo/z'));
  // Fallback (see the file comment): simulate the student from the batch's noise l'_{t'_m}.
  const from = queues?.pop(segment.k + 1, b) ?? simulateStudent(rc, trajectoryState(traj, 0), times, 0, segment.iFrom);
  const fake = studentStep(rc.denoiser(rc.studentRole), from, segment.tFrom, segment.tTo, rc.cond);
  from.dispose();
  queues?.push(segment.k, fake);
  return fake;
}

export const accVideo = defineRecipe<AccVideoOptions>({
  name: 'recipe:accvideo',
  description: 'AccVideo: trajectory-based few-step guidance on teacher ODE states plus timestep-aware adversarial training with latent queues',
  paper: 'AccVideo (Zhang et al. 2025) Algorithm 1, Eq. 5-8',
  schema: accVideoOptions,
  presets: { paper: {}, tiny: { lr: 2e-4, headsLr: 2e-4, headChannels: [32], queueCapacity: 64 } },
  data: 'trajectories',
  roles: { generator: fromTeacher(), discriminator: accVideoDiscriminatorRole(), latentQueues: latentQueuesRole((o: AccVideoOptions) => ({ queues: accVideoTrajectoryTimes(o).length, capacity: o.queueCapacity })) },
  phases: [
    phase<AccVideoOptions>(
      'generator',
      [
        use(trajectoryLoss, accVideoTrajectoryInputs),
        use(
          logisticGeneratorLoss,
          (rc: RecipeContext<AccVideoOptions>) => {
            const segment = accVideoSegment(rc, accVideoTrajectoryTimes(rc.options), rc.options.segmentOrder);
            const fake = accVideoFakeStates(rc, segment);
            return { fakeLogits: () => accVideoLogits(rc, fake, segment) };
          },
          weightOnly((o: AccVideoOptions) => o.lambdaAdv),
        ),
      ],
      { optimizer: (o) => ({ type: 'adamw', lr: o.lr, weightDecay: o.weightDecay }) },
    ),
    phase<AccVideoOptions>(
      'discriminator',
      [
        use(
          logisticDiscriminatorLoss,
          (rc: RecipeContext<AccVideoOptions>) => {
            const times = accVideoTrajectoryTimes(rc.options);
            const segment = accVideoSegment(rc, times, rc.options.segmentOrder);
            const traj = trajectoryBatch(rc, times);
            const b = traj.shape[0]!;
            const real = trajectoryState(traj, segment.iTo);
            // The states the generator phase of this step pushed to Q_k (computed before its update).
            const fake = queuesFor(rc, b)?.newest(segment.k, b) ?? simulateStudent(rc, trajectoryState(traj, 0), times, 0, segment.iTo);
            // One teacher pass on [real; fake] (inside the phase's gradient closure: the heads get gradients).
            const logits = accVideoLogits(rc, tf.concat([real, fake], 0), segment);
            return { realLogits: tf.slice(logits, 0, b), fakeLogits: tf.slice(logits, b, b) };
          },
          weightOnly((o: AccVideoOptions) => o.lambdaAdv),
        ),
      ],
      { optimizer: (o) => ({ type: 'adamw', lr: o.headsLr, weightDecay: o.weightDecay }) },
    ),
  ],
  student: accVideoStudent,
});
