import type { DependencyManager } from './dependency-manager.js';

/**
 * A plugin package's entry into fewstep (STYLE.md G7). `register` puts definitions and services
 * into the container (synchronous, no I/O); `initialize` may do async set-up (load weights, open
 * files) once every module is registered; `shutdown` releases what `initialize` acquired.
 *
 * ```ts
 * export const MyLossModule: FewstepModule = {
 *   name: 'my-org:feature-matching',
 *   register(dm) { dm.resolve(Tokens.LossRegistry).register(featureMatchingLoss); },
 * };
 * ```
 */
export interface FewstepModule {
  /** Namespaced module name, used in error messages: `<package>:<module>`. */
  readonly name: string;
  register(dm: DependencyManager): void;
  initialize?(dm: DependencyManager): void | Promise<void>;
  shutdown?(dm: DependencyManager): void | Promise<void>;
}

/** Identity helper for type inference (like vite's `defineConfig`). */
export function defineModule(module: FewstepModule): FewstepModule {
  return module;
}
