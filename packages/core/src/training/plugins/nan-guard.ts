import { takeUntil } from 'rxjs';
import { ConfigError } from '../../errors.js';
import { ofType } from '../events.js';
import type { TrainingPlugin } from '../plugin.js';
import { NonFiniteError } from '../training-error.js';

export interface NanGuardOptions {
  /** Abort when one phase is skipped this many steps in a row. @default 10 */
  maxConsecutive?: number;
  /** Abort when more than this fraction of a phase's last `window` runs were skipped. @default 0.5 */
  maxFraction?: number;
  /** @default 100 */
  window?: number;
}

/**
 * The abort half of the NaN/Inf guard (RELIABILITY.md P27). The skip itself is built into the
 * trainer and always on: a non-finite loss or gradient of a phase skips that phase's update
 * (weights, optimizer moments and counters, LR position and EMA of its role stay bitwise
 * unchanged), counts it (saved in checkpoints) and emits `phase/skipped`; other phases decide
 * independently (P28). This plugin watches those skips and aborts the run, after a final
 * checkpoint of the last good state, with a {@link NonFiniteError} when one phase is skipped
 * `maxConsecutive` times in a row or more than `maxFraction` of its last `window` runs.
 */
export function nanGuard(options: NanGuardOptions = {}): TrainingPlugin {
  const { maxConsecutive = 10, maxFraction = 0.5, window = 100 } = options;
  if (!Number.isInteger(maxConsecutive) || maxConsecutive < 1) throw new ConfigError('nanGuard.maxConsecutive', maxConsecutive, 'an integer >= 1');
  if (!(maxFraction > 0 && maxFraction <= 1)) throw new ConfigError('nanGuard.maxFraction', maxFraction, 'a number in (0, 1]');
  if (!Number.isInteger(window) || window < 1) throw new ConfigError('nanGuard.window', window, 'an integer >= 1');
  return {
    name: 'core:nan-guard',
    attach(ctx) {
      const history = new Map<string, boolean[]>(); // per phase: skipped? for its last `window` runs
      const record = (phase: string, skipped: boolean): boolean[] => {
        const h = history.get(phase) ?? [];
        h.push(skipped);
        if (h.length > window) h.shift();
        history.set(phase, h);
        return h;
      };
      ctx.events$.pipe(ofType('step/completed', 'phase/skipped'), takeUntil(ctx.stop$)).subscribe((e) => {
        if (e.type === 'step/completed') {
          for (const phase of e.payload.applied) record(phase, false);
          return;
        }
        if (e.payload.reason !== 'non-finite') return;
        const { phase, step } = e.payload;
        const h = record(phase, true);
        const consecutive = e.payload.consecutive ?? 0;
        const inWindow = h.filter(Boolean).length;
        const tooMany = consecutive >= maxConsecutive;
        const tooOften = h.length >= Math.min(window, 10) && inWindow / h.length > maxFraction;
        if (tooMany || tooOften) {
          ctx.abort(
            new NonFiniteError(
              phase,
              step,
              consecutive,
              inWindow,
              h.length,
              `Phase '${phase}' produced a non-finite loss or gradient ${tooMany ? `${consecutive} steps in a row` : `in ${inWindow} of its last ${h.length} runs`} ` +
                `(last at step ${step}); limits: maxConsecutive ${maxConsecutive}, maxFraction ${maxFraction} over ${window}. ` +
                `The run stopped with a checkpoint of its last good state. Fix: lower the learning rate, enable clipping (optimizer.maxGradNorm), ` +
                `or inspect the batches logged with the skips.`,
            ),
          );
        }
      });
    },
  };
}
