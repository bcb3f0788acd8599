/**
 * @file `defineRecipe`, `phase` and `use`: a distillation recipe as code (STYLE.md G11,
 * ARCHITECTURE.md "Losses and recipes"). A recipe lists the roles it builds from the teacher, its
 * phases in order (each updates one role with weighted loss terms, every `every` steps: TTUR),
 * the data it reads and the student it produces. A term pairs a paper loss with the function that
 * builds the loss's inputs from the step's {@link RecipeContext}.
 */
import type { z } from 'zod';
import { ConfigError, type LossDefinition, type OptimizerConfig, type RecipeDefinition } from '@fewstep/core';
import type { RecipeContext } from './recipe-context.js';
import type { RoleSpec } from './roles.js';
import type { StudentSpec } from './student.js';

/** Options every loss accepts through a recipe (the trainer reads `weight`). */
export interface TermOptions {
  /** @default 1 */
  weight?: number;
}

/** A loss's options (index signatures dropped) plus `weight`, all optional. */
export type TermOptionsOf<O> = { [K in keyof O as string extends K ? never : K]?: O[K] } & TermOptions;

/** A recipe's resolved hyperparameters (validated by its schema). */
export type RecipeOptions = Record<string, unknown>;

/** What a term's input builder gets: the step context and the term's resolved loss options. */
export type InputsBuilder<I, O, R extends RecipeOptions> = (rc: RecipeContext<R>, options: O) => I;

/** A loss term of a recipe phase. */
export interface RecipeTerm<R extends RecipeOptions = any> {
  readonly loss: LossDefinition<any, any>;
  readonly inputs: InputsBuilder<any, any, R>;
  /** Loss options (and `weight`), or a function of the recipe options (e.g. `{ weight: o.lambdaAdv }`). */
  readonly options: Readonly<Record<string, unknown>> | ((options: R) => Readonly<Record<string, unknown>>);
  /** Roles the inputs builder reads (checked when the recipe is instantiated). */
  readonly requires: readonly string[];
}

/**
 * A term: `loss.compute(inputs(rc, options), options)` inside the phase's gradient closure.
 * @example use(dmdLoss, (rc) => ({ x0Hat, fakeX0, realX0 }), (o) => ({ weight: o.lambdaDmd }))
 */
export function use<O, I, R extends RecipeOptions = any>(
  loss: LossDefinition<O, I>,
  inputs: InputsBuilder<I, O & TermOptions, R>,
  options: TermOptionsOf<O> | ((options: R) => TermOptionsOf<O>) = {},
  meta: { requires?: readonly string[] } = {},
): RecipeTerm<R> {
  if (!loss || typeof loss.compute !== 'function') throw new ConfigError('loss', loss, 'a LossDefinition (defineLoss)');
  return Object.freeze({ loss, inputs, options: options as RecipeTerm<R>['options'], requires: meta.requires ?? [] });
}

/** A phase of a recipe: one role, its terms, its cadence and optimizer (functions of the options allowed). */
export interface RecipePhase<R extends RecipeOptions = any> {
  readonly role: string;
  readonly name: string;
  readonly terms: readonly RecipeTerm<R>[];
  readonly every: number | ((options: R) => number);
  readonly offset: number | ((options: R) => number);
  readonly optimizer: OptimizerConfig | ((options: R) => OptimizerConfig);
}

export interface PhaseOptions<R extends RecipeOptions> {
  /** @default the role */
  name?: string;
  /** TTUR: run every `every` steps. @default 1 */
  every?: number | ((options: R) => number);
  /** @default 0 */
  offset?: number | ((options: R) => number);
  optimizer?: OptimizerConfig | ((options: R) => OptimizerConfig);
}

/** A phase updating `role` with the weighted sum of `terms`. */
export function phase<R extends RecipeOptions = any>(role: string, terms: readonly RecipeTerm<R>[], options: PhaseOptions<R> = {}): RecipePhase<R> {
  if (terms.length === 0) throw new ConfigError(`phase('${role}').terms`, terms, 'at least one term: use(loss, inputs, options)');
  return Object.freeze({ role, name: options.name ?? role, terms, every: options.every ?? 1, offset: options.offset ?? 0, optimizer: options.optimizer ?? {} });
}

/**
 * What a recipe trains on, as batch keys of the step's data (`RecipeContext.batch`):
 * - `real`: `{ x0: [B, ...] }` samples of the data distribution (plus conditioning keys);
 * - `trajectories`: `{ trajectory: [B, K + 1, ...] }` teacher ODE states at `options.trajectoryTimes`
 *   (AccVideo's SynVid, noise first, clean last);
 * - `ode-pairs`: `{ noise: [B, ...], x0: [B, ...] }` (ADP);
 * - `none`: the recipe draws its own noise (conditioning batches may still be given:
 *   `distill({ conditions })`).
 *
 * Conditioning keys (`context`, `pooled`, image-to-video `image` / `imageNoiseSigma`, ...) ride
 * along in any of them and reach every role through `RecipeContext.cond`.
 */
export type RecipeDataKind = 'real' | 'trajectories' | 'ode-pairs' | 'none';

/** An EMA role the trainer keeps (OSV / MCM / LCM targets). */
export interface RecipeEma<R extends RecipeOptions> {
  readonly role: string;
  readonly source: string;
  readonly decay: number | ((options: R) => number);
}

/** A single-stage recipe. */
export interface DistillRecipe<R extends RecipeOptions = RecipeOptions> extends RecipeDefinition {
  readonly kind: 'recipe';
  /** Paper and algorithm the recipe follows, e.g. 'AVDM2 Algorithm 1'. */
  readonly paper: string;
  /** Validates user options into the resolved options (paper defaults filled in). */
  readonly schema: z.ZodType<R>;
  /** Named option overrides: `paper` (the published settings) and `tiny` (2 CPU cores). */
  readonly presets: Readonly<Record<string, Partial<R>>>;
  readonly data: RecipeDataKind;
  readonly roles: Readonly<Record<string, RoleSpec<R>>>;
  readonly phases: readonly RecipePhase<R>[];
  readonly ema: readonly RecipeEma<R>[];
  /** The role whose network becomes the student. @default 'generator' */
  readonly studentRole: string;
  /** The student the recipe produces (sampler and step count may depend on the options). */
  readonly student: (options: R) => StudentSpec;
  /** Recipe-level setup run once before training (e.g. per-run state); returns a teardown. */
  readonly setup?: (env: { options: R }) => void | (() => void);
  /**
   * Auxiliary frozen models the recipe can use when the caller supplies them, by name and what
   * they must be (e.g. AVDM2's `frameTeacher`: an image model of the data's frames).
   */
  readonly models: Readonly<Record<string, RecipeModelRequest>>;
}

/** What an auxiliary model of a recipe is. `frame-marginal`: a diffusion model of single frames `[1, H, W, C]` of the data. */
export interface RecipeModelRequest {
  readonly kind: 'frame-marginal';
  readonly description: string;
}

/** A recipe made of stages run one after the other, the student carried over (DMDX = ADP then ADM; OSV). */
export interface StagedRecipe extends RecipeDefinition {
  readonly kind: 'stages';
  readonly paper: string;
  readonly stages: readonly { readonly recipe: DistillRecipe<any>; readonly fraction: number }[];
  readonly presets: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export type AnyRecipe = DistillRecipe<any> | StagedRecipe;

export interface DefineRecipeInput<R extends RecipeOptions> {
  name: string;
  description: string;
  paper: string;
  schema: z.ZodType<R>;
  presets?: Readonly<Record<string, Partial<R>>>;
  data: RecipeDataKind;
  roles: Readonly<Record<string, RoleSpec<R>>>;
  phases: readonly RecipePhase<R>[];
  ema?: readonly RecipeEma<R>[];
  studentRole?: string;
  student: (options: R) => StudentSpec;
  setup?: (env: { options: R }) => void | (() => void);
  models?: Readonly<Record<string, RecipeModelRequest>>;
}

const RECIPE_NAME = /^recipe:[a-z0-9][a-z0-9-]*$/;

/** Defines (and freezes) a recipe; checks that phases train declared roles. */
export function defineRecipe<R extends RecipeOptions>(input: DefineRecipeInput<R>): DistillRecipe<R> {
  if (!RECIPE_NAME.test(input.name)) throw new ConfigError('name', input.name, "'recipe:<kebab-name>'", "name recipes like 'recipe:my-hybrid'");
  const roles = Object.keys(input.roles);
  for (const p of input.phases) {
    if (!roles.includes(p.role)) throw new ConfigError(`${input.name}: phase '${p.name}'.role`, p.role, `one of the recipe's roles: ${roles.join(', ')}`);
  }
  const names = input.phases.map((p) => p.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new ConfigError(`${input.name}: phase name`, dup, 'unique phase names', "pass { name: 'generator-2' }");
  const studentRole = input.studentRole ?? 'generator';
  if (!roles.includes(studentRole)) throw new ConfigError(`${input.name}: studentRole`, studentRole, roles.join(', '));
  return Object.freeze({
    kind: 'recipe' as const,
    name: input.name,
    description: input.description,
    paper: input.paper,
    schema: input.schema,
    presets: Object.freeze({ ...(input.presets ?? {}) }),
    data: input.data,
    roles: Object.freeze({ ...input.roles }),
    phases: Object.freeze([...input.phases]),
    ema: Object.freeze([...(input.ema ?? [])]),
    studentRole,
    student: input.student,
    models: Object.freeze({ ...(input.models ?? {}) }),
    ...(input.setup ? { setup: input.setup } : {}),
  });
}

/**
 * Stages run in order on one step budget (`fraction` of the total each); the student role of each
 * stage starts from the previous stage's student. Options are shared by name: each stage reads
 * the keys its schema knows.
 */
export function defineStages(input: {
  name: string;
  description: string;
  paper: string;
  stages: readonly { recipe: DistillRecipe<any>; fraction: number }[];
  presets?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}): StagedRecipe {
  if (!RECIPE_NAME.test(input.name)) throw new ConfigError('name', input.name, "'recipe:<kebab-name>'");
  if (input.stages.length < 2) throw new ConfigError(`${input.name}.stages`, input.stages.length, 'at least two stages');
  const total = input.stages.reduce((s, x) => s + x.fraction, 0);
  if (input.stages.some((s) => !(s.fraction > 0)) || Math.abs(total - 1) > 1e-9) {
    throw new ConfigError(`${input.name}.stages[].fraction`, input.stages.map((s) => s.fraction), 'positive fractions summing to 1');
  }
  return Object.freeze({
    kind: 'stages' as const,
    name: input.name,
    description: input.description,
    paper: input.paper,
    stages: Object.freeze(input.stages.map((s) => Object.freeze({ ...s }))),
    presets: Object.freeze({ ...(input.presets ?? {}) }),
    roles: {},
    phases: [],
  });
}
