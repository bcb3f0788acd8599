/**
 * @fewstep/core: the engine, dependency injection, contracts, diffusion math, trainer and
 * checkpoints. Plugins depend on this package (as a peer) and on nothing else of fewstep.
 */
import 'reflect-metadata';

export {
  FewstepError,
  UnknownPluginError,
  ConfigError,
  ShapeError,
  BackendUnavailableError,
  ModuleLifecycleError,
} from './errors.js';
export {
  DependencyManager,
  defineModule,
  Registry,
  Tokens,
  TensorScope,
  ConsoleLogger,
  MemoryLogger,
  inject,
  injectable,
  injectAll,
  singleton,
  type CreateRootOptions,
  type FewstepModule,
  type Named,
  type Logger,
  type LogLevel,
  type InjectionToken,
} from './di/index.js';
export {
  defineBackbone,
  defineLoss,
  type BackboneDefinition,
  type BackboneRole,
  type LossDefinition,
  type LossOutput,
  type LossUse,
  type PhaseDefinition,
  type RecipeDefinition,
} from './contracts/index.js';
export {
  initEngine,
  registerWasmTrainingKernels,
  wasmTrainingKernelConfigs,
  BACKEND_NAMES,
  CPU_SLOWDOWN_NOTE,
  type BackendName,
  type EngineInfo,
  type InitEngineOptions,
  type ModuleImporter,
} from './engine/index.js';
