/**
 * @file The `fewstep distill` pipeline as a function (the command and the results sweep call
 * it): resolve the teacher (a model directory, or `analytic:SPEC` -> a network fitted to the exact
 * denoiser, cached in `<out>/teacher`), build the data the recipe reads (real samples, teacher
 * trajectories, ODE pairs; cached in `<out>/data`), run the recipe with checkpoints and
 * `metrics.jsonl`, write the student as a model directory, and score it against the exact
 * distribution when there is one.
 *
 * Image-to-video (issue 10): `analytic:gmm-i2v:SPEC` fits an image-conditioned teacher to the
 * exact conditional denoiser (`fitAnalyticTeacher`: a fresh condition per sample, 10% dropped;
 * `teacherFit.init` starts it from another model directory, e.g. the unconditional fit); a model
 * directory whose task is `i2v` distills on `gmm-i2v:` or `shapes-video:` data with the first frame
 * as the condition. Real batches carry `image` / `imageNoiseSigma`, teacher-made datasets record
 * the condition each sample was solved under, stages that read no data get the real batches as
 * conditions, and the student is scored with `conditionalMixtureMetrics` (first-frame RMSE and
 * precision next to precision / mode agreement / coverage / TV / energy distance).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  ACCVIDEO_KEY_TIMESTEPS,
  ACCVIDEO_UNIFORM_TIMESTEPS,
  ConfigError,
  GMM_I2V_PREFIX,
  findLatestCheckpoint,
  gmmI2v,
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
  type ModelTask,
  type RecipeDataKind,
  type StudentSpec,
} from '@fewstep/recipes';
import { imageConditioning } from '@fewstep/backbones';
import { mixtureSource, shapesVideoSource, teacherOdePairs, teacherTrajectories, tensorSource } from '@fewstep/data';
import {
  DEFAULT_ANALYTIC_I2V,
  createTeacher,
  fitAnalyticTeacher,
  frameMarginalMixture,
  initFromModelDirectory,
  type ImageNoise,
  type TeacherBackboneName,
} from '../teacher/fit-analytic-teacher.js';
import { dataConditions, embedsImageNoise, firstFrameConditionSource, i2vMetrics, imageInputs, mixtureConditions, sampleUnderConditions, type ConditionFrames } from './i2v.js';

/**
 * Ground-truth metrics of a student at one step count. Image-to-video students (scored against
 * the first-frame-conditioned mixture, sample i given condition i) also report the first frame's
 * RMSE to its condition and precision, and the mode agreement; coverage, precision, TV and energy
 * distance are then the conditional ones, the spread ratio that of the marginal.
 */
export interface StudentMetrics {
  steps: number;
  nfe: number;
  msPerSample: number;
  modeCoverage: number;
  precision: number;
  totalVariation: number;
  spreadRatio: number;
  energyDistance: number;
  firstFrameRmse?: number;
  firstFramePrecision?: number;
  modeAgreement?: number;
}

/** How an analytic teacher is fitted (`teacherFit` of `fewstep distill --config`). */
export interface TeacherFitOptions {
  steps?: number;
  lr?: number;
  backbone?: TeacherBackboneName;
  preset?: string;
  batchSize?: number;
  /** Backbone config fields over the preset (e.g. a test-sized `{ hiddenDim: 32, depth: 2 }`). */
  overrides?: Record<string, unknown>;
  /** A model directory that initialises the network (`strict: false`: an I2V teacher from the unconditional fit). */
  init?: string;
  /** Image-to-video: condition dropout. @default 0.1 */
  condDropout?: number;
  /** Image-to-video: augmentation of the conditioning frames. @default 0 */
  imageNoise?: ImageNoise;
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
  /** Analytic teachers: fitting steps, lr, backbone (and for `gmm-i2v:`, the condition handling). */
  teacherFit?: TeacherFitOptions;
  /** Teacher-made datasets: number of trajectories / pairs and solver steps. */
  dataset?: { n?: number; solverSteps?: number };
  /** Real data for a model-directory teacher (`gmm-video:...`; `gmm-i2v:...` / `shapes-video:...` for an i2v teacher). */
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
  /** What the teacher (and so the student) generates. */
  task: ModelTask;
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

/** A resolved teacher: the network, what it generates, and the exact mixture when there is one. */
export interface ResolvedTeacher {
  teacher: DiffusionModel;
  task: ModelTask;
  /** The exact data distribution (`gmm-video:`, or `gmm-i2v:` for an image-to-video teacher). */
  mixture?: GmmVideo;
  dataSpec?: string;
  sampleShape?: readonly number[];
  dir: string;
  dispose(): void;
}

/** Loads or fits the teacher; returns it and the mixture when the teacher is analytic. */
export async function resolveTeacher(o: RunDistillOptions, log: (l: string) => void): Promise<ResolvedTeacher> {
  if (o.teacher.startsWith('analytic:')) {
    const spec = o.teacher.slice('analytic:'.length);
    const i2v = spec.startsWith(GMM_I2V_PREFIX);
    const task: ModelTask = i2v ? 'i2v' : 't2v';
    const mixture = i2v ? gmmI2v(spec) : gmmVideo(spec);
    const dir = join(resolve(o.out), 'teacher');
    if (existsSync(join(dir, 'model.json'))) {
      const loaded = await loadModelDirectory(dir);
      log(`distill: teacher ${dir} (fitted earlier to ${mixture.toString()})`);
      return { teacher: loaded.model, task: loaded.task, mixture, dir, dispose: loaded.dispose };
    }
    const fit = { ...DEFAULT_TEACHER_FIT, ...(o.teacherFit ?? {}) };
    const teacher = createTeacher(fit.backbone, fit.preset, mixture.shape, { seed: (o.seed ?? 0) + 1, ...(i2v ? { imageCondition: imageConditioning() } : {}), ...(fit.overrides ? { overrides: fit.overrides } : {}) });
    try {
      if (fit.init !== undefined) {
        const r = await initFromModelDirectory(teacher.backbone.net, fit.init);
        log(`distill: teacher initialised from ${fit.init} (${r.loaded.length} variables; ${r.kept.length} new)`);
      }
      const conditions = i2v ? { dropout: fit.condDropout ?? DEFAULT_ANALYTIC_I2V.dropout, noise: fit.imageNoise ?? DEFAULT_ANALYTIC_I2V.noise } : undefined;
      log(
        `distill: fitting a ${fit.backbone}/${fit.preset} teacher (${teacher.backbone.net.numParameters()} parameters) to the exact ${i2v ? 'first-frame-conditioned ' : ''}denoiser of ${mixture.toString()}: ${fit.steps} steps` +
          (conditions ? ` (condition dropout ${conditions.dropout}, image noise ${conditions.noise})` : ''),
      );
      await fitAnalyticTeacher({
        teacher,
        mixture,
        steps: fit.steps,
        batchSize: fit.batchSize,
        lr: fit.lr,
        seed: (o.seed ?? 0) + 1,
        outDir: join(resolve(o.out), 'teacher-fit'),
        plugins: [jsonlMetrics(), ...(o.quietBar ? [] : [progressBar()])],
        ...(conditions ? { i2v: conditions } : {}),
      });
      await saveModelDirectory(dir, teacher, { role: 'teacher', task, sampleShape: mixture.shape, provenance: { data: mixture.toString(), task, fit } });
    } catch (e) {
      teacher.backbone.net.dispose();
      throw e;
    }
    return { teacher, task, mixture, dir, dispose: () => teacher.backbone.net.dispose() };
  }
  const loaded = await loadModelDirectory(o.teacher);
  const spec = o.data ?? (loaded.manifest.provenance?.['data'] as string | undefined);
  try {
    if (loaded.task === 'i2v' && spec?.startsWith('gmm-video:')) {
      throw new ConfigError('--data', spec, "'gmm-i2v:...' or 'shapes-video:...' for an image-to-video teacher", `use --data gmm-i2v:${spec.slice('gmm-video:'.length)}`);
    }
    if (loaded.task === 't2v' && spec?.startsWith(GMM_I2V_PREFIX)) {
      throw new ConfigError('--data', spec, "'gmm-video:...' or 'shapes-video:...' for a t2v teacher (no image conditioning)", `use --data gmm-video:${spec.slice(GMM_I2V_PREFIX.length)}, or an i2v teacher`);
    }
  } catch (e) {
    loaded.dispose();
    throw e;
  }
  const mixture = spec?.startsWith('gmm-video:') ? gmmVideo(spec) : spec?.startsWith(GMM_I2V_PREFIX) ? gmmI2v(spec) : undefined;
  return { teacher: loaded.model, task: loaded.task, ...(mixture ? { mixture } : {}), ...(spec ? { dataSpec: spec } : {}), sampleShape: loaded.manifest.sampleShape, dir: o.teacher, dispose: loaded.dispose };
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

/** A teacher whose image conditioning does not embed the noise level takes no `imageNoiseSigma` input: drop the recorded (zero) levels. */
function dropUnembeddedNoise(t: tf.NamedTensorMap, teacher: DiffusionModel): void {
  if (t['imageNoiseSigma'] !== undefined && !embedsImageNoise(teacher.backbone)) {
    t['imageNoiseSigma'].dispose();
    delete t['imageNoiseSigma'];
  }
}

/** The `real` source of a mixture or data spec (first-frame conditioned for an i2v teacher), or undefined. */
function realSource(mixture: GmmVideo | undefined, dataSpec: string | undefined, task: ModelTask, batchSize: number): DataSource | undefined {
  if (mixture) return mixtureSource(mixture, batchSize);
  if (dataSpec?.startsWith('shapes-video')) {
    const src = shapesVideoSource(dataSpec, { batchSize });
    return task === 'i2v' ? firstFrameConditionSource(src) : src;
  }
  return undefined;
}

/**
 * Builds the data sources the recipe's stages read. For an i2v teacher the real batches carry
 * the first frame as `image`; trajectories and ODE pairs are solved under conditions drawn from
 * the data and record them; stages that read no data get the real batches as `conditions`.
 */
async function buildData(recipe: AnyRecipe, stageOptions: readonly Record<string, unknown>[], o: RunDistillOptions, teacher: DiffusionModel, task: ModelTask, mixture: GmmVideo | undefined, dataSpec: string | undefined, teacherShape: readonly number[] | undefined, batchSize: number, log: (l: string) => void): Promise<{ data: Partial<Record<RecipeDataKind, DataSource>>; conditions?: DataSource; dispose(): void }> {
  const kinds = new Set(stagesOf(recipe).map((s) => s.data));
  const data: Partial<Record<RecipeDataKind, DataSource>> = {};
  const owned: tf.Tensor[] = [];
  const dir = o.dataDir ?? join(resolve(o.out), 'data');
  await mkdir(dir, { recursive: true });
  const n = o.dataset?.n ?? 1024;
  const solverSteps = o.dataset?.solverSteps ?? 50;
  const shape = mixture?.shape ?? undefined;
  const i2v = task === 'i2v';
  const real = realSource(mixture, dataSpec, task, batchSize);
  const needsReal = kinds.has('real') || (i2v && kinds.size > (kinds.has('real') ? 1 : 0));
  if (needsReal && real === undefined) {
    throw new ConfigError(
      '--data',
      o.data,
      i2v ? "a 'gmm-i2v:...' or 'shapes-video:...' spec" : "a 'gmm-video:...' or 'shapes-video:...' spec",
      kinds.has('real') ? `${recipe.name} trains on real data: pass --data SPEC (or use an analytic:SPEC teacher)` : 'an image-to-video teacher is distilled under conditions drawn from the data: pass --data SPEC',
    );
  }
  if (kinds.has('real')) data.real = real!;
  const sampleShape = shape ?? teacherShape;
  /** The conditions a teacher-made dataset of n samples is solved under (i2v), seeded per dataset. */
  const conditionsFor = async (seed: number): Promise<ConditionFrames | undefined> => {
    if (!i2v) return undefined;
    const c = mixture ? mixtureConditions(mixture, n, seed) : await dataConditions(real!, n, seed);
    owned.push(c.image, c.imageNoiseSigma);
    return c;
  };
  const suffix = i2v ? '-i2v' : '';
  if (kinds.has('trajectories')) {
    const index = stagesOf(recipe).findIndex((s) => s.data === 'trajectories');
    const keep = trajectoryTimes(stageOptions[index]!);
    const file = join(dir, `trajectories-${keep.join('_')}-n${n}-s${solverSteps}${suffix}.safetensors`);
    log(`distill: teacher trajectories (${n} x ${solverSteps} DDIM steps, keeping t = ${keep.join(', ')}${i2v ? ', each under a first frame of the data, recorded' : ''})`);
    const condition = existsSync(file) ? undefined : await conditionsFor((o.seed ?? 0) + 9);
    const common = { n, keep, solverSteps, seed: (o.seed ?? 0) + 7, onProgress: (d: number, total: number) => log(`distill: trajectories ${d}/${total}`) };
    const t = await cachedTensors(file, () => (condition ? teacherTrajectories(modelDenoiser(teacher), sampleShape!, { ...common, condition }) : { trajectory: teacherTrajectories(modelDenoiser(teacher), sampleShape!, common) }));
    dropUnembeddedNoise(t, teacher);
    owned.push(...Object.values(t));
    data.trajectories = tensorSource('data:teacher-trajectories', t, batchSize);
  }
  if (kinds.has('ode-pairs')) {
    const file = join(dir, `ode-pairs-n${n}-s${solverSteps}${suffix}.safetensors`);
    log(`distill: ODE pairs (${n} x ${solverSteps} DDIM steps${i2v ? ', each under a first frame of the data, recorded' : ''})`);
    const condition = existsSync(file) ? undefined : await conditionsFor((o.seed ?? 0) + 10);
    const common = { n, solverSteps, seed: (o.seed ?? 0) + 8, onProgress: (d: number, total: number) => log(`distill: ODE pairs ${d}/${total}`) };
    const t = await cachedTensors(file, () => (condition ? teacherOdePairs(modelDenoiser(teacher), sampleShape!, { ...common, condition }) : teacherOdePairs(modelDenoiser(teacher), sampleShape!, common)));
    dropUnembeddedNoise(t, teacher);
    owned.push(...Object.values(t));
    data['ode-pairs'] = tensorSource('data:teacher-ode-pairs', t, batchSize);
  }
  return { data, ...(i2v && kinds.has('none') && real ? { conditions: real } : {}), dispose: () => tf.dispose(owned) };
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
 * Scores an image-to-video student at several step counts against the exact first-frame-
 * conditioned mixture: n conditions (frame 0 of fresh exact videos, seeded), one sample each.
 */
export async function evaluateI2vStudent(model: DiffusionModel, spec: StudentSpec, mixture: GmmVideo, stepsList: number[], n: number, seed = 99): Promise<StudentMetrics[]> {
  const rows: StudentMetrics[] = [];
  const den = modelDenoiser(model);
  const conditions = mixtureConditions(mixture, n, seed + 2);
  try {
    for (const steps of stepsList) {
      const r = await sampleUnderConditions(den, studentSampler(spec, model.schedule, steps), model.backbone, conditions, mixture.shape, { noiseSeed: seed, rng: seed + 1 });
      const m = i2vMetrics(mixture, conditions.image, r.sample);
      r.sample.dispose();
      rows.push({ steps, nfe: r.nfe, msPerSample: r.msPerSample, ...m });
    }
  } finally {
    tf.dispose([conditions.image, conditions.imageNoiseSigma]);
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
  const i2v = t.task === 'i2v';
  const sampleShape = t.mixture?.shape ?? t.sampleShape;
  if (!sampleShape) throw new ConfigError('--data', o.data, "a 'gmm-video:...' spec giving the sample shape");
  const d = await buildData(recipe, stageOptions, o, t.teacher, t.task, t.mixture, t.dataSpec ?? o.data, t.sampleShape, batchSize, log);
  const aux = await buildModels(recipe, o, t.teacher, t.mixture, log);
  // The watchdog samples an i2v student under fixed conditions of the data (none known: the empty condition).
  const watchConditions = i2v && t.mixture ? mixtureConditions(t.mixture, 16, 4244) : undefined;
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
            const r = studentSampler(spec, model.schedule).sample(modelDenoiser(model), noise, { rng: 4243, ...(watchConditions ? { cond: imageInputs(model.backbone, watchConditions) } : {}) });
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
      ...(d.conditions ? { conditions: d.conditions } : {}),
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
    const dataSpec = t.mixture?.toString() ?? t.dataSpec ?? o.data;
    await saveModelDirectory(
      studentDir,
      { backbone: t.teacher.backbone, network: result.student, schedule: t.teacher.schedule, predictionType: t.teacher.predictionType },
      {
        role: 'student',
        task: t.task,
        sampleShape,
        student: result.spec,
        provenance: { recipe: recipe.name, options: result.options, teacher: t.dir, task: t.task, ...(dataSpec ? { data: dataSpec } : {}), steps: o.steps, seed: o.seed ?? 0 },
      },
    );
    let metrics: StudentMetrics[] | undefined;
    if (t.mixture) {
      const studentModel: DiffusionModel = { backbone: t.teacher.backbone.withNetwork(result.student), schedule: t.teacher.schedule, predictionType: t.teacher.predictionType };
      const stepsList = o.evalSteps ?? [...new Set([1, 2, 4, result.spec.steps])].sort((a, b) => a - b);
      if (i2v) {
        metrics = await evaluateI2vStudent(studentModel, result.spec, t.mixture, stepsList, o.evalSamples ?? 512);
        for (const m of metrics) {
          log(
            `distill: i2v student at ${m.steps} step${m.steps > 1 ? 's' : ''}: first-frame RMSE ${m.firstFrameRmse!.toFixed(4)} (precision ${m.firstFramePrecision!.toFixed(3)}), ` +
              `precision ${m.precision.toFixed(3)}, mode agreement ${m.modeAgreement!.toFixed(3)}, coverage ${m.modeCoverage.toFixed(2)}, TV ${m.totalVariation.toFixed(3)}, energy distance ${m.energyDistance.toFixed(4)}`,
          );
        }
      } else metrics = await evaluateStudent(studentModel, result.spec, t.mixture, stepsList, o.evalSamples ?? 512);
    }
    result.student.dispose();
    return {
      recipe: recipe.name,
      steps: o.steps,
      seconds: (performance.now() - started) / 1000,
      trainSeconds: trainingSeconds(out, recipe),
      completedSteps: result.summaries.reduce((a, x) => a + x.step, 0),
      studentSteps: result.spec.steps,
      student: studentDir,
      teacher: t.dir,
      task: t.task,
      ...(metrics ? { metrics } : {}),
    };
  } finally {
    if (watchConditions) tf.dispose([watchConditions.image, watchConditions.imageNoiseSigma]);
    aux.dispose();
    d.dispose();
    t.dispose();
  }
}
