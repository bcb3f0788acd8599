import * as fsp from 'node:fs/promises';
import * as nodePath from 'node:path';

/** File name of the manifest that commits a checkpoint directory (written last, P15). */
export const MANIFEST_FILE = 'manifest.json';

const STEP_DIR = /^step-(\d{6,})$/;

/** `step-000120`: a checkpoint directory name (6 digits at least, so names sort by step). */
export function stepDirName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

/** The step of a checkpoint directory name, or `undefined` for anything else. */
export function parseStepDirName(name: string): number | undefined {
  const m = STEP_DIR.exec(name);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A checkpoint directory found under a root. */
export interface StepDir {
  readonly step: number;
  readonly name: string;
  readonly path: string;
}

/** The `step-NNNNNN` directories under `root`, newest (highest step) first; `[]` when `root` does not exist. */
export async function listStepDirs(root: string): Promise<StepDir[]> {
  let names: import('node:fs').Dirent[];
  try {
    names = await fsp.readdir(root, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: StepDir[] = [];
  for (const d of names) {
    if (!d.isDirectory()) continue;
    const step = parseStepDirName(d.name);
    if (step !== undefined) out.push({ step, name: d.name, path: nodePath.join(root, d.name) });
  }
  return out.sort((a, b) => b.step - a.step);
}

/** Whether `dir` holds a manifest (a cheap "committed" test; validity needs {@link verifyCheckpoint}). */
export async function hasManifest(dir: string): Promise<boolean> {
  try {
    return (await fsp.lstat(nodePath.join(dir, MANIFEST_FILE))).isFile();
  } catch {
    return false;
  }
}
