import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { intOption } from '../options.js';
import { makeOutput } from '../output.js';

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
    })
    .optional(),
  dataset: z.strictObject({ n: z.number().int().min(1).optional(), solverSteps: z.number().int().min(1).optional() }).optional(),
  data: z.string().optional(),
  evalSteps: z.array(z.number().int().min(1)).optional(),
  evalSamples: z.number().int().min(2).optional(),
});
export type DistillConfig = z.infer<typeof distillConfigSchema>;

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
  const { parseOptions } = await import('@fewstep/recipes');
  return parseOptions(schema, raw ?? {}, `config ${path}:`);
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
    .option('--data <spec>', "real data for a model-directory teacher: 'gmm-video:...'")
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
      if (result.metrics) {
        out.text('student steps  NFE  coverage  precision     TV  spread  energy distance  ms/sample');
        for (const m of result.metrics) {
          out.text(`${String(m.steps).padStart(13)}  ${String(m.nfe).padStart(3)}  ${m.modeCoverage.toFixed(2).padStart(8)}  ${m.precision.toFixed(3).padStart(9)}  ${m.totalVariation.toFixed(3).padStart(5)}  ${m.spreadRatio.toFixed(2).padStart(6)}  ${m.energyDistance.toFixed(4).padStart(15)}  ${m.msPerSample.toFixed(2).padStart(9)}`);
        }
      }
      out.text(`student: ${result.student} (${result.studentSteps} steps; ${result.seconds.toFixed(0)} s on ${engine.backend}); sample it with: fewstep sample --model ${result.student} --n 16 --out samples`);
      out.result({ recipe: result.recipe, steps: result.steps, seconds: result.seconds, studentSteps: result.studentSteps, student: result.student, teacher: result.teacher, ...(result.metrics ? { metrics: result.metrics } : {}) });
    });
}
