/**
 * The trainer (ARCHITECTURE.md "Trainer"): runs made of phases (one role, weighted loss terms,
 * own optimizer, TTUR), a run handle with typed events, plugins (progress, JSONL, TensorBoard,
 * NaN guard, samples, graceful shutdown), checkpoints and exact resume (RELIABILITY.md P19–P28).
 */
export { startRun, train, type TrainingRun, type RunSummary, type RunProgress } from './trainer.js';
export {
  resolveTrainingConfig,
  describeConfig,
  networkSignature,
  lrScheduleFrom,
  phaseRunsAt,
  cycleLength,
  type TrainingConfig,
  type PhaseConfig,
  type OptimizerConfig,
  type LrScheduleConfig,
  type EmaConfig,
  type CheckpointConfig,
  type ResumeMode,
  type ResolvedPhase,
} from './config.js';
export type { TrainingContext } from './context.js';
export { lossTerm } from './loss-term.js';
export {
  inMemoryDataSource,
  generatedDataSource,
  INITIAL_CURSOR,
  type DataSource,
  type DataCursor,
  type DataBatch,
  type InMemoryDataSourceOptions,
  type GeneratedDataSourceOptions,
} from './data-source.js';
export { streamSeed, streamRng, StepRandom, RANDOM_STREAM_SCHEME } from './random-streams.js';
export {
  ofType,
  serializeError,
  type TrainingEvent,
  type TrainingEventType,
  type StampedTrainingEvent,
  type Stamped,
  type EventOf,
  type BatchId,
  type SerializedError,
  type PhaseSummary,
} from './events.js';
export { definePlugin, type TrainingPlugin, type PluginContext, type StepHookContext, type Teardown } from './plugin.js';
export { TrainingError, NonFiniteError } from './training-error.js';
export {
  collectCheckpointFiles,
  restoreCheckpoint,
  validateCheckpointForRun,
  STATE_FILE,
  CONFIG_FILE,
  weightsFile,
  optimizerFile,
  type TrainState,
  type RunStateRefs,
  type SkipCounters,
} from './run-state.js';
export { progressBar, type ProgressBarOptions } from './plugins/progress-bar.js';
export { jsonlMetrics, type JsonlMetricsOptions } from './plugins/jsonl-metrics.js';
export { tensorboard, type TensorboardOptions } from './plugins/tensorboard.js';
export { nanGuard, type NanGuardOptions } from './plugins/nan-guard.js';
export { sampleWriter, type SampleWriterOptions, type SampleRequest } from './plugins/sample-writer.js';
export { gracefulShutdown, PREEMPTED_EXIT_CODE, type GracefulShutdownOptions } from './plugins/graceful-shutdown.js';
export { stepScalars } from './plugins/step-scalars.js';
export { crc32c, maskedCrc32c } from './plugins/crc32c.js';
export { encodeScalarsEvent, encodeFileVersionEvent, frameRecord, readRecords, decodeEvent, type DecodedEvent, type TfRecord } from './plugins/tfevents.js';
