/**
 * @file Instantiating a recipe on a teacher and running it with the core trainer (single recipes
 * and staged ones such as DMDX = ADP then ADM, OSV stage 1 then stage 2).
 */
import * as nodePath from 'node:path';
import {
  ConfigError,
  startRun,
  type CheckpointConfig,
  type DataSource,
  type EmaConfig,
  type LossDefinition,
  type LossUse,
  type Network,
  type PhaseConfig,
  type ResumeMode,
  type RunSummary,
  type TrainingContext,
  type TrainingPlugin,
  type TrainingRun,
} from '@fewstep/core';
import type { AnyRecipe, DistillRecipe, RecipeDataKind, RecipeOptions } from './define-recipe.js';
import type { DiffusionModel } from './diffusion-model.js';
import { recipeContextFactory } from './recipe-context.js';
import { parseOptions, presetOf, resolveRecipeOptions } from './resolve-options.js';
import type { RoleInstance } from './roles.js';
import type { StudentSpec } from './student.js';

/** A recipe bound to a teacher: trainer inputs plus the student's description. */
export interface InstantiatedRecipe<R extends RecipeOptions = any> {
  readonly recipe: DistillRecipe<R>;
  readonly options: R;
  readonly roles: ReadonlyMap<string, RoleInstance>;
  /** Networks by role for the trainer (EMA roles included, as explicit copies). */
  readonly networks: Readonly<Record<string, Network>>;
  readonly phases: readonly PhaseConfig[];
  readonly ema: readonly EmaConfig[];
  readonly student: StudentSpec;
  /** A standalone copy of the student network (LoRA merged). The caller owns it. */
  exportStudent(): Network;
  dispose(): void;
}

export interface InstantiateOptions {
  teacher: DiffusionModel;
  /** Option overrides on top of `preset`. */
  options?: Record<string, unknown>;
  /** `tiny`, `paper`, ... @default none (the schema's defaults = the paper's settings) */
  preset?: string;
  /** Shape of one sample `[F, H, W, C]`. */
  sampleShape: readonly number[];
  batchSize: number;
  seed: number;
  /** The student of a previous stage. */
  carried?: Network;
  /** Auxiliary frozen models by name (see `DistillRecipe.models`). */
  models?: Readonly<Record<string, DiffusionModel>>;
}

/** Builds every role from the teacher and turns the recipe's phases into trainer phases. */
export function instantiateRecipe<R extends RecipeOptions>(recipe: DistillRecipe<R>, o: InstantiateOptions): InstantiatedRecipe<R> {
  const options = resolveRecipeOptions(recipe, o.preset, o.options);
  const roles = new Map<string, RoleInstance>();
  const networks: Record<string, Network> = {};
  const disposeAll = (): void => {
    for (const r of roles.values()) r.dispose?.();
    for (const e of recipe.ema) networks[e.role]?.dispose();
  };
  try {
    for (const [role, spec] of Object.entries(recipe.roles)) {
      const inst = spec({ role, teacher: o.teacher, options, sampleShape: o.sampleShape, seed: o.seed, models: o.models ?? {}, ...(role === recipe.studentRole && o.carried ? { carried: o.carried } : {}) });
      roles.set(role, inst);
      networks[role] = inst.net;
    }
    const ema: EmaConfig[] = recipe.ema.map((e) => {
      const decay = typeof e.decay === 'function' ? e.decay(options) : e.decay;
      networks[e.role] = networks[e.source]!.clone(e.role);
      networks[e.role]!.freeze();
      return { role: e.role, source: e.source, decay };
    });
    const student = recipe.student(options);
    const makeRc = recipeContextFactory({ options, teacher: o.teacher, sampleShape: o.sampleShape, batchSize: o.batchSize, roles, student, studentRole: recipe.studentRole, models: o.models ?? {} });
    const known = new Set([...Object.keys(networks), 'teacher']);
    const phases: PhaseConfig[] = recipe.phases.map((p) => ({
      role: p.role,
      name: p.name,
      every: typeof p.every === 'function' ? p.every(options) : p.every,
      offset: typeof p.offset === 'function' ? p.offset(options) : p.offset,
      optimizer: typeof p.optimizer === 'function' ? p.optimizer(options) : p.optimizer,
      losses: p.terms.map((term): LossUse => {
        for (const r of term.requires) {
          if (!known.has(r)) throw new ConfigError(`${recipe.name}: phase '${p.name}' term '${term.loss.name}'.requires`, r, [...known].join(', '));
        }
        const termOptions = typeof term.options === 'function' ? term.options(options) : term.options;
        const def: LossDefinition<Record<string, unknown>, TrainingContext> = Object.freeze({
          name: term.loss.name,
          ...(term.loss.description === undefined ? {} : { description: term.loss.description }),
          ...(term.loss.equation === undefined ? {} : { equation: term.loss.equation }),
          defaults: term.loss.defaults as Record<string, unknown>,
          requires: [],
          trains: p.role,
          ...(term.loss.validate ? { validate: (opts: Record<string, unknown>) => term.loss.validate!(withoutWeight(opts)) } : {}),
          compute: (ctx: TrainingContext, opts: Record<string, unknown>) => term.loss.compute(term.inputs(makeRc(ctx), opts), withoutWeight(opts)),
        });
        return [def, termOptions];
      }),
    }));
    const studentInst = roles.get(recipe.studentRole)!;
    return {
      recipe,
      options,
      roles,
      networks,
      phases,
      ema,
      student,
      exportStudent: () => (studentInst.exportNetwork ? studentInst.exportNetwork() : studentInst.net.clone(`${recipe.studentRole}.export`)),
      dispose: disposeAll,
    };
  } catch (e) {
    disposeAll();
    throw e;
  }
}

function withoutWeight(opts: Record<string, unknown>): Record<string, unknown> {
  const { weight: _w, ...rest } = opts;
  return rest;
}

/** Options of {@link distill}. */
export interface DistillOptions {
  recipe: AnyRecipe;
  teacher: DiffusionModel;
  /** Option overrides (staged recipes: shared by name across stages). */
  options?: Record<string, unknown>;
  preset?: string;
  /** Auxiliary frozen models by name, for recipes that declare them (`DistillRecipe.models`). */
  models?: Readonly<Record<string, DiffusionModel>>;
  /** Data sources by kind; a recipe reading `real` / `trajectories` / `ode-pairs` needs that one. */
  data?: Partial<Record<RecipeDataKind, DataSource>>;
  /**
   * Conditioning batches for stages that read no data (`data: 'none'`: ADM, the ADM stage of DMDX):
   * the batch's conditioning keys (image-to-video `image` / `imageNoiseSigma`, text embeddings)
   * reach the teacher and every role through `rc.cond`; data keys (`x0`, ...) are ignored, so a
   * `real` source serves. Without it such stages run unconditionally (the empty condition).
   */
  conditions?: DataSource;
  sampleShape: readonly number[];
  batchSize: number;
  /** Total steps (staged recipes split them by the stages' fractions). */
  steps: number;
  seed?: number;
  outDir?: string;
  checkpoint?: CheckpointConfig;
  /** @default 'auto' */
  resume?: ResumeMode;
  plugins?: readonly TrainingPlugin[];
  /** Called with each stage's run handle as it starts (progress, stop()). */
  onRun?: (run: TrainingRun, stage: { index: number; count: number; recipe: string; steps: number }) => void;
}

/** What {@link distill} returns. The caller owns (and disposes) `student`. */
export interface DistillResult {
  readonly recipe: string;
  readonly summaries: readonly RunSummary[];
  readonly student: Network;
  readonly spec: StudentSpec;
  /** Resolved options of each stage. */
  readonly options: readonly RecipeOptions[];
  readonly seconds: number;
}

/** Steps of each stage: `round(fraction * steps)`, the last stage takes the remainder. */
export function stageSteps(recipe: AnyRecipe, steps: number): number[] {
  if (recipe.kind === 'recipe') return [steps];
  const out = recipe.stages.map((s) => Math.round(s.fraction * steps));
  out[out.length - 1] = steps - out.slice(0, -1).reduce((a, b) => a + b, 0);
  return out;
}

/**
 * Distills `teacher` with `recipe` (Algorithm 1 of its paper) on the core trainer: checkpoints,
 * exact resume, events and plugins as any run. Staged recipes run their stages in order under
 * `<outDir>/stage-<i>-<name>/`, each resuming on its own; a finished stage is restored, not rerun.
 */
export async function distill(o: DistillOptions): Promise<DistillResult> {
  const started = performance.now();
  const stages = o.recipe.kind === 'recipe' ? [o.recipe] : o.recipe.stages.map((s) => s.recipe);
  const steps = stageSteps(o.recipe, o.steps);
  const seed = o.seed ?? 0;
  const summaries: RunSummary[] = [];
  const resolved: RecipeOptions[] = [];
  let carried: Network | undefined;
  const stageOptions = resolveStageOptions(o.recipe, o.preset, o.options ?? {});
  try {
    for (let i = 0; i < stages.length; i++) {
      const recipe = stages[i]!;
      const inst = instantiateRecipe(recipe, {
        teacher: o.teacher,
        options: stageOptions[i]!,
        sampleShape: o.sampleShape,
        batchSize: o.batchSize,
        seed,
        ...(o.models ? { models: o.models } : {}),
        ...(carried ? { carried } : {}),
      });
      resolved.push(inst.options);
      try {
        let data: DataSource | undefined;
        if (recipe.data !== 'none') {
          data = o.data?.[recipe.data];
          if (data === undefined) throw new ConfigError(`data.${recipe.data}`, undefined, `a DataSource of ${recipe.data} batches`, `${recipe.name} trains on ${recipe.data} data`);
        } else data = o.conditions;
        const outDir = o.outDir === undefined ? undefined : stages.length === 1 ? o.outDir : nodePath.join(o.outDir, `stage-${i + 1}-${recipe.name.replace('recipe:', '')}`);
        const teardown = recipe.setup?.({ options: inst.options });
        try {
          const run = startRun({
            seed,
            steps: steps[i]!,
            roles: inst.networks,
            phases: inst.phases,
            ema: inst.ema,
            ...(data ? { data } : {}),
            ...(outDir === undefined ? {} : { outDir }),
            ...(o.checkpoint ? { checkpoint: o.checkpoint } : {}),
            resume: o.resume ?? 'auto',
            plugins: o.plugins ?? [],
            hashExtra: {
              recipe: recipe.name,
              options: inst.options,
              student: inst.student,
              teacher: o.teacher.backbone.toConfig(),
              ...(o.models && Object.keys(o.models).length > 0 ? { models: Object.fromEntries(Object.entries(o.models).map(([k, m]) => [k, m.backbone.toConfig()])) } : {}),
            },
          });
          o.onRun?.(run, { index: i, count: stages.length, recipe: recipe.name, steps: steps[i]! });
          summaries.push(await run.result);
        } finally {
          if (typeof teardown === 'function') teardown();
        }
        const next = inst.exportStudent(); // may clone from `carried`: dispose it after
        carried?.dispose();
        carried = next;
        if (i === stages.length - 1) {
          return { recipe: o.recipe.name, summaries, student: carried, spec: inst.student, options: resolved, seconds: (performance.now() - started) / 1000 };
        }
      } finally {
        inst.dispose();
      }
    }
  } catch (e) {
    carried?.dispose();
    throw e;
  }
  throw new Error('unreachable');
}

/**
 * Each stage's resolved options: the preset (the staged recipe's own preset, then each stage's),
 * then the overrides, shared by name across stages. Validates everything before anything is
 * built: an option no stage knows is a typo, not something to drop silently.
 */
export function resolveStageOptions(recipe: AnyRecipe, preset: string | undefined, options: Record<string, unknown>): RecipeOptions[] {
  if (recipe.kind === 'recipe') return [resolveRecipeOptions(recipe, preset, options)];
  const known = new Set(recipe.stages.flatMap((s) => [...stageOptionKeys(s.recipe)]));
  for (const k of Object.keys(options)) {
    if (!known.has(k)) throw new ConfigError(`${recipe.name} options.${k}`, options[k], `known options: ${[...known].sort().join(', ')}`, 'check the spelling');
  }
  if (preset !== undefined) presetOf(recipe, preset);
  return recipe.stages.map(({ recipe: stage }) => {
    const keys = stageOptionKeys(stage);
    const own = preset !== undefined && stage.presets[preset] !== undefined ? stage.presets[preset] : {};
    const shared = preset !== undefined ? pick((recipe.presets[preset] ?? {}) as Record<string, unknown>, keys) : {};
    return parseOptions(stage.schema, { ...own, ...shared, ...pick(options, keys) }, stage.name);
  });
}

function stageOptionKeys(recipe: DistillRecipe<any>): Set<string> {
  const shape = (recipe.schema as unknown as { shape?: Record<string, unknown> }).shape;
  return new Set(shape ? Object.keys(shape) : []);
}

function pick(o: Record<string, unknown>, keys: Set<string>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => keys.has(k)));
}
