import type * as tf from '@tensorflow/tfjs-core';
import type { Named } from '../di/registry.js';
import type { BackboneRole } from './backbone.js';

/** What a loss returns: the scalar to minimise and named metric scalars (all inside `tf.tidy`). */
export interface LossOutput {
  loss: tf.Scalar;
  metrics?: Record<string, tf.Scalar>;
}

/**
 * A loss plugin (STYLE.md G10): options with documented defaults, the roles it reads, the role it
 * trains, and a pure `compute` (no I/O, no optimizer) that runs inside `tf.tidy`. Gradients reach
 * only the trained role's variables; every other role acts as a stop-gradient target.
 */
export interface LossDefinition<TOptions = unknown, TInputs = unknown> extends Named {
  readonly description?: string;
  /** Where the equation comes from, e.g. 'ADM Eq. 4-6'. */
  readonly equation?: string;
  readonly defaults: Readonly<TOptions>;
  readonly requires: readonly BackboneRole[];
  readonly trains: BackboneRole;
  /** Throws a ConfigError naming the field, the value and what is allowed. */
  validate?(options: TOptions): void;
  compute(inputs: TInputs, options: TOptions): LossOutput;
}

/** Identity helper for type inference; freezes the definition. */
export function defineLoss<TOptions, TInputs>(def: LossDefinition<TOptions, TInputs>): LossDefinition<TOptions, TInputs> {
  return Object.freeze(def);
}
