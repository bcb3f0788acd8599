/**
 * @file Data sources (core `DataSource`, RELIABILITY.md P22) over the `shapes-video` dataset and
 * loaded video folders: batch `(epoch, index)` holds the items `perm_e[index * B .. (index + 1) * B)`
 * where `perm_e` is a Fisher-Yates permutation of `0 .. N-1` driven by
 * `seededRng(deriveSeed(runSeed, 'data:<name>:epoch:<e>'))` (the scheme of core's
 * `inMemoryDataSource`), so the batch at a cursor is a pure function of `(runSeed, cursor)` and a
 * fresh process resumes bit-exactly. Items are generated (shapes-video, from the dataset's own
 * spec seed) or gathered (folders) only when their batch is read.
 *
 * Batch keys: `x0` `[B, F, H, W, C]` (the recipes' `real` data), and on request `images`
 * `[B, H, W, C]` (MCM's image set: the styled frame of the same items), `labels` int32
 * `[B, maxShapes, 3]` and `tokens` int32 `[B, L]`. Note that the recipe runtime passes every batch
 * key other than `x0` / `noise` / `trajectory` / `images` / `condition` to the teacher as
 * conditioning, so `labels` / `tokens` are off by default.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, deriveSeed, seededRng, ShapeError, type DataCursor, type DataSource } from '@fewstep/core';
import { formatShapesVideoSpec, ShapesImages, ShapesVideo, type ShapesImageStyle, type ShapesVideoSpec } from './shapes-video.js';
import type { LoadedVideoFolder } from './video-folder.js';

/** A data source over `size` indexed items with a per-epoch permutation. */
export interface IndexedDataSource extends DataSource {
  /** Items per epoch N. */
  readonly size: number;
  readonly batchSize: number;
  /** Batches per epoch (the cursor's epoch advances after this many). */
  readonly batchesPerEpoch: number;
  /** The item order of `epoch` under run seed `seed` (identity without shuffling). */
  order(epoch: number, seed: number): Int32Array;
  /** The item indices of the batch at `cursor` and the cursor after it (no tensors made). */
  indicesAt(cursor: DataCursor, seed: number): { ids: Int32Array; next: DataCursor };
}

interface IndexedOptions {
  name: string;
  size: number;
  batchSize: number;
  shuffle: boolean;
  dropRemainder: boolean;
  config: Record<string, unknown>;
  make(ids: Int32Array): tf.NamedTensorMap;
}

/** Fisher-Yates permutation of `0 .. n-1` for `(seed, name, epoch)` (core `inMemoryDataSource`'s scheme). */
export function epochPermutation(n: number, seed: number, name: string, epoch: number, shuffle = true): Int32Array {
  const perm = new Int32Array(n).map((_, i) => i);
  if (!shuffle) return perm;
  const rng = seededRng(deriveSeed(seed, `data:${name}:epoch:${epoch}`));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm;
}

function indexedSource(o: IndexedOptions): IndexedDataSource {
  const { name, size: n, batchSize, shuffle, dropRemainder } = o;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > n) throw new ConfigError('data.batchSize', batchSize, `an integer in [1, ${n}] (the dataset has ${n} items)`);
  const perEpoch = dropRemainder ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
  let cached: { epoch: number; seed: number; perm: Int32Array } | undefined;
  const order = (epoch: number, seed: number): Int32Array => {
    if (!Number.isInteger(epoch) || epoch < 0) throw new ConfigError('data cursor epoch', epoch, 'an integer >= 0');
    if (cached?.epoch !== epoch || cached.seed !== seed) cached = { epoch, seed, perm: epochPermutation(n, seed, name, epoch, shuffle) };
    return cached.perm;
  };
  const indicesAt = (cursor: DataCursor, seed: number): { ids: Int32Array; next: DataCursor } => {
    let { epoch, index } = cursor;
    if (!Number.isInteger(index) || index < 0) throw new ConfigError('data cursor index', index, 'an integer >= 0');
    if (index >= perEpoch) {
      epoch++;
      index = 0;
    }
    const perm = order(epoch, seed);
    return { ids: perm.slice(index * batchSize, Math.min(n, (index + 1) * batchSize)), next: { epoch, index: index + 1 } };
  };
  return {
    name,
    config: { ...o.config, n, batchSize, shuffle, dropRemainder },
    resumable: true,
    size: n,
    batchSize,
    batchesPerEpoch: perEpoch,
    order,
    indicesAt,
    next(cursor, seed) {
      const { ids, next } = indicesAt(cursor, seed);
      return { tensors: o.make(ids), next };
    },
  };
}

/** Options of {@link shapesVideoSource}. */
export interface ShapesVideoSourceOptions {
  batchSize: number;
  /** Reshuffle every epoch with a permutation seeded by `(runSeed, epoch)`. @default true */
  shuffle?: boolean;
  /** Drop the last incomplete batch of an epoch. @default true */
  dropRemainder?: boolean;
  /** @default 'data:shapes-video' */
  name?: string;
  /** Add `images` `[B, H, W, C]`: the image set (this style) of the same items (MCM's real images). */
  images?: ShapesImageStyle;
  /** Add `labels` int32 `[B, maxShapes, 3]` (`[shape, colour, direction]`, -1 rows when absent). @default false */
  labels?: boolean;
  /** Add `tokens` int32 `[B, L]` (caption token ids, 0-padded). @default false */
  tokens?: boolean;
}

/**
 * A resumable data source of `shapes-video` clips: `N = spec.n` items per epoch, batch keys `x0`
 * `[B, F, H, W, C]` (and `images` / `labels` / `tokens` on request).
 */
export function shapesVideoSource(spec: string | ShapesVideoSpec, options: ShapesVideoSourceOptions): IndexedDataSource & { readonly dataset: ShapesVideo } {
  const dataset = new ShapesVideo(spec);
  const imageSet = options.images === undefined ? undefined : new ShapesImages(dataset.spec, { style: options.images });
  const src = indexedSource({
    name: options.name ?? 'data:shapes-video',
    size: dataset.length,
    batchSize: options.batchSize,
    shuffle: options.shuffle ?? true,
    dropRemainder: options.dropRemainder ?? true,
    config: { kind: 'shapes-video', spec: formatShapesVideoSpec(dataset.spec), images: options.images ?? null, labels: options.labels ?? false, tokens: options.tokens ?? false },
    make(ids) {
      const b = dataset.gather(ids);
      const out: tf.NamedTensorMap = { x0: b.videos };
      if (options.labels) out['labels'] = b.labels;
      else b.labels.dispose();
      if (options.tokens) out['tokens'] = b.tokens;
      else b.tokens.dispose();
      if (imageSet) {
        const im = imageSet.gather(ids);
        im.labels.dispose();
        out['images'] = im.images;
      }
      return out;
    },
  });
  return Object.assign(src, { dataset });
}

/** Options of {@link videoFolderSource}. */
export interface VideoFolderSourceOptions {
  batchSize: number;
  /** @default true */
  shuffle?: boolean;
  /** @default true */
  dropRemainder?: boolean;
  /** @default 'data:video-folder' */
  name?: string;
  /** More per-video tensors `[N, ...]` to batch alongside (e.g. caption embeddings as `context`). Not owned. */
  extra?: tf.NamedTensorMap;
}

/**
 * A resumable data source over a loaded video folder: batch key `x0` `[B, F, H, W, C]` gathered
 * from `loaded.videos` (not owned: dispose it after the run), plus `extra` tensors. The captions of
 * batch `cursor` are `indicesAt(cursor, seed).ids` into `loaded.captions`.
 */
export function videoFolderSource(loaded: Pick<LoadedVideoFolder, 'videos'> & Partial<Pick<LoadedVideoFolder, 'root' | 'names'>>, options: VideoFolderSourceOptions): IndexedDataSource {
  const videos = loaded.videos;
  if (videos.rank !== 5) throw new ShapeError('loaded.videos', videos.shape, '[N, F, H, W, C]');
  const n = videos.shape[0]!;
  const extra = options.extra ?? {};
  for (const [k, t] of Object.entries(extra)) {
    if (k === 'x0') throw new ConfigError('videoFolderSource.extra', k, "keys other than 'x0'");
    if (t.shape[0] !== n) throw new ShapeError(`videoFolderSource.extra.${k}`, t.shape, `[${n}, ...] (one row per video)`);
  }
  const keys = Object.keys(extra).sort();
  return indexedSource({
    name: options.name ?? 'data:video-folder',
    size: n,
    batchSize: options.batchSize,
    shuffle: options.shuffle ?? true,
    dropRemainder: options.dropRemainder ?? true,
    config: { kind: 'video-folder', root: loaded.root ?? null, shape: videos.shape.slice(1), names: loaded.names?.length ?? n, extra: keys.map((k) => [k, extra[k]!.shape.slice(1)]) },
    make: (ids) =>
      tf.tidy(() => {
        const idx = tf.tensor1d(ids, 'int32');
        const out: tf.NamedTensorMap = { x0: tf.gather(videos, idx) };
        for (const k of keys) out[k] = tf.gather(extra[k]!, idx);
        return out;
      }),
  });
}
