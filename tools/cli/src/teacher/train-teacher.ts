/**
 * @file `fewstep train-teacher`: trains a video diffusion teacher with the core trainer
 * (checkpoints, exact resume, metrics.jsonl) and writes it as a model directory. On a `gmm-video:`
 * mixture the targets are the exact denoiser's (`fitAnalyticTeacher`); on data (`shapes-video:`)
 * it is denoising score matching, `E || F_theta(x_t, t) - target(x0, eps) ||^2` with the target of
 * the teacher's prediction type (epsilon: eps; sample: x0; v_prediction: alpha eps - sigma x0;
 * flow: eps - x0), t uniform over the schedule.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, alphaSigma, fromX0Eps, gmmVideo, jsonlMetrics, progressBar, type TrainingPlugin, type TrainingRun } from '@fewstep/core';
import { saveModelDirectory, type DiffusionModel } from '@fewstep/recipes';
import { parseShapesVideoSpec, shapesVideoSource } from '@fewstep/data';
import { createTeacher, fitAnalyticTeacher, regressTeacher, type TeacherBackboneName } from './fit-analytic-teacher.js';

export interface TrainTeacherOptions {
  /** `gmm-video:...` (exact targets) or `shapes-video:...` (denoising score matching). */
  data: string;
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
  sampleShape: number[];
  parameters: number;
  seconds: number;
}

/** Trains (or resumes) a teacher and writes `<out>/model.json` + `<out>/model.safetensors`. */
export async function trainTeacher(o: TrainTeacherOptions): Promise<TrainTeacherResult> {
  const started = performance.now();
  const plugins = [jsonlMetrics(), ...(o.quietBar ? [] : [progressBar()]), ...(o.plugins ?? [])];
  const checkpointEvery = o.checkpointEvery ?? Math.max(1, Math.ceil(o.steps / 4));
  let teacher: DiffusionModel;
  let sampleShape: number[];
  if (o.data.startsWith('gmm-video:')) {
    const mixture = gmmVideo(o.data);
    sampleShape = [...mixture.shape];
    teacher = createTeacher(o.backbone, o.preset, sampleShape, { seed: o.seed, schedule: o.schedule });
    await fitAnalyticTeacher({ teacher, mixture, steps: o.steps, batchSize: o.batchSize, lr: o.lr, seed: o.seed, outDir: o.out, checkpointEvery, plugins, ...(o.onRun ? { onRun: o.onRun } : {}) });
  } else if (o.data.startsWith('shapes-video')) {
    const spec = parseShapesVideoSpec(o.data);
    sampleShape = [spec.frames, spec.size, spec.size, spec.channels];
    teacher = createTeacher(o.backbone, o.preset, sampleShape, { seed: o.seed, schedule: o.schedule });
    await denoisingScoreMatching(teacher, shapesVideoSource(o.data, { batchSize: o.batchSize }), o, checkpointEvery, plugins);
  } else {
    throw new ConfigError('--data', o.data, "'gmm-video:...' or 'shapes-video:...'", 'e.g. --data shapes-video:frames=8,size=16,seed=1');
  }
  await saveModelDirectory(o.out, teacher, { role: 'teacher', sampleShape, provenance: { data: o.data, backbone: o.backbone, preset: o.preset, steps: o.steps, lr: o.lr, batchSize: o.batchSize, seed: o.seed } });
  const parameters = teacher.backbone.net.numParameters();
  teacher.backbone.net.dispose();
  return { dir: o.out, sampleShape, parameters, seconds: (performance.now() - started) / 1000 };
}

function denoisingScoreMatching(teacher: DiffusionModel, data: ReturnType<typeof shapesVideoSource>, o: TrainTeacherOptions, checkpointEvery: number, plugins: TrainingPlugin[]): Promise<void> {
  const { schedule, predictionType } = teacher;
  return regressTeacher({
    teacher,
    data,
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
