import { ConfigError } from '../errors.js';

/**
 * A learning-rate schedule: the learning rate of the update that takes the optimizer's step
 * counter from `t` to `t + 1` (`t = 0` for the first update), as torch's `LambdaLR` with
 * `scheduler.step()` after each `optimizer.step()`. Skipped steps (P27) do not advance `t`.
 */
export type LrSchedule = (step: number) => number;

function check(field: string, value: number, ok: boolean, allowed: string): void {
  if (!ok || !Number.isFinite(value)) throw new ConfigError(field, value, allowed);
}

/** `lr(t) = lr`. */
export function constantLr(lr: number): LrSchedule {
  check('lr', lr, lr >= 0, 'a finite number >= 0');
  return () => lr;
}

/**
 * Linear warm-up then constant: `lr(t) = lr * t / W` for `t < W`, then `lr`. Note `lr(0) = 0`, as
 * diffusers' / transformers' `get_constant_schedule_with_warmup` (used e.g. by DMD2).
 */
export function warmupConstant(options: { lr: number; warmupSteps: number }): LrSchedule {
  const { lr, warmupSteps: w } = options;
  check('lr', lr, lr >= 0, 'a finite number >= 0');
  check('warmupSteps', w, Number.isInteger(w) && w >= 0, 'an integer >= 0');
  return (t) => (t < w ? (lr * t) / w : lr);
}

/**
 * Linear warm-up then cosine decay to `minLr`:
 * `lr(t) = lr * t / W` for `t < W`, else `minLr + (lr - minLr) * (1 + cos(pi * p)) / 2` with
 * `p = min(1, (t - W) / max(1, T - W))`. Equals transformers'
 * `get_cosine_with_min_lr_schedule_with_warmup` (num_cycles 0.5) up to `T`; after `T` it stays at
 * `minLr` (transformers' cosine would rise again).
 */
export function warmupCosine(options: { lr: number; warmupSteps: number; totalSteps: number; minLr?: number }): LrSchedule {
  const { lr, warmupSteps: w, totalSteps: total, minLr = 0 } = options;
  check('lr', lr, lr >= 0, 'a finite number >= 0');
  check('warmupSteps', w, Number.isInteger(w) && w >= 0, 'an integer >= 0');
  check('totalSteps', total, Number.isInteger(total) && total >= w, `an integer >= warmupSteps (${w})`);
  check('minLr', minLr, minLr >= 0 && minLr <= lr, `a number in [0, lr = ${lr}]`);
  return (t) => {
    if (t < w) return (lr * t) / w;
    const p = Math.min(1, (t - w) / Math.max(1, total - w));
    return minLr + (lr - minLr) * 0.5 * (1 + Math.cos(Math.PI * p));
  };
}
