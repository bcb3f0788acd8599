import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What the PyTorch twin reported for one workload. */
export interface TorchWorkloadResult {
  ms: number;
  /** Loss of the first step (before any update): must equal the tfjs one (same init, same math). */
  loss0: number;
  /** Loss of the last timed step. */
  lossLast: number;
  /** Every step's loss, warm-up included. */
  losses: number[];
  params: number;
}

/** The twin's JSON output. */
export interface TorchTwinOutput {
  torch: string;
  threads: number;
  /** The BLAS library torch's matmuls ran on. */
  blas: string;
  /** True for the netlib reference BLAS (about 10× slower matmul than OpenBLAS): ratios flatter tfjs. */
  referenceBlas: boolean;
  workloads: Record<string, TorchWorkloadResult>;
}

/** A Python interpreter that can `import torch`, or why none was found. */
export type PythonProbe = { ok: true; python: string; version: string } | { ok: false; reason: string };

/** Path of the twin script, `tools/bench/python/engine_bench.py` (`$FEWSTEP_TWIN_SCRIPT` overrides, for bundled runs). */
export function twinScript(env: NodeJS.ProcessEnv = process.env): string {
  return env['FEWSTEP_TWIN_SCRIPT'] || fileURLToPath(new URL('../python/engine_bench.py', import.meta.url));
}

/**
 * Finds a Python with torch: `$FEWSTEP_PYTHON`, then `python3`, then `/usr/bin/python3` (the
 * `fallbacks`), each probed with `-c "import torch"`.
 */
export function findTorchPython(
  env: NodeJS.ProcessEnv = process.env,
  fallbacks: readonly string[] = ['python3', '/usr/bin/python3'],
): PythonProbe {
  const candidates = [env['FEWSTEP_PYTHON'], ...fallbacks].filter(
    (c, i, all): c is string => typeof c === 'string' && c.length > 0 && all.indexOf(c) === i,
  );
  const failures: string[] = [];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) return { ok: true, python, version: r.stdout.trim() };
    const why = r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
    failures.push(`${python}: ${why}`);
  }
  return {
    ok: false,
    reason: `no Python with torch (${failures.join('; ')}); set FEWSTEP_PYTHON to a python that can 'import torch'`,
  };
}

/** Arguments of one twin run. */
export interface TwinRunOptions {
  python: string;
  workloads: string[];
  steps: number;
  warmup: number;
  threads: number;
  /** Merged shapes per workload (the twin builds exactly these). */
  shapes: Record<string, object>;
  /** Kill the twin after this many ms. @default 1_800_000 */
  timeoutMs?: number;
}

/** Runs the twin as a child process and parses its single JSON line. */
export function runTorchTwin(o: TwinRunOptions): Promise<TorchTwinOutput> {
  const script = twinScript();
  const args = [
    script,
    '--workloads', o.workloads.join(','),
    '--steps', String(o.steps),
    '--warmup', String(o.warmup),
    '--threads', String(o.threads),
    '--shapes', JSON.stringify(o.shapes),
  ];
  return new Promise((resolve, reject) => {
    const n = String(o.threads);
    const env = { ...process.env, OMP_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n, MKL_NUM_THREADS: n };
    const child = spawn(o.python, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 1_800_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`torch twin ${o.python} ${script} failed (${signal ?? `exit ${code}`}): ${stderr.trim().slice(-2000)}`));
        return;
      }
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as TorchTwinOutput);
      } catch {
        reject(new Error(`torch twin printed no JSON: ${stdout.slice(-500)} ${stderr.slice(-500)}`));
      }
    });
  });
}
