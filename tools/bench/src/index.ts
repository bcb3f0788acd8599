/**
 * @fewstep/bench: benchmarks (private). The engine bench trains small but realistic workloads on
 * the current tfjs backend and compares them with a PyTorch twin; see README.md.
 */
export {
  runEngineBench,
  type EngineBenchOptions,
  type EngineBenchResult,
  type EngineBenchWorkloadResult,
} from './engine-bench.js';
export { formatEngineBenchTable } from './format-table.js';
export {
  ENGINE_WORKLOADS,
  ENGINE_WORKLOAD_NAMES,
  type BenchShapes,
  type ConvTrainShapes,
  type VideoUnetBlockShapes,
  type DitBlockShapes,
} from './workloads/index.js';
export { findTorchPython, type PythonProbe } from './torch-twin.js';
export type { KernelTime } from './profile-step.js';
