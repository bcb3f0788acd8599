import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { intOption } from '../options.js';
import { makeOutput } from '../output.js';
import type { StudentMetrics, TeacherFitOptions } from '../distill/run-distill.js';

/** `--config FILE` of `fewstep distill` (JSON or YAML); flags override it. */
export const distillConfigSchema = z.strictObject({
  recipe: z.string().optional(),
  /** Third-party plugin modules (package names or paths) whose FewstepModules register recipes, losses, backbones. */
  plugins: z.array(z.string()).optional(),
  teacher: z.string().optional(),
  preset: z.string().optional(),
  steps: z.number().int().min(1).optional(),
  batch: z.number().int().min(1).optional(),
  seed: z.number().int().min(0).optional(),
  checkpointEvery: z.number().int().min(1).optional(),
  /** Recipe options (validated by the recipe's own schema). */
  options: z.record(z.string(), z.unknown()).optional(),
  teacherFit: z
    .strictObject({
      steps: z.number().int().min(1).optional(),
      lr: z.number().positive().optional(),
      backbone: z.enum(['video-dit', 'video-unet']).optional(),
      preset: z.string().optional(),
      batchSize: z.number().int().min(1).optional(),
      /** Backbone config fields over the preset (e.g. `{ hiddenDim: 32, depth: 2 }`). */
      overrides: z.record(z.string(), z.unknown()).optional(),
      /** A model directory that initialises the fitted network (`strict: false`). */
      init: z.string().optional(),
      /** Image-to-video (`gmm-i2v:`): probability of the empty condition per sample. */
      condDropout: z.number().min(0).max(1).optional(),
      /** Image-to-video: augmentation of the conditioning frames, a level >= 0 or 'lognormal'. */
      imageNoise: z.union([z.number().min(0), z.literal('lognormal')], { error: "a number >= 0 (one level for every condition; 0 = clean) or 'lognormal'" }).optional(),
    })
    .optional(),
  dataset: z.strictObject({ n: z.number().int().min(1).optional(), solverSteps: z.number().int().min(1).optional() }).optional(),
  data: z.string().optional(),
  evalSteps: z.array(z.number().int().min(1)).optional(),
  evalSamples: z.number().int().min(2).optional(),
});
export type DistillConfig = z.infer<typeof distillConfigSchema>;

/** Compile-time check: the config's `teacherFit` is exactly run-distill's {@link TeacherFitOptions} (both ways). */
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const teacherFitMirrors: Exact<NonNullable<DistillConfig['teacherFit']>, TeacherFitOptions> = true;
void teacherFitMirrors;

/** Reads and validates a JSON / YAML config file; errors name the field. */
export async function readConfigFile<T>(path: string, schema: z.ZodType<T>): Promise<T> {
  const core = await import('@fewstep/core');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new core.ConfigError('--config', path, 'a readable JSON or YAML file');
  }
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new core.ConfigError('--config', path, 'valid JSON (.json) or YAML (.yaml / .yml)', (e as Error).message.split('\n')[0]);
  }
  const r = schema.safeParse(raw ?? {});
  if (r.success) return r.data;
  // The first issue, named by its full path in the file (e.g. `teacherFit.condDropot`), with the
  // keys known at that level for a misspelt one.
  const issue = r.error.issues[0]!;
  const at = issue.path.map(String);
  let value: unknown = raw;
  for (const k of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[k as PropertyKey];
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const known = objectKeysAt(schema, issue.path);
    throw new core.ConfigError(`config ${path}: ${[...at, key].join('.')}`, (value as Record<string, unknown> | undefined)?.[key], `known keys${at.length ? ` of ${at.join('.')}` : ''}: ${known.join(', ')}`, 'check the spelling');
  }
  throw new core.ConfigError(`config ${path}: ${at.join('.') || '(top level)'}`, value, issue.message);
}

/** The keys of the (strict) object schema at `path` inside `schema` (optional wrappers unwrapped). */
function objectKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: unknown = schema;
  const unwrap = (x: unknown): unknown => {
    while (x instanceof z.ZodOptional || x instanceof z.ZodNullable || x instanceof z.ZodDefault) x = x.unwrap();
    return x;
  };
  for (const k of path) {
    const o = unwrap(s);
    if (!(o instanceof z.ZodObject)) return [];
    s = (o.shape as Record<string, unknown>)[String(k)];
  }
  const o = unwrap(s);
  return o instanceof z.ZodObject ? Object.keys(o.shape as Record<string, unknown>) : [];
}

/** A repeatable string option. */
function collectList(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** `key=value` recipe option overrides (values parsed as JSON when they parse). */
function collectSet(v: string, prev: Record<string, unknown>): Record<string, unknown> {
  const i = v.indexOf('=');
  if (i <= 0) throw new Error(`--set expects key=value, got '${v}'`);
  const raw = v.slice(i + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    /* a plain string */
  }
  return { ...prev, [v.slice(0, i)]: value };
}

/** The metrics of a run as a text table (one row per student step count; image-to-video runs add first-frame RMSE and mode agreement). */
export function metricsTable(metrics: readonly StudentMetrics[]): string[] {
  const i2v = metrics.some((m) => m.firstFrameRmse !== undefined || m.modeAgreement !== undefined);
  const opt = (v: number | undefined, digits: number, width: number): string => (v === undefined ? '-' : v.toFixed(digits)).padStart(width);
  const lines = [`student steps  NFE  coverage  precision     TV  spread  energy distance${i2v ? '  first-frame RMSE  mode agreement' : ''}  ms/sample`];
  for (const m of metrics) {
    const extra = i2v ? `  ${opt(m.firstFrameRmse, 4, 16)}  ${opt(m.modeAgreement, 3, 14)}` : '';
    lines.push(`${String(m.steps).padStart(13)}  ${String(m.nfe).padStart(3)}  ${m.modeCoverage.toFixed(2).padStart(8)}  ${m.precision.toFixed(3).padStart(9)}  ${m.totalVariation.toFixed(3).padStart(5)}  ${m.spreadRatio.toFixed(2).padStart(6)}  ${m.energyDistance.toFixed(4).padStart(15)}${extra}  ${m.msPerSample.toFixed(2).padStart(9)}`);
  }
  return lines;
}

/** `fewstep distill`: run a recipe on a teacher and write the student. */
export function distillCommand(): Command {
  return new Command('distill')
    .description('distill a teacher into a few-step student with a recipe; writes <out>/metrics.jsonl, checkpoints and <out>/student')
    .option('--recipe <name>', 'recipe: avdm2 | accvideo | adp | adm | dmdx | osv-stage1 | osv-stage2 | osv | mcm | dmd2 | lcm | accvideo-adm, or one a --plugin registers')
    .option('--plugin <module>', 'a third-party plugin (package name or path) whose exported FewstepModules register recipes, losses and backbones (repeatable)', collectList, [])
    .option('--teacher <dir|analytic:SPEC>', "a teacher model directory, or 'analytic:gmm-video:...' (a network is first fitted to the exact denoiser)")
    .option('--config <file>', 'JSON or YAML config (recipe, teacher, preset, steps, options, ...); flags override it')
    .option('--preset <name>', "recipe preset: 'paper' (the published settings) or 'tiny' (2 CPU cores)")
    .option('--set <key=value>', 'a recipe option (repeatable), e.g. --set lambdaReal=0.5', collectSet, {})
    .option('--steps <n>', 'training steps', intOption('--steps', 1))
    .option('--batch <n>', 'batch size', intOption('--batch', 1))
    .option('--seed <n>', 'seed', intOption('--seed', 0))
    .requiredOption('--out <dir>', 'output directory')
    .option('--checkpoint-every <n>', 'steps between checkpoints', intOption('--checkpoint-every', 1))
    .option('--resume', 'continue the run in --out from its newest valid checkpoint')
    .option('--data <spec>', "real data for a model-directory teacher: 'gmm-video:...' ('gmm-i2v:...' / 'shapes-video:...' for an i2v teacher)")
    .option('--watchdog <action>', "collapse watchdog on the student's samples at every checkpoint: warn | stop | rollback")
    .option('--json', 'print one JSON object { recipe, steps, seconds, studentSteps, metrics? }')
    .action(async (opts: { recipe?: string; plugin: string[]; teacher?: string; config?: string; preset?: string; set: Record<string, unknown>; steps?: number; batch?: number; seed?: number; out: string; checkpointEvery?: number; resume?: boolean; data?: string; json?: boolean; watchdog?: string }) => {
      const out = makeOutput(Boolean(opts.json));
      const core = await import('@fewstep/core');
      const cfg: DistillConfig = opts.config ? await readConfigFile(opts.config, distillConfigSchema) : {};
      const recipe = opts.recipe ?? cfg.recipe;
      const teacher = opts.teacher ?? cfg.teacher;
      const steps = opts.steps ?? cfg.steps;
      if (!recipe) throw new core.ConfigError('--recipe', recipe, 'a recipe name', 'pass --recipe NAME or "recipe" in --config');
      if (!teacher) throw new core.ConfigError('--teacher', teacher, "a model directory or 'analytic:gmm-video:...'", 'pass --teacher or "teacher" in --config');
      if (steps === undefined) throw new core.ConfigError('--steps', steps, 'an integer >= 1', 'pass --steps N or "steps" in --config');
      if (opts.watchdog !== undefined && !['warn', 'stop', 'rollback'].includes(opts.watchdog)) throw new core.ConfigError('--watchdog', opts.watchdog, "'warn', 'stop' or 'rollback'");
      const engine = await core.initEngine({ report: !opts.json });
      const { runDistill } = await import('../distill/run-distill.js');
      const preset = opts.preset ?? cfg.preset;
      const batch = opts.batch ?? cfg.batch;
      const seed = opts.seed ?? cfg.seed;
      const every = opts.checkpointEvery ?? cfg.checkpointEvery;
      const data = opts.data ?? cfg.data;
      const pluginSpecs = opts.plugin.length ? opts.plugin : (cfg.plugins ?? []);
      const plugins = pluginSpecs.length ? await (await import('../distill/load-plugins.js')).loadPlugins(pluginSpecs) : undefined;
      if (plugins) out.progress(`plugins: ${plugins.modules.map((m) => m.name).join(', ')} (recipes: ${plugins.recipes.map((r) => r.name).join(', ') || 'none'})`);
      const result = await runDistill({
        recipe,
        ...(plugins ? { pluginRecipes: plugins.recipes } : {}),
        teacher,
        out: opts.out,
        steps,
        ...(preset === undefined ? {} : { preset }),
        options: { ...(cfg.options ?? {}), ...opts.set },
        ...(batch === undefined ? {} : { batchSize: batch }),
        ...(seed === undefined ? {} : { seed }),
        ...(every === undefined ? {} : { checkpointEvery: every }),
        resume: Boolean(opts.resume),
        ...(cfg.teacherFit ? { teacherFit: cfg.teacherFit } : {}),
        ...(cfg.dataset ? { dataset: cfg.dataset } : {}),
        ...(data === undefined ? {} : { data }),
        ...(cfg.evalSteps ? { evalSteps: cfg.evalSteps } : {}),
        ...(cfg.evalSamples ? { evalSamples: cfg.evalSamples } : {}),
        progress: (l) => out.progress(l),
        ...(opts.watchdog ? { watchdog: opts.watchdog as 'warn' | 'stop' | 'rollback' } : {}),
      });
      if (result.metrics) for (const line of metricsTable(result.metrics)) out.text(line);
      out.text(`student: ${result.student} (${result.studentSteps} steps; ${result.seconds.toFixed(0)} s on ${engine.backend}); sample it with: fewstep sample --model ${result.student} --n 16 --out samples`);
      out.result({ recipe: result.recipe, steps: result.steps, seconds: result.seconds, studentSteps: result.studentSteps, student: result.student, teacher: result.teacher, ...(result.metrics ? { metrics: result.metrics } : {}) });
    });
}
