/**
 * @file `fewstep train-teacher`: trains a video diffusion teacher with the core trainer
 * (checkpoints, exact resume, metrics.jsonl) and writes it as a model directory. On a `gmm-video:`
 * mixture the targets are the exact denoiser's (`fitAnalyticTeacher`); on data (`shapes-video:`)
 * it is denoising score matching, `E || F_theta(x_t, t) - target(x0, eps) ||^2` with the target of
 * the teacher's prediction type (epsilon: eps; sample: x0; v_prediction: alpha eps - sigma x0;
 * flow: eps - x0), t uniform over the schedule.
 *
 * `task: 'i2v'` (issue 10) trains an image-to-video teacher: the backbone gets image conditioning
 * (`imageConditioning()`: concat + frame-0 mask, pooled image embedding, noise-level embedding),
 * each video's first frame is its condition, noise-augmented (`imageNoise`) and dropped with
 * probability `condDropout` (CFG); on `gmm-i2v:` the targets are the exact conditional denoiser's,
 * on `shapes-video:` the DSM target (the condition is frame 0 of the very video being denoised).
 * `init` starts the network from a model directory (`setWeights(w, { strict: false })`: an
 * unconditional teacher's weights, the new image channels zero, so training starts from it).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, GMM_I2V_PREFIX, alphaSigma, fromX0Eps, gmmI2v, gmmVideo, jsonlMetrics, progressBar, type TrainingPlugin, type TrainingRun } from '@fewstep/core';
import { imageConditioning } from '@fewstep/backbones';
import { saveModelDirectory, type DiffusionModel, type ModelTask } from '@fewstep/recipes';
import { parseShapesVideoSpec, shapesVideoSource } from '@fewstep/data';
import { createTeacher, fitAnalyticTeacher, initFromModelDirectory, regressTeacher, type ImageConditionTraining, type ImageNoise, type TeacherBackboneName } from './fit-analytic-teacher.js';

/** Defaults of `--task i2v`: SVD's 10% condition dropout; clean and log-normal augmentation levels. */
export const I2V_TRAINING_DEFAULTS: Readonly<ImageConditionTraining> = Object.freeze({ dropout: 0.1, noise: 'lognormal' });

export interface TrainTeacherOptions {
  /** `gmm-video:...` / `gmm-i2v:...` (exact targets) or `shapes-video:...` (denoising score matching). */
  data: string;
  /** `t2v` (default; `i2v` for a `gmm-i2v:` spec) or `i2v`: image-to-video, the first frame is the condition. */
  task?: ModelTask;
  /** Image-to-video: probability of the empty condition per sample. @default 0.1 */
  condDropout?: number;
  /** Image-to-video: augmentation of the conditioning frame. @default 'lognormal' */
  imageNoise?: ImageNoise;
  /** A model directory whose weights initialise the network (`strict: false`). */
  init?: string;
  backbone: TeacherBackboneName;
  preset: string;
  /** `flow` (flow matching, flow prediction) or `vp` (scaled-linear VP, epsilon prediction). */
  schedule: 'flow' | 'vp';
  steps: number;
  out: string;
  batchSize: number;
  lr: number;
  seed: number;
  checkpointEvery?: number;
  quietBar?: boolean;
  plugins?: TrainingPlugin[];
  onRun?: (run: TrainingRun) => void;
}

export interface TrainTeacherResult {
  dir: string;
  task: ModelTask;
  sampleShape: number[];
  parameters: number;
  seconds: number;
}

/** The task of a `train-teacher` job: `--task`, else `i2v` for `gmm-i2v:` data. @throws ConfigError on a mismatch */
export function resolveTeacherTask(data: string, task: string | undefined): ModelTask {
  const i2vData = data.startsWith(GMM_I2V_PREFIX);
  const resolved = task ?? (i2vData ? 'i2v' : 't2v');
  if (resolved !== 't2v' && resolved !== 'i2v') throw new ConfigError('--task', task, "'t2v' or 'i2v'");
  if (resolved === 't2v' && i2vData) throw new ConfigError('--task', task, "'i2v' for 'gmm-i2v:' data", `drop --task, or use --data gmm-video:${data.slice(GMM_I2V_PREFIX.length)}`);
  if (resolved === 'i2v' && data.startsWith('gmm-video:')) throw new ConfigError('--data', data, "'gmm-i2v:...' or 'shapes-video:...' for --task i2v", `use --data gmm-i2v:${data.slice('gmm-video:'.length)}`);
  return resolved;
}

/** Trains (or resumes) a teacher and writes `<out>/model.json` + `<out>/model.safetensors`. */
export async function trainTeacher(o: TrainTeacherOptions): Promise<TrainTeacherResult> {
  const started = performance.now();
  const plugins = [jsonlMetrics(), ...(o.quietBar ? [] : [progressBar()]), ...(o.plugins ?? [])];
  const checkpointEvery = o.checkpointEvery ?? Math.max(1, Math.ceil(o.steps / 4));
  const task = resolveTeacherTask(o.data, o.task);
  const i2v: ImageConditionTraining | undefined = task === 'i2v' ? { dropout: o.condDropout ?? I2V_TRAINING_DEFAULTS.dropout, noise: o.imageNoise ?? I2V_TRAINING_DEFAULTS.noise } : undefined;
  if (!i2v && (o.condDropout !== undefined || o.imageNoise !== undefined)) {
    throw new ConfigError(o.condDropout !== undefined ? '--cond-dropout' : '--image-noise', o.condDropout ?? o.imageNoise, 'only with --task i2v', 'add --task i2v (or use gmm-i2v: data)');
  }
  const make = (sampleShape: readonly number[]): DiffusionModel =>
    createTeacher(o.backbone, o.preset, sampleShape, { seed: o.seed, schedule: o.schedule, ...(i2v ? { imageCondition: imageConditioning() } : {}) });
  let teacher: DiffusionModel;
  let sampleShape: number[];
  const init = async (t: DiffusionModel): Promise<void> => {
    if (o.init === undefined) return;
    const r = await initFromModelDirectory(t.backbone.net, o.init);
    process.stderr.write(`train-teacher: initialised ${r.loaded.length} variables from ${o.init}; ${r.kept.length} new (${summarise(r.kept)})\n`);
  };
  if (o.data.startsWith('gmm-video:') || o.data.startsWith(GMM_I2V_PREFIX)) {
    const mixture = i2v ? gmmI2v(o.data) : gmmVideo(o.data);
    sampleShape = [...mixture.shape];
    teacher = make(sampleShape);
    await init(teacher);
    await fitAnalyticTeacher({ teacher, mixture, steps: o.steps, batchSize: o.batchSize, lr: o.lr, seed: o.seed, outDir: o.out, checkpointEvery, plugins, ...(i2v ? { i2v } : {}), ...(o.onRun ? { onRun: o.onRun } : {}) });
  } else if (o.data.startsWith('shapes-video')) {
    const spec = parseShapesVideoSpec(o.data);
    sampleShape = [spec.frames, spec.size, spec.size, spec.channels];
    if (i2v && spec.frames < 2) throw new ConfigError('--data frames', spec.frames, 'an integer >= 2 for --task i2v (frame 0 is the condition)');
    teacher = make(sampleShape);
    await init(teacher);
    await denoisingScoreMatching(teacher, shapesVideoSource(o.data, { batchSize: o.batchSize }), o, checkpointEvery, plugins, i2v);
  } else {
    throw new ConfigError('--data', o.data, "'gmm-video:...', 'gmm-i2v:...' or 'shapes-video:...'", 'e.g. --data shapes-video:frames=8,size=16,seed=1');
  }
  await saveModelDirectory(o.out, teacher, {
    role: 'teacher',
    task,
    sampleShape,
    provenance: { data: o.data, task, backbone: o.backbone, preset: o.preset, steps: o.steps, lr: o.lr, batchSize: o.batchSize, seed: o.seed, ...(i2v ? { condDropout: i2v.dropout, imageNoise: i2v.noise } : {}), ...(o.init ? { init: o.init } : {}) },
  });
  const parameters = teacher.backbone.net.numParameters();
  teacher.backbone.net.dispose();
  return { dir: o.out, task, sampleShape, parameters, seconds: (performance.now() - started) / 1000 };
}

function summarise(names: readonly string[]): string {
  const roots = [...new Set(names.map((n) => n.split('.')[0]!))];
  return roots.join(', ') || 'none';
}

function denoisingScoreMatching(teacher: DiffusionModel, data: ReturnType<typeof shapesVideoSource>, o: TrainTeacherOptions, checkpointEvery: number, plugins: TrainingPlugin[], i2v: ImageConditionTraining | undefined): Promise<void> {
  const { schedule, predictionType } = teacher;
  return regressTeacher({
    teacher,
    data,
    ...(i2v ? { i2v } : {}),
    lossName: 'teacher:denoising-score-matching',
    target: (x0, eps, _xt, t) => {
      const { alpha, sigma } = alphaSigma(schedule, t);
      return fromX0Eps(x0, eps, predictionType, alpha, sigma);
    },
    steps: o.steps,
    lr: o.lr,
    seed: o.seed,
    outDir: o.out,
    checkpointEvery,
    plugins,
    ...(o.onRun ? { onRun: o.onRun } : {}),
    hashExtra: { kind: 'train-teacher', data: o.data, backbone: teacher.backbone.toConfig(), batchSize: o.batchSize, lr: o.lr },
  });
}
