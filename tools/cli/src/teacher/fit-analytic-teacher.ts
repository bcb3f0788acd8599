/**
 * @file Fits a teacher network to an analytic denoiser (the exact posterior of a Gaussian-mixture
 * video distribution): `min E_{x0, eps, t} || F_theta(x_t, t) - F*(x_t, t) ||^2` with `F*` the
 * exact prediction of the teacher's type at `x_t = alpha_t x0 + sigma_t eps`. The targets have no
 * noise (unlike denoising score matching), so a small network gets close to the exact teacher in
 * a few hundred steps; the distillation pipeline then runs on a learned network exactly as with a
 * trained teacher, while evaluation uses the exact distribution.
 *
 * Image-to-video (issue 10): on a `gmm-i2v:` mixture the network has an `imageCondition` and the
 * targets are the exact conditional denoiser's `F*(x_t, t, c)` (`conditionalMixtureDenoiser`),
 * with a fresh condition per sample each step (frame 0 of the batch's videos), noise-augmented
 * (`c + sigma_aug e`, see {@link ImageNoise}) and dropped with probability `dropout` (the empty
 * condition, whose exact target is the unconditional denoiser: classifier-free guidance works on
 * the fitted teacher).
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigError,
  GMM_I2V_PREFIX,
  conditionalMixtureDenoiser,
  firstFrame,
  flowMatchingSchedule,
  forwardDiffuse,
  lossTerm,
  mixtureDenoiser,
  predictAs,
  readSafetensors,
  startRun,
  vpDiscreteSchedule,
  GaussianMixture,
  type DataSource,
  type Denoiser,
  type Network,
  type TrainingContext,
  type TrainingPlugin,
  type TrainingRun,
} from '@fewstep/core';
import { VideoDiT, VideoUNet, type ImageConditioningConfig } from '@fewstep/backbones';
import { MODEL_WEIGHTS, modelDenoiser, type BackboneLike, type DiffusionModel } from '@fewstep/recipes';
import { mixtureSource } from '@fewstep/data';

export type TeacherBackboneName = 'video-dit' | 'video-unet';
export const TEACHER_BACKBONES: readonly TeacherBackboneName[] = ['video-dit', 'video-unet'];

/** Options of {@link createTeacher}. */
export interface CreateTeacherOptions {
  seed: number;
  /** @default 'flow' */
  schedule?: 'flow' | 'vp';
  /** Image-to-video: the backbone's image conditioning (e.g. `imageConditioning()`); absent = unconditional. */
  imageCondition?: ImageConditioningConfig;
  /** Backbone config fields over the preset (e.g. `{ hiddenDim: 32, depth: 2 }` for a test-sized teacher). */
  overrides?: Readonly<Record<string, unknown>>;
}

/** A fresh teacher network for a sample shape `[F, H, W, C]`: flow matching + flow prediction (default) or VP + epsilon. */
export function createTeacher(backbone: TeacherBackboneName, preset: string, sampleShape: readonly number[], options: CreateTeacherOptions): DiffusionModel {
  const C = sampleShape[3] as number;
  const extra = { ...(options.imageCondition ? { imageCondition: options.imageCondition } : {}), ...(options.overrides ?? {}) };
  const b =
    backbone === 'video-dit'
      ? VideoDiT.preset(preset, { inChannels: C, outChannels: C, contextDim: null, pooledDim: null, seed: options.seed, ...extra } as never)
      : VideoUNet.preset(preset, { inChannels: C, outChannels: C, contextDim: null, seed: options.seed, ...extra } as never);
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
  /**
   * Image-to-video fit (default on for a `gmm-i2v:` mixture, with `{ dropout: 0.1, noise: 0 }`):
   * exact conditional targets under the conditions of {@link ImageConditionTraining}.
   */
  i2v?: ImageConditionTraining;
}

/**
 * Augmentation levels `sigma_aug` of the conditioning frame during teacher training:
 * - a number s >= 0: every condition at level s (0: the clean first frame);
 * - `'lognormal'`: half the conditions clean, half at `sigma_aug = exp(log(0.05) + 0.5 z)` (SVD's
 *   log-normal `cond_aug` around its inference level 0.02; `sampleConditionNoiseSigma`'s defaults).
 *   Our choice: SVD trains on log-normal levels only, but fewstep's students and `fewstep sample`
 *   condition on clean frames by default, which a purely log-normal training never shows.
 */
export type ImageNoise = number | 'lognormal';

/** How an image-to-video teacher is trained on its conditions. */
export interface ImageConditionTraining {
  /** Probability of the empty condition per sample (classifier-free guidance dropout; SVD: 0.1). */
  dropout: number;
  /** Augmentation of the conditioning frame. */
  noise: ImageNoise;
}

/** Parses `--image-noise`: a number >= 0 or 'lognormal'. @throws ConfigError */
export function parseImageNoise(value: unknown, field = '--image-noise'): ImageNoise {
  if (value === 'lognormal') return 'lognormal';
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!(Number.isFinite(n) && n >= 0)) throw new ConfigError(field, value, "a number >= 0 (one level for every condition; 0 = clean) or 'lognormal'");
  return n;
}

/** Checks `i2v` against the backbone's image conditioning. @throws ConfigError */
function checkImageTraining(teacher: DiffusionModel, i2v: ImageConditionTraining): ImageConditioningConfig {
  const cfg = (teacher.backbone.toConfig() as { imageCondition?: ImageConditioningConfig | null } | null)?.imageCondition ?? null;
  if (cfg === null) throw new ConfigError('teacher imageCondition', null, 'an image-conditioned backbone for an image-to-video fit', 'build it with createTeacher(..., { imageCondition: imageConditioning() })');
  if (!(i2v.dropout >= 0 && i2v.dropout < 1)) throw new ConfigError('--cond-dropout', i2v.dropout, 'a probability in [0, 1)');
  parseImageNoise(i2v.noise);
  if (i2v.noise !== 0 && !cfg.noiseAugment) throw new ConfigError('--image-noise', i2v.noise, "0 (the backbone's imageCondition.noiseAugment is false)", 'enable noiseAugment or train on clean conditions');
  return cfg;
}

/**
 * The conditioning of one training batch: the clean frames (the batch's `image`, else frame 0 of
 * `x0`), augmented and dropped as `i2v` says, drawn from the step's seeded streams.
 */
function trainingConditions(ctx: TrainingContext, x0: tf.Tensor, i2v: ImageConditionTraining, cfg: ImageConditioningConfig): Record<string, tf.Tensor> {
  const b = x0.shape[0]!;
  const clean = ctx.batch['image'] ?? firstFrame(x0);
  let sigma: tf.Tensor | undefined;
  if (i2v.noise === 'lognormal') {
    const level = tf.exp(tf.add(tf.mul(ctx.randomNormal([b], 'image-noise/z'), 0.5), Math.log(0.05)));
    sigma = tf.mul(level, tf.cast(tf.greaterEqual(ctx.randomUniform([b], 'image-noise/clean'), 0.5), 'float32'));
  } else if (i2v.noise > 0) sigma = tf.fill([b], i2v.noise);
  const image = sigma === undefined ? clean : tf.add(clean, tf.mul(ctx.randomNormal(clean.shape, 'image-noise/e'), tf.reshape(sigma, [b, 1, 1, 1])));
  const cond: Record<string, tf.Tensor> = { image };
  if (cfg.noiseAugment) cond['imageNoiseSigma'] = sigma ?? tf.zeros([b]);
  if (i2v.dropout > 0) cond['dropImage'] = tf.cast(tf.less(ctx.randomUniform([b], 'drop-image'), i2v.dropout), 'float32');
  return cond;
}

/** What {@link regressTeacher} trains on. */
export interface RegressTeacherOptions {
  teacher: DiffusionModel;
  data: DataSource;
  /** Name of the loss term (metrics key). */
  lossName: string;
  /**
   * The regression target at `x_t = alpha_t x0 + sigma_t eps` (a constant for the gradient);
   * `cond` is the conditioning the network sees (image-to-video fits), undefined otherwise.
   */
  target: (x0: tf.Tensor, eps: tf.Tensor, xt: tf.Tensor, t: tf.Tensor, cond: Record<string, tf.Tensor> | undefined) => tf.Tensor;
  /** Image-to-video: train on conditioning frames (see {@link ImageConditionTraining}). */
  i2v?: ImageConditionTraining;
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
  const imageCfg = o.i2v ? checkImageTraining(o.teacher, o.i2v) : undefined;
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
              const cond = o.i2v && imageCfg ? trainingConditions(ctx, x0, o.i2v, imageCfg) : undefined;
              return tf.mean(tf.squaredDifference(model.predict(xt, t, cond), o.target(x0, eps, xt, t, cond))) as tf.Scalar;
            }),
          ],
          optimizer: { type: 'adamw', lr: { type: 'warmup-cosine', lr: o.lr, warmupSteps: Math.min(100, Math.floor(o.steps / 10)), totalSteps: o.steps, minLr: o.lr / 20 }, weightDecay: 0, maxGradNorm: 1 },
        },
      ],
      ...(o.outDir ? { outDir: o.outDir, checkpoint: { every: o.checkpointEvery ?? Math.max(1, Math.floor(o.steps / 4)), keepLast: 2 } } : {}),
      resume: 'auto',
      plugins: o.plugins ?? [],
      hashExtra: o.i2v ? { ...(o.hashExtra as object), i2v: o.i2v } : o.hashExtra,
    });
    o.onRun?.(run);
    await run.result;
  } finally {
    net.freeze();
  }
}

/** Whether a mixture is an image-to-video one (prints as a `gmm-i2v:` spec). */
export function isI2vMixture(mixture: { toString(): string }): boolean {
  return mixture.toString().startsWith(GMM_I2V_PREFIX);
}

/** The default conditions of an analytic image-to-video fit: 10% dropout (CFG), clean frames (the students' and the metrics' default). */
export const DEFAULT_ANALYTIC_I2V: ImageConditionTraining = Object.freeze({ dropout: 0.1, noise: 0 });

/**
 * Regresses the teacher onto the exact denoiser (see {@link regressTeacher}); on an image-to-video
 * mixture onto the exact conditional denoiser, given each sample's (augmented, possibly dropped)
 * first frame.
 */
export async function fitAnalyticTeacher(o: FitAnalyticTeacherOptions): Promise<void> {
  const i2v = o.i2v ?? (isI2vMixture(o.mixture) ? DEFAULT_ANALYTIC_I2V : undefined);
  const exact: Denoiser<Record<string, tf.Tensor>> & { dispose(): void } = i2v
    ? (conditionalMixtureDenoiser(o.mixture, o.teacher.schedule, o.teacher.predictionType) as never)
    : (mixtureDenoiser(o.mixture, o.teacher.schedule, o.teacher.predictionType) as never);
  try {
    await regressTeacher({
      teacher: o.teacher,
      data: mixtureSource(o.mixture, o.batchSize, i2v ? { firstFrameCondition: true } : {}),
      lossName: 'teacher:analytic-regression',
      ...(i2v ? { i2v } : {}),
      target: (_x0, _eps, xt, t, cond) => predictAs(exact, o.teacher.predictionType, xt, t, cond === undefined ? {} : { cond }),
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

/**
 * Initialises `net` from a model directory's weights with `setWeights(w, { strict: false })`:
 * variables the directory lacks keep their initialisation (an image-to-video model started from an
 * unconditional checkpoint: the new input channels stay zero, so it starts as that model).
 * @returns the names loaded and the names left as initialised
 * @throws StateMismatchError on a shape mismatch (another architecture)
 */
export async function initFromModelDirectory(net: Network, dir: string): Promise<{ loaded: string[]; kept: string[] }> {
  const contents = await readSafetensors(join(dir, MODEL_WEIGHTS)).catch((e: unknown) => {
    throw new ConfigError('--init', dir, 'a model directory with model.safetensors (e.g. tools/cli/assets/demo-teacher)', (e as Error).message);
  });
  const weights = new Map<string, tf.Tensor>();
  try {
    const own = new Set(net.variables().keys());
    for (const [name, t] of contents.tensors) if (own.has(name)) weights.set(name, tf.tensor(t.data as Float32Array, [...t.shape], 'float32'));
    if (weights.size === 0) throw new ConfigError('--init', dir, 'weights of the same architecture (no variable name matched)');
    net.setWeights(weights, { strict: false });
    return { loaded: [...weights.keys()], kept: [...own].filter((n) => !weights.has(n)) };
  } finally {
    for (const t of weights.values()) t.dispose();
  }
}
