import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, StateMismatchError, type ShapeMismatch } from '../errors.js';
import type { Network } from './network.js';

/** Options of {@link ExponentialMovingAverage}. */
export interface EmaOptions {
  /** Decay `d` in `theta_ema <- d * theta_ema + (1 - d) * theta`, in [0, 1]. */
  decay: number;
  /**
   * Warm-up: use `d_t = min(decay, (1 + t) / (10 + t))` at step `t`, the ramp of diffusers'
   * `EMAModel.get_decay` (its default branch, `use_ema_warmup=False`). diffusers evaluates it at
   * `t = optimization_step - 1` and returns 0 (a plain copy) for `t <= 0`; here `t` is the step
   * passed to `update` (or the number of earlier updates), so the first update uses `d_0 = 0.1`.
   * @default false
   */
  warmup?: boolean;
}

/** The complete EMA state (P19, P32): the EMA weights, the step, the decay parameters. */
export interface EmaState {
  readonly step: number;
  readonly decay: number;
  readonly warmup: boolean;
  /** The EMA network's weights by name (the caller owns the tensors from `getState`). */
  readonly weights: ReadonlyMap<string, tf.Tensor>;
}

/**
 * An exponential moving average of `source`'s weights kept in `target` (usually `source.clone()`).
 * Trainable parameters are averaged, `theta_ema <- d * theta_ema + (1 - d) * theta`, computed as
 * `theta_ema - (1 - d) * (theta_ema - theta)` (same value; keeps `theta_ema == theta` fixed
 * exactly). Frozen parameters and buffers are copied, not averaged (P32, as diffusers copies
 * parameters without `requires_grad`). In place via `Variable.assign` in one `tf.tidy`: no leak,
 * no device sync. Exact and resumable: the state is the EMA weights, the step and `decay`/`warmup`.
 *
 * @example
 * const ema = new ExponentialMovingAverage(student.clone('student.ema'), student, { decay: 0.999, warmup: true });
 * // after each applied (non-skipped, P27) optimizer step:
 * ema.update();
 */
export class ExponentialMovingAverage {
  #step = 0;
  #decay: number;
  #warmup: boolean;

  constructor(
    readonly target: Network,
    readonly source: Network,
    options: EmaOptions,
  ) {
    checkDecay(options.decay);
    this.#decay = options.decay;
    this.#warmup = options.warmup ?? false;
    const src = source.variables();
    const missing: string[] = [];
    const shapes: ShapeMismatch[] = [];
    for (const [n, v] of target.variables()) {
      const s = src.get(n);
      if (!s) missing.push(n);
      else if (s.shape.join(',') !== v.shape.join(',')) shapes.push({ name: n, found: s.shape, expected: v.shape });
    }
    const tgt = target.variables();
    const unexpected = [...src.keys()].filter((n) => !tgt.has(n));
    if (missing.length || unexpected.length || shapes.length) {
      throw new StateMismatchError(
        `ExponentialMovingAverage: source '${source.name}' vs target '${target.name}'`,
        missing,
        unexpected,
        shapes,
        'create the EMA target with source.clone()',
      );
    }
  }

  /** Updates done so far (the default `t` of the next {@link update}). */
  get step(): number {
    return this.#step;
  }

  get decay(): number {
    return this.#decay;
  }

  get warmup(): boolean {
    return this.#warmup;
  }

  /** `d_t`: `decay`, or `min(decay, (1 + t) / (10 + t))` with warm-up. */
  decayAt(step: number): number {
    return this.#warmup ? Math.min(this.#decay, (1 + step) / (10 + step)) : this.#decay;
  }

  /**
   * One EMA update with `d_t` at step `t` (default: the number of earlier updates); afterwards
   * `step = t + 1`. Call it only after an applied optimizer step (never after a skip, P27).
   * @returns the decay used.
   */
  update(step: number = this.#step): number {
    if (!Number.isInteger(step) || step < 0) throw new ConfigError('ExponentialMovingAverage.update(step)', step, 'an integer >= 0');
    const d = this.decayAt(step);
    const src = this.source.variables();
    tf.tidy(() => {
      for (const [n, ema] of this.target.variables()) {
        const theta = src.get(n)!;
        if (theta.trainable) ema.assign(tf.sub(ema, tf.mul(tf.sub(ema, theta), 1 - d)));
        else ema.assign(theta);
      }
    });
    this.#step = step + 1;
    return d;
  }

  /** A copy of the state; the caller owns the weight tensors. */
  getState(): EmaState {
    return { step: this.#step, decay: this.#decay, warmup: this.#warmup, weights: this.target.getWeights() };
  }

  /**
   * Restores the state (strict: every EMA weight by name, shapes equal; nothing assigned on error).
   * @throws StateMismatchError
   */
  setState(state: EmaState): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new ConfigError('EmaState.step', state.step, 'an integer >= 0');
    checkDecay(state.decay);
    this.target.setWeights(state.weights, { strict: true });
    this.#step = state.step;
    this.#decay = state.decay;
    this.#warmup = state.warmup;
  }
}

function checkDecay(decay: number): void {
  if (!(decay >= 0 && decay <= 1)) throw new ConfigError('decay', decay, 'a number in [0, 1] (e.g. 0.999)');
}
