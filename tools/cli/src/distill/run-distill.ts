/**
 * @file The `fewstep distill` pipeline as a function (the command and the results sweep call
 * it): resolve the teacher (a model directory, or `analytic:SPEC` -> a network fitted to the exact
 * denoiser, cached in `<out>/teacher`), build the data the recipe reads (real samples, teacher
 * trajectories, ODE pairs; cached in `<out>/data`), run the recipe with checkpoints and
 * `metrics.jsonl`, write the student as a model directory, and score it against the exact
 * distribution when there is one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  ACCVIDEO_KEY_TIMESTEPS,
  ACCVIDEO_UNIFORM_TIMESTEPS,
  ConfigError,
  findLatestCheckpoint,
  gmmVideo,
  jsonlMetrics,
  mixtureMetrics,
  progressBar,
  randomNormal,
  readSafetensors,
  seededRng,
  writeSafetensors,
  type DataSource,
  type GmmVideo,
  type TrainingPlugin,
  type TrainingRun,
} from '@fewstep/core';
import {
  BUILTIN_RECIPES,
  builtinRecipe,
  distill,
  loadModelDirectory,
  modelDenoiser,
  saveModelDirectory,
  studentSampler,
  type AnyRecipe,
  type DiffusionModel,
  type DistillRecipe,
  type RecipeDataKind,
  type StudentSpec,
} from '@fewstep/recipes';
import { mixtureSource, shapesVideoSource, teacherOdePairs, teacherTrajectories, tensorSource } from '@fewstep/data';
import { createTeacher, fitAnalyticTeacher, frameMarginalMixture, type TeacherBackboneName } from '../teacher/fit-analytic-teacher.js';

/** Ground-truth metrics of a student at one step count. */
export interface StudentMetrics {
  steps: number;
  nfe: number;
  msPerSample: number;
  modeCoverage: number;
  precision: number;
  totalVariation: number;
  spreadRatio: number;
  energyDistance: number;
}

export interface RunDistillOptions {
  recipe: string;
  /** A model directory, or `analytic:gmm-video:...`. */
  teacher: string;
  out: string;
  steps: number;
  preset?: string;
  options?: Record<string, unknown>;
  batchSize?: number;
  seed?: number;
  checkpointEvery?: number;
  resume?: boolean;
  /** Analytic teachers: fitting steps, lr, backbone. */
  teacherFit?: { steps?: number; lr?: number; backbone?: TeacherBackboneName; preset?: string; batchSize?: number };
  /** Teacher-made datasets: number of trajectories / pairs and solver steps. */
  dataset?: { n?: number; solverSteps?: number };
  /** Real data for a model-directory teacher (`gmm-video:...`). */
  data?: string;
  /** Where teacher-made datasets are cached (share it between runs of one teacher). @default `<out>/data` */
  dataDir?: string;
  /** Step counts to evaluate at (analytic teachers). @default [1, 2, 4] and the trained count */
  evalSteps?: number[];
  evalSamples?: number;
  progress?: (line: string) => void;
  plugins?: TrainingPlugin[];
  quietBar?: boolean;
  /** Collapse watchdog on the student's samples every checkpoint interval: warn, stop, or roll back and resume once from the last good checkpoint. */
  watchdog?: 'warn' | 'stop' | 'rollback';
  onRun?: (run: TrainingRun) => void;
  /** Recipes registered by `--plugin` modules, selectable by name next to the built-in ones. */
  pluginRecipes?: readonly AnyRecipe[];
}

export interface RunDistillResult {
  recipe: string;
  steps: number;
  seconds: number;
  /** Seconds inside the training runs (what "equal training time" compares). */
  trainSeconds: number;
  /** Steps completed (less than `steps` when a run was stopped early). */
  completedSteps: number;
  studentSteps: number;
  student: string;
  teacher: string;
  metrics?: StudentMetrics[];
}

export const DEFAULT_TEACHER_FIT = { steps: 2000, lr: 2e-3, backbone: 'video-dit' as TeacherBackboneName, preset: 'tiny', batchSize: 32 };

/** A recipe by name, or a ConfigError listing the built-in ones. */
export function findRecipe(name: string, extra: readonly AnyRecipe[] = []): AnyRecipe {
  const full = name.startsWith('recipe:') ? name : `recipe:${name}`;
  const r = extra.find((x) => x.name === full || x.name === name) ?? builtinRecipe(name);
  if (!r) {
    const known = [...BUILTIN_RECIPES, ...extra].map((x) => x.name.replace('recipe:', '')).join(', ');
    throw new ConfigError('--recipe', name, known, extra.length ? 'pick a built-in recipe or one a --plugin registered' : 'pick one of the built-in recipes, or load a plugin that registers it with --plugin');
  }
  return r;
}

/** Loads or fits the teacher; returns it and the mixture when the teacher is analytic. */
export async function resolveTeacher(o: RunDistillOptions, log: (l: string) => void): Promise<{ teacher: DiffusionModel; mixture?: GmmVideo; dataSpec?: string; sampleShape?: readonly number[]; dir: string; dispose(): void }> {
  if (o.teacher.startsWith('analytic:')) {
    const mixture = gmmVideo(o.teacher.slice('analytic:'.length));
    const dir = join(resolve(o.out), 'teacher');
    if (existsSync(join(dir, 'model.json'))) {
      const loaded = await loadModelDirectory(dir);
      log(`distill: teacher ${dir} (fitted earlier to ${mixture.toString()})`);
      return { teacher: loaded.model, mixture, dir, dispose: loaded.dispose };
    }
    const fit = { ...DEFAULT_TEACHER_FIT, ...(o.teacherFit ?? {}) };
    const teacher = createTeacher(fit.backbone, fit.preset, mixture.shape, { seed: (o.seed ?? 0) + 1 });
    log(`distill: fitting a ${fit.backbone}/${fit.preset} teacher (${teacher.backbone.net.numParameters()} parameters) to the exact denoiser of ${mixture.toString()}: ${fit.steps} steps`);
    await fitAnalyticTeacher({
      teacher,
      mixture,
      steps: fit.steps,
      batchSize: fit.batchSize,
      lr: fit.lr,
      seed: (o.seed ?? 0) + 1,
      outDir: join(resolve(o.out), 'teacher-fit'),
      plugins: [jsonlMetrics(), ...(o.quietBar ? [] : [progressBar()])],
    });
    await saveModelDirectory(dir, teacher, { role: 'teacher', sampleShape: mixture.shape, provenance: { data: mixture.toString(), fit } });
    return { teacher, mixture, dir, dispose: () => teacher.backbone.net.dispose() };
  }
  const loaded = await loadModelDirectory(o.teacher);
  const spec = o.data ?? (loaded.manifest.provenance?.['data'] as string | undefined);
  const mixture = spec?.startsWith('gmm-video:') ? gmmVideo(spec) : undefined;
  return { teacher: loaded.model, ...(mixture ? { mixture } : {}), ...(spec ? { dataSpec: spec } : {}), sampleShape: loaded.manifest.sampleShape, dir: o.teacher, dispose: loaded.dispose };
}

function stagesOf(recipe: AnyRecipe): DistillRecipe<any>[] {
  return recipe.kind === 'recipe' ? [recipe] : recipe.stages.map((s) => s.recipe);
}

/** Times a trajectory dataset keeps: the recipe's `trajectoryTimes` option, else AccVideo's key / uniform list. */
function trajectoryTimes(options: Record<string, unknown>): number[] {
  const t = options['trajectoryTimes'];
  if (Array.isArray(t)) return t as number[];
  return options['timesteps'] === 'uniform' ? [...ACCVIDEO_UNIFORM_TIMESTEPS] : [...ACCVIDEO_KEY_TIMESTEPS];
}

let recipesApi: typeof import('@fewstep/recipes');

async function cachedTensors(path: string, make: () => tf.NamedTensorMap): Promise<tf.NamedTensorMap> {
  if (existsSync(path)) {
    const c = await readSafetensors(path);
    return Object.fromEntries([...c.tensors].map(([k, t]) => [k, tf.tensor(t.data as Float32Array, [...t.shape], 'float32')]));
  }
  const tensors = make();
  const write = new Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>();
  for (const [k, t] of Object.entries(tensors)) write.set(k, { dtype: 'F32', shape: t.shape, data: (await t.data()) as Float32Array });
  await writeSafetensors(path, write);
  return tensors;
}

/**
 * Auxiliary models the recipe's stages declare, made from the mixture: `frame-marginal` models
 * (AVDM2's 2D teacher) are fitted to the exact frame-marginal denoiser, cached in
 * `<dataDir>/frame-teacher`. Without a mixture the recipe runs without them (its documented fallback).
 */
async function buildModels(recipe: AnyRecipe, o: RunDistillOptions, teacher: DiffusionModel, mixture: GmmVideo | undefined, log: (l: string) => void): Promise<{ models: Record<string, DiffusionModel>; dispose(): void }> {
  const models: Record<string, DiffusionModel> = {};
  const owned: Array<() => void> = [];
  for (const stage of stagesOf(recipe)) {
    for (const [name, req] of Object.entries(stage.models)) {
      if (req.kind !== 'frame-marginal' || models[name] || !mixture) continue;
      const dir = join(o.dataDir ?? join(resolve(o.out), 'data'), 'frame-teacher');
      if (existsSync(join(dir, 'model.json'))) {
        const loaded = await loadModelDirectory(dir);
        models[name] = loaded.model;
        owned.push(loaded.dispose);
        continue;
      }
      const frames = frameMarginalMixture(mixture);
      const fit = { ...DEFAULT_TEACHER_FIT, ...(o.teacherFit ?? {}), steps: o.teacherFit?.steps ?? 1500 };
      const kind = teacher.backbone.kind === 'backbones:video-unet' ? 'video-unet' : 'video-dit';
      const model = createTeacher(kind, fit.preset, frames.shape, { seed: (o.seed ?? 0) + 3, schedule: teacher.schedule.time.kind === 'discrete' ? 'vp' : 'flow' });
      log(`distill: fitting ${stage.name}'s ${name} (${req.description}) to the exact frame-marginal denoiser: ${fit.steps} steps`);
      await fitAnalyticTeacher({ teacher: model, mixture: frames, steps: fit.steps, batchSize: fit.batchSize, lr: fit.lr, seed: (o.seed ?? 0) + 3, outDir: join(dir, '..', 'frame-teacher-fit'), plugins: [jsonlMetrics(), ...(o.quietBar ? [] : [progressBar()])] });
      await saveModelDirectory(dir, model, { role: 'teacher', sampleShape: frames.shape, provenance: { data: frames.toString(), fit } });
      models[name] = model;
      owned.push(() => model.backbone.net.dispose());
    }
  }
  return { models, dispose: () => owned.forEach((f) => f()) };
}

/** Builds the data sources the recipe's stages read. */
async function buildData(recipe: AnyRecipe, stageOptions: readonly Record<string, unknown>[], o: RunDistillOptions, teacher: DiffusionModel, mixture: GmmVideo | undefined, dataSpec: string | undefined, teacherShape: readonly number[] | undefined, batchSize: number, log: (l: string) => void): Promise<{ data: Partial<Record<RecipeDataKind, DataSource>>; dispose(): void }> {
  const kinds = new Set(stagesOf(recipe).map((s) => s.data));
  const data: Partial<Record<RecipeDataKind, DataSource>> = {};
  const owned: tf.Tensor[] = [];
  const dir = o.dataDir ?? join(resolve(o.out), 'data');
  await mkdir(dir, { recursive: true });
  const n = o.dataset?.n ?? 1024;
  const solverSteps = o.dataset?.solverSteps ?? 50;
  const shape = mixture?.shape ?? undefined;
  if (kinds.has('real')) {
    if (mixture) data.real = mixtureSource(mixture, batchSize);
    else if (dataSpec?.startsWith('shapes-video')) data.real = shapesVideoSource(dataSpec, { batchSize });
    else throw new ConfigError('--data', o.data, "a 'gmm-video:...' or 'shapes-video:...' spec", `${recipe.name} trains on real data: pass --data SPEC (or use an analytic:SPEC teacher)`);
  }
  const sampleShape = shape ?? teacherShape;
  if (kinds.has('trajectories')) {
    const index = stagesOf(recipe).findIndex((s) => s.data === 'trajectories');
    const keep = trajectoryTimes(stageOptions[index]!);
    const file = join(dir, `trajectories-${keep.join('_')}-n${n}-s${solverSteps}.safetensors`);
    log(`distill: teacher trajectories (${n} x ${solverSteps} DDIM steps, keeping t = ${keep.join(', ')})`);
    const t = await cachedTensors(file, () => ({ trajectory: teacherTrajectories(modelDenoiser(teacher), sampleShape!, { n, keep, solverSteps, seed: (o.seed ?? 0) + 7, onProgress: (d, total) => log(`distill: trajectories ${d}/${total}`) }) }));
    owned.push(...Object.values(t));
    data.trajectories = tensorSource('data:teacher-trajectories', t, batchSize);
  }
  if (kinds.has('ode-pairs')) {
    const file = join(dir, `ode-pairs-n${n}-s${solverSteps}.safetensors`);
    log(`distill: ODE pairs (${n} x ${solverSteps} DDIM steps)`);
    const t = await cachedTensors(file, () => teacherOdePairs(modelDenoiser(teacher), sampleShape!, { n, solverSteps, seed: (o.seed ?? 0) + 8, onProgress: (d, total) => log(`distill: ODE pairs ${d}/${total}`) }));
    owned.push(...Object.values(t));
    data['ode-pairs'] = tensorSource('data:teacher-ode-pairs', t, batchSize);
  }
  return { data, dispose: () => tf.dispose(owned) };
}

/** Scores a student at several step counts against the exact mixture. */
export async function evaluateStudent(model: DiffusionModel, spec: StudentSpec, mixture: GmmVideo, stepsList: number[], n: number, seed = 99): Promise<StudentMetrics[]> {
  const rows: StudentMetrics[] = [];
  const den = modelDenoiser(model);
  for (const steps of stepsList) {
    const sampler = studentSampler(spec, model.schedule, steps);
    const noise = randomNormal([n, ...mixture.shape], seededRng(seed));
    const t0 = performance.now();
    const r = sampler.sample(den, noise, { rng: seed + 1 });
    await r.sample.data();
    const ms = (performance.now() - t0) / n;
    const m = mixtureMetrics(mixture, r.sample);
    rows.push({ steps, nfe: r.nfe, msPerSample: ms, modeCoverage: m.modeCoverage, precision: m.precision, totalVariation: m.totalVariation, spreadRatio: m.spreadRatio, energyDistance: m.energyDistance });
    tf.dispose([noise, r.sample]);
  }
  return rows;
}

/**
 * Seconds spent in training steps over the whole run (resumed processes included): the sum of
 * the per-step `seconds` in each stage's metrics.jsonl.
 */
export function trainingSeconds(out: string, recipe: AnyRecipe): number {
  const files = recipe.kind === 'recipe' ? [join(out, 'metrics.jsonl')] : recipe.stages.map((s, i) => join(out, `stage-${i + 1}-${s.recipe.name.replace('recipe:', '')}`, 'metrics.jsonl'));
  let total = 0;
  for (const f of files) {
    if (!existsSync(f)) continue;
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const s = (JSON.parse(line) as { seconds?: unknown }).seconds;
        if (typeof s === 'number') total += s;
      } catch {
        /* a torn last line */
      }
    }
  }
  return total;
}

/** The whole `fewstep distill` job. */
export async function runDistill(o: RunDistillOptions): Promise<RunDistillResult> {
  recipesApi = await import('@fewstep/recipes');
  const log = o.progress ?? ((l: string) => process.stderr.write(l + '\n'));
  const started = performance.now();
  const recipe = findRecipe(o.recipe, o.pluginRecipes);
  // Validate every option before fitting teachers or generating data.
  const stageOptions = recipesApi.resolveStageOptions(recipe, o.preset, o.options ?? {});
  const out = resolve(o.out);
  await mkdir(out, { recursive: true });
  const checkpoints = join(out, 'checkpoints');
  if (!o.resume && existsSync(checkpoints) && (await findLatestCheckpoint(checkpoints).catch(() => null))) {
    throw new ConfigError('--out', o.out, 'a directory without checkpoints, or --resume', `pass --resume to continue the run in ${o.out}, or choose another --out`);
  }
  const batchSize = o.batchSize ?? 16;
  const t = await resolveTeacher(o, log);
  const sampleShape = t.mixture?.shape ?? t.sampleShape;
  if (!sampleShape) throw new ConfigError('--data', o.data, "a 'gmm-video:...' spec giving the sample shape");
  const d = await buildData(recipe, stageOptions, o, t.teacher, t.mixture, t.dataSpec ?? o.data, t.sampleShape, batchSize, log);
  const aux = await buildModels(recipe, o, t.teacher, t.mixture, log);
  try {
    log(`distill: ${recipe.name} for ${o.steps} steps (batch ${batchSize}${o.preset ? `, preset ${o.preset}` : ''})`);
    const lastStage = stagesOf(recipe)[stagesOf(recipe).length - 1]!;
    const every = o.checkpointEvery ?? Math.max(1, Math.ceil(o.steps / 4));
    const watchdog = o.watchdog
      ? recipesApi.collapseWatchdog({
          every,
          action: o.watchdog,
          sample: (networks) => {
            const spec = lastStage.student(stageOptions[stageOptions.length - 1] as never);
            const net = networks[lastStage.studentRole]!;
            const model: DiffusionModel = { backbone: t.teacher.backbone.withNetwork(net), schedule: t.teacher.schedule, predictionType: t.teacher.predictionType };
            const noise = randomNormal([16, ...sampleShape], seededRng(4242));
            const r = studentSampler(spec, model.schedule).sample(modelDenoiser(model), noise, { rng: 4243 });
            noise.dispose();
            return r.sample;
          },
        })
      : undefined;
    const attempt = (resume: import('@fewstep/core').ResumeMode) =>
      distill({
      recipe,
      teacher: t.teacher,
      ...(o.preset === undefined ? {} : { preset: o.preset }),
      options: o.options ?? {},
      data: d.data,
      models: aux.models,
      sampleShape,
      batchSize,
      steps: o.steps,
      seed: o.seed ?? 0,
      outDir: out,
        checkpoint: { every, keepLast: 2 },
        resume,
        plugins: [jsonlMetrics() /* <out>/metrics.jsonl; staged recipes: <out>/stage-<i>-<name>/metrics.jsonl */, ...(o.quietBar ? [] : [progressBar()]), ...(watchdog ? [watchdog] : []), ...(o.plugins ?? [])],
        ...(o.onRun ? { onRun: (run) => o.onRun!(run) } : {}),
      });
    let result: Awaited<ReturnType<typeof distill>>;
    try {
      result = await attempt(o.resume ? 'auto' : 'never');
    } catch (e) {
      if (!(e instanceof recipesApi.CollapseError) || o.watchdog !== 'rollback') throw e;
      log(`distill: ${e.message}; resuming from ${e.rollbackTo ?? '(no healthy checkpoint)'}`);
      result = await attempt(await recipesApi.resumeFromRollback(e));
    }
    const studentDir = join(out, 'student');
    await saveModelDirectory(
      studentDir,
      { backbone: t.teacher.backbone, network: result.student, schedule: t.teacher.schedule, predictionType: t.teacher.predictionType },
      { role: 'student', sampleShape, student: result.spec, provenance: { recipe: recipe.name, options: result.options, teacher: t.dir, steps: o.steps, seed: o.seed ?? 0 } },
    );
    let metrics: StudentMetrics[] | undefined;
    if (t.mixture) {
      const studentModel: DiffusionModel = { backbone: t.teacher.backbone.withNetwork(result.student), schedule: t.teacher.schedule, predictionType: t.teacher.predictionType };
      const stepsList = o.evalSteps ?? [...new Set([1, 2, 4, result.spec.steps])].sort((a, b) => a - b);
      metrics = await evaluateStudent(studentModel, result.spec, t.mixture, stepsList, o.evalSamples ?? 512);
    }
    result.student.dispose();
    return { recipe: recipe.name, steps: o.steps, seconds: (performance.now() - started) / 1000, trainSeconds: trainingSeconds(out, recipe), completedSteps: result.summaries.reduce((a, x) => a + x.step, 0), studentSteps: result.spec.steps, student: studentDir, teacher: t.dir, ...(metrics ? { metrics } : {}) };
  } finally {
    aux.dispose();
    d.dispose();
    t.dispose();
  }
}
