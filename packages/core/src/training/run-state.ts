/**
 * @file What a training checkpoint holds and how it is restored (RELIABILITY.md P19–P23): every
 * role's weights (EMA copies included), each phase's optimizer moments by variable name with its
 * counters, EMA steps and decay, skip counters, the data cursor, the random-stream scheme and seed,
 * the step and the position in the update cycle, and the config hash. Restoring validates ALL of it
 * against the run first and assigns only when everything fits.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TensorToWrite } from '../io/safetensors/encode.js';
import type { LoadedTensor } from '../io/safetensors/reader.js';
import type { SafetensorsDtype } from '../io/safetensors/dtypes.js';
import { CheckpointError, type CheckpointMismatch } from '../checkpoint/checkpoint-error.js';
import type { CheckpointFileContent } from '../checkpoint/write-checkpoint.js';
import type { CheckpointContents } from '../checkpoint/read-checkpoint.js';
import type { Adam } from '../nn/adam.js';
import type { ExponentialMovingAverage } from '../nn/exponential-moving-average.js';
import type { Network } from '../nn/network.js';
import { cycleLength, type ResolvedPhase } from './config.js';
import type { DataCursor } from './data-source.js';
import { RANDOM_STREAM_SCHEME } from './random-streams.js';

export const STATE_FILE = 'state.json';
export const CONFIG_FILE = 'config.json';
export const weightsFile = (role: string): string => `weights.${role}.safetensors`;
export const optimizerFile = (phase: string): string => `optimizer.${phase}.safetensors`;

const EXP_AVG = 'exp_avg';
const EXP_AVG_SQ = 'exp_avg_sq';

/** Non-finite skip counters of one phase (P19, P27). */
export interface SkipCounters {
  total: number;
  consecutive: number;
  loss: number;
  gradient: number;
}

/** The live state of a run that a checkpoint captures. */
export interface RunStateRefs {
  readonly seed: number;
  readonly configHash: string;
  /** The canonical config (written as config.json, used to explain mismatches). */
  readonly config: unknown;
  readonly networks: Readonly<Record<string, Network>>;
  readonly phases: readonly ResolvedPhase[];
  readonly optimizers: ReadonlyMap<string, Adam>;
  readonly emas: ReadonlyMap<string, { readonly ema: ExponentialMovingAverage; readonly source: string }>;
  readonly dataSource: string | null;
  readonly streams: Set<string>;
  step: number;
  cursor: DataCursor;
  readonly skips: Map<string, SkipCounters>;
}

/** state.json. */
export interface TrainState {
  readonly format: 'fewstep-train-state';
  readonly version: 1;
  readonly step: number;
  readonly configHash: string;
  readonly cycle: { readonly length: number; readonly position: number };
  readonly random: { readonly scheme: string; readonly seed: number; readonly streams: readonly string[] };
  readonly data: { readonly source: string; readonly cursor: DataCursor } | null;
  readonly phases: Record<
    string,
    {
      readonly role: string;
      readonly optimizer: { readonly type: string; readonly step: number; readonly skipped: number; readonly slotSteps: Record<string, number> };
      readonly skips: SkipCounters;
    }
  >;
  readonly ema: Record<string, { readonly source: string; readonly step: number; readonly decay: number; readonly warmup: boolean }>;
  readonly roles: Record<string, string>;
}

function toWrite(t: tf.Tensor, data: tf.TypedArray): TensorToWrite {
  const dtype: SafetensorsDtype = t.dtype === 'int32' ? 'I32' : t.dtype === 'bool' ? 'BOOL' : 'F32';
  return { dtype, shape: t.shape, data: data as Float32Array };
}

/**
 * Reads the run's state (async reads, no `dataSync`) into checkpoint files: `weights.<role>`,
 * `optimizer.<phase>` (slots `<variable>.exp_avg` / `.exp_avg_sq`), `state.json`, `config.json`.
 */
export async function collectCheckpointFiles(rt: RunStateRefs): Promise<Map<string, CheckpointFileContent>> {
  const files = new Map<string, CheckpointFileContent>();
  const roles: Record<string, string> = {};
  for (const [role, net] of Object.entries(rt.networks)) {
    const tensors = new Map<string, TensorToWrite>();
    for (const [name, v] of net.variables()) tensors.set(name, toWrite(v, await v.data()));
    files.set(weightsFile(role), { kind: 'safetensors', tensors, metadata: { 'fewstep.role': role } });
    roles[role] = weightsFile(role);
  }
  const phases: TrainState['phases'] = {};
  for (const p of rt.phases) {
    const opt = rt.optimizers.get(p.name)!;
    const s = opt.getState();
    const tensors = new Map<string, TensorToWrite>();
    try {
      for (const [k, t] of s.slots) tensors.set(k, toWrite(t, await t.data()));
    } finally {
      for (const t of s.slots.values()) t.dispose();
    }
    files.set(optimizerFile(p.name), { kind: 'safetensors', tensors, metadata: { 'fewstep.phase': p.name } });
    phases[p.name] = {
      role: p.role,
      optimizer: { type: p.optimizer.type, step: s.step, skipped: s.skipped, slotSteps: Object.fromEntries([...s.slotSteps].sort(([a], [b]) => (a < b ? -1 : 1))) },
      skips: { ...rt.skips.get(p.name)! },
    };
  }
  const ema: TrainState['ema'] = {};
  for (const [role, { ema: e, source }] of rt.emas) ema[role] = { source, step: e.step, decay: e.decay, warmup: e.warmup };
  const length = cycleLength(rt.phases);
  const state: TrainState = {
    format: 'fewstep-train-state',
    version: 1,
    step: rt.step,
    configHash: rt.configHash,
    cycle: { length, position: rt.step % length },
    random: { scheme: RANDOM_STREAM_SCHEME, seed: rt.seed, streams: [...rt.streams].sort() },
    data: rt.dataSource === null ? null : { source: rt.dataSource, cursor: { epoch: rt.cursor.epoch, index: rt.cursor.index } },
    phases,
    ema,
    roles,
  };
  files.set(STATE_FILE, { kind: 'json', value: state });
  files.set(CONFIG_FILE, { kind: 'json', value: rt.config });
  return files;
}

const expectedDtype = (t: tf.Tensor): SafetensorsDtype => (t.dtype === 'int32' ? 'I32' : t.dtype === 'bool' ? 'BOOL' : 'F32');
const showShape = (s: readonly number[]): string => `[${s.join(', ')}]`;
const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** A validated plan: everything needed to assign, computed before anything is assigned. */
interface RestorePlan {
  readonly state: TrainState;
}

/**
 * Checks that a verified checkpoint fits the run: every role's tensors (names, shapes, dtypes,
 * nothing missing or extra), every optimizer's slots and counters, EMA state, data source and
 * cursor, random scheme, cycle position. Collects every problem, then throws one
 * {@link CheckpointError} `state-mismatch` listing them (tensor or field, found, expected, fix).
 */
export function validateCheckpointForRun(contents: CheckpointContents, rt: RunStateRefs): RestorePlan {
  const bad: CheckpointMismatch[] = [];
  const add = (component: string, name: string, problem: CheckpointMismatch['problem'], found: string, expected: string): void => {
    bad.push({ component, name, problem, found, expected });
  };
  const raw = contents.json.get(STATE_FILE);
  const s = raw as Partial<TrainState> | undefined;
  if (!s || typeof s !== 'object' || s.format !== 'fewstep-train-state' || s.version !== 1) {
    throw new CheckpointError('state-mismatch', contents.path, `${STATE_FILE} is missing or not a fewstep training state (format ${JSON.stringify(s?.format)}, version ${JSON.stringify(s?.version)}).`, {
      fix: 'load checkpoints written by the fewstep trainer (this SDK version)',
    });
  }
  if (s.step !== contents.step) add(STATE_FILE, 'step', 'value', String(s.step), `${contents.step} (the manifest's step)`);
  // Weights of every role.
  for (const [role, net] of Object.entries(rt.networks)) {
    const file = contents.tensors.get(weightsFile(role));
    const comp = `weights.${role}`;
    if (!file) {
      add(comp, weightsFile(role), 'missing', '(no file)', `the weights of role '${role}'`);
      continue;
    }
    const vars = net.variables();
    for (const [name, v] of vars) {
      const t = file.tensors.get(name);
      if (!t) add(comp, name, 'missing', '(absent)', `${expectedDtype(v)} ${showShape(v.shape)}`);
      else {
        if (t.dtype !== expectedDtype(v)) add(comp, name, 'dtype', t.dtype, expectedDtype(v));
        if (showShape(t.shape) !== showShape(v.shape)) add(comp, name, 'shape', showShape(t.shape), showShape(v.shape));
      }
    }
    for (const [name, t] of file.tensors) if (!vars.has(name)) add(comp, name, 'unexpected', `${t.dtype} ${showShape(t.shape)}`, '(no such variable)');
  }
  for (const name of contents.tensors.keys()) {
    const m = /^weights\.(.+)\.safetensors$/.exec(name);
    if (m && !(m[1]! in rt.networks)) add('roles', m[1]!, 'unexpected', `role '${m[1]}'`, `roles ${Object.keys(rt.networks).join(', ')}`);
  }
  // Optimizers.
  const phases = (s.phases ?? {}) as TrainState['phases'];
  for (const p of rt.phases) {
    const comp = `optimizer.${p.name}`;
    const ps = phases[p.name];
    const file = contents.tensors.get(optimizerFile(p.name));
    if (!ps || !file) {
      add(comp, p.name, 'missing', '(absent)', `the optimizer state of phase '${p.name}'`);
      continue;
    }
    if (ps.role !== p.role) add(comp, 'role', 'value', JSON.stringify(ps.role), JSON.stringify(p.role));
    const o = ps.optimizer;
    if (!o || !isInt(o.step) || !isInt(o.skipped)) {
      add(comp, 'optimizer.step', 'value', JSON.stringify(o?.step), 'an integer >= 0');
      continue;
    }
    if (o.type !== p.optimizer.type) add(comp, 'type', 'value', JSON.stringify(o.type), JSON.stringify(p.optimizer.type));
    const trainable = rt.networks[p.role]!.trainableVariables();
    const slotSteps = (o.slotSteps ?? {}) as Record<string, number>;
    const fresh = file.tensors.size === 0 && Object.keys(slotSteps).length === 0;
    const names = new Set<string>();
    for (const [key, t] of file.tensors) {
      const base = key.endsWith(`.${EXP_AVG_SQ}`) ? key.slice(0, -EXP_AVG_SQ.length - 1) : key.endsWith(`.${EXP_AVG}`) ? key.slice(0, -EXP_AVG.length - 1) : undefined;
      const v = base === undefined ? undefined : trainable.get(base);
      if (base === undefined || !v) {
        add(comp, key, 'unexpected', `${t.dtype} ${showShape(t.shape)}`, '(no trainable variable of that name)');
        continue;
      }
      names.add(base);
      if (t.dtype !== 'F32') add(comp, key, 'dtype', t.dtype, 'F32');
      if (showShape(t.shape) !== showShape(v.shape)) add(comp, key, 'shape', showShape(t.shape), showShape(v.shape));
    }
    const required = fresh ? names : new Set([...trainable.keys(), ...names]);
    for (const n of required) {
      const v = trainable.get(n)!;
      for (const slot of [EXP_AVG, EXP_AVG_SQ]) if (!file.tensors.has(`${n}.${slot}`)) add(comp, `${n}.${slot}`, 'missing', '(absent)', `F32 ${showShape(v.shape)}`);
      if (!isInt(slotSteps[n])) add(comp, `${n} (slot step)`, slotSteps[n] === undefined ? 'missing' : 'value', JSON.stringify(slotSteps[n]), 'an integer >= 0');
    }
    for (const n of Object.keys(slotSteps)) if (!trainable.has(n)) add(comp, `${n} (slot step)`, 'unexpected', JSON.stringify(slotSteps[n]), '(no trainable variable of that name)');
    const k = ps.skips;
    if (!k || !isInt(k.total) || !isInt(k.consecutive) || !isInt(k.loss) || !isInt(k.gradient)) add(comp, 'skips', 'value', JSON.stringify(k), '{ total, consecutive, loss, gradient } integers');
  }
  for (const name of Object.keys(phases)) if (!rt.phases.some((p) => p.name === name)) add('phases', name, 'unexpected', `phase '${name}'`, `phases ${rt.phases.map((p) => p.name).join(', ')}`);
  // EMA.
  const ema = (s.ema ?? {}) as TrainState['ema'];
  for (const [role, { source }] of rt.emas) {
    const e = ema[role];
    if (!e) add(`ema.${role}`, role, 'missing', '(absent)', `the EMA state of '${role}'`);
    else {
      if (e.source !== source) add(`ema.${role}`, 'source', 'value', JSON.stringify(e.source), JSON.stringify(source));
      if (!isInt(e.step)) add(`ema.${role}`, 'step', 'value', JSON.stringify(e.step), 'an integer >= 0');
      if (typeof e.decay !== 'number' || !(e.decay >= 0 && e.decay <= 1)) add(`ema.${role}`, 'decay', 'value', JSON.stringify(e.decay), 'a number in [0, 1]');
      if (typeof e.warmup !== 'boolean') add(`ema.${role}`, 'warmup', 'value', JSON.stringify(e.warmup), 'a boolean');
    }
  }
  for (const role of Object.keys(ema)) if (!rt.emas.has(role)) add('ema', role, 'unexpected', `EMA '${role}'`, `EMAs ${[...rt.emas.keys()].join(', ') || '(none)'}`);
  // Data, randomness, cycle.
  const d = s.data;
  if (rt.dataSource === null) {
    if (d) add('data', 'source', 'unexpected', JSON.stringify(d.source), '(no data source)');
  } else if (!d) add('data', 'source', 'missing', '(none)', JSON.stringify(rt.dataSource));
  else {
    if (d.source !== rt.dataSource) add('data', 'source', 'value', JSON.stringify(d.source), JSON.stringify(rt.dataSource));
    if (!d.cursor || !isInt(d.cursor.epoch) || !isInt(d.cursor.index)) add('data', 'cursor', 'value', JSON.stringify(d.cursor), '{ epoch, index } integers >= 0');
  }
  const r = s.random;
  if (!r || r.scheme !== RANDOM_STREAM_SCHEME) add('random', 'scheme', 'value', JSON.stringify(r?.scheme), JSON.stringify(RANDOM_STREAM_SCHEME));
  else if (r.seed !== rt.seed) add('random', 'seed', 'value', String(r.seed), String(rt.seed));
  const length = cycleLength(rt.phases);
  if (!s.cycle || s.cycle.length !== length || s.cycle.position !== contents.step % length) {
    add('cycle', 'position', 'value', JSON.stringify(s.cycle), JSON.stringify({ length, position: contents.step % length }));
  }
  if (bad.length > 0) {
    throw new CheckpointError('state-mismatch', contents.path, `does not fit this run: ${bad.length} problem(s); nothing was loaded.`, {
      details: bad,
      fix: 'resume with the architecture, phases and data source that wrote this checkpoint, or start a new run in another output directory',
    });
  }
  return { state: s as TrainState };
}

function tensorOf(t: LoadedTensor): tf.Tensor {
  const dtype = t.dtype === 'I32' ? 'int32' : t.dtype === 'BOOL' ? 'bool' : 'float32';
  return tf.tensor(t.data as Float32Array, [...t.shape], dtype);
}

/**
 * Restores a checkpoint into the run: validates everything ({@link validateCheckpointForRun}),
 * then assigns weights, optimizer states, EMA states, counters, cursor and step.
 * @throws CheckpointError `state-mismatch` before anything is assigned.
 */
export function restoreCheckpoint(contents: CheckpointContents, rt: RunStateRefs): void {
  const { state } = validateCheckpointForRun(contents, rt);
  const owned: tf.Tensor[] = [];
  const load = (file: string): Map<string, tf.Tensor> => {
    const m = new Map<string, tf.Tensor>();
    for (const [n, t] of contents.tensors.get(file)!.tensors) {
      const x = tensorOf(t);
      owned.push(x);
      m.set(n, x);
    }
    return m;
  };
  try {
    const weights = new Map<string, Map<string, tf.Tensor>>();
    for (const [role, net] of Object.entries(rt.networks)) {
      const w = load(weightsFile(role));
      weights.set(role, w);
      net.setWeights(w, { strict: true });
    }
    for (const p of rt.phases) {
      const ps = state.phases[p.name]!;
      rt.optimizers.get(p.name)!.setState(
        { step: ps.optimizer.step, skipped: ps.optimizer.skipped, slots: load(optimizerFile(p.name)), slotSteps: new Map(Object.entries(ps.optimizer.slotSteps)) },
        rt.networks[p.role]!,
      );
      rt.skips.set(p.name, { ...ps.skips });
    }
    for (const [role, { ema }] of rt.emas) {
      const e = state.ema[role]!;
      ema.setState({ step: e.step, decay: e.decay, warmup: e.warmup, weights: weights.get(role)! });
    }
    for (const n of state.random.streams) rt.streams.add(n);
    rt.step = state.step;
    rt.cursor = state.data ? { epoch: state.data.cursor.epoch, index: state.data.cursor.index } : { epoch: 0, index: 0 };
  } finally {
    for (const t of owned) t.dispose();
  }
}
