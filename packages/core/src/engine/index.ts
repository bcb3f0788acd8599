export {
  initEngine,
  BACKEND_NAMES,
  CPU_SLOWDOWN_NOTE,
  DEFAULT_WASM_THREADS,
  type BackendName,
  type EngineInfo,
  type InitEngineOptions,
  type ModuleImporter,
} from './backend.js';
export { registerWasmTrainingKernels, wasmTrainingKernelConfigs } from './wasm-kernels/index.js';
export { enableWasmThreads, MAX_WASM_THREADS } from './wasm-threads.js';
