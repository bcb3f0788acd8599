import type * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@fewstep/core';
import type { TapSelection } from './backbone-types.js';

/** Collects the feature taps a forward pass was asked for. */
export class TapRecorder {
  readonly taps: Record<string, tf.Tensor> = {};
  readonly #wanted: ReadonlySet<string> | 'all' | 'none';

  /** @throws ConfigError for a requested name not in `available`. */
  constructor(selection: TapSelection | undefined, available: readonly string[]) {
    if (selection === undefined || selection === 'none') this.#wanted = 'none';
    else if (selection === 'all') this.#wanted = 'all';
    else if (Array.isArray(selection)) {
      const known = new Set(available);
      const unknown = selection.filter((n) => !known.has(n));
      if (unknown.length > 0) {
        throw new ConfigError('taps', unknown, `'all', 'none' or names among ${available.map((n) => `'${n}'`).join(', ')}`);
      }
      this.#wanted = new Set(selection);
    } else {
      throw new ConfigError('taps', selection, "'all', 'none' or an array of tap names");
    }
  }

  wants(name: string): boolean {
    return this.#wanted === 'all' || (this.#wanted !== 'none' && this.#wanted.has(name));
  }

  /** Keeps `value()` under `name` when it was asked for (the thunk avoids work otherwise). */
  record(name: string, value: () => tf.Tensor): void {
    if (this.wants(name)) this.taps[name] = value();
  }
}
