import type { Observable } from 'rxjs';
import type { DependencyManager } from '../di/dependency-manager.js';
import type { Logger } from '../di/logger.js';
import type { Network } from '../nn/network.js';
import type { StampedTrainingEvent, TrainingEvent } from './events.js';

/** Undoes what `attach` did; awaited before the run's `result` settles. */
export type Teardown = () => void | Promise<void>;

/** What a plugin gets when it is attached to a run. */
export interface PluginContext {
  readonly runId: string;
  /** The run's output directory, when it has one. */
  readonly outDir: string | undefined;
  readonly totalSteps: number;
  readonly logger: Logger;
  /** The run's events (hot). Subscribe with `takeUntil(stop$)`. */
  readonly events$: Observable<StampedTrainingEvent>;
  /** Emits once when the run has ended and its last event was sent (the per-run `Tokens.RunStop$`). */
  readonly stop$: Observable<void>;
  /** The run's DI scope (`Tokens.RunId`, `Tokens.RunStop$`, `Tokens.TensorScope`). */
  readonly dm: DependencyManager;
  /** Ask the run to stop after the current step (with a final checkpoint), as `run.stop()`. */
  requestStop(reason: string): void;
  /** Fail the run after the current step: final checkpoint, `run/failed`, `result` rejects with `error`. */
  abort(error: Error): void;
}

/** What an `afterStep` hook gets (awaited by the training loop, between steps). */
export interface StepHookContext {
  /** Completed steps. */
  readonly step: number;
  readonly totalSteps: number;
  readonly networks: Readonly<Record<string, Network>>;
  readonly outDir: string | undefined;
  /** Publishes an event on the run's bus (e.g. `sample/written`). */
  emit(event: TrainingEvent): void;
}

/**
 * A training plugin (STYLE.md G4, G9): a plain object from a factory (`jsonlMetrics()`,
 * `progressBar()`), named `<package>:<thing>`. `attach` subscribes to the run's events (always
 * with `takeUntil(ctx.stop$)`) and may return a teardown; `afterStep` runs inside the loop at step
 * boundaries (sampling, evaluation) and is awaited.
 */
export interface TrainingPlugin {
  readonly name: string;
  attach?(ctx: PluginContext): void | Teardown | Promise<void | Teardown>;
  afterStep?(ctx: StepHookContext): void | Promise<void>;
}

/** Identity helper for type inference. */
export function definePlugin(plugin: TrainingPlugin): TrainingPlugin {
  return plugin;
}
