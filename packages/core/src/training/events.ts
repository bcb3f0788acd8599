import { filter, type OperatorFunction } from 'rxjs';

/** A batch's position in its data source (logged with skipped steps, P27). */
export interface BatchId {
  readonly epoch: number;
  readonly index: number;
}

/** An error as plain data (events never carry live objects). */
export interface SerializedError {
  readonly name: string;
  readonly code?: string;
  readonly message: string;
}

/** One phase of a run, as `run/started` describes it. */
export interface PhaseSummary {
  readonly name: string;
  readonly role: string;
  readonly every: number;
  readonly offset: number;
  readonly terms: readonly string[];
}

/**
 * What a training run reports (STYLE.md G8): a serializable discriminated union of
 * `'domain/past-tense'` events whose payloads are numbers, strings and ids, never tensors.
 * Steps are counted as completed optimizer steps (`global_step`): `step/completed` with
 * `step: 1` ends the first step, and checkpoint `step-000120` holds the state after 120 steps.
 * Loss values that were not finite are `NaN` here and `null` once JSON-serialized.
 *
 * Order: [`checkpoint/resumed`], `run/started`, then per step `phase/skipped`* and
 * `step/completed`, [`sample/written`], [`collapse/checked`], [`checkpoint/saved` | `checkpoint/skipped`]; at the end
 * [`run/stopping`], the final `checkpoint/saved` | `checkpoint/skipped`, and `run/completed` or
 * `run/failed` (the last event; `events$` completes after it).
 */
export type TrainingEvent =
  | {
      readonly type: 'run/started';
      readonly payload: {
        readonly totalSteps: number;
        /** Completed steps at start (> 0 when resumed). */
        readonly startStep: number;
        readonly resumedFrom: string | null;
        readonly configHash: string;
        readonly seed: number;
        readonly roles: readonly string[];
        readonly phases: readonly PhaseSummary[];
        readonly backend: string;
        /** The resolved, canonical config (G12). */
        readonly config: unknown;
      };
    }
  | {
      readonly type: 'checkpoint/resumed';
      readonly payload: {
        readonly step: number;
        readonly path: string;
        readonly skipped: readonly { readonly path: string; readonly step: number; readonly reason: string }[];
      };
    }
  | {
      readonly type: 'step/completed';
      readonly payload: {
        readonly step: number;
        /** Unweighted value of every loss term of the phases that ran, keyed `phase/term`. */
        readonly losses: Readonly<Record<string, number>>;
        /** The weighted sum each phase minimised, keyed by phase. */
        readonly phaseLosses: Readonly<Record<string, number>>;
        /** Metrics returned by the loss terms, keyed `phase/term/metric`. */
        readonly metrics: Readonly<Record<string, number>>;
        /** Learning rate of each phase's update this step (phases that ran). */
        readonly lr: Readonly<Record<string, number>>;
        /** Pre-clip global gradient norm of each phase that ran (P29). */
        readonly gradNorm: Readonly<Record<string, number>>;
        /** Phases that ran and applied their update. */
        readonly applied: readonly string[];
        readonly batch: BatchId | null;
        /** Wall-clock seconds of this step. */
        readonly seconds: number;
      };
    }
  | {
      readonly type: 'phase/skipped';
      readonly payload: {
        /** The step being executed (completed steps after it: `step`). */
        readonly step: number;
        readonly phase: string;
        readonly role: string;
        readonly reason: 'non-finite' | 'schedule';
        /** For `non-finite`: whether the loss or the gradient was not finite. */
        readonly source?: 'loss' | 'gradient';
        readonly batch?: BatchId | null;
        /** Non-finite skips of this phase so far, and in a row. */
        readonly skips?: number;
        readonly consecutive?: number;
      };
    }
  | {
      readonly type: 'checkpoint/saved';
      readonly payload: { readonly step: number; readonly path: string; readonly bytes: number; readonly seconds: number; readonly removed: readonly string[] };
    }
  | {
      readonly type: 'checkpoint/skipped';
      readonly payload: { readonly step: number; readonly reason: 'already-saved' | 'io-error' | 'non-finite'; readonly message: string };
    }
  | { readonly type: 'sample/written'; readonly payload: { readonly step: number; readonly plugin: string; readonly files: readonly string[] } }
  | {
      /** A sample-collapse check (the recipes package's collapse watchdog); NaN numbers are `null` in JSON. */
      readonly type: 'collapse/checked';
      readonly payload: {
        readonly step: number;
        readonly plugin: string;
        readonly statistics: Readonly<Record<string, number>>;
        readonly checks: readonly string[];
        readonly healthy: boolean;
        readonly streak: number;
        readonly lastGoodStep: number | null;
        readonly diversityReference: number | null;
        readonly action: 'none' | 'warn' | 'stop' | 'rollback';
        readonly rollbackTo: string | null;
      };
    }
  | { readonly type: 'run/stopping'; readonly payload: { readonly step: number; readonly reason: string } }
  | {
      readonly type: 'run/completed';
      readonly payload: { readonly step: number; readonly status: 'completed' | 'stopped'; readonly seconds: number; readonly lastCheckpoint: string | null };
    }
  | { readonly type: 'run/failed'; readonly payload: { readonly step: number; readonly error: SerializedError; readonly lastCheckpoint: string | null } };

export type TrainingEventType = TrainingEvent['type'];

/** An event as the run's bus emits it: stamped with the run id and the time (ms since epoch). */
export type Stamped<E> = E & { readonly metadata: { readonly runId: string; readonly time: number } };
export type StampedTrainingEvent = Stamped<TrainingEvent>;

/** The event of a given type. */
export type EventOf<T extends TrainingEventType> = Stamped<Extract<TrainingEvent, { type: T }>>;

/**
 * Filters a stream of events to the given types, narrowing the type (as nestjs/cqrs `ofType`).
 * @example run.events$.pipe(ofType('step/completed')).subscribe((e) => e.payload.losses)
 */
export function ofType<T extends TrainingEventType>(...types: readonly T[]): OperatorFunction<StampedTrainingEvent, EventOf<T>> {
  const set = new Set<string>(types);
  return filter((e): e is EventOf<T> => set.has(e.type));
}

/** An error as {@link SerializedError}. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? { name: error.name, code, message: error.message } : { name: error.name, message: error.message };
  }
  return { name: 'Error', message: String(error) };
}
