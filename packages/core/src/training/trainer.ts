import * as fsp from 'node:fs/promises';
import * as nodePath from 'node:path';
import { randomBytes } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { ReplaySubject, Subject, type Observable } from 'rxjs';
import { ConfigError, FewstepError, ShapeError } from '../errors.js';
import { DependencyManager } from '../di/dependency-manager.js';
import type { Logger } from '../di/logger.js';
import { Tokens } from '../di/tokens.js';
import type { Adam } from '../nn/adam.js';
import { ExponentialMovingAverage } from '../nn/exponential-moving-average.js';
import type { Network } from '../nn/network.js';
import { valueAndGrads } from '../nn/value-and-grads.js';
import { CheckpointError } from '../checkpoint/checkpoint-error.js';
import { canonicalize, jsonDifferences, sha256Hex, type JsonValue } from '../checkpoint/canonical-json.js';
import { findLatestCheckpoint } from '../checkpoint/find-latest-checkpoint.js';
import { readCheckpoint, type CheckpointContents } from '../checkpoint/read-checkpoint.js';
import { writeCheckpoint } from '../checkpoint/write-checkpoint.js';
import type { TrainingContext } from './context.js';
import { createOptimizer, describeConfig, phaseRunsAt, resolveTrainingConfig, type ResolvedPhase, type TrainingConfig } from './config.js';
import { INITIAL_CURSOR, type DataBatch } from './data-source.js';
import { serializeError, type BatchId, type StampedTrainingEvent, type TrainingEvent } from './events.js';
import type { PluginContext, Teardown } from './plugin.js';
import { StepRandom } from './random-streams.js';
import { CONFIG_FILE, collectCheckpointFiles, restoreCheckpoint, validateCheckpointForRun, type RunStateRefs, type SkipCounters } from './run-state.js';
import { TrainingError } from './training-error.js';

/** Progress of a run (`progress$` replays the latest). */
export interface RunProgress {
  /** Completed steps. */
  readonly step: number;
  readonly totalSteps: number;
  /** Completed steps when this process started (resumed runs). */
  readonly startStep: number;
  readonly fraction: number;
  /** Steps per second in this process. */
  readonly stepsPerSecond: number;
  /** Estimated seconds to the end; NaN before the first step. */
  readonly etaSeconds: number;
}

/** What `result` resolves to. */
export interface RunSummary {
  readonly runId: string;
  /** `stopped`: `stop()` or a signal ended it early (a checkpoint of the last step was committed). */
  readonly status: 'completed' | 'stopped';
  readonly stopReason: string | null;
  /** Completed steps at the end. */
  readonly step: number;
  readonly startStep: number;
  readonly resumedFrom: string | null;
  readonly seconds: number;
  readonly configHash: string;
  /** Non-finite skips per phase (P27). */
  readonly skips: Readonly<Record<string, number>>;
  readonly lastCheckpoint: string | null;
}

/**
 * A running training job (STYLE.md G9): a promise for the result, observables for the streams,
 * `stop()` for a graceful end.
 */
export interface TrainingRun {
  readonly id: string;
  /** Hot; completes after `run/completed` or `run/failed`. */
  readonly events$: Observable<StampedTrainingEvent>;
  /** Replays the latest progress; completes with the run. */
  readonly progress$: Observable<RunProgress>;
  /** Resolves when the run ends; rejects with the error of `run/failed`. */
  readonly result: Promise<RunSummary>;
  /** Every network of the run by role (EMA copies the trainer created are disposed when the run ends). */
  readonly networks: Readonly<Record<string, Network>>;
  /**
   * Finishes the current step (never a half-applied multi-network update), commits a checkpoint,
   * and ends the run with status `stopped` (P24). Resolves when the run has ended; never rejects.
   */
  stop(reason?: string): Promise<void>;
}

/** `train(config)`: runs to the end and returns the summary. */
export function train(config: TrainingConfig): Promise<RunSummary> {
  return startRun(config).result;
}

/**
 * Starts a training run and returns its handle at once (the first event comes after a tick, so
 * subscribe right away). The config is validated synchronously: a {@link ConfigError} names the
 * field. See {@link TrainingConfig}.
 *
 * @example
 * const run = startRun({ seed: 0, steps: 1000, roles: { generator, fakeScore }, phases, outDir: 'out',
 *   checkpoint: { every: 100, keepLast: 2 }, plugins: [progressBar(), jsonlMetrics()] });
 * run.events$.pipe(ofType('checkpoint/saved')).subscribe((e) => console.log(e.payload.path));
 * const summary = await run.result;
 */
export function startRun(config: TrainingConfig): TrainingRun {
  return new Run(config);
}

const now = (): number => performance.now() / 1000;
const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

class Run implements TrainingRun {
  readonly id: string;
  readonly events$: Observable<StampedTrainingEvent>;
  readonly progress$: Observable<RunProgress>;
  readonly result: Promise<RunSummary>;
  readonly networks: Record<string, Network>;

  readonly #config: TrainingConfig;
  readonly #resolved: ReturnType<typeof resolveTrainingConfig>;
  readonly #events = new Subject<StampedTrainingEvent>();
  readonly #progress = new ReplaySubject<RunProgress>(1);
  readonly #root: DependencyManager;
  readonly #ownsRoot: boolean;
  readonly #scope: DependencyManager;
  readonly #log: Logger;
  readonly #done: Promise<void>;
  #stopReason: string | null = null;
  #abortError: Error | null = null;
  #failedEmitted = false;
  #lastSaved: number | null = null;
  #lastCheckpoint: string | null = null;
  #startStep = 0;
  #resumedFrom: string | null = null;
  #startTime = now();
  #rt: RunStateRefs | undefined;

  constructor(config: TrainingConfig) {
    this.#resolved = resolveTrainingConfig(config);
    this.#config = config;
    this.id = config.runId ?? `run-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
    this.#ownsRoot = config.dm === undefined;
    this.#root = config.dm ?? DependencyManager.createRoot(config.logger ? { logger: config.logger } : {});
    this.#scope = this.#root.createRunScope(this.id);
    this.#log = config.logger ?? this.#scope.logger;
    this.events$ = this.#events.asObservable();
    this.progress$ = this.#progress.asObservable();
    this.networks = { ...config.roles };
    this.result = this.#main();
    this.#done = this.result.then(
      () => undefined,
      () => undefined,
    );
  }

  stop(reason = 'stop()'): Promise<void> {
    this.#requestStop(reason);
    return this.#done;
  }

  #requestStop(reason: string): void {
    if (this.#stopReason !== null) return;
    this.#stopReason = reason;
    this.#emit({ type: 'run/stopping', payload: { step: this.#rt?.step ?? 0, reason } });
  }

  #emit(event: TrainingEvent): void {
    if (this.#events.closed) return;
    this.#events.next({ ...event, metadata: { runId: this.id, time: Date.now() } } as StampedTrainingEvent);
  }

  get #checkpointRoot(): string | undefined {
    const ck = this.#config.checkpoint;
    if (ck?.dir) return ck.dir;
    return this.#config.outDir === undefined ? undefined : nodePath.join(this.#config.outDir, 'checkpoints');
  }

  async #main(): Promise<RunSummary> {
    const config = this.#config;
    const { phases, ema } = this.#resolved;
    const created: Network[] = [];
    const optimizers = new Map<string, Adam>();
    const teardowns: { name: string; fn: Teardown }[] = [];
    await yieldToEventLoop(); // let the caller subscribe before the first event
    try {
      // 1. EMA copies, optimizers, the config hash.
      const emas = new Map<string, { ema: ExponentialMovingAverage; source: string }>();
      for (const e of ema) {
        let target = this.networks[e.role];
        if (!target) {
          target = this.networks[e.source]!.clone(e.role);
          created.push(target);
          this.networks[e.role] = target;
        }
        emas.set(e.role, { ema: new ExponentialMovingAverage(target, this.networks[e.source]!, { decay: e.decay, warmup: e.warmup }), source: e.source });
      }
      for (const p of phases) optimizers.set(p.name, createOptimizer(p));
      const described = canonicalize(describeConfig(config, this.#resolved));
      const configHash = sha256Hex(JSON.stringify(described));
      const skips = new Map<string, SkipCounters>(phases.map((p) => [p.name, { total: 0, consecutive: 0, loss: 0, gradient: 0 }]));
      const rt: RunStateRefs = {
        seed: config.seed,
        configHash,
        config: described,
        networks: this.networks,
        phases,
        optimizers,
        emas,
        dataSource: config.data?.name ?? null,
        streams: new Set(),
        step: 0,
        cursor: { ...INITIAL_CURSOR },
        skips,
      };
      this.#rt = rt;

      // 2. Plugins.
      const ctx: PluginContext = {
        runId: this.id,
        outDir: config.outDir,
        totalSteps: config.steps,
        logger: this.#log,
        events$: this.events$,
        stop$: this.#scope.resolve(Tokens.RunStop$),
        dm: this.#scope,
        requestStop: (reason) => this.#requestStop(reason),
        abort: (error) => {
          if (this.#abortError === null) this.#abortError = error;
          this.#requestStop(`aborted: ${error.message.split('\n')[0]}`);
        },
      };
      for (const p of config.plugins ?? []) {
        try {
          const td = await p.attach?.(ctx);
          if (typeof td === 'function') teardowns.push({ name: p.name, fn: td });
        } catch (cause) {
          throw new TrainingError(`plugin '${p.name}' failed to attach: ${(cause as Error).message}`, { cause });
        }
      }

      // 3. Resume.
      await this.#resume(rt, described);
      this.#startStep = rt.step;
      this.#lastSaved = this.#resumedFrom === null ? null : rt.step;
      this.#emit({
        type: 'run/started',
        payload: {
          totalSteps: config.steps,
          startStep: rt.step,
          resumedFrom: this.#resumedFrom,
          configHash,
          seed: config.seed,
          roles: Object.keys(this.networks),
          phases: phases.map((p) => ({ name: p.name, role: p.role, every: p.every, offset: p.offset, terms: p.terms.map((t) => t.name) })),
          backend: tf.getBackend() ?? 'none',
          config: described,
        },
      });
      this.#startTime = now();
      this.#publishProgress(rt);

      // 4. The loop.
      const every = config.checkpoint?.every;
      while (rt.step < config.steps && this.#stopReason === null) {
        await this.#step(rt);
        for (const p of config.plugins ?? []) {
          if (!p.afterStep) continue;
          try {
            await p.afterStep({ step: rt.step, totalSteps: config.steps, networks: this.networks, outDir: config.outDir, emit: (e) => this.#emit(e) });
          } catch (cause) {
            throw new TrainingError(`plugin '${p.name}' failed after step ${rt.step}: ${(cause as Error).message}`, { cause });
          }
        }
        if (every !== undefined && rt.step % every === 0 && rt.step < config.steps) await this.#save(rt, false);
        await yieldToEventLoop(); // signals, timers and stop() get their turn between steps
      }

      // 5. Final checkpoint (end, stop, or abort: the state is consistent between steps).
      if (this.#checkpointRoot !== undefined && config.checkpoint !== undefined) await this.#save(rt, this.#abortError === null);
      if (this.#abortError) throw this.#abortError;
      const status = rt.step >= config.steps ? 'completed' : 'stopped';
      const seconds = now() - this.#startTime;
      this.#emit({ type: 'run/completed', payload: { step: rt.step, status, seconds, lastCheckpoint: this.#lastCheckpoint } });
      return {
        runId: this.id,
        status,
        stopReason: this.#stopReason,
        step: rt.step,
        startStep: this.#startStep,
        resumedFrom: this.#resumedFrom,
        seconds,
        configHash,
        skips: Object.fromEntries([...skips].map(([k, v]) => [k, v.total])),
        lastCheckpoint: this.#lastCheckpoint,
      };
    } catch (error) {
      if (!this.#failedEmitted) {
        this.#failedEmitted = true;
        this.#emit({ type: 'run/failed', payload: { step: this.#rt?.step ?? 0, error: serializeError(error), lastCheckpoint: this.#lastCheckpoint } });
      }
      throw error;
    } finally {
      this.#scope.stopRun(); // Tokens.RunStop$: every takeUntil(stop$) subscription ends
      for (const { name, fn } of teardowns.reverse()) {
        try {
          await fn();
        } catch (e) {
          this.#log.error(`plugin '${name}' teardown failed: ${(e as Error).message}`);
        }
      }
      this.#events.complete();
      this.#progress.complete();
      for (const o of optimizers.values()) o.dispose();
      for (const n of created) {
        n.dispose();
        for (const [role, net] of Object.entries(this.networks)) if (net === n) delete this.networks[role];
      }
      await this.#scope.dispose();
      if (this.#ownsRoot) await this.#root.dispose();
    }
  }

  async #resume(rt: RunStateRefs, described: JsonValue): Promise<void> {
    const mode = this.#config.resume ?? 'auto';
    if (mode === 'never') return;
    // Why a checkpoint's config differs: the differing fields of its config.json.
    const configDiff = async (dir: string): Promise<string> => {
      try {
        const found = JSON.parse(await fsp.readFile(nodePath.join(dir, CONFIG_FILE), 'utf8')) as JsonValue;
        const diffs = jsonDifferences(found, described, '', 8);
        return diffs.length === 0 ? '' : `config differs at ${diffs.map((d) => `${d.path}: found ${d.found}, expected ${d.expected}`).join('; ')}`;
      } catch {
        return '';
      }
    };
    const explain = async (dir: string, e: CheckpointError): Promise<string> => {
      const diff = await configDiff(dir);
      return diff ? `${e.message.split('\nFix:')[0]}; ${diff}` : e.message;
    };
    let contents: CheckpointContents | undefined;
    if (typeof mode === 'object') {
      try {
        contents = await readCheckpoint(mode.from, mode.allowConfigChange ? {} : { configHash: rt.configHash });
      } catch (e) {
        if (e instanceof CheckpointError && e.problem === 'config-mismatch') {
          const diff = await configDiff(mode.from);
          throw new CheckpointError('config-mismatch', mode.from, `was written by another training config or architecture${diff ? `: ${diff}` : ''}.`, {
            fix: 'resume with the config and architecture that wrote it; or pass resume: { from, allowConfigChange: true } to load into a changed config whose tensors still match',
          });
        }
        throw e;
      }
    } else {
      const root = this.#checkpointRoot;
      if (root === undefined) return;
      const found = await findLatestCheckpoint(root, { configHash: rt.configHash, accept: (c) => void validateCheckpointForRun(c, rt), explain });
      for (const s of found.skipped) this.#log.warn(`auto-resume skipped ${s.path}: ${s.reason}`);
      if (!found.checkpoint) {
        const foreign = found.skipped.filter((s) => s.problem === 'config-mismatch' || s.problem === 'state-mismatch');
        if (foreign.length > 0) {
          throw new CheckpointError('config-mismatch', root, `holds ${foreign.length} checkpoint(s) of another config or architecture and none of this run's, so auto-resume cannot continue and a fresh start would delete them.`, {
            fix: `use another outDir, or resume: 'never' to start over here (older checkpoints are then removed by keepLast). First difference: ${foreign[0]!.reason.split('\n').slice(0, 3).join(' ')}`,
          });
        }
        if (found.skipped.length > 0) this.#log.warn(`auto-resume: no valid checkpoint under ${root}; starting from step 0`);
        return;
      }
      contents = found.checkpoint;
      this.#skippedOnResume = found.skipped.map((s) => ({ path: s.path, step: s.step, reason: s.reason }));
    }
    restoreCheckpoint(contents, rt);
    this.#resumedFrom = contents.path;
    this.#lastCheckpoint = contents.path;
    if (this.#config.data && this.#config.data.resumable === false) {
      this.#log.warn(`data source '${this.#config.data.name}' cannot resume at a cursor: the resumed run will not see the batches the uninterrupted run would have (P22)`);
    }
    this.#log.info(`resumed from ${contents.path} (step ${rt.step})`);
    this.#emit({ type: 'checkpoint/resumed', payload: { step: rt.step, path: contents.path, skipped: this.#skippedOnResume } });
  }

  #skippedOnResume: { path: string; step: number; reason: string }[] = [];

  async #save(rt: RunStateRefs, final: boolean): Promise<void> {
    const root = this.#checkpointRoot;
    if (root === undefined) return;
    if (this.#lastSaved === rt.step) {
      this.#emit({ type: 'checkpoint/skipped', payload: { step: rt.step, reason: 'already-saved', message: `step ${rt.step} is already saved` } });
      return;
    }
    const t0 = now();
    try {
      const files = await collectCheckpointFiles(rt);
      const w = await writeCheckpoint({ root, step: rt.step, configHash: rt.configHash, files, ...(this.#config.checkpoint?.keepLast ? { keepLast: this.#config.checkpoint.keepLast } : {}) });
      this.#lastSaved = rt.step;
      this.#lastCheckpoint = w.path;
      if (w.retentionError) this.#log.warn(`checkpoint ${w.path} committed, but removing older checkpoints failed: ${w.retentionError}`);
      this.#emit({ type: 'checkpoint/saved', payload: { step: rt.step, path: w.path, bytes: w.bytes, seconds: now() - t0, removed: w.removed } });
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      this.#log.error(`checkpoint at step ${rt.step} failed: ${e.message}`);
      this.#emit({ type: 'checkpoint/skipped', payload: { step: rt.step, reason: e.problem === 'non-finite' ? 'non-finite' : 'io-error', message: e.message } });
      if (final) throw e;
    }
  }

  #publishProgress(rt: RunStateRefs): void {
    const total = this.#config.steps;
    const elapsed = now() - this.#startTime;
    const done = rt.step - this.#startStep;
    const sps = done > 0 && elapsed > 0 ? done / elapsed : 0;
    this.#progress.next({
      step: rt.step,
      totalSteps: total,
      startStep: this.#startStep,
      fraction: total === 0 ? 1 : rt.step / total,
      stepsPerSecond: sps,
      etaSeconds: sps > 0 ? (total - rt.step) / sps : NaN,
    });
  }

  async #step(rt: RunStateRefs): Promise<void> {
    const t = rt.step;
    const t0 = now();
    const data = this.#config.data;
    let batch: DataBatch | undefined;
    const losses: Record<string, number> = {};
    const phaseLosses: Record<string, number> = {};
    const metrics: Record<string, number> = {};
    const lr: Record<string, number> = {};
    const gradNorm: Record<string, number> = {};
    const applied: string[] = [];
    let batchId: BatchId | null = null;
    try {
      if (data) {
        const at = rt.cursor;
        batch = await data.next(at, this.#config.seed);
        batchId = batch.next.index === 0 ? null : { epoch: batch.next.epoch, index: batch.next.index - 1 };
      }
      for (const phase of this.#resolved.phases) {
        if (!phaseRunsAt(phase, t)) {
          this.#emit({ type: 'phase/skipped', payload: { step: t + 1, phase: phase.name, role: phase.role, reason: 'schedule' } });
          continue;
        }
        const out = await this.#runPhase(rt, phase, t, batch?.tensors ?? {}, batchId);
        Object.assign(losses, out.losses);
        Object.assign(metrics, out.metrics);
        phaseLosses[phase.name] = out.total;
        lr[phase.name] = out.lr;
        gradNorm[phase.name] = out.gradNorm;
        if (out.applied) applied.push(phase.name);
      }
    } finally {
      if (batch) for (const x of Object.values(batch.tensors)) x.dispose();
    }
    if (batch) rt.cursor = batch.next;
    rt.step = t + 1;
    this.#emit({ type: 'step/completed', payload: { step: rt.step, losses, phaseLosses, metrics, lr, gradNorm, applied, batch: batchId, seconds: now() - t0 } });
    this.#publishProgress(rt);
  }

  async #runPhase(
    rt: RunStateRefs,
    phase: ResolvedPhase,
    t: number,
    batch: tf.NamedTensorMap,
    batchId: BatchId | null,
  ): Promise<{ losses: Record<string, number>; metrics: Record<string, number>; total: number; lr: number; gradNorm: number; applied: boolean }> {
    const net = this.networks[phase.role]!;
    const optimizer = rt.optimizers.get(phase.name)!;
    const random = new StepRandom(this.#config.seed, t, phase.name, rt.streams);
    const networks = this.networks;
    const ctx: TrainingContext = {
      step: t,
      phase: phase.name,
      role: phase.role,
      seed: this.#config.seed,
      networks,
      network(role) {
        const n = networks[role];
        if (!n) throw new ConfigError('TrainingContext.network(role)', role, `one of the roles: ${Object.keys(networks).join(', ')}`);
        return n;
      },
      batch,
      batchId,
      rng: (stream) => random.rng(stream),
      randomNormal: (shape, stream, std) => random.normal(shape, stream, std),
      randomUniform: (shape, stream, lo, hi) => random.uniform(shape, stream, lo, hi),
    };
    const kept: tf.Tensor[] = [];
    const keys: { key: string; term: boolean }[] = [];
    let value: tf.Scalar | undefined;
    let grads: Map<string, tf.Tensor> | undefined;
    let values: Float32Array | undefined;
    try {
      try {
        ({ value, grads } = valueAndGrads(net, () => {
          let total: tf.Scalar | undefined;
          for (const term of phase.terms) {
            const what = `loss term '${phase.name}/${term.name}'`;
            const out = term.loss.compute(ctx, term.options);
            const loss = out?.loss;
            if (!(loss instanceof tf.Tensor) || loss.rank !== 0) {
              throw new ShapeError(what, loss instanceof tf.Tensor ? loss.shape : [], 'a scalar [] loss', 'reduce the per-sample losses, e.g. tf.mean(...)');
            }
            kept.push(tf.keep(loss));
            keys.push({ key: `${phase.name}/${term.name}`, term: true });
            for (const [m, v] of Object.entries(out.metrics ?? {})) {
              if (!(v instanceof tf.Tensor) || v.rank !== 0) throw new ShapeError(`${what} metric '${m}'`, v instanceof tf.Tensor ? v.shape : [], 'a scalar []');
              kept.push(tf.keep(v));
              keys.push({ key: `${phase.name}/${term.name}/${m}`, term: false });
            }
            const w = term.weight === 1 ? loss : (tf.mul(loss, term.weight) as tf.Scalar);
            total = total === undefined ? w : (tf.add(total, w) as tf.Scalar);
          }
          return total!;
        }));
      } catch (cause) {
        if (cause instanceof FewstepError) throw cause;
        throw new TrainingError(
          `phase '${phase.name}' (role '${phase.role}') at step ${t + 1}: computing the loss or its gradient failed: ${(cause as Error).message}. ` +
            `Fix: every phase's loss must depend on the trainable variables of its role through tfjs ops.`,
          { cause },
        );
      }
      // One async read of every scalar of the phase (no dataSync).
      const stacked = tf.tidy(() => tf.stack([value!, ...kept].map((x) => (x.dtype === 'float32' ? x : tf.cast(x, 'float32')))));
      try {
        values = (await stacked.data()) as Float32Array;
      } finally {
        stacked.dispose();
      }
    } finally {
      value?.dispose();
      for (const k of kept) k.dispose();
      if (values === undefined && grads) for (const g of grads.values()) g.dispose();
    }
    const losses: Record<string, number> = {};
    const metrics: Record<string, number> = {};
    const total = values![0]!;
    let lossFinite = Number.isFinite(total);
    keys.forEach(({ key, term }, i) => {
      const v = values![i + 1]!;
      if (term) {
        losses[key] = v;
        if (!Number.isFinite(v)) lossFinite = false;
      } else metrics[key] = v;
    });
    const skip = rt.skips.get(phase.name)!;
    let result: { skipped: boolean; gradNorm: number; lr: number };
    try {
      result = lossFinite ? await optimizer.step(grads!, net) : { skipped: true, gradNorm: NaN, lr: optimizer.lr(optimizer.iterations) };
    } finally {
      for (const g of grads!.values()) g.dispose();
    }
    if (result.skipped) {
      // P27: nothing of this role moved (weights, moments, counters, LR position, EMA).
      const source = lossFinite ? 'gradient' : 'loss';
      skip.total++;
      skip.consecutive++;
      skip[source]++;
      this.#log.warn(
        `step ${t + 1}: phase '${phase.name}' (role '${phase.role}') skipped: non-finite ${source}` +
          (batchId ? ` (batch epoch ${batchId.epoch} index ${batchId.index})` : '') +
          `; ${skip.total} skip(s) so far, ${skip.consecutive} in a row`,
      );
      this.#emit({
        type: 'phase/skipped',
        payload: { step: t + 1, phase: phase.name, role: phase.role, reason: 'non-finite', source, batch: batchId, skips: skip.total, consecutive: skip.consecutive },
      });
      return { losses, metrics, total, lr: result.lr, gradNorm: result.gradNorm, applied: false };
    }
    skip.consecutive = 0;
    for (const { ema, source } of rt.emas.values()) if (source === phase.role) ema.update();
    return { losses, metrics, total, lr: result.lr, gradNorm: result.gradNorm, applied: true };
  }
}
