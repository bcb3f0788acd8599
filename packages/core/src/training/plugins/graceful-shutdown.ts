import { constants as osConstants } from 'node:os';
import type { TrainingPlugin } from '../plugin.js';

/**
 * Exit code for a run that stopped on SIGTERM/SIGINT after committing its checkpoint: 75
 * (`EX_TEMPFAIL`, "try again later"), so a supervisor (SLURM requeue, Kubernetes restart policy)
 * restarts it and it resumes. Set it with `process.exitCode = PREEMPTED_EXIT_CODE` when the
 * result has status `stopped` because of a signal.
 */
export const PREEMPTED_EXIT_CODE = 75;

export interface GracefulShutdownOptions {
  /** @default ['SIGTERM', 'SIGINT'] */
  signals?: readonly NodeJS.Signals[];
}

/**
 * Preemption (RELIABILITY.md P24): the first SIGTERM/SIGINT asks the run to stop after the current
 * step, which commits a checkpoint and resolves `result` with `status: 'stopped'` and
 * `stopReason: 'SIGTERM'`; a second signal exits at once with `128 + signal number` (the last
 * committed checkpoint stays valid: checkpoints commit atomically). Handlers are removed when the
 * run ends.
 */
export function gracefulShutdown(options: GracefulShutdownOptions = {}): TrainingPlugin {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  return {
    name: 'core:graceful-shutdown',
    attach(ctx) {
      let received: NodeJS.Signals | undefined;
      const handler = (signal: NodeJS.Signals): void => {
        if (received !== undefined) {
          ctx.logger.warn(`${signal} again: exiting now; the last committed checkpoint is intact`);
          process.exit(128 + ((osConstants.signals as Record<string, number>)[signal] ?? 15));
        }
        received = signal;
        ctx.logger.warn(`${signal}: finishing the current step, then saving a checkpoint (send it again to exit at once)`);
        ctx.requestStop(signal);
      };
      for (const s of signals) process.on(s, handler);
      return () => {
        for (const s of signals) process.off(s, handler);
      };
    },
  };
}
