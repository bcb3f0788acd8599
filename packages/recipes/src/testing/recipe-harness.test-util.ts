/**
 * @file Shared scaffolding for the recipe tests (one implementation each, used by every
 * `*.recipe.test.ts` and the runtime tests), on the tiny world of `tiny-world.test-util.ts`:
 *
 * - teachers and fake models: {@link liveTeacher} (the tiny DiT with its zero-initialised layers
 *   perturbed), {@link perturbWeights} (seeded noise on every weight);
 * - one step outside the trainer: {@link trainingContext} (the `TrainingContext` the trainer builds
 *   for a phase at a step), {@link stepContext} (that plus the `RecipeContext` its terms see),
 *   {@link computeTerm} / {@link termLoss} (one loss term of a phase, options as the trainer merges them),
 *   {@link imagePathGradient} (did the conditioning frame reach the trained network in a term);
 * - weights: {@link weights} / {@link snapshot} copies, {@link maxDelta}, {@link changedVariables},
 *   {@link changed}, {@link movedRoles}; tensors: {@link maxAbsDiff};
 * - runs: {@link recordSteps} / {@link stepLosses} (per-step losses of a run), {@link trace} (how far
 *   each role moved per step under `distill`), {@link expectResumedBitExact}, {@link tempDirs},
 *   {@link firstBatch};
 * - options: {@link expectConfigErrors} (bad options are ConfigErrors naming the field).
 *
 * Tests keep their recipe specifics (roles, options, seeds, batches) and pass them in. Like every
 * `.test-util.ts` file this one is imported by tests only and does not import `@fewstep/testing`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, expect } from 'vitest';
import {
  ConfigError,
  INITIAL_CURSOR,
  StepRandom,
  startRun,
  type DataSource,
  type EventOf,
  type LossOutput,
  type Network,
  type PhaseConfig,
  type TrainingConfig,
  type TrainingContext,
  type TrainingRun,
  valueAndGrads,
} from '@fewstep/core';
import { perturbZeroInitialised } from '@fewstep/backbones';
import type { AnyRecipe, DistillRecipe, RecipeOptions } from '../runtime/define-recipe.js';
import type { DiffusionModel } from '../runtime/diffusion-model.js';
import { distill, instantiateRecipe, type DistillOptions, type DistillResult, type InstantiatedRecipe } from '../runtime/distill.js';
import { recipeContextFactory, type RecipeContext } from '../runtime/recipe-context.js';
import { TINY_BATCH, realSource, tinyMixture, tinyTeacher } from './tiny-world.test-util.js';

// ---------------------------------------------------------------------------------------------
// Teachers and fake models

/**
 * The tiny teacher with its zero-initialised layers (adaLN-Zero modulation, output projection)
 * perturbed by `perturbZeroInitialised(net, seed, 0.2)`, so that it is not the zero / identity map
 * (else the velocity is constant in x and gradients vanish upstream).
 */
export function liveTeacher(options: { schedule?: 'flow' | 'vp'; seed?: number } = {}): DiffusionModel {
  const teacher = tinyTeacher(options.schedule === undefined ? {} : { schedule: options.schedule });
  perturbZeroInitialised(teacher.backbone.net, options.seed ?? 1, 0.2);
  return teacher;
}

/**
 * Adds seeded noise `scale * N(0, 1)` to every weight of `net` (a fake model that has drifted from
 * the teacher); variable `n` draws with tfjs seed `n.length + seedOffset`.
 */
export function perturbWeights(net: Network, scale: number, seedOffset = 0): void {
  for (const [n, v] of net.variables()) v.assign(tf.tidy(() => tf.add(v, tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', n.length + seedOffset), scale))));
}

// ---------------------------------------------------------------------------------------------
// One step outside the trainer

/** Where {@link trainingContext} / {@link stepContext} put the step. */
export interface StepAt {
  /** The phase: its name, or its index in `inst.phases`. */
  phase: string | number;
  step: number;
  /** The step's batch. @default {} */
  batch?: tf.NamedTensorMap;
  /** The run seed of the random streams `(seed, step, phase)`. @default 1 */
  seed?: number;
  /** Called with the name of every random stream a term draws from. */
  onDraw?: (stream: string) => void;
}

function phaseOf(inst: Pick<InstantiatedRecipe, 'phases'>, phase: string | number): PhaseConfig {
  const p = typeof phase === 'number' ? inst.phases[phase] : inst.phases.find((x) => x.name === phase);
  if (!p) throw new Error(`no phase ${String(phase)} among ${inst.phases.map((x) => x.name).join(', ')}`);
  return p;
}

/** The trainer's context for one phase of `inst` at a step (as `Run.#runPhase` builds it). */
export function trainingContext(inst: Pick<InstantiatedRecipe, 'phases' | 'networks'>, at: StepAt): TrainingContext {
  const p = phaseOf(inst, at.phase);
  const seed = at.seed ?? 1;
  const random = new StepRandom(seed, at.step, p.name!);
  const draw = at.onDraw ?? (() => undefined);
  return {
    step: at.step,
    phase: p.name!,
    role: p.role,
    seed,
    networks: inst.networks,
    network: (r) => inst.networks[r]!,
    batch: at.batch ?? {},
    batchId: null,
    rng: (s) => (draw(s), random.rng(s)),
    randomNormal: (sh, s, std) => (draw(s), random.normal(sh, s, std)),
    randomUniform: (sh, s, lo, hi) => (draw(s), random.uniform(sh, s, lo, hi)),
  };
}

/**
 * The trainer's context of one phase at a step and the recipe context its terms see (what the
 * trainer and `instantiateRecipe` build), with the phase itself. The student role is `generator`.
 */
export function stepContext<R extends RecipeOptions = any>(
  inst: InstantiatedRecipe<R>,
  teacher: DiffusionModel,
  at: StepAt & { sampleShape?: readonly number[]; batchSize?: number },
): { ctx: TrainingContext; rc: RecipeContext<R>; phase: PhaseConfig } {
  const ctx = trainingContext(inst, at);
  const make = recipeContextFactory({ options: inst.options, teacher, sampleShape: at.sampleShape ?? tinyMixture().shape, batchSize: at.batchSize ?? TINY_BATCH, roles: inst.roles, student: inst.student, studentRole: 'generator' });
  return { ctx, rc: make(ctx), phase: phaseOf(inst, at.phase) };
}

/** Term `term` of phase `phase` on `ctx`, with the options the trainer passes (the loss defaults under the term's). */
export function computeTerm(inst: Pick<InstantiatedRecipe, 'phases'>, phase: string | number, term: number, ctx: TrainingContext): LossOutput {
  const [def, opts] = phaseOf(inst, phase).losses[term]!;
  return def.compute(ctx, { ...(def.defaults as object), ...(opts ?? {}) });
}

/**
 * Variables of the image-conditioning path that get no gradient when the forward pass has no
 * `image`: the concat kernel (`patch_embed_image` in the DiT, `conv_in_image` in the UNet) and the
 * image encoder, LoRA adapters on them included.
 */
export const IMAGE_PATH_VARIABLES = /^(patch_embed_image|conv_in_image|image_encoder)\./;

/**
 * max |dL/dw| of term `term` of `phase` at `ctx` over the phase role's trainable image-path
 * variables ({@link IMAGE_PATH_VARIABLES}), and their names: > 0 exactly when the conditioning
 * frame reached the trained network inside the term (a forward without `image` gives them 0).
 */
export function imagePathGradient(inst: Pick<InstantiatedRecipe, 'phases' | 'networks'>, phase: string | number, term: number, ctx: TrainingContext): { max: number; variables: string[] } {
  const net = inst.networks[phaseOf(inst, phase).role]!;
  return tf.tidy(() => {
    const { grads } = valueAndGrads(net, () => computeTerm(inst, phase, term, ctx).loss);
    const variables = [...grads.keys()].filter((n) => IMAGE_PATH_VARIABLES.test(n));
    let max = 0;
    for (const n of variables) max = Math.max(max, tf.max(tf.abs(grads.get(n)!)).dataSync()[0]!);
    return { max, variables };
  });
}

/** The value of {@link computeTerm} (inside a tidy: only the number comes out). */
export function termLoss(inst: Pick<InstantiatedRecipe, 'phases'>, phase: string | number, term: number, ctx: TrainingContext): number {
  return tf.tidy(() => computeTerm(inst, phase, term, ctx).loss.dataSync()[0]!);
}

// ---------------------------------------------------------------------------------------------
// Weights

/** A copy of a network's weights by variable name. */
export type Weights = Map<string, Float32Array>;

/** Copies the weights of `net`. */
export function weights(net: Network): Weights {
  return new Map([...net.variables()].map(([n, v]) => [n, v.dataSync().slice() as Float32Array]));
}

/** Copies the weights of the networks of `roles` (default: all of `nets`), by role. */
export function snapshot(nets: Readonly<Record<string, Network>>, roles: readonly string[] = Object.keys(nets)): Map<string, Weights> {
  return new Map(roles.map((r) => [r, weights(nets[r]!)]));
}

/** max |a - b| over every weight of `a` (NaN if any difference is NaN). */
export function maxDelta(a: Weights, b: Weights): number {
  let m = 0;
  for (const [n, x] of a) {
    const y = b.get(n)!;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  }
  return m;
}

/** Names of the variables of `net` (those starting with `prefix`) with any value `!==` its copy in `before` (NaN counts as changed). */
export function changedVariables(before: Weights, net: Network, prefix = ''): string[] {
  return [...net.variables()]
    .filter(([n, v]) => {
      if (!n.startsWith(prefix)) return false;
      const a = before.get(n)!;
      return v.dataSync().some((x, i) => x !== a[i]);
    })
    .map(([n]) => n);
}

/** Whether any variable of `net` (starting with `prefix`) changed since `before`. */
export function changed(before: Weights, net: Network, prefix = ''): boolean {
  return changedVariables(before, net, prefix).length > 0;
}

/** The roles of `nets` (sorted) with any variable changed since the {@link snapshot} `before`. */
export function movedRoles(before: ReadonlyMap<string, Weights>, nets: Readonly<Record<string, Network>>): string[] {
  return Object.keys(nets)
    .filter((r) => changed(before.get(r)!, nets[r]!))
    .sort();
}

/** max |a - b| of two tensors. */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

// ---------------------------------------------------------------------------------------------
// Runs

/** Records `pick(payload)` of every `step/completed` event of `run`, in step order. */
export function recordSteps<T = Record<string, number>>(
  run: TrainingRun,
  pick: (payload: EventOf<'step/completed'>['payload']) => T = (p) => ({ ...p.losses }) as T,
): T[] {
  const out: T[] = [];
  run.events$.subscribe((e) => {
    if (e.type === 'step/completed') out.push(pick(e.payload));
  });
  return out;
}

/** Runs a training config to the end; the per-step losses (`phase/term` -> value). */
export async function stepLosses(config: TrainingConfig): Promise<Record<string, number>[]> {
  const run = startRun(config);
  const out = recordSteps(run);
  await run.result;
  return out;
}

/** What {@link trace} runs: the tiny preset of `recipe` on `teacher`, with these overrides. */
export interface TraceOptions {
  recipe: AnyRecipe;
  teacher: DiffusionModel;
  /** The roles whose movement is traced. */
  roles: readonly string[];
  options: Record<string, unknown>;
  steps: number;
  /** @default { real: realSource() } */
  data?: DistillOptions['data'];
  /** @default 4 */
  seed?: number;
}

/**
 * Runs `steps` steps of the tiny preset under `distill` (batch `TINY_BATCH` of the tiny mixture's
 * shape); returns per step how far each traced role moved (max |delta| of its weights, from an
 * `afterStep` plugin), the losses of the phases that ran, and how far the frozen teacher moved.
 */
export async function trace(o: TraceOptions): Promise<{ moved: Record<string, number>[]; losses: Record<string, number>[]; teacherMoved: number }> {
  const moved: Record<string, number>[] = [];
  const losses: Record<string, number>[][] = [];
  let prev: Map<string, Weights> | undefined;
  const teacherBefore = weights(o.teacher.backbone.net);
  const result = await distill({
    recipe: o.recipe,
    teacher: o.teacher,
    preset: 'tiny',
    options: o.options,
    data: o.data ?? { real: realSource() },
    sampleShape: tinyMixture().shape,
    batchSize: TINY_BATCH,
    steps: o.steps,
    seed: o.seed ?? 4,
    onRun: (run) => {
      prev = snapshot(run.networks, o.roles);
      losses.push(recordSteps(run));
    },
    plugins: [
      {
        name: 'test:snapshots',
        afterStep: ({ networks }) => {
          const next = snapshot(networks, o.roles);
          moved.push(Object.fromEntries(o.roles.map((r) => [r, maxDelta(prev!.get(r)!, next.get(r)!)])));
          prev = next;
        },
      },
    ],
  });
  result.student.dispose();
  return { moved, losses: losses.flat(), teacherMoved: maxDelta(teacherBefore, weights(o.teacher.backbone.net)) };
}

/**
 * Asserts that a run resumed after an interruption (`resumed`) ended bit for bit where the
 * uninterrupted one (`straight`) did, and that training moved the student off the `teacher` net.
 */
export function expectResumedBitExact(straight: DistillResult, resumed: DistillResult, teacher: Network): void {
  expect(resumed.summaries[0]!.resumedFrom).not.toBeNull();
  for (const [n, v] of straight.student.variables()) expect(Array.from(resumed.student.variable(n).dataSync())).toEqual(Array.from(v.dataSync()));
  expect(maxDelta(weights(straight.student), weights(teacher))).toBeGreaterThan(0);
}

/**
 * Asserts that instantiating `recipe` on `teacher` (tiny mixture shape, batch `TINY_BATCH`) with each
 * `[options, pattern]` of `bad` throws a `ConfigError` whose message matches `pattern` (the field).
 */
export function expectConfigErrors(recipe: DistillRecipe<any>, teacher: DiffusionModel, bad: readonly (readonly [Record<string, unknown>, RegExp])[]): void {
  const common = { teacher, sampleShape: tinyMixture().shape, batchSize: TINY_BATCH, seed: 1 };
  for (const [options, field] of bad) {
    expect(() => instantiateRecipe(recipe, { ...common, options })).toThrow(ConfigError);
    expect(() => instantiateRecipe(recipe, { ...common, options })).toThrow(field);
  }
}

/** A maker of fresh temporary directories `<tmp>/<prefix>XXXXXX`, all removed after the file's tests. */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}

/** The batch a data source yields first for run seed `seed` (the caller disposes its tensors). */
export async function firstBatch(source: DataSource, seed = 0): Promise<tf.NamedTensorMap> {
  return (await source.next(INITIAL_CURSOR, seed)).tensors;
}
