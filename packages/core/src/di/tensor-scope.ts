import * as tf from '@tensorflow/tfjs-core';

/**
 * Owns tensors (and variables) for the lifetime of a scope, typically a run. `dispose()` frees
 * everything kept and is idempotent. The run scope's `DependencyManager.dispose()` calls it.
 */
export class TensorScope {
  readonly #kept = new Set<tf.Tensor>();
  #disposed = false;

  /** Keeps `t` until the scope is disposed; returns it for chaining. */
  keep<T extends tf.Tensor>(t: T): T {
    if (this.#disposed) throw new Error('TensorScope.keep() after dispose(): this run scope has already ended.');
    tf.keep(t);
    this.#kept.add(t);
    return t;
  }

  /** Frees `t` now, if this scope kept it. */
  release(t: tf.Tensor): void {
    if (this.#kept.delete(t)) t.dispose();
  }

  get size(): number {
    return this.#kept.size;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const t of this.#kept) if (!t.isDisposed) t.dispose();
    this.#kept.clear();
  }
}
