import * as fsp from 'node:fs/promises';
import * as nodePath from 'node:path';
import { writeFileAtomic, nodeAtomicWriteFs } from './atomic-write.js';
import { prepareSafetensors, type TensorsToWrite, type TensorToWrite } from './encode.js';
import { openFileSource } from './file-source.js';
import type { SafetensorsHeader } from './header.js';
import { readSafetensors, readSafetensorsHeader, type LoadedTensor, type ReadSafetensorsOptions } from './reader.js';
import { SafetensorsError, quote } from './safetensors-error.js';
import { JsonFloat, JsonObject, parseStrictJson, type JsonValue } from './strict-json.js';
import { chunksOf, type WriteSafetensorsOptions } from './writer.js';

/** Suffix of a sharded checkpoint's index (`model.safetensors.index.json`, the HF convention). */
export const INDEX_SUFFIX = '.safetensors.index.json';
/** Largest index file fewstep reads (the same cap as a safetensors header). */
const MAX_INDEX_BYTES = 100_000_000;

/** A validated `*.safetensors.index.json`: `{ "metadata": { "total_size" }, "weight_map": { name: file } }`. */
export interface SafetensorsIndex {
  readonly indexPath: string;
  /** The real (symlink-free) directory every shard must resolve into. */
  readonly dir: string;
  /** The index's `metadata` object (integers as numbers, strings as strings, other JSON dropped). */
  readonly metadata: ReadonlyMap<string, string | number>;
  /** `metadata.total_size` if present (sum of tensor bytes, by convention). */
  readonly totalSize: number | null;
  /** Tensor name → shard file name, as written in the index. */
  readonly weightMap: ReadonlyMap<string, string>;
  /** Shard file name → confined real path of a regular file, in first-use order. */
  readonly shardPaths: ReadonlyMap<string, string>;
}

export interface ShardedContents {
  readonly index: SafetensorsIndex;
  /** Each shard's validated header. */
  readonly headers: ReadonlyMap<string, SafetensorsHeader>;
  /** `__metadata__` of the first shard (writers put the same metadata in every shard). */
  readonly metadata: ReadonlyMap<string, string> | null;
  readonly tensors: Map<string, LoadedTensor>;
}

function escape(indexPath: string, shard: string, why: string): SafetensorsError {
  return new SafetensorsError(
    'path-escape',
    `weight_map names shard ${quote(shard)}, which ${why}. Allowed: a relative path without '..', backslashes or NUL that resolves ` +
      `(after following symlinks) inside the index's directory. Fix: the index is corrupt or hostile; do not load it.`,
    { file: indexPath },
  );
}

/**
 * Resolves a shard name from an index to a real path confined to `dirReal` (RELIABILITY.md P12):
 * rejects absolute paths, `..` segments, backslashes, NUL, symlinks that leave the directory,
 * missing files and anything that is not a regular file (FIFOs, devices) — all before any open.
 */
export async function resolveShardPath(dirReal: string, shard: string, indexPath: string): Promise<string> {
  if (shard.length === 0) throw escape(indexPath, shard, 'is empty');
  if (shard.includes('\0')) throw escape(indexPath, shard, 'contains NUL');
  if (shard.includes('\\')) throw escape(indexPath, shard, 'contains a backslash');
  if (nodePath.isAbsolute(shard) || /^[A-Za-z]:/.test(shard)) throw escape(indexPath, shard, 'is an absolute path');
  if (shard.split('/').some((seg) => seg === '..')) throw escape(indexPath, shard, "has a '..' segment");
  const joined = nodePath.join(dirReal, shard);
  const inside = (p: string): boolean => {
    const rel = nodePath.relative(dirReal, p);
    return rel !== '' && !rel.startsWith('..') && !nodePath.isAbsolute(rel);
  };
  if (!inside(joined)) throw escape(indexPath, shard, 'resolves outside the directory');
  let real: string;
  try {
    real = await fsp.realpath(joined);
  } catch (cause) {
    throw new SafetensorsError(
      'shard-missing',
      `weight_map names shard ${quote(shard)} but ${joined} does not exist (${(cause as NodeJS.ErrnoException).code ?? 'error'}). ` +
        `Allowed: every listed shard exists. Fix: copy the missing shard next to the index.`,
      { cause, file: indexPath },
    );
  }
  if (!inside(real)) throw escape(indexPath, shard, `is a symlink to ${real}, outside the directory`);
  const st = await fsp.stat(real);
  if (!st.isFile()) {
    throw new SafetensorsError(
      'not-a-regular-file',
      `shard ${quote(shard)} is not a regular file (a directory, FIFO, socket or device). Allowed: regular files. Fix: the index is corrupt or hostile.`,
      { file: indexPath },
    );
  }
  return real;
}

function invalid(indexPath: string, what: string): SafetensorsError {
  return new SafetensorsError(
    'invalid-index',
    `${what}. Allowed: {"metadata": {"total_size": int, ...}?, "weight_map": {"tensor name": "shard file", ...}}. Fix: regenerate the index.`,
    { file: indexPath },
  );
}

/** Reads and validates an index file and confines every shard path (P12). No shard is opened. */
export async function readSafetensorsIndex(indexPath: string): Promise<SafetensorsIndex> {
  const src = await openFileSource(indexPath);
  let text: string;
  try {
    if (src.size > MAX_INDEX_BYTES) throw invalid(indexPath, `the index is ${src.size} bytes (cap ${MAX_INDEX_BYTES})`);
    const bytes = new Uint8Array(src.size);
    await src.read(bytes, 0);
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch (cause) {
      throw new SafetensorsError('invalid-index', `the index is not valid UTF-8. Fix: regenerate the index.`, { cause, file: indexPath });
    }
  } finally {
    await src.close();
  }
  const root = parseStrictJson(text, { what: 'the index', file: indexPath });
  if (!(root instanceof JsonObject)) throw invalid(indexPath, 'the index is not a JSON object');
  const wm = root.get('weight_map');
  if (!(wm instanceof JsonObject)) throw invalid(indexPath, '"weight_map" is missing or not an object');
  const metadata = new Map<string, string | number>();
  let totalSize: number | null = null;
  const md = root.get('metadata');
  if (md instanceof JsonObject) {
    for (const [k, v] of md) {
      if (typeof v === 'string') metadata.set(k, v);
      else if (typeof v === 'number') metadata.set(k, v);
      else if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) metadata.set(k, Number(v));
      else if (v instanceof JsonFloat && Number.isFinite(Number(v.text))) metadata.set(k, Number(v.text));
    }
    const ts = md.get('total_size');
    if (ts !== undefined) {
      const ok = typeof ts === 'number' ? ts >= 0 : typeof ts === 'bigint' && ts >= 0n && ts <= BigInt(Number.MAX_SAFE_INTEGER);
      if (!ok) {
        throw invalid(indexPath, `"metadata.total_size" is ${describe(ts)}, not a non-negative safe integer`);
      }
      totalSize = Number(ts);
    }
  } else if (md !== undefined && md !== null) {
    throw invalid(indexPath, '"metadata" is not an object');
  }
  const dir = await fsp.realpath(nodePath.dirname(nodePath.resolve(indexPath)));
  const weightMap = new Map<string, string>();
  const shardPaths = new Map<string, string>();
  for (const [name, shard] of wm) {
    if (typeof shard !== 'string') throw invalid(indexPath, `weight_map[${quote(name)}] is ${describe(shard)}, not a file name`);
    weightMap.set(name, shard);
    if (!shardPaths.has(shard)) shardPaths.set(shard, await resolveShardPath(dir, shard, indexPath));
  }
  return { indexPath, dir, metadata, totalSize, weightMap, shardPaths };
}

function describe(v: JsonValue | undefined): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (typeof v === 'bigint' || typeof v === 'number') return `the integer ${v}`;
  if (typeof v === 'string') return `the string ${quote(v, 40)}`;
  if (v instanceof JsonFloat) return `the number ${v.text}`;
  return Array.isArray(v) ? 'an array' : typeof v === 'boolean' ? `${v}` : 'an object';
}

/**
 * Loads a sharded checkpoint from its index. Validates, before reading any tensor data: the
 * index (P12), every shard's header (P1–P7), that each tensor lives in exactly the shard the
 * index names and that every shard's tensors are all listed (no tensor in two shards, none
 * unlisted). `names`, `headerOnly` and `onTensor` work as in `readSafetensors`.
 */
export async function readShardedSafetensors(indexPath: string, options: ReadSafetensorsOptions = {}): Promise<ShardedContents> {
  const index = await readSafetensorsIndex(indexPath);
  const headers = new Map<string, SafetensorsHeader>();
  for (const [shard, real] of index.shardPaths) {
    const header = await readSafetensorsHeader(real);
    for (const t of header.tensors) {
      const listed = index.weightMap.get(t.name);
      if (listed !== shard) {
        throw new SafetensorsError(
          'index-mismatch',
          `shard ${quote(shard)} contains tensor ${quote(t.name)} but the index ${listed === undefined ? 'does not list it' : `maps it to ${quote(listed)}`}. ` +
            `Allowed: every tensor in exactly one shard, the one the index names. Fix: regenerate the index or remove the stray shard.`,
          { file: indexPath },
        );
      }
    }
    headers.set(shard, header);
  }
  for (const [name, shard] of index.weightMap) {
    if (!headers.get(shard)?.byName.has(name)) {
      throw new SafetensorsError(
        'index-mismatch',
        `the index maps tensor ${quote(name)} to shard ${quote(shard)}, which does not contain it. Allowed: every listed tensor present in its shard. Fix: the checkpoint is incomplete; re-save it.`,
        { file: indexPath },
      );
    }
  }
  const perShard = new Map<string, string[]>();
  if (options.names !== undefined) {
    for (const name of options.names) {
      const shard = index.weightMap.get(name);
      if (shard === undefined) {
        throw new SafetensorsError(
          'tensor-not-found',
          `no tensor named ${quote(name)} in the index (${index.weightMap.size} tensors). Fix: check the name.`,
          { file: indexPath },
        );
      }
      perShard.set(shard, [...(perShard.get(shard) ?? []), name]);
    }
  }
  const first = headers.values().next();
  const metadata = first.done ? null : first.value.metadata;
  const tensors = new Map<string, LoadedTensor>();
  if (!options.headerOnly) {
    for (const [shard, real] of index.shardPaths) {
      const names = options.names === undefined ? undefined : perShard.get(shard);
      if (options.names !== undefined && names === undefined) continue;
      const r = await readSafetensors(real, { ...(names ? { names } : {}), ...(options.onTensor ? { onTensor: options.onTensor } : {}) });
      for (const [k, v] of r.tensors) tensors.set(k, v);
    }
  }
  return { index, headers, metadata, tensors };
}

export interface WriteShardedOptions extends WriteSafetensorsOptions {
  /** Largest sum of tensor bytes per shard; a larger single tensor gets a shard of its own. */
  maxShardBytes: number;
  /** File name stem: shards `<base>-00001-of-0000N.safetensors`, index `<base>.safetensors.index.json`. @default 'model' */
  baseName?: string;
}

/**
 * Writes a sharded checkpoint into `dir`: tensors in canonical order (descending dtype, then
 * name) packed greedily into shards of at most `maxShardBytes`, each shard written atomically,
 * and the index written LAST (so a crash never leaves an index naming unwritten shards). The
 * index is `{"metadata":{"total_size":…},"weight_map":{…}}` with sorted keys, 2-space indent.
 * Shards of a previous save with a different count are left in place (the index ignores them).
 */
export async function writeShardedSafetensors(
  dir: string,
  tensors: TensorsToWrite,
  options: WriteShardedOptions,
): Promise<{ indexPath: string; shards: string[]; totalSize: number }> {
  const base = options.baseName ?? 'model';
  if (base.length === 0 || base.includes('/') || base.includes('\\') || base === '.' || base === '..' || base.includes('\0')) {
    throw new SafetensorsError('invalid-name', `baseName ${quote(base)} is not a plain file name. Fix: use e.g. 'model' or 'unet'.`);
  }
  if (!Number.isSafeInteger(options.maxShardBytes) || options.maxShardBytes <= 0) {
    throw new SafetensorsError('invalid-index', `maxShardBytes is ${String(options.maxShardBytes)}. Allowed: a positive integer. Fix: e.g. 5 * 2 ** 30.`);
  }
  // Validate everything once (names, data, non-finite values) before writing any shard.
  const all = prepareSafetensors(tensors, options);
  const byName = new Map<string, TensorToWrite>(tensors instanceof Map ? tensors : Object.entries(tensors as Record<string, TensorToWrite>));
  const groups: string[][] = [];
  let current: string[] = [];
  let size = 0;
  let totalSize = 0;
  for (const t of all.tensors) {
    const bytes = t.dataOffsets[1] - t.dataOffsets[0];
    totalSize += bytes;
    if (current.length > 0 && size + bytes > options.maxShardBytes) {
      groups.push(current);
      current = [];
      size = 0;
    }
    current.push(t.name);
    size += bytes;
  }
  if (current.length > 0 || groups.length === 0) groups.push(current);
  const width = 5;
  const count = String(groups.length).padStart(width, '0');
  const shards = groups.map((_, i) => `${base}-${String(i + 1).padStart(width, '0')}-of-${count}.safetensors`);
  const fsLayer = options.fs ?? nodeAtomicWriteFs;
  const weightMap: [string, string][] = [];
  for (const [i, names] of groups.entries()) {
    const shard = shards[i] as string;
    const sub = new Map<string, TensorToWrite>(names.map((n) => [n, byName.get(n) as TensorToWrite]));
    const prepared = prepareSafetensors(sub, options);
    await writeFileAtomic(nodePath.join(dir, shard), chunksOf(prepared), fsLayer);
    for (const n of names) weightMap.push([n, shard]);
  }
  const enc = new TextEncoder();
  weightMap.sort((a, b) => Buffer.compare(enc.encode(a[0]), enc.encode(b[0])));
  const json =
    `{\n  "metadata": {\n    "total_size": ${totalSize}\n  },\n  "weight_map": {\n` +
    weightMap.map(([n, s]) => `    ${JSON.stringify(n)}: ${JSON.stringify(s)}`).join(',\n') +
    (weightMap.length > 0 ? '\n' : '') +
    `  }\n}\n`;
  const indexPath = nodePath.join(dir, `${base}${INDEX_SUFFIX}`);
  await writeFileAtomic(indexPath, [enc.encode(json)], fsLayer);
  return { indexPath, shards, totalSize };
}
