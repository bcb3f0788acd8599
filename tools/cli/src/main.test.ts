import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'bin/fewstep.js');
function fewstep(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('fewstep CLI', () => {
  it('--help lists the commands and exits 0', () => {
    const r = fewstep(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: fewstep \[options\] \[command\]/);
    expect(r.stdout).toMatch(/\n  bench /);
  });

  it('an unknown command fails with a non-zero code and says so', () => {
    const r = fewstep(['frobnicate']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it('bench engine rejects fewer than 10 timed steps, naming the flag and the value', () => {
    const r = fewstep(['bench', 'engine', '--steps', '3']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--steps must be an integer >= 10, got '3'/);
  });

  it('an unknown --backend is a typed error naming the value and the allowed ones', () => {
    const r = fewstep(['--backend', 'cuda', 'bench', 'engine', '--workloads', 'conv-train', '--no-torch']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Invalid value for 'FEWSTEP_BACKEND': "cuda"\. Allowed: 'tensorflow', 'webgpu', 'wasm', 'cpu'\./);
    expect(r.stdout).toBe('');
  });
});
