/**
 * @file Test helpers for the `fewstep` command: run the real bin in a child process and collect
 * temporary directories that are removed after the file's tests.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

/** tools/cli */
export const CLI_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(CLI_ROOT, 'bin/fewstep.js');

/** Runs `fewstep ...args` (wasm backend unless `env` says otherwise); exit code and both streams. */
export function fewstep(args: string[], env: Record<string, string> = {}, timeout = 300_000): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, FEWSTEP_BACKEND: 'wasm', ...env }, timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A factory of temporary directories, all removed after the calling file's tests. */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}
