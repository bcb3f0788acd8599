import { createRequire } from 'node:module';
import { CheckpointError } from './checkpoint-error.js';
import { MANIFEST_FILE } from './step-dir.js';

/** `format` of every fewstep checkpoint manifest. */
export const CHECKPOINT_FORMAT = 'fewstep-checkpoint';
/** Manifest version this SDK writes and reads. */
export const CHECKPOINT_VERSION = 1;

/** Size and SHA-256 of one file of a checkpoint. */
export interface ManifestFile {
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * `manifest.json`, written last: a checkpoint directory is valid only if its manifest parses and
 * every listed file has exactly this size and SHA-256 (P15, P26).
 */
export interface CheckpointManifest {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly version: number;
  readonly step: number;
  /** SHA-256 of the canonical training config (architecture included). */
  readonly configHash: string;
  readonly sdkVersion: string;
  /** ISO time of the commit (informational). */
  readonly createdAt: string;
  /** File name (in the same directory) → size and hash. */
  readonly files: Readonly<Record<string, ManifestFile>>;
}

/** The version of @fewstep/core that writes checkpoints. */
export const SDK_VERSION: string = (() => {
  try {
    return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
  } catch {
    return '0.0.0-unknown'; // bundled without the package.json next to it
  }
})();

/** A file name that may appear in a manifest: no directories, no dot files (P12 confinement). */
export const SAFE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

export function isSafeFileName(name: string): boolean {
  return SAFE_FILE_NAME.test(name) && !name.includes('..') && name !== MANIFEST_FILE && !/\.tmp-/.test(name);
}

/**
 * Parses and validates a manifest's text. Every field is checked; file names must be plain names
 * inside the checkpoint directory (P12).
 * @throws CheckpointError `invalid-manifest` / `unsafe-path`
 */
export function parseManifest(text: string, dir: string): CheckpointManifest {
  const bad = (what: string, found: unknown, allowed: string): never => {
    throw new CheckpointError('invalid-manifest', dir, `manifest field '${what}' is ${JSON.stringify(found)?.slice(0, 80)}; allowed: ${allowed}.`, {
      fix: 'the checkpoint was not written by this SDK or was edited; resume from another checkpoint',
    });
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new CheckpointError('invalid-manifest', dir, `manifest.json is not valid JSON (${(cause as Error).message}).`, {
      cause,
      fix: 'the checkpoint is damaged; resume from another checkpoint',
    });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('(root)', raw, 'an object');
  const m = raw as Record<string, unknown>;
  if (m['format'] !== CHECKPOINT_FORMAT) bad('format', m['format'], `"${CHECKPOINT_FORMAT}"`);
  if (m['version'] !== CHECKPOINT_VERSION) bad('version', m['version'], `${CHECKPOINT_VERSION} (this SDK, ${SDK_VERSION})`);
  const step = m['step'];
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) bad('step', step, 'an integer >= 0');
  if (typeof m['configHash'] !== 'string' || !/^[0-9a-f]{64}$/.test(m['configHash'])) bad('configHash', m['configHash'], '64 hex digits');
  if (typeof m['sdkVersion'] !== 'string') bad('sdkVersion', m['sdkVersion'], 'a string');
  if (typeof m['createdAt'] !== 'string') bad('createdAt', m['createdAt'], 'a string');
  const files = m['files'];
  if (typeof files !== 'object' || files === null || Array.isArray(files)) return bad('files', files, 'an object');
  const out: Record<string, ManifestFile> = Object.create(null) as Record<string, ManifestFile>;
  for (const [name, entry] of Object.entries(files)) {
    if (!isSafeFileName(name)) {
      throw new CheckpointError('unsafe-path', dir, `manifest lists ${JSON.stringify(name).slice(0, 80)}, which is not a plain file name inside the checkpoint directory.`, {
        fix: 'do not load this checkpoint; it was not written by fewstep',
      });
    }
    const e = entry as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null) return bad(`files.${name}`, e, 'an object {bytes, sha256}');
    if (typeof e['bytes'] !== 'number' || !Number.isSafeInteger(e['bytes']) || e['bytes'] < 0) bad(`files.${name}.bytes`, e['bytes'], 'an integer >= 0');
    if (typeof e['sha256'] !== 'string' || !/^[0-9a-f]{64}$/.test(e['sha256'])) bad(`files.${name}.sha256`, e['sha256'], '64 hex digits');
    out[name] = { bytes: e['bytes'] as number, sha256: e['sha256'] as string };
  }
  return {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    step: step as number,
    configHash: m['configHash'] as string,
    sdkVersion: m['sdkVersion'] as string,
    createdAt: m['createdAt'] as string,
    files: out,
  };
}
