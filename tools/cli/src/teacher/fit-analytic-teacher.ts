/**
 * @file Fits a teacher network to an analytic denoiser (the exact posterior of a Gaussian-mixture
 * video distribution): `min E_{x0, eps, t} || F_theta(x_t, t) - F*(x_t, t) ||^2` with `F*` the
 * exact prediction of the teacher's type at `x_t = alpha_t x0 + sigma_t eps`. The targets have no
 * noise (unlike denoising score matching), so a small network gets close to the exact teacher in
 * a few hundred steps; the distillation pipeline then runs on a learned network exactly as with a
 * trained teacher, while evaluation uses the exact distribution.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  flowMatchingSchedule,
  forwardDiffuse,
  lossTerm,
  mixtureDenoiser,
  predictAs,
  startRun,
  vpDiscreteSchedule,
  GaussianMixture,
  type DataSource,
  type TrainingPlugin,
  type TrainingRun,
} from '@fewstep/core';
import { VideoDiT, VideoUNet } from '@fewstep/backbones';
import { modelDenoiser, type BackboneLike, type DiffusionModel } from '@fewstep/recipes';
import { mixtureSource } from '@fewstep/data';

export type TeacherBackboneName = 'video-dit' | 'video-unet';
export const TEACHER_BACKBONES: readonly TeacherBackboneName[] = ['video-dit', 'video-unet'];

/** A fresh teacher network for a sample shape `[F, H, W, C]`: flow matching + flow prediction (default) or VP + epsilon. */
export function createTeacher(backbone: TeacherBackboneName, preset: string, sampleShape: readonly number[], options: { seed: number; schedule?: 'flow' | 'vp' }): DiffusionModel {
  const C = sampleShape[3] as number;
  const b =
    backbone === 'video-dit'
      ? VideoDiT.preset(preset, { inChannels: C, outChannels: C, contextDim: null, pooledDim: null, seed: options.seed } as never)
      : VideoUNet.preset(preset, { inChannels: C, outChannels: C, contextDim: null, seed: options.seed } as never);
  return options.schedule === 'vp'
    ? { backbone: b as unknown as BackboneLike, schedule: vpDiscreteSchedule({ betaSchedule: 'scaled_linear' }), predictionType: 'epsilon' }
    : { backbone: b as unknown as BackboneLike, schedule: flowMatchingSchedule(), predictionType: 'flow' };
}

/** A mixture with a printable spec (a `gmm-video:` mixture, or {@link frameMarginalMixture}). */
export type NamedMixture = GaussianMixture & { toString(): string };

/**
 * The distribution of single frames of a video mixture: one component per (mode k, frame f) with
 * mean = frame f of mean k, weight w_k / F and the same std, as one-frame videos `[1, H, W, C]`
 * (the data an image model sharing the latent space is trained on: AVDM2's 2D teacher).
 */
export function frameMarginalMixture(video: NamedMixture): NamedMixture {
  const [f, h, w, c] = video.shape as [number, number, number, number];
  const d = h * w * c;
  const means = new Float32Array(video.K * f * d);
  const weights: number[] = [];
  for (let k = 0; k < video.K; k++) {
    for (let i = 0; i < f; i++) {
      means.set(video.means.subarray(k * f * d + i * d, k * f * d + (i + 1) * d), (k * f + i) * d);
      weights.push(video.weights[k]! / f);
    }
  }
  const m = new GaussianMixture({ means, weights, std: video.std, shape: [1, h, w, c] });
  const name = `frames-of:${video.toString()}`;
  return Object.assign(m, { toString: () => name });
}

export interface FitAnalyticTeacherOptions {
  teacher: DiffusionModel;
  mixture: NamedMixture;
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
  outDir?: string;
  checkpointEvery?: number;
  plugins?: readonly TrainingPlugin[];
  onRun?: (run: TrainingRun) => void;
}

/** What {@link regressTeacher} trains on. */
export interface RegressTeacherOptions {
  teacher: DiffusionModel;
  data: DataSource;
  /** Name of the loss term (metrics key). */
  lossName: string;
  /** The regression target at `x_t = alpha_t x0 + sigma_t eps` (a constant for the gradient). */
  target: (x0: tf.Tensor, eps: tf.Tensor, xt: tf.Tensor, t: tf.Tensor) => tf.Tensor;
  steps: number;
  lr: number;
  seed: number;
  outDir?: string;
  checkpointEvery?: number;
  plugins?: readonly TrainingPlugin[];
  onRun?: (run: TrainingRun) => void;
  hashExtra: unknown;
}

/**
 * The teacher training loop both `fitAnalyticTeacher` and `fewstep train-teacher` run on the core
 * trainer (checkpoints, resume, events): `E || F_theta(x_t, t) - target ||^2` with t uniform over
 * the schedule's range (discrete: integer timesteps 0..T-1), AdamW with warm-up + cosine, clipping
 * at global norm 1.
 */
export async function regressTeacher(o: RegressTeacherOptions): Promise<void> {
  const model = modelDenoiser(o.teacher);
  const { schedule } = o.teacher;
  const discrete = schedule.time.kind === 'discrete';
  const net = o.teacher.backbone.net;
  net.unfreeze();
  try {
    const run = startRun({
      seed: o.seed,
      steps: o.steps,
      roles: { teacher: net },
      data: o.data,
      phases: [
        {
          role: 'teacher',
          losses: [
            lossTerm(o.lossName, (ctx) => {
              const x0 = ctx.batch['x0']!;
              const b = x0.shape[0]!;
              const u = ctx.randomUniform([b], 't');
              const t = discrete ? tf.floor(tf.mul(u, schedule.tMax + 1)) : tf.mul(u, schedule.tMax);
              const eps = ctx.randomNormal(x0.shape, 'eps');
              const xt = forwardDiffuse(schedule, x0, eps, t);
              return tf.mean(tf.squaredDifference(model.predict(xt, t), o.target(x0, eps, xt, t))) as tf.Scalar;
            }),
          ],
          optimizer: { type: 'adamw', lr: { type: 'warmup-cosine', lr: o.lr, warmupSteps: Math.min(100, Math.floor(o.steps / 10)), totalSteps: o.steps, minLr: o.lr / 20 }, weightDecay: 0, maxGradNorm: 1 },
        },
      ],
      ...(o.outDir ? { outDir: o.outDir, checkpoint: { every: o.checkpointEvery ?? Math.max(1, Math.floor(o.steps / 4)), keepLast: 2 } } : {}),
      resume: 'auto',
      plugins: o.plugins ?? [],
      hashExtra: o.hashExtra,
    });
    o.onRun?.(run);
    await run.result;
  } finally {
    net.freeze();
  }
}

/** Regresses the teacher onto the exact denoiser (see {@link regressTeacher}). */
export async function fitAnalyticTeacher(o: FitAnalyticTeacherOptions): Promise<void> {
  const exact = mixtureDenoiser(o.mixture, o.teacher.schedule, o.teacher.predictionType);
  try {
    await regressTeacher({
      teacher: o.teacher,
      data: mixtureSource(o.mixture, o.batchSize),
      lossName: 'teacher:analytic-regression',
      target: (_x0, _eps, xt, t) => predictAs(exact, o.teacher.predictionType, xt, t),
      steps: o.steps,
      lr: o.lr,
      seed: o.seed,
      ...(o.outDir ? { outDir: o.outDir } : {}),
      ...(o.checkpointEvery ? { checkpointEvery: o.checkpointEvery } : {}),
      ...(o.plugins ? { plugins: o.plugins } : {}),
      ...(o.onRun ? { onRun: o.onRun } : {}),
      hashExtra: { kind: 'fit-analytic-teacher', mixture: o.mixture.toString(), backbone: o.teacher.backbone.toConfig(), batchSize: o.batchSize, lr: o.lr },
    });
  } finally {
    exact.dispose();
  }
}
