import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, StateMismatchError } from '../errors.js';
import { Network } from './network.js';

/**
 * Gradients by variable name: the network's hierarchical name (`down.0.conv.kernel`, as
 * {@link valueAndGrads} returns) or the tfjs variable name (as `tf.variableGrads` returns).
 * `null` / `undefined` entries mean "no gradient" (the variable is left untouched, as torch does
 * for `p.grad is None`).
 */
export type GradientMap = ReadonlyMap<string, tf.Tensor | null | undefined> | Readonly<Record<string, tf.Tensor | null | undefined>>;

/** What an optimizer updates: a network (its trainable variables) or an explicit name → variable map. */
export type VariableSet = Network | ReadonlyMap<string, tf.Variable>;

/** The outcome of one `optimizer.step`. */
export interface StepResult {
  /** True when a non-finite gradient made the step a no-op: weights, moments and counters unchanged (P27). */
  readonly skipped: boolean;
  /** Pre-clip global L2 norm of the gradients (P29 "log pre-clip norms"); NaN or Infinity when skipped. */
  readonly gradNorm: number;
  /** True when clipping scaled the gradients. */
  readonly clipped: boolean;
  /** The learning rate of this update (of the next one, when skipped). */
  readonly lr: number;
  /** The optimizer's step counter after the call. */
  readonly step: number;
}

/**
 * Optimizer state, keyed by variable name (P20: never by position). `slots` maps
 * `<variable name>.<slot>` to a tensor of the variable's shape; `slotSteps` is each variable's own
 * update count (torch's `state[p]['step']`, which drives the bias correction).
 */
export interface OptimizerState {
  /** Applied (non-skipped) updates; the learning-rate schedule reads it. */
  readonly step: number;
  /** Updates skipped because of non-finite gradients (P19 skip counter). */
  readonly skipped: number;
  readonly slots: ReadonlyMap<string, tf.Tensor>;
  readonly slotSteps: ReadonlyMap<string, number>;
}

/** A name-keyed optimizer (P20). */
export interface Optimizer {
  /** Applied (non-skipped) updates so far. */
  readonly iterations: number;
  step(grads: GradientMap, vars: VariableSet): Promise<StepResult>;
  /** A copy of the state; the caller owns (and must dispose) the tensors. */
  getState(): OptimizerState;
  /** Restores a state (tensors are copied; the caller keeps ownership of its own). */
  setState(state: OptimizerState, vars: VariableSet): void;
  dispose(): void;
}

/** One variable with its gradient, ready for an update. */
export interface BoundGradient {
  readonly name: string;
  readonly variable: tf.Variable;
  readonly grad: tf.Tensor;
}

/** The variables an optimizer updates: `net.trainableVariables()` or the map itself. */
export function updatableVariables(vars: VariableSet): ReadonlyMap<string, tf.Variable> {
  return vars instanceof Network ? vars.trainableVariables() : vars;
}

/**
 * Binds gradients to variables by name, sorted by name (so reductions over them never depend on
 * registration order). A gradient for a frozen variable of a network is ignored.
 * @throws StateMismatchError for a gradient that names no variable; ShapeError for a wrong shape.
 */
export function bindGradients(grads: GradientMap, vars: VariableSet): BoundGradient[] {
  const updatable = updatableVariables(vars);
  const all = vars instanceof Network ? vars.variables() : vars;
  const get = (k: string): tf.Tensor | null | undefined =>
    grads instanceof Map ? grads.get(k) : (grads as Readonly<Record<string, tf.Tensor | null | undefined>>)[k];
  const known = new Set<string>();
  for (const [n, v] of all) known.add(n).add(v.name);
  const keys = grads instanceof Map ? [...grads.keys()] : Object.keys(grads);
  const unexpected = keys.filter((k) => !known.has(k) && get(k) != null);
  if (unexpected.length > 0) {
    throw new StateMismatchError(
      'optimizer.step: gradients',
      [],
      unexpected,
      [],
      'pass the gradients of the variables this optimizer updates (one optimizer per network), keyed by parameter name or tfjs variable name',
    );
  }
  const out: BoundGradient[] = [];
  for (const name of [...updatable.keys()].sort()) {
    const variable = updatable.get(name)!;
    const grad = get(name) ?? get(variable.name);
    if (grad == null) continue;
    if (grad.shape.length !== variable.shape.length || grad.shape.some((d, i) => d !== variable.shape[i])) {
      throw new ShapeError(`gradient of '${name}'`, grad.shape, `[${variable.shape.join(', ')}] (the variable's shape)`);
    }
    out.push({ name, variable, grad });
  }
  return out;
}
