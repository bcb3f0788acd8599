import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as nodePath from 'node:path';
import { decodeSafetensors, readSafetensors, type LoadedTensor } from '../io/safetensors/reader.js';
import { CheckpointError } from './checkpoint-error.js';
import { parseManifest, type CheckpointManifest } from './manifest.js';
import { MANIFEST_FILE, parseStepDirName } from './step-dir.js';

/** A verified, decoded checkpoint. */
export interface CheckpointContents {
  readonly path: string;
  readonly step: number;
  readonly configHash: string;
  readonly manifest: CheckpointManifest;
  /** `*.safetensors` files by name: tensors by name, and the file's `__metadata__`. */
  readonly tensors: ReadonlyMap<string, { readonly tensors: ReadonlyMap<string, LoadedTensor>; readonly metadata: ReadonlyMap<string, string> | null }>;
  /** `*.json` files by name, parsed. */
  readonly json: ReadonlyMap<string, unknown>;
}

export interface ReadCheckpointOptions {
  /** Refuse a checkpoint written by another config (problem `config-mismatch`). */
  readonly configHash?: string;
  /** Read the manifest and check sizes only (no hashing, no decoding). @default false */
  readonly manifestOnly?: boolean;
}

/** Files above this size are hashed while streaming and then read with positioned reads. */
const IN_MEMORY_LIMIT = 512 << 20;

/**
 * Reads a checkpoint directory, verifying it before anything is decoded (P15, P25, P26):
 * the manifest must exist and validate; every listed file must be a regular file inside the
 * directory with exactly the recorded size and SHA-256; the step must match the directory name;
 * with `configHash`, the manifest's hash must equal it. Safetensors files are then decoded with
 * the strict reader (P1) and JSON files parsed. Nothing is assigned anywhere: callers validate
 * the contents against their run before loading them.
 * @throws CheckpointError naming the file and the problem.
 */
export async function readCheckpoint(dir: string, options: ReadCheckpointOptions = {}): Promise<CheckpointContents> {
  let manifestText: string;
  try {
    const st = await fsp.lstat(dir);
    if (!st.isDirectory()) throw new CheckpointError('not-found', dir, 'is not a directory.', { fix: 'pass a step-NNNNNN checkpoint directory' });
    manifestText = await fsp.readFile(nodePath.join(dir, MANIFEST_FILE), 'utf8');
  } catch (cause) {
    if (cause instanceof CheckpointError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      const missingDir = !(await fsp.lstat(dir).then(() => true, () => false));
      throw missingDir
        ? new CheckpointError('not-found', dir, 'does not exist.', { cause, fix: 'check the path' })
        : new CheckpointError('missing-manifest', dir, 'has no manifest.json: the save did not commit (killed or failed while saving).', {
            cause,
            fix: 'resume from an older checkpoint (auto-resume does this)',
          });
    }
    throw new CheckpointError('io-error', dir, `cannot read the manifest (${(cause as Error).message}).`, { cause });
  }
  const manifest = parseManifest(manifestText, dir);
  const dirStep = parseStepDirName(nodePath.basename(dir));
  if (dirStep !== undefined && dirStep !== manifest.step) {
    throw new CheckpointError('invalid-manifest', dir, `manifest step ${manifest.step} differs from the directory name (step ${dirStep}).`, {
      fix: 'the checkpoint was moved or edited; do not load it',
    });
  }
  if (options.configHash !== undefined && manifest.configHash !== options.configHash) {
    throw new CheckpointError(
      'config-mismatch',
      dir,
      `was written by another training config (config hash ${manifest.configHash.slice(0, 12)}…, this run's is ${options.configHash.slice(0, 12)}…).`,
      { fix: 'resume with the config (and architecture) that wrote it, or start a new run in another output directory' },
    );
  }
  const tensors = new Map<string, { tensors: ReadonlyMap<string, LoadedTensor>; metadata: ReadonlyMap<string, string> | null }>();
  const json = new Map<string, unknown>();
  for (const [name, entry] of Object.entries(manifest.files)) {
    const path = nodePath.join(dir, name);
    let st: import('node:fs').Stats;
    try {
      st = await fsp.lstat(path);
    } catch (cause) {
      throw new CheckpointError('missing-file', dir, `'${name}' is listed in the manifest but missing.`, { cause, fix: 'resume from another checkpoint' });
    }
    if (!st.isFile()) throw new CheckpointError('unsafe-path', dir, `'${name}' is not a regular file (symlink, FIFO or directory).`, { fix: 'do not load this checkpoint' });
    if (st.size !== entry.bytes) {
      throw new CheckpointError('size-mismatch', dir, `'${name}' has ${st.size} bytes, the manifest says ${entry.bytes} (truncated or extended).`, {
        fix: 'the file is damaged; resume from another checkpoint',
      });
    }
    if (options.manifestOnly) continue;
    const bytes = st.size <= IN_MEMORY_LIMIT ? await fsp.readFile(path) : undefined;
    const sha = bytes ? createHash('sha256').update(bytes).digest('hex') : await hashFile(path);
    if (sha !== entry.sha256) {
      throw new CheckpointError('hash-mismatch', dir, `'${name}' has SHA-256 ${sha.slice(0, 16)}…, the manifest says ${entry.sha256.slice(0, 16)}… (corrupted).`, {
        fix: 'the file is damaged; resume from another checkpoint',
      });
    }
    try {
      if (name.endsWith('.safetensors')) {
        const c = bytes ? decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), { file: name }) : await readSafetensors(path);
        tensors.set(name, { tensors: c.tensors, metadata: c.metadata });
      } else if (name.endsWith('.json')) {
        json.set(name, JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes ?? (await fsp.readFile(path)))));
      }
    } catch (cause) {
      throw new CheckpointError('invalid-file', dir, `'${name}' does not decode (${(cause as Error).message}).`, { cause, fix: 'resume from another checkpoint' });
    }
  }
  return { path: dir, step: manifest.step, configHash: manifest.configHash, manifest, tensors, json };
}

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await fsp.open(path, 'r');
  try {
    const buf = new Uint8Array(8 << 20);
    for (let pos = 0; ; ) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}
