import type { WorkloadDefinition } from '../workload.js';
import { convTrain, type ConvTrainShapes } from './conv-train.js';
import { ditBlockTrain, type DitBlockShapes } from './dit-block-train.js';
import { videoUnetBlockTrain, type VideoUnetBlockShapes } from './video-unet-block-train.js';

export { convTrain, type ConvTrainShapes } from './conv-train.js';
export { ditBlockTrain, ADA_INIT_BOUND, type DitBlockShapes } from './dit-block-train.js';
export { videoUnetBlockTrain, type VideoUnetBlockShapes } from './video-unet-block-train.js';

/** Per-workload shape overrides (merged over each workload's defaults). */
export interface BenchShapes {
  'conv-train'?: Partial<ConvTrainShapes>;
  'video-unet-block-train'?: Partial<VideoUnetBlockShapes>;
  'dit-block-train'?: Partial<DitBlockShapes>;
}

/** Every engine workload, in the order the bench runs them. */
export const ENGINE_WORKLOADS: ReadonlyArray<WorkloadDefinition<object>> = [
  convTrain as WorkloadDefinition<object>,
  videoUnetBlockTrain as WorkloadDefinition<object>,
  ditBlockTrain as WorkloadDefinition<object>,
];

/** Names of the engine workloads. */
export const ENGINE_WORKLOAD_NAMES: readonly string[] = ENGINE_WORKLOADS.map((w) => w.name);
