/**
 * @file What a recipe term sees at each step: the trainer's context plus the recipe's world (the
 * frozen teacher, every role's backbone bound to its current network, the student's
 * parameterization, backward simulation).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, kStepTimesteps, predictX0Eps, type Denoiser, type Network, type NoiseSchedule, type TrainingContext } from '@fewstep/core';
import { modelDenoiser, type BackboneLike, type Conditioning, type DiffusionModel } from './diffusion-model.js';
import type { RecipeOptions } from './define-recipe.js';
import type { RoleInstance } from './roles.js';
import { studentTimesteps, studentX0, type StudentSpec } from './student.js';

/** A step of a recipe phase (see {@link TrainingContext} for the trainer's part). */
export interface RecipeContext<R extends RecipeOptions = RecipeOptions> extends TrainingContext {
  /** The recipe's resolved options (hyperparameters). */
  readonly options: R;
  readonly teacherModel: DiffusionModel;
  /** The frozen teacher ("real score", `F_phi`). */
  readonly teacher: Denoiser<Conditioning>;
  readonly schedule: NoiseSchedule;
  /** Shape of one sample `[F, H, W, C]`. */
  readonly sampleShape: readonly number[];
  /** Samples per step. */
  readonly batchSize: number;
  /**
   * Conditioning of the step's batch: every batch key that is not data (`context`, `pooled`,
   * image-to-video `image` `[B, H, W, C]` and `imageNoiseSigma` `[B]`, ...), passed to the teacher,
   * every diffusion role and the critics on the teacher's features; undefined (unconditional)
   * without such keys. See `conditioning.ts`.
   */
  readonly cond: Conditioning | undefined;
  /** The student the recipe trains (parameterization, sampler, steps). */
  readonly student: StudentSpec;
  readonly studentRole: string;
  /** The backbone of a diffusion role, bound to that role's current network (EMA copies included). */
  backbone(role: string): BackboneLike;
  /** A diffusion role as a `Denoiser` with the teacher's schedule and prediction type. */
  denoiser(role: string): Denoiser<Conditioning>;
  /** The extra API a role built (discriminator heads, motion head). */
  api<A>(role: string): A;
  /** The student's clean estimate `G_theta(x_t, t)` (differentiable when `role` is being trained). */
  studentX0(xt: tf.Tensor, t: number, role?: string): tf.Tensor;
  /**
   * Backward simulation (DMD2 Sec. 4.5, AVDM2, ADM): from pure noise, run the student's own
   * sampler for `n` steps (n uniform in `[0, k)`, k = the student's step count) with no gradient,
   * and return the state the n-th step sees. For k = 1 this is pure noise at the top time.
   */
  simulate(stream: string, options?: { steps?: number; role?: string }): { xt: tf.Tensor; t: number; n: number };
  /** A batch tensor by key. @throws ConfigError naming the keys the batch has */
  data(key: string): tf.Tensor;
  /** An auxiliary frozen model the caller supplied (see `DistillRecipe.models`), or undefined. */
  model(name: string): DiffusionModel | undefined;
}

/**
 * A copy of `x` outside every gradient tape: what `sg(x)` means for a tensor computed with the
 * trained network's own weights (backward simulation, EMA-free targets). Reads the values back
 * (free on wasm / cpu; a sync on GPUs).
 */
export function detach(x: tf.Tensor): tf.Tensor {
  return tf.tensor(x.dataSync() as Float32Array, x.shape, x.dtype);
}

/**
 * Keys of a batch that are data, not conditioning (`images` is MCM's image set, `condition` a raw
 * condition a recipe reads itself); anything else, `image` included, is conditioning.
 */
const DATA_KEYS = new Set(['x0', 'noise', 'trajectory', 'images', 'condition']);

export interface RecipeWorld<R extends RecipeOptions> {
  readonly options: R;
  readonly teacher: DiffusionModel;
  readonly sampleShape: readonly number[];
  readonly batchSize: number;
  readonly roles: ReadonlyMap<string, RoleInstance>;
  readonly student: StudentSpec;
  readonly studentRole: string;
  /** @default {} */
  readonly models?: Readonly<Record<string, DiffusionModel>>;
}

/** Builds the per-call context factory of an instantiated recipe. */
export function recipeContextFactory<R extends RecipeOptions>(world: RecipeWorld<R>): (ctx: TrainingContext) => RecipeContext<R> {
  const teacher = modelDenoiser(world.teacher);
  const bound = new WeakMap<Network, BackboneLike>();
  const backboneOf = (ctx: TrainingContext, role: string): BackboneLike => {
    const inst = world.roles.get(role);
    const net = ctx.networks[role];
    if (!net) throw new ConfigError('role', role, `one of the run's roles: ${Object.keys(ctx.networks).join(', ')}`);
    const base = inst?.backbone ?? world.roles.get(world.studentRole)?.backbone ?? world.teacher.backbone;
    if (inst?.backbone && inst.net === net) return inst.backbone;
    let b = bound.get(net);
    if (!b) {
      if (!inst?.backbone && !isDiffusionRole(world, role)) throw new ConfigError('role', role, 'a diffusion role (built by fromTeacher / frozenTeacher, or an EMA of one)');
      b = base.withNetwork(net);
      bound.set(net, b);
    }
    return b;
  };
  return (ctx) => {
    let cond: Conditioning | undefined;
    for (const [k, v] of Object.entries(ctx.batch)) {
      if (DATA_KEYS.has(k)) continue;
      (cond ??= {} as Record<string, tf.Tensor>);
      (cond as Record<string, tf.Tensor>)[k] = v;
    }
    const denoiser = (role: string) => modelDenoiser(world.teacher, backboneOf(ctx, role));
    const rc: Partial<RecipeContext<R>> = {
      options: world.options,
      teacherModel: world.teacher,
      teacher,
      schedule: world.teacher.schedule,
      sampleShape: world.sampleShape,
      batchSize: world.batchSize,
      cond,
      student: world.student,
      studentRole: world.studentRole,
      backbone: (role) => backboneOf(ctx, role),
      denoiser,
      api: <A>(role: string): A => {
        const inst = world.roles.get(role);
        if (inst?.api === undefined) throw new ConfigError('role', role, `a role with an API: ${[...world.roles].filter(([, r]) => r.api !== undefined).map(([n]) => n).join(', ')}`);
        return inst.api as A;
      },
      studentX0: (xt, t, role = world.studentRole) => studentX0(denoiser(role), world.student.parameterization, xt, t, cond),
      simulate: (stream, options = {}) => {
        const k = options.steps ?? world.student.steps;
        const role = options.role ?? world.studentRole;
        const times = world.student.steps === k ? studentTimesteps(world.student, world.teacher.schedule, k) : kStepTimesteps(world.teacher.schedule, k);
        const rng = ctx.rng(`${stream}/simulate`);
        const n = Math.floor(rng() * k);
        const g = denoiser(role);
        let x = ctx.randomNormal([world.batchSize, ...world.sampleShape], `${stream}/noise`);
        for (let i = 0; i < n; i++) {
          const t = times[i] as number;
          const tNext = times[i + 1] as number;
          const next = tf.tidy(() => {
            const s = world.teacher.schedule;
            if (world.student.sampler === 'ode') {
              // Deterministic DDIM / Euler step of an ODE student: x' = alpha' x0_hat + sigma' eps_hat.
              const { x0, eps } = predictX0Eps(g, x, t, cond === undefined ? {} : { cond });
              return detach(tf.add(tf.mul(x0, s.alpha(tNext)), tf.mul(eps, s.sigma(tNext))));
            }
            const x0 = studentX0(g, world.student.parameterization, x, t, cond);
            const z = ctx.randomNormal(x.shape, `${stream}/renoise/${i}`);
            return detach(tf.add(tf.mul(x0, s.alpha(tNext)), tf.mul(z, s.sigma(tNext))));
          });
          x.dispose();
          x = next;
        }
        return { xt: x, t: times[n] as number, n };
      },
      model: (name) => world.models?.[name],
      data: (key) => {
        const v = ctx.batch[key];
        if (v === undefined) throw new ConfigError('batch key', key, `one of [${Object.keys(ctx.batch).join(', ')}]`, 'give the recipe the data kind it declares (real / trajectories / ode-pairs)');
        return v;
      },
    };
    return Object.assign(Object.create(ctx) as RecipeContext<R>, rc);
  };
}

function isDiffusionRole<R extends RecipeOptions>(world: RecipeWorld<R>, role: string): boolean {
  // EMA copies are not in `world.roles`; they share the student's architecture.
  return !world.roles.has(role);
}
