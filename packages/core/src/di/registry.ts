import { UnknownPluginError } from '../errors.js';
import type { Logger } from './logger.js';

/** Anything a registry holds: a plain object with a namespaced name (`<package>:<thing>`). */
export interface Named {
  readonly name: string;
}

/**
 * A keyed registry held in the DI container (one per kind: backbones, losses, recipes, ...).
 * Re-registering a name warns and overrides; looking up an unknown name throws
 * {@link UnknownPluginError} listing the known names (STYLE.md G3).
 */
export class Registry<T extends Named> {
  readonly #items = new Map<string, T>();

  constructor(
    /** What the registry holds, used in messages: 'backbone', 'loss', 'recipe'. */
    readonly kind: string,
    private readonly log: Logger,
  ) {}

  register(item: T): this {
    if (typeof item?.name !== 'string' || item.name.length === 0) {
      throw new TypeError(`A ${this.kind} must have a non-empty string 'name'; got ${JSON.stringify(item?.name)}.`);
    }
    if (this.#items.has(item.name)) this.log.warn(`${this.kind} '${item.name}' is already registered; overriding.`);
    this.#items.set(item.name, item);
    return this;
  }

  get(name: string): T {
    const item = this.#items.get(name);
    if (item === undefined) throw new UnknownPluginError(this.kind, name, this.names());
    return item;
  }

  has(name: string): boolean {
    return this.#items.has(name);
  }

  unregister(name: string): boolean {
    return this.#items.delete(name);
  }

  /** Registered names, sorted. */
  names(): string[] {
    return [...this.#items.keys()].sort();
  }

  list(): T[] {
    return this.names().map((n) => this.#items.get(n)!);
  }
}
