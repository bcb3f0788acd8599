import 'reflect-metadata';
import { container as rootContainer, Lifecycle, type DependencyContainer, type InjectionToken } from 'tsyringe';
import { Subject, type Observable } from 'rxjs';
import { ModuleLifecycleError } from '../errors.js';
import { ConsoleLogger, type Logger } from './logger.js';
import { Registry } from './registry.js';
import { TensorScope } from './tensor-scope.js';
import { Tokens } from './tokens.js';
import type { FewstepModule } from './module.js';

type Constructor<T> = new (...args: never[]) => T;
interface Disposable {
  dispose(): unknown;
}
function isDisposable(x: unknown): x is Disposable {
  return typeof x === 'object' && x !== null && typeof (x as Disposable).dispose === 'function';
}

export interface CreateRootOptions {
  /** @default a ConsoleLogger at FEWSTEP_LOG_LEVEL (info) */
  logger?: Logger;
}

/**
 * The one facade over the DI container that plugins see (only core imports tsyringe; STYLE.md
 * G6/G7). A root manager holds the registries; `createRunScope()` gives each run a child
 * container with its own id, stop signal and tensor scope, and `dispose()` frees them.
 */
export class DependencyManager {
  readonly #modules: FewstepModule[] = [];
  readonly #owned = new Set<Disposable>();
  #disposed = false;

  private constructor(
    /** The underlying container. Prefer the typed methods; exposed for advanced integration. */
    readonly container: DependencyContainer,
    readonly parent?: DependencyManager,
  ) {}

  /**
   * A root scope with a logger and empty backbone / loss / recipe registries. Each call makes an
   * independent root (tests, several SDK users in one process).
   */
  static createRoot(options: CreateRootOptions = {}): DependencyManager {
    const dm = new DependencyManager(rootContainer.createChildContainer());
    const log = options.logger ?? new ConsoleLogger();
    dm.registerInstance(Tokens.Logger, log);
    dm.registerInstance(Tokens.BackboneRegistry, new Registry('backbone', log));
    dm.registerInstance(Tokens.LossRegistry, new Registry('loss', log));
    dm.registerInstance(Tokens.RecipeRegistry, new Registry('recipe', log));
    return dm;
  }

  get logger(): Logger {
    return this.resolve(Tokens.Logger);
  }

  registerInstance<T>(token: InjectionToken<T>, value: T): this {
    this.#ensureAlive();
    this.container.registerInstance(token, value);
    return this;
  }

  /** One instance per container that resolves it (so a run scope gets its own). */
  registerScoped<T>(token: InjectionToken<T>, ctor: Constructor<T>): this {
    this.#ensureAlive();
    this.container.register(token, { useClass: ctor as never }, { lifecycle: Lifecycle.ContainerScoped });
    return this;
  }

  registerSingleton<T>(token: InjectionToken<T>, ctor: Constructor<T>): this {
    this.#ensureAlive();
    this.container.registerSingleton(token, ctor as never);
    return this;
  }

  registerFactory<T>(token: InjectionToken<T>, factory: (dm: DependencyManager) => T): this {
    this.#ensureAlive();
    this.container.register(token, { useFactory: () => factory(this) });
    return this;
  }

  resolve<T>(token: InjectionToken<T>): T {
    this.#ensureAlive();
    return this.container.resolve(token);
  }

  isRegistered<T>(token: InjectionToken<T>): boolean {
    return this.container.isRegistered(token, true);
  }

  /** Calls `register` of each module in order; a failure names the module and keeps the cause. */
  registerModules(...modules: FewstepModule[]): this {
    for (const m of modules) {
      try {
        m.register(this);
      } catch (err) {
        throw new ModuleLifecycleError(m.name, 'register', err);
      }
      this.#modules.push(m);
    }
    return this;
  }

  /** Modules registered on this manager, in registration order. */
  get modules(): readonly FewstepModule[] {
    return this.#modules;
  }

  async initializeModules(): Promise<void> {
    for (const m of this.#modules) {
      try {
        await m.initialize?.(this);
      } catch (err) {
        throw new ModuleLifecycleError(m.name, 'initialize', err);
      }
    }
  }

  /** Shuts modules down in reverse order; every module gets its call even if one fails. */
  async shutdownModules(): Promise<void> {
    const errors: ModuleLifecycleError[] = [];
    for (const m of [...this.#modules].reverse()) {
      try {
        await m.shutdown?.(this);
      } catch (err) {
        errors.push(new ModuleLifecycleError(m.name, 'shutdown', err));
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, errors.map((e) => e.message).join('\n'));
  }

  /**
   * A child scope for one run: `Tokens.RunId`, `Tokens.RunStop$` and a fresh `Tokens.TensorScope`.
   * Registries and the logger are inherited. Call `stopRun()` to signal, `dispose()` to end it.
   */
  createRunScope(runId: string): DependencyManager {
    this.#ensureAlive();
    const child = new DependencyManager(this.container.createChildContainer(), this);
    const stop = new Subject<void>();
    const tensors = new TensorScope();
    child.#stop = stop;
    child.registerInstance(Tokens.RunId, runId);
    child.registerInstance(Tokens.RunStop$, stop.asObservable() as Observable<void>);
    child.registerInstance(Tokens.TensorScope, tensors);
    child.#owned.add(tensors);
    return child;
  }

  #stop?: Subject<void>;

  /** Emits the run's stop signal (no-op on a root scope). */
  stopRun(): void {
    if (this.#stop && !this.#stop.closed) {
      this.#stop.next();
      this.#stop.complete();
    }
  }

  /** Registers `value` and disposes it with this scope. */
  own<T extends Disposable>(value: T): T {
    this.#owned.add(value);
    return value;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Ends this scope: completes the stop signal, disposes what the container constructed that is
   * disposable (tsyringe) and what the scope owns (its TensorScope: every kept tensor is freed).
   */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.stopRun();
    await this.container.dispose();
    for (const d of this.#owned) await d.dispose();
    this.#owned.clear();
    this.#disposed = true;
  }

  #ensureAlive(): void {
    if (this.#disposed) throw new Error('This DependencyManager has been disposed; create a new scope with createRunScope().');
  }
}

export { isDisposable };
