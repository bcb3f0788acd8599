import { ConfigError } from '../errors.js';
import type { PhaseDefinition, LossUse } from '../contracts/recipe.js';
import type { LossDefinition } from '../contracts/loss.js';
import type { DependencyManager } from '../di/dependency-manager.js';
import type { Logger } from '../di/logger.js';
import { Adam } from '../nn/adam.js';
import { AdamW } from '../nn/adam-w.js';
import { constantLr, warmupConstant, warmupCosine, type LrSchedule } from '../nn/lr-schedule.js';
import { Network } from '../nn/network.js';
import type { DataSource } from './data-source.js';
import type { TrainingPlugin } from './plugin.js';

/** A learning-rate schedule as data (serializable, part of the config hash). A number is constant. */
export type LrScheduleConfig =
  | number
  | { readonly type: 'constant'; readonly lr: number }
  | { readonly type: 'warmup-constant'; readonly lr: number; readonly warmupSteps: number }
  | { readonly type: 'warmup-cosine'; readonly lr: number; readonly warmupSteps: number; readonly totalSteps: number; readonly minLr?: number };

/** A phase's optimizer as data. Defaults are torch's. */
export interface OptimizerConfig {
  /** @default 'adam' */
  readonly type?: 'adam' | 'adamw';
  /** Learning rate or schedule, indexed by the optimizer's applied updates. @default 1e-4 */
  readonly lr?: LrScheduleConfig;
  /** @default [0.9, 0.999] */
  readonly betas?: readonly [number, number];
  /** @default 1e-8 */
  readonly eps?: number;
  /** @default 0 (adam), 1e-2 (adamw) */
  readonly weightDecay?: number;
  /** Clip by global L2 norm (P29); absent: no clipping. DMD2 uses 10. */
  readonly maxGradNorm?: number;
}

/**
 * A phase (extends the recipe contract's {@link PhaseDefinition}): it updates ONE role with the
 * weighted sum of its loss terms (`options.weight`, default 1), with its own optimizer, at steps
 * `t` (0-based) with `t >= offset` and `(t - offset) % every === 0` (TTUR: `every: 2` trains the
 * generator every other step, as DMD2 / AVDM2 do). Phases run in the declared order within a step.
 */
export interface PhaseConfig extends PhaseDefinition {
  /** Unique name (events, checkpoint files, random streams). @default the role */
  readonly name?: string;
  /** First step index at which the phase runs, in `[0, every)`. @default 0 */
  readonly offset?: number;
  readonly optimizer?: OptimizerConfig;
}

/** An EMA copy of a role (P32), updated after each APPLIED update of a phase training `source`. */
export interface EmaConfig {
  /** The role name of the EMA network (e.g. `generatorEma`); cloned from `source` unless given in `roles`. */
  readonly role: string;
  readonly source: string;
  readonly decay: number;
  /** diffusers-style warm-up `min(decay, (1 + t) / (10 + t))`. @default false */
  readonly warmup?: boolean;
}

export interface CheckpointConfig {
  /** Save after every `every` completed steps (and at the end, and on stop). */
  readonly every: number;
  /** Keep the newest `keepLast` checkpoints (deleted only after a newer one commits, P16). @default all */
  readonly keepLast?: number;
  /** @default `<outDir>/checkpoints` */
  readonly dir?: string;
}

/**
 * Where to start: `'auto'` resumes from the newest VALID checkpoint of this config under the
 * checkpoint directory (P25) or starts fresh when there is none; `'never'` starts fresh; `{ from }`
 * loads that checkpoint directory or fails with a typed error.
 */
export type ResumeMode = 'auto' | 'never' | { readonly from: string; readonly allowConfigChange?: boolean };

/** A training run: networks by role, phases, data, output. */
export interface TrainingConfig {
  /** @default a random id */
  readonly runId?: string;
  /** Seed of every random stream and of the data order (0 is a valid seed). */
  readonly seed: number;
  /** Total steps to reach (a resumed run continues up to this count). */
  readonly steps: number;
  /** Networks by role. The trainer never disposes them. */
  readonly roles: Readonly<Record<string, Network>>;
  readonly phases: readonly PhaseConfig[];
  readonly ema?: readonly EmaConfig[];
  readonly data?: DataSource;
  /** Output directory (checkpoints, metrics, samples). */
  readonly outDir?: string;
  readonly checkpoint?: CheckpointConfig;
  /** @default 'auto' */
  readonly resume?: ResumeMode;
  readonly plugins?: readonly TrainingPlugin[];
  /** @default the DI logger */
  readonly logger?: Logger;
  /** Root DI scope; the run gets a child scope. @default a new root */
  readonly dm?: DependencyManager;
  /** More serializable data to include in the config hash (e.g. the backbone configs). */
  readonly hashExtra?: unknown;
}

/** A loss term of a resolved phase. */
export interface ResolvedTerm {
  readonly name: string;
  readonly loss: LossDefinition<any, any>;
  readonly options: Readonly<Record<string, unknown>>;
  readonly weight: number;
}

export interface ResolvedPhase {
  readonly index: number;
  readonly name: string;
  readonly role: string;
  readonly every: number;
  readonly offset: number;
  readonly terms: readonly ResolvedTerm[];
  readonly optimizer: Required<Omit<OptimizerConfig, 'maxGradNorm'>> & { readonly maxGradNorm: number | undefined };
}

const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** Whether a phase runs at step index `t` (0-based). */
export function phaseRunsAt(phase: Pick<ResolvedPhase, 'every' | 'offset'>, t: number): boolean {
  return t >= phase.offset && (t - phase.offset) % phase.every === 0;
}

/** Least common multiple of the phases' periods: the length of the update cycle. */
export function cycleLength(phases: readonly Pick<ResolvedPhase, 'every'>[]): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  return phases.reduce((l, p) => (l * p.every) / gcd(l, p.every), 1);
}

/** Builds the {@link LrSchedule} a config describes. @throws ConfigError naming `field` */
export function lrScheduleFrom(config: LrScheduleConfig, field = 'lr'): LrSchedule {
  return rethrowAs(field, () => {
    if (typeof config === 'number') return constantLr(config);
    switch (config?.type) {
      case 'constant':
        return constantLr(config.lr);
      case 'warmup-constant':
        return warmupConstant(config);
      case 'warmup-cosine':
        return warmupCosine(config);
      default:
        throw new ConfigError('type', (config as { type?: unknown })?.type, "'constant', 'warmup-constant' or 'warmup-cosine' (or a number)");
    }
  });
}

/** A fresh optimizer for a resolved phase. */
export function createOptimizer(phase: ResolvedPhase): Adam {
  const o = phase.optimizer;
  const field = `phases[${phase.index}].optimizer`;
  const opts = {
    lr: lrScheduleFrom(o.lr, `${field}.lr`),
    betas: o.betas,
    eps: o.eps,
    weightDecay: o.weightDecay,
    ...(o.maxGradNorm === undefined ? {} : { maxGradNorm: o.maxGradNorm }),
  };
  return rethrowAs(field, () => (o.type === 'adamw' ? new AdamW(opts) : new Adam(opts)));
}

/** Runs `f`, re-throwing a {@link ConfigError} with its field prefixed by `prefix`. */
function rethrowAs<T>(prefix: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ConfigError) {
      const field = e.field.startsWith(prefix) ? e.field : `${prefix}.${e.field}`;
      const fix = /Fix: (.*)$/s.exec(e.message)?.[1];
      throw new ConfigError(field, e.value, e.allowed, fix);
    }
    throw e;
  }
}

/**
 * Validates a training config and resolves defaults. Every problem is a {@link ConfigError} naming
 * the field (`phases[1].every`), the value, what is allowed and the fix.
 */
export function resolveTrainingConfig(config: TrainingConfig): { phases: ResolvedPhase[]; ema: Required<EmaConfig>[]; roleNames: string[] } {
  if (typeof config !== 'object' || config === null) throw new ConfigError('config', config, 'a TrainingConfig object');
  const { seed, steps, roles, phases } = config;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new ConfigError('seed', seed, 'an integer in [0, 2^32) (0 is a valid seed)');
  if (!Number.isInteger(steps) || steps < 0) throw new ConfigError('steps', steps, 'an integer >= 0 (the total number of steps)');
  if (config.runId !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(config.runId)) {
    throw new ConfigError('runId', config.runId, 'letters, digits, ".", "_" and "-" (at most 128)');
  }
  if (typeof roles !== 'object' || roles === null || Object.keys(roles).length === 0) {
    throw new ConfigError('roles', roles, 'an object of networks by role, e.g. { generator, fakeScore }');
  }
  for (const [role, net] of Object.entries(roles)) {
    if (!NAME.test(role)) throw new ConfigError(`roles.${role}`, role, 'a role name of letters, digits, _ and - starting with a letter');
    if (!(net instanceof Network)) throw new ConfigError(`roles.${role}`, typeof net, 'a Network', 'build each role with `new Network(...)`');
    if (net.disposed) throw new ConfigError(`roles.${role}`, 'disposed', 'a live Network', 'do not dispose a network before the run ends');
  }
  const ema: Required<EmaConfig>[] = [];
  const emaRoles = new Set<string>();
  (config.ema ?? []).forEach((e, i) => {
    const f = `ema[${i}]`;
    if (!e || typeof e.role !== 'string' || !NAME.test(e.role)) throw new ConfigError(`${f}.role`, e?.role, 'a role name (e.g. "generatorEma")');
    if (emaRoles.has(e.role)) throw new ConfigError(`${f}.role`, e.role, 'a role name not used by another EMA');
    if (!(e.source in roles)) throw new ConfigError(`${f}.source`, e.source, `one of the roles: ${Object.keys(roles).join(', ')}`);
    if (e.source === e.role) throw new ConfigError(`${f}.role`, e.role, `a name other than its source '${e.source}'`);
    if (typeof e.decay !== 'number' || !(e.decay >= 0 && e.decay <= 1)) throw new ConfigError(`${f}.decay`, e.decay, 'a number in [0, 1] (e.g. 0.999)');
    emaRoles.add(e.role);
    ema.push({ role: e.role, source: e.source, decay: e.decay, warmup: e.warmup ?? false });
  });
  const roleNames = [...new Set([...Object.keys(roles), ...emaRoles])];
  if (!Array.isArray(phases) || phases.length === 0) throw new ConfigError('phases', phases, 'a non-empty array of phases { role, losses, every }');
  const names = new Set<string>();
  const resolved = phases.map((p, i): ResolvedPhase => {
    const f = `phases[${i}]`;
    if (typeof p !== 'object' || p === null) throw new ConfigError(f, p, 'a phase { role, losses, every?, optimizer? }');
    if (!(p.role in roles)) {
      throw new ConfigError(`${f}.role`, p.role, `one of the roles: ${Object.keys(roles).join(', ')}`, emaRoles.has(p.role) ? 'an EMA copy is never trained' : 'add the network to `roles`');
    }
    if (roles[p.role]!.trainableVariables().size === 0) throw new ConfigError(`${f}.role`, p.role, 'a role with trainable variables', `unfreeze() network '${p.role}'`);
    const name = p.name ?? p.role;
    if (!NAME.test(name)) throw new ConfigError(`${f}.name`, name, 'letters, digits, _ and - starting with a letter');
    if (names.has(name)) throw new ConfigError(`${f}.name`, name, 'a unique phase name', 'give phases that train the same role distinct names');
    names.add(name);
    const every = p.every ?? 1;
    if (!Number.isInteger(every) || every < 1) throw new ConfigError(`${f}.every`, every, 'an integer >= 1 (1: every step; 2: every other step)');
    const offset = p.offset ?? 0;
    if (!Number.isInteger(offset) || offset < 0 || offset >= every) throw new ConfigError(`${f}.offset`, offset, `an integer in [0, every = ${every})`);
    if (!Array.isArray(p.losses) || p.losses.length === 0) throw new ConfigError(`${f}.losses`, p.losses, 'a non-empty array of [loss, options] terms');
    const termNames = new Map<string, number>();
    const terms = p.losses.map((use: LossUse, j: number): ResolvedTerm => {
      const tf_ = `${f}.losses[${j}]`;
      if (!Array.isArray(use) || use.length !== 2) throw new ConfigError(tf_, use, 'a tuple [loss, options]');
      const [loss, opts] = use;
      if (!loss || typeof loss.compute !== 'function' || typeof loss.name !== 'string') throw new ConfigError(`${tf_}[0]`, loss, 'a LossDefinition (defineLoss / lossTerm)');
      const options: Record<string, unknown> = { ...(loss.defaults as object), ...(opts ?? {}) };
      const weight = options['weight'] ?? 1;
      if (typeof weight !== 'number' || !Number.isFinite(weight)) throw new ConfigError(`${tf_}[1].weight`, weight, 'a finite number (default 1)');
      for (const r of loss.requires ?? []) {
        if (!roleNames.includes(r)) {
          throw new ConfigError(`${tf_}[0].requires`, r, `roles of this run: ${roleNames.join(', ')}`, `loss '${loss.name}' needs role '${r}': add it to roles (or ema)`);
        }
      }
      rethrowAs(`${tf_}[1]`, () => loss.validate?.(options));
      const count = (termNames.get(loss.name) ?? 0) + 1;
      termNames.set(loss.name, count);
      return { name: count === 1 ? loss.name : `${loss.name}#${count}`, loss, options, weight };
    });
    const o = p.optimizer ?? {};
    const type = o.type ?? 'adam';
    if (type !== 'adam' && type !== 'adamw') throw new ConfigError(`${f}.optimizer.type`, type, "'adam' or 'adamw'");
    const phase: ResolvedPhase = {
      index: i,
      name,
      role: p.role,
      every,
      offset,
      terms,
      optimizer: {
        type,
        lr: o.lr ?? 1e-4,
        betas: o.betas ?? [0.9, 0.999],
        eps: o.eps ?? 1e-8,
        weightDecay: o.weightDecay ?? (type === 'adamw' ? 1e-2 : 0),
        maxGradNorm: o.maxGradNorm,
      },
    };
    createOptimizer(phase).dispose(); // validates the optimizer config now
    return phase;
  });
  for (const e of ema) {
    if (resolved.some((p) => p.role === e.role)) throw new ConfigError('ema.role', e.role, 'a role no phase trains');
    const given = roles[e.role];
    if (given && given === roles[e.source]) throw new ConfigError(`roles.${e.role}`, e.role, `a copy of '${e.source}' (source.clone()), not the same network`);
  }
  const ck = config.checkpoint;
  if (ck !== undefined) {
    if (!Number.isInteger(ck.every) || ck.every < 1) throw new ConfigError('checkpoint.every', ck.every, 'an integer >= 1 (steps between checkpoints)');
    if (ck.keepLast !== undefined && (!Number.isInteger(ck.keepLast) || ck.keepLast < 1)) {
      throw new ConfigError('checkpoint.keepLast', ck.keepLast, 'an integer >= 1, or undefined to keep all');
    }
    if (ck.dir === undefined && config.outDir === undefined) throw new ConfigError('checkpoint.dir', undefined, 'a directory', 'set outDir (checkpoints go to <outDir>/checkpoints) or checkpoint.dir');
  }
  const r = config.resume;
  if (r !== undefined && r !== 'auto' && r !== 'never' && !(typeof r === 'object' && r !== null && typeof r.from === 'string')) {
    throw new ConfigError('resume', r, "'auto', 'never' or { from: '<checkpoint dir>' }");
  }
  if (config.data !== undefined && (typeof config.data !== 'object' || typeof config.data.next !== 'function' || typeof config.data.name !== 'string')) {
    throw new ConfigError('data', config.data, 'a DataSource { name, next(cursor, seed) }');
  }
  (config.plugins ?? []).forEach((p, i) => {
    if (!p || typeof p.name !== 'string') throw new ConfigError(`plugins[${i}]`, p, 'a TrainingPlugin { name, attach?, afterStep? }');
  });
  return { phases: resolved, ema, roleNames };
}

/** The serializable description of a network: variable names, shapes, dtypes, trainable flags. */
export function networkSignature(net: Network): Record<string, { shape: number[]; dtype: string; trainable: boolean; buffer: boolean }> {
  const out: Record<string, { shape: number[]; dtype: string; trainable: boolean; buffer: boolean }> = {};
  for (const [n, v] of net.variables()) out[n] = { shape: [...v.shape], dtype: v.dtype, trainable: v.trainable, buffer: net.isBuffer(n) };
  return out;
}

/**
 * The config as data, for the hash and for `run/started`: seed, every role's signature, phases
 * (terms by loss name with resolved options, optimizer), EMA, data source, `hashExtra`. The total
 * step count, output paths, checkpoint cadence and plugins are NOT part of it (a run may be
 * extended or moved and still resume).
 */
export function describeConfig(config: TrainingConfig, resolved: ReturnType<typeof resolveTrainingConfig>): Record<string, unknown> {
  const roles: Record<string, unknown> = {};
  for (const [role, net] of Object.entries(config.roles)) roles[role] = networkSignature(net);
  for (const e of resolved.ema) if (!(e.role in roles)) roles[e.role] = roles[e.source];
  return {
    format: 'fewstep-train-config',
    version: 1,
    seed: config.seed,
    roles,
    phases: resolved.phases.map((p) => ({
      name: p.name,
      role: p.role,
      every: p.every,
      offset: p.offset,
      optimizer: p.optimizer,
      losses: p.terms.map((t) => ({ name: t.name, loss: t.loss.name, options: t.options })),
    })),
    ema: resolved.ema,
    data: config.data ? { name: config.data.name, config: config.data.config ?? null } : null,
    extra: config.hashExtra ?? null,
  };
}
