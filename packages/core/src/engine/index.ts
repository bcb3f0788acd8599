export {
  initEngine,
  BACKEND_NAMES,
  CPU_SLOWDOWN_NOTE,
  type BackendName,
  type EngineInfo,
  type InitEngineOptions,
  type ModuleImporter,
} from './backend.js';
export { registerWasmTrainingKernels, wasmTrainingKernelConfigs } from './wasm-kernels/index.js';
