export { DependencyManager, type CreateRootOptions } from './dependency-manager.js';
export { defineModule, type FewstepModule } from './module.js';
export { Registry, type Named } from './registry.js';
export { Tokens } from './tokens.js';
export { TensorScope } from './tensor-scope.js';
export { ConsoleLogger, MemoryLogger, type Logger, type LogLevel } from './logger.js';
// Re-exported so plugins never import tsyringe themselves (STYLE.md G6).
export { inject, injectable, injectAll, singleton, type InjectionToken } from 'tsyringe';
