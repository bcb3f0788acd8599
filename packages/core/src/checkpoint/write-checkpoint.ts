import * as fsp from 'node:fs/promises';
import * as nodePath from 'node:path';
import { randomBytes } from 'node:crypto';
import { encodeSafetensors, type TensorsToWrite } from '../io/safetensors/encode.js';
import { nodeAtomicWriteFs, writeFileAtomic, type AtomicWriteFs } from '../io/safetensors/atomic-write.js';
import { SafetensorsError } from '../io/safetensors/safetensors-error.js';
import { CheckpointError } from './checkpoint-error.js';
import { sha256Hex } from './canonical-json.js';
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, SDK_VERSION, isSafeFileName, type CheckpointManifest, type ManifestFile } from './manifest.js';
import { MANIFEST_FILE, hasManifest, listStepDirs, stepDirName } from './step-dir.js';

/** One file of a checkpoint: safetensors (tensors + string metadata) or JSON. */
export type CheckpointFileContent =
  | { readonly kind: 'safetensors'; readonly tensors: TensorsToWrite; readonly metadata?: Readonly<Record<string, string>> }
  | { readonly kind: 'json'; readonly value: unknown };

export interface WriteCheckpointOptions {
  /** The directory holding `step-NNNNNN/` checkpoints (created if missing). */
  readonly root: string;
  readonly step: number;
  readonly configHash: string;
  /** File name → content; names are plain (`weights.generator.safetensors`, `state.json`). */
  readonly files: ReadonlyMap<string, CheckpointFileContent>;
  /**
   * Keep only the newest `keepLast` committed checkpoints (>= 1). Older ones are deleted only
   * AFTER this one is committed (P16), as are uncommitted leftovers of older steps.
   * @default undefined: keep all
   */
  readonly keepLast?: number;
  /** File-system layer (fault injection in tests). @default Node's fs */
  readonly fs?: AtomicWriteFs;
}

/** What {@link writeCheckpoint} committed. */
export interface WrittenCheckpoint {
  readonly path: string;
  readonly step: number;
  readonly bytes: number;
  readonly manifest: CheckpointManifest;
  /** Checkpoint directories deleted by retention. */
  readonly removed: readonly string[];
  /** Set when the checkpoint committed but deleting older ones failed (they are then kept). */
  readonly retentionError?: string;
}

/**
 * Writes a multi-file checkpoint `<root>/step-NNNNNN/` so that a crash at any instant leaves
 * either a committed, fully valid checkpoint or one without a manifest, which loaders skip
 * (RELIABILITY.md P14, P15, P16, P17):
 *
 * 1. a stale directory of the same step (uncommitted leftovers) is renamed away and removed;
 * 2. each file is encoded in memory, hashed (SHA-256) and written crash-atomically (same-directory
 *    temp file, fsync, rename, directory fsync);
 * 3. `manifest.json` (step, config hash, size + SHA-256 of every file) is written LAST, the same
 *    way, then the directory and its parent are fsynced: this is the commit point;
 * 4. retention (`keepLast`) deletes older checkpoints, manifest first.
 *
 * An I/O error (disk full, EIO) is thrown as {@link CheckpointError} `io-error`; the previous
 * checkpoints are untouched and the uncommitted directory is removed.
 */
export async function writeCheckpoint(options: WriteCheckpointOptions): Promise<WrittenCheckpoint> {
  const { root, step, configHash, files, keepLast, fs = nodeAtomicWriteFs } = options;
  if (!Number.isSafeInteger(step) || step < 0) throw new CheckpointError('invalid-file', root, `step ${step} is not an integer >= 0.`);
  if (keepLast !== undefined && !(Number.isInteger(keepLast) && keepLast >= 1)) {
    throw new CheckpointError('invalid-file', root, `keepLast ${keepLast} is not an integer >= 1.`, { fix: 'pass keepLast >= 1 (1 keeps only the newest)' });
  }
  for (const name of files.keys()) {
    if (!isSafeFileName(name)) throw new CheckpointError('unsafe-path', root, `file name ${JSON.stringify(name)} is not a plain file name.`);
  }
  const dir = nodePath.join(root, stepDirName(step));
  try {
    await fsp.mkdir(root, { recursive: true });
    await removeDir(dir);
    await fsp.mkdir(dir);
    await fs.syncDir(root);
    const entries: Record<string, ManifestFile> = {};
    let total = 0;
    for (const [name, content] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const bytes =
        content.kind === 'safetensors'
          ? encodeSafetensors(content.tensors, content.metadata ? { metadata: content.metadata } : {})
          : new TextEncoder().encode(JSON.stringify(content.value, null, 1) + '\n');
      await writeFileAtomic(nodePath.join(dir, name), [bytes], fs);
      entries[name] = { bytes: bytes.length, sha256: sha256Hex(bytes) };
      total += bytes.length;
    }
    const manifest: CheckpointManifest = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      step,
      configHash,
      sdkVersion: SDK_VERSION,
      createdAt: new Date().toISOString(),
      files: entries,
    };
    const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest, null, 1) + '\n');
    // The commit point: temp + fsync + rename + fsync(dir) inside writeFileAtomic.
    await writeFileAtomic(nodePath.join(dir, MANIFEST_FILE), [manifestBytes], fs);
    await fs.syncDir(root);
    total += manifestBytes.length;
    // Committed. A failure to delete older checkpoints does not undo that: report it, keep them.
    let removed: string[] = [];
    let retentionError: string | undefined;
    try {
      if (keepLast !== undefined) removed = await applyRetention(root, keepLast, step);
    } catch (e) {
      retentionError = (e as Error).message;
    }
    return { path: dir, step, bytes: total, manifest, removed, ...(retentionError === undefined ? {} : { retentionError }) };
  } catch (cause) {
    // Never leave a half-written directory that could be mistaken for anything: uncommit it.
    if (!(await hasManifest(dir).catch(() => false))) await removeDir(dir).catch(() => undefined);
    if (cause instanceof CheckpointError) throw cause;
    const message = cause instanceof SafetensorsError || cause instanceof Error ? cause.message : String(cause);
    const problem = cause instanceof SafetensorsError && cause.rule === 'non-finite' ? 'non-finite' : 'io-error';
    throw new CheckpointError(problem, dir, `saving failed: ${message}`, {
      cause,
      fix:
        problem === 'non-finite'
          ? 'a network or optimizer holds NaN/Inf; find where it came from (the NaN guard should have skipped that step)'
          : 'check free space and permissions; earlier checkpoints are intact',
    });
  }
}

/**
 * Deletes committed checkpoints beyond the newest `keepLast` and uncommitted directories older
 * than `newest` (leftovers of killed saves). Never touches `newest` or anything newer. Each
 * directory is uncommitted first (manifest removed), so an interrupted delete leaves no
 * half-deleted checkpoint that looks committed. Returns the removed paths.
 */
export async function applyRetention(root: string, keepLast: number, newest: number): Promise<string[]> {
  const dirs = await listStepDirs(root);
  const removed: string[] = [];
  // Directories whose deletion was interrupted by a crash.
  for (const name of await fsp.readdir(root)) {
    if (/^step-\d+\.deleting-[0-9a-f]+$/.test(name)) await fsp.rm(nodePath.join(root, name), { recursive: true, force: true });
  }
  let kept = 0;
  for (const d of dirs) {
    if (d.step > newest) continue;
    const committed = await hasManifest(d.path);
    if (committed && kept < keepLast) {
      kept++;
      continue;
    }
    if (d.step === newest) continue;
    await removeDir(d.path);
    removed.push(d.path);
  }
  return removed;
}

/** Removes a checkpoint directory: unlink the manifest, rename the directory away, delete it. */
async function removeDir(dir: string): Promise<void> {
  try {
    await fsp.unlink(nodePath.join(dir, MANIFEST_FILE));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !(await exists(dir))) return;
    if (code !== 'ENOENT') throw e;
  }
  const trash = `${dir}.deleting-${randomBytes(4).toString('hex')}`;
  await fsp.rename(dir, trash);
  await fsp.rm(trash, { recursive: true, force: true });
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}
