/**
 * @file The collapse watchdog: a run plugin that samples videos `[N, F, H, W, C]` from the
 * networks every `every` steps, computes {@link collapseStatistics} (static, solid colour,
 * flashing, low / dropping diversity; see collapse-statistics.ts) and, when a collapse persists
 * for `patience` checks, warns, stops the run, or rolls back to the newest checkpoint at or before
 * the last step whose samples were healthy ("last good"). No paper prescribes this guard; every
 * default here is our choice and is documented where it is set.
 *
 * Rollback is an abort with a {@link CollapseError} (`E_COLLAPSE`) carrying `rollbackTo`; restart
 * with `resume: { from: err.rollbackTo }` (or `await resumeFromRollback(err)`, which also moves
 * the collapsed checkpoints aside so auto-resume cannot pick them up again).
 */
import * as fsp from 'node:fs/promises';
import * as nodePath from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  CheckpointError,
  ConfigError,
  FewstepError,
  MANIFEST_FILE,
  listStepDirs,
  readCheckpoint,
  stepDirName,
  type Logger,
  type Network,
  type PluginContext,
  type TrainingPlugin,
} from '@fewstep/core';
import {
  collapseChecks,
  collapseStatistics,
  resolveCollapseThresholds,
  type CollapseCheckName,
  type CollapseStatistics,
  type CollapseThresholds,
} from './collapse-statistics.js';

export const COLLAPSE_WATCHDOG_NAME = 'recipes:collapse-watchdog';

/** What the watchdog does once a collapse has lasted `patience` checks. */
export type CollapseAction = 'warn' | 'stop' | 'rollback';

/**
 * One check of the watchdog, as plain JSON-serializable data (NaN numbers become `null` in JSON).
 * This is the payload of the run's `collapse/checked` event (also passed to `onCheck`).
 */
export interface CollapseReport {
  /** Completed steps when the samples were drawn. */
  readonly step: number;
  readonly plugin: string;
  readonly statistics: CollapseStatistics;
  /** The checks that fired (empty: healthy). */
  readonly checks: readonly CollapseCheckName[];
  readonly healthy: boolean;
  /** Consecutive unhealthy checks up to this one (0 when healthy). */
  readonly streak: number;
  /** The last step whose samples were healthy, or `null` before the first healthy check. */
  readonly lastGoodStep: number | null;
  /** The diversity `diversity-drop` compares against (`null` until known). */
  readonly diversityReference: number | null;
  /** What the watchdog did: `none` (healthy, or unhealthy within `patience`), or the action taken. */
  readonly action: 'none' | CollapseAction;
  /** For `rollback`: the checkpoint to restart from (`null` when there is none). */
  readonly rollbackTo: string | null;
}

/** Options of {@link collapseWatchdog}. */
export interface CollapseWatchdogOptions {
  /** Check after every `every` completed steps. */
  readonly every: number;
  /**
   * Draws a batch of videos `[N, F, H, W, C]` (N >= 2 for the diversity checks, F >= 2 for the
   * temporal ones) from the current networks. The watchdog disposes the returned tensor. Use fixed
   * noise (seeded, the same every call) so that the numbers change because the model changed.
   */
  readonly sample: (networks: Readonly<Record<string, Network>>, step: number) => tf.Tensor | Promise<tf.Tensor>;
  /** See {@link CollapseThresholds}; `diversityDrop` is the fraction of the reference below which `diversity-drop` fires. */
  readonly thresholds?: Partial<CollapseThresholds>;
  /**
   * The diversity `diversity-drop` compares against: the `best` (largest) or the `first` diversity
   * of a healthy check, or a fixed number (data units). It is kept across runs of the same
   * watchdog instance, so a run resumed after a rollback keeps comparing with the pre-collapse
   * value. @default 'best' (students often start blurry, i.e. less diverse, and collapse after
   * they improved: only the best value catches that)
   */
  readonly diversityReference?: 'best' | 'first' | number;
  readonly action: CollapseAction;
  /**
   * Act after this many unhealthy checks in a row; a healthy check resets the count.
   * @default 2 (one odd sample batch neither stops nor rolls back a run)
   */
  readonly patience?: number;
  /** Where the run's checkpoints are. @default the directory of the run's `checkpoint/saved` events, else `<outDir>/checkpoints` */
  readonly checkpointDir?: string;
  /**
   * For `rollback`: hard-link (or copy) the rollback checkpoint to `<checkpointDir>/rollback/step-NNNNNN`
   * before aborting, so that retention (`keepLast`) of the final checkpoint cannot delete it.
   * @default true
   */
  readonly pin?: boolean;
  /**
   * Count the checkpoint a run resumed from as healthy (last good = the start step) until a check
   * says otherwise, so a run resumed after a rollback can roll back to the same place.
   * @default true
   */
  readonly trustResumed?: boolean;
  /** Called with every check's report (the event payload). */
  readonly onCheck?: (report: CollapseReport) => void;
}

/** Fields of a {@link CollapseError}. */
export interface CollapseErrorDetails {
  readonly step: number;
  readonly checks: readonly CollapseCheckName[];
  readonly statistics: CollapseStatistics;
  readonly streak: number;
  readonly lastGoodStep: number | null;
  /** The checkpoint to restart from, or `null` when no checkpoint at or before the last good step exists. */
  readonly rollbackTo: string | null;
  /** The step of `rollbackTo`. */
  readonly rollbackStep: number | null;
  /** The run's checkpoint directory (where `resumeFromRollback` looks for collapsed checkpoints). */
  readonly checkpointRoot: string | null;
}

/**
 * The samples of a run collapsed and the watchdog (action `rollback`) aborted it. The run's final
 * checkpoint holds the collapsed state; restart from `rollbackTo`, the newest checkpoint at or
 * before the last step whose samples were healthy.
 * @example
 * try { await distill(o) } catch (e) { await distill({ ...o, resume: await resumeFromRollback(e) }) }
 */
export class CollapseError extends FewstepError implements CollapseErrorDetails {
  readonly step: number;
  readonly checks: readonly CollapseCheckName[];
  readonly statistics: CollapseStatistics;
  readonly streak: number;
  readonly lastGoodStep: number | null;
  readonly rollbackTo: string | null;
  readonly rollbackStep: number | null;
  readonly checkpointRoot: string | null;
  constructor(details: CollapseErrorDetails) {
    const where =
      details.rollbackTo === null
        ? details.lastGoodStep === null
          ? 'No check was healthy, so there is no checkpoint to roll back to. Fix: start over with other settings (learning rate, loss weights).'
          : `No committed checkpoint at or before the last healthy step ${details.lastGoodStep} was found. Fix: checkpoint at least as often as the watchdog checks (checkpoint.every <= every), or start over.`
        : `Last healthy samples at step ${details.lastGoodStep}; roll back to ${details.rollbackTo} (step ${details.rollbackStep}). ` +
          'Fix: restart with resume: { from: error.rollbackTo } (or await resumeFromRollback(error)), ideally with a lower learning rate or a stronger regression term.';
    super(
      'E_COLLAPSE',
      `Sample collapse at step ${details.step}: ${details.checks.join(', ')} (${details.streak} unhealthy check(s) in a row; ${describeStatistics(details.statistics)}). ${where}`,
    );
    this.step = details.step;
    this.checks = [...details.checks];
    this.statistics = details.statistics;
    this.streak = details.streak;
    this.lastGoodStep = details.lastGoodStep;
    this.rollbackTo = details.rollbackTo;
    this.rollbackStep = details.rollbackStep;
    this.checkpointRoot = details.checkpointRoot;
  }
}

function describeStatistics(s: CollapseStatistics): string {
  const f = (v: number) => (Number.isFinite(v) ? v.toPrecision(3) : String(v));
  return `temporalRatio ${f(s.temporalRatio)}, spatialRatio ${f(s.spatialRatio)}, flicker ${f(s.flicker)}, diversity ${f(s.diversity)}, nonFinite ${s.nonFinite}`;
}

/**
 * A {@link TrainingPlugin} (`recipes:collapse-watchdog`) that checks the run's samples for
 * collapse every `every` steps and acts on a collapse that lasts `patience` checks:
 * - `warn`: logs a warning and goes on;
 * - `stop`: `requestStop(reason)`; the run ends with status `stopped` and a reason naming the checks;
 * - `rollback`: finds the newest committed checkpoint of this config at or before the last good
 *   step (pinned against retention, see `pin`) and aborts the run with a {@link CollapseError}
 *   whose `rollbackTo` is that checkpoint.
 *
 * Where the checks come between checkpoints, a checkpoint after the last healthy check is not
 * used: its samples were never checked (our conservative choice).
 *
 * @example
 * const watchdog = collapseWatchdog({ every: 100, action: 'rollback', sample: (nets) => sampleVideos(nets['generator']!) });
 * try {
 *   await distill({ ...opts, plugins: [watchdog] });
 * } catch (e) {
 *   await distill({ ...opts, plugins: [watchdog], resume: await resumeFromRollback(e) });
 * }
 */
export function collapseWatchdog(options: CollapseWatchdogOptions): TrainingPlugin {
  const { every, sample, action, patience = 2, pin = true, trustResumed = true, onCheck } = options;
  if (!Number.isInteger(every) || every < 1) throw new ConfigError('collapseWatchdog.every', every, 'an integer >= 1');
  if (typeof sample !== 'function') throw new ConfigError('collapseWatchdog.sample', sample, 'a function (networks, step) => videos [N, F, H, W, C]');
  if (action !== 'warn' && action !== 'stop' && action !== 'rollback') throw new ConfigError('collapseWatchdog.action', action, "'warn', 'stop' or 'rollback'");
  if (!Number.isInteger(patience) || patience < 1) throw new ConfigError('collapseWatchdog.patience', patience, 'an integer >= 1');
  const reference = options.diversityReference ?? 'best';
  if (!(reference === 'best' || reference === 'first' || (typeof reference === 'number' && reference > 0 && Number.isFinite(reference)))) {
    throw new ConfigError('collapseWatchdog.diversityReference', reference, "'best', 'first' or a diversity > 0");
  }
  const thresholds = resolveCollapseThresholds(options.thresholds, 'collapseWatchdog.thresholds');

  // Kept across runs of this instance (see `diversityReference`).
  let diversityRef: number | undefined = typeof reference === 'number' ? reference : undefined;
  // Per run (reset by attach).
  let run: {
    ctx: PluginContext;
    log: Logger;
    configHash: string | undefined;
    startStep: number;
    resumedFrom: string | null;
    savedRoot: string | undefined;
    lastGood: number | null;
    streak: number;
    halted: boolean;
  } | null = null;

  const checkpointRoot = (): string | undefined =>
    options.checkpointDir ?? run?.savedRoot ?? (run?.ctx.outDir === undefined ? undefined : nodePath.join(run.ctx.outDir, 'checkpoints'));

  /** The newest committed checkpoint of this run's config with step <= last good. */
  async function rollbackTarget(): Promise<{ path: string; step: number } | null> {
    if (run === null || run.lastGood === null) return null;
    const lastGood = run.lastGood;
    const root = checkpointRoot();
    const candidates: { path: string; step: number }[] = root === undefined ? [] : (await listStepDirs(root)).filter((d) => d.step <= lastGood);
    if (run.resumedFrom !== null && run.startStep <= lastGood) candidates.push({ path: run.resumedFrom, step: run.startStep });
    candidates.sort((a, b) => b.step - a.step); // stable: a directory of the root before the resumed-from one
    for (const c of candidates) {
      try {
        // Cheap check (manifest, sizes, config); the resume verifies every hash.
        await readCheckpoint(c.path, run.configHash === undefined ? { manifestOnly: true } : { manifestOnly: true, configHash: run.configHash });
        return c;
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw e;
        run.log.warn(`${COLLAPSE_WATCHDOG_NAME}: not rolling back to ${c.path}: ${e.message.split('\n')[0]}`);
      }
    }
    return null;
  }

  return {
    name: COLLAPSE_WATCHDOG_NAME,
    attach(ctx) {
      const state = { ctx, log: ctx.logger, configHash: undefined, startStep: 0, resumedFrom: null, savedRoot: undefined, lastGood: null, streak: 0, halted: false } as NonNullable<typeof run>;
      run = state;
      // The events$ subject completes when the run ends, which ends this subscription too.
      const sub = ctx.events$.subscribe((e) => {
        if (e.type === 'run/started') {
          state.configHash = e.payload.configHash;
          state.startStep = e.payload.startStep;
          state.resumedFrom = e.payload.resumedFrom;
          if (trustResumed && e.payload.resumedFrom !== null) state.lastGood = e.payload.startStep;
        } else if (e.type === 'checkpoint/saved') {
          state.savedRoot = nodePath.dirname(e.payload.path);
        }
      });
      return () => {
        sub.unsubscribe();
        if (run === state) run = null;
      };
    },
    async afterStep(ctx) {
      const r = run;
      if (r === null || r.halted || ctx.step % every !== 0) return;
      const videos = await sample(ctx.networks, ctx.step);
      if (!(videos instanceof tf.Tensor)) throw new ConfigError('collapseWatchdog.sample', typeof videos, 'a function returning a tf.Tensor [N, F, H, W, C]');
      let statistics: CollapseStatistics;
      try {
        statistics = await collapseStatistics(videos);
      } finally {
        videos.dispose();
      }
      const checks = collapseChecks(statistics, thresholds, diversityRef);
      const healthy = checks.length === 0;
      if (healthy) {
        r.streak = 0;
        r.lastGood = ctx.step;
        if (Number.isFinite(statistics.diversity) && typeof reference === 'string') {
          if (diversityRef === undefined || (reference === 'best' && statistics.diversity > diversityRef)) diversityRef = statistics.diversity;
        }
      } else r.streak++;
      let taken: CollapseReport['action'] = 'none';
      let rollbackTo: string | null = null;
      const summary = `${checks.join(', ')} at step ${ctx.step} (${r.streak} unhealthy check(s) in a row; ${describeStatistics(statistics)})`;
      if (!healthy && r.streak >= patience) {
        taken = action;
        if (action === 'warn') {
          r.log.warn(`${COLLAPSE_WATCHDOG_NAME}: sample collapse: ${summary}; last healthy step ${r.lastGood ?? 'none'}`);
        } else if (action === 'stop') {
          r.halted = true;
          r.ctx.requestStop(`collapse watchdog: ${summary}; last healthy step ${r.lastGood ?? 'none'}`);
        } else {
          r.halted = true;
          const target = await rollbackTarget();
          const root = checkpointRoot() ?? null;
          rollbackTo = target === null ? null : pin ? await pinCheckpoint(target.path, target.step, root) : target.path;
          r.ctx.abort(
            new CollapseError({
              step: ctx.step,
              checks,
              statistics,
              streak: r.streak,
              lastGoodStep: r.lastGood,
              rollbackTo,
              rollbackStep: target?.step ?? null,
              checkpointRoot: root,
            }),
          );
        }
      } else if (!healthy) {
        r.log.warn(`${COLLAPSE_WATCHDOG_NAME}: collapse suspected: ${summary}; acting after ${patience}`);
      } else {
        r.log.debug(`${COLLAPSE_WATCHDOG_NAME}: step ${ctx.step} healthy (${describeStatistics(statistics)})`);
      }
      const report: CollapseReport = {
        step: ctx.step,
        plugin: COLLAPSE_WATCHDOG_NAME,
        statistics,
        checks,
        healthy,
        streak: r.streak,
        lastGoodStep: r.lastGood,
        diversityReference: diversityRef ?? null,
        action: taken,
        rollbackTo,
      };
      ctx.emit({ type: 'collapse/checked', payload: report });
      onCheck?.(report);
    },
  };
}

/**
 * Hard-links (copying where links are not possible) the files of checkpoint `src` into
 * `<root>/rollback/step-NNNNNN` (manifest last, so an interrupted pin is an uncommitted directory
 * that loaders refuse) and returns that path. Checkpoint files are only ever replaced by rename,
 * never rewritten in place, so a link keeps the bytes after retention deletes the original.
 */
async function pinCheckpoint(src: string, step: number, root: string | null): Promise<string> {
  const pinRoot = nodePath.join(root ?? nodePath.dirname(src), 'rollback');
  const dest = nodePath.join(pinRoot, stepDirName(step));
  if (nodePath.resolve(src) === nodePath.resolve(dest)) return src;
  await fsp.rm(dest, { recursive: true, force: true });
  await fsp.mkdir(dest, { recursive: true });
  const names = (await fsp.readdir(src, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name);
  const ordered = [...names.filter((n) => n !== MANIFEST_FILE), ...names.filter((n) => n === MANIFEST_FILE)];
  for (const name of ordered) {
    try {
      await fsp.link(nodePath.join(src, name), nodePath.join(dest, name));
    } catch {
      await fsp.copyFile(nodePath.join(src, name), nodePath.join(dest, name));
    }
  }
  return dest;
}

/** Options of {@link resumeFromRollback}. */
export interface ResumeFromRollbackOptions {
  /**
   * Move the run's checkpoints newer than the rollback step to `<checkpointDir>/collapsed/`, so that
   * a later auto-resume (`resume: 'auto'`, the default) cannot pick a collapsed state again. They
   * are moved, not deleted. @default true
   */
  readonly quarantine?: boolean;
}

/**
 * The `resume` option that restarts a run aborted by the watchdog from its rollback checkpoint:
 * `{ from: error.rollbackTo }`, after checking that the checkpoint is still committed and (by
 * default) moving the collapsed checkpoints aside. Any other error, or a {@link CollapseError}
 * without a rollback checkpoint, is re-thrown, so a `catch` block can pass whatever it caught.
 * Staged recipes: `distill` applies `resume` to every stage; restart the stage that collapsed.
 * @example
 * try { await distill(o) } catch (e) { await distill({ ...o, resume: await resumeFromRollback(e) }) }
 */
export async function resumeFromRollback(error: unknown, options: ResumeFromRollbackOptions = {}): Promise<{ readonly from: string }> {
  if (!(error instanceof CollapseError) || error.rollbackTo === null || error.rollbackStep === null) throw error;
  await readCheckpoint(error.rollbackTo, { manifestOnly: true });
  if ((options.quarantine ?? true) && error.checkpointRoot !== null) {
    const aside = nodePath.join(error.checkpointRoot, 'collapsed');
    for (const d of await listStepDirs(error.checkpointRoot)) {
      if (d.step <= error.rollbackStep) continue;
      await fsp.mkdir(aside, { recursive: true });
      let target = nodePath.join(aside, d.name);
      for (let i = 1; await exists(target); i++) target = nodePath.join(aside, `${d.name}-${i}`);
      await fsp.rename(d.path, target);
    }
  }
  return { from: error.rollbackTo };
}

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}
