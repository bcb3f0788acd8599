import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import { deriveSeed } from '../nn/seeded-random.js';
import { seededRng, type SeededRng } from '../diffusion/rng.js';
import { streamRng } from './random-streams.js';

/**
 * Where a data source stands (RELIABILITY.md P22): the epoch and the index of the next batch in
 * it. Plain JSON, saved in every checkpoint.
 */
export interface DataCursor {
  readonly epoch: number;
  readonly index: number;
}

/** A batch and the cursor after it. The trainer owns (and disposes) the tensors. */
export interface DataBatch {
  readonly tensors: tf.NamedTensorMap;
  readonly next: DataCursor;
}

/**
 * A source of training batches whose order is a pure function of `(cursor, seed)`, so a resumed
 * run reads exactly the batches the uninterrupted run read (P22). The trainer reads one batch per
 * step, shared by every phase of that step.
 */
export interface DataSource {
  /** Namespaced name, recorded in checkpoints (a checkpoint of another source is refused). */
  readonly name: string;
  /** Serializable description (batch size, shuffling, ...), part of the config hash. */
  readonly config?: unknown;
  /**
   * `false` for a source that cannot restart at a cursor (a live stream): the trainer warns at
   * resume time that the data order is not reproduced (P22). @default true
   */
  readonly resumable?: boolean;
  /** The batch at `cursor` and the cursor after it; `seed` is the run's seed. */
  next(cursor: DataCursor, seed: number): DataBatch | Promise<DataBatch>;
}

/** The cursor of a run that has not read anything. */
export const INITIAL_CURSOR: DataCursor = Object.freeze({ epoch: 0, index: 0 });

/** Options of {@link inMemoryDataSource}. */
export interface InMemoryDataSourceOptions {
  /** @default 'data:in-memory' */
  name?: string;
  /** Tensors sharing their first dimension `N` (`{ x: [N, H, W, C], label: [N] }`). Not owned: dispose them after the run. */
  tensors: tf.NamedTensorMap;
  batchSize: number;
  /** Reshuffle every epoch with a permutation seeded by `(seed, epoch)`. @default true */
  shuffle?: boolean;
  /** Drop the last incomplete batch of an epoch. @default true */
  dropRemainder?: boolean;
}

/**
 * Batches of in-memory tensors, epoch by epoch. The permutation of epoch `e` is a Fisher-Yates
 * shuffle driven by `seededRng(deriveSeed(seed, 'data:<name>:epoch:<e>'))`, so any cursor can be
 * re-read in a fresh process.
 */
export function inMemoryDataSource(options: InMemoryDataSourceOptions): DataSource {
  const { name = 'data:in-memory', tensors, batchSize, shuffle = true, dropRemainder = true } = options;
  const keys = Object.keys(tensors).sort();
  if (keys.length === 0) throw new ConfigError('data.tensors', {}, 'at least one named tensor [N, ...]');
  const n = tensors[keys[0]!]!.shape[0] ?? 0;
  for (const k of keys) {
    if (tensors[k]!.shape[0] !== n) throw new ConfigError(`data.tensors.${k}`, tensors[k]!.shape, `first dimension ${n} (as '${keys[0]}')`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > n) throw new ConfigError('data.batchSize', batchSize, `an integer in [1, ${n}]`);
  const perEpoch = dropRemainder ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
  let cached: { epoch: number; seed: number; perm: Int32Array } | undefined;
  const permutation = (epoch: number, seed: number): Int32Array => {
    if (cached && cached.epoch === epoch && cached.seed === seed) return cached.perm;
    const perm = new Int32Array(n).map((_, i) => i);
    if (shuffle) {
      const rng: SeededRng = seededRng(deriveSeed(seed, `data:${name}:epoch:${epoch}`));
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        const t = perm[i]!;
        perm[i] = perm[j]!;
        perm[j] = t;
      }
    }
    cached = { epoch, seed, perm };
    return perm;
  };
  return {
    name,
    config: { kind: 'in-memory', n, batchSize, shuffle, dropRemainder, keys, shapes: keys.map((k) => tensors[k]!.shape.slice(1)) },
    next(cursor, seed) {
      let { epoch, index } = cursor;
      if (index >= perEpoch) {
        epoch++;
        index = 0;
      }
      const perm = permutation(epoch, seed);
      const ids = perm.subarray(index * batchSize, Math.min(n, (index + 1) * batchSize));
      const out: tf.NamedTensorMap = {};
      tf.tidy(() => {
        const idx = tf.tensor1d(ids, 'int32');
        for (const k of keys) out[k] = tf.keep(tf.gather(tensors[k]!, idx));
      });
      return { tensors: out, next: { epoch, index: index + 1 } };
    },
  };
}

/** Options of {@link generatedDataSource}. */
export interface GeneratedDataSourceOptions {
  name: string;
  /** Serializable description, part of the config hash. */
  config?: unknown;
  /** Batches per epoch (the cursor's epoch advances after this many). @default Infinity */
  batchesPerEpoch?: number;
  /**
   * Makes the batch at `cursor`, drawing only from `rng` (a stream of `(seed, epoch, index)`),
   * inside a `tf.tidy` (return new tensors).
   */
  make(cursor: DataCursor, rng: SeededRng): tf.NamedTensorMap;
}

/** A synthetic source: batch `(epoch, index)` is `make` of a random stream of `(seed, epoch, index)`. */
export function generatedDataSource(options: GeneratedDataSourceOptions): DataSource {
  const { name, batchesPerEpoch = Infinity, make } = options;
  if (!(batchesPerEpoch >= 1)) throw new ConfigError('data.batchesPerEpoch', batchesPerEpoch, 'a number >= 1 (Infinity: one endless epoch)');
  return {
    name,
    config: { kind: 'generated', batchesPerEpoch: Number.isFinite(batchesPerEpoch) ? batchesPerEpoch : 'Infinity', user: options.config ?? null },
    next(cursor, seed) {
      let { epoch, index } = cursor;
      if (index >= batchesPerEpoch) {
        epoch++;
        index = 0;
      }
      const at = { epoch, index };
      const tensors = tf.tidy(() => make(at, streamRng(seed, epoch, `data/${name}/${index}`)));
      return { tensors, next: { epoch, index: index + 1 } };
    },
  };
}
