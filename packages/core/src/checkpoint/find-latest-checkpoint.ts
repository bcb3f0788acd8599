import { CheckpointError, type CheckpointProblem } from './checkpoint-error.js';
import { readCheckpoint, type CheckpointContents } from './read-checkpoint.js';
import { listStepDirs } from './step-dir.js';

/** A checkpoint directory auto-resume passed over, and why. */
export interface SkippedCheckpoint {
  readonly path: string;
  readonly step: number;
  readonly problem: CheckpointProblem;
  readonly reason: string;
}

export interface FindLatestOptions {
  /** Skip checkpoints of another config (`config-mismatch`). */
  readonly configHash?: string;
  /**
   * Further checks on a verified checkpoint (e.g. that it fits the run); throw a
   * {@link CheckpointError} to skip it. Runs newest first, until one passes.
   */
  readonly accept?: (contents: CheckpointContents) => void | Promise<void>;
  /** Turns a config-mismatch into a longer explanation (e.g. the differing config fields). */
  readonly explain?: (path: string, error: CheckpointError) => Promise<string> | string;
}

export interface LatestCheckpoint {
  /** The newest valid checkpoint, or `undefined` when none is. */
  readonly checkpoint: CheckpointContents | undefined;
  /** Newer (or all) checkpoints that were skipped, newest first, with the reason (P25). */
  readonly skipped: readonly SkippedCheckpoint[];
}

/**
 * Auto-resume (P25): the newest checkpoint under `root` that is committed, intact (sizes and
 * SHA-256), of this config, and accepted by `accept`; every newer one is reported with the
 * reason it was skipped (no manifest, hash mismatch, truncated file, config differs ...).
 */
export async function findLatestCheckpoint(root: string, options: FindLatestOptions = {}): Promise<LatestCheckpoint> {
  const skipped: SkippedCheckpoint[] = [];
  for (const d of await listStepDirs(root)) {
    try {
      const c = await readCheckpoint(d.path, options.configHash === undefined ? {} : { configHash: options.configHash });
      await options.accept?.(c);
      return { checkpoint: c, skipped };
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      const reason = options.explain && e.problem === 'config-mismatch' ? await options.explain(d.path, e) : e.message;
      skipped.push({ path: d.path, step: d.step, problem: e.problem, reason });
    }
  }
  return { checkpoint: undefined, skipped };
}
