import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

  it('sample + eval on the analytic teacher: DDIM-50 covers every mode; --json prints one object', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fewstep-cli-'));
    try {
      const spec = 'gmm-video:modes=8,frames=2,size=4,channels=1,std=0.05,seed=3';
      const s = fewstep(['sample', '--model', `analytic:${spec}`, '--solver', 'ddim', '--steps', '50', '--n', '200', '--out', dir, '--json']);
      expect(s.code).toBe(0);
      const info = JSON.parse(s.stdout);
      expect(info).toMatchObject({ solver: 'ddim', steps: 50, nfe: 50, n: 200, shape: [200, 2, 4, 4, 1] });
      const e = fewstep(['eval', '--samples', dir, '--reference', spec, '--json']);
      expect(e.code).toBe(0);
      expect(e.stdout.trim().split('\n')).toHaveLength(1);
      const m = JSON.parse(e.stdout);
      expect(m.n).toBe(200);
      expect(m.modeCoverage).toBeGreaterThanOrEqual(0.95);
      expect(m.precision).toBeGreaterThanOrEqual(0.95);
      expect(m.nfe).toBe(50);
      // Evaluating against another mixture is a shape error naming both.
      const bad = fewstep(['eval', '--samples', dir, '--reference', 'gmm-video:modes=8,frames=2,size=8,channels=1,std=0.05,seed=3']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/has shape \[200, 2, 4, 4, 1\], expected \[N, 2, 8, 8, 1\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('FEWSTEP_WASM_THREADS=2 starts the threaded wasm build and says so; a bad value is a typed error', () => {
    const args = ['sample', '--model', 'analytic:gmm-video:modes=2,frames=1,size=2,channels=1,std=0.1,seed=1', '--steps', '2', '--n', '2', '--out', join(tmpdir(), 'fewstep-threads')];
    const ok = fewstep(args, { FEWSTEP_WASM_THREADS: '2' });
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/backend: wasm .*wasm \(SIMD, 2 threads\)/);
    const bad = fewstep(args, { FEWSTEP_WASM_THREADS: '0' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Invalid value for 'FEWSTEP_WASM_THREADS': "0"\. Allowed: an integer from 1 to 8\./);
  });

  it('demo distills the shipped teacher end to end and writes a self-contained report', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fewstep-demo-'));
    try {
      const r = fewstep(['demo', '--quick', '--steps', '3', '--samples', '128', '--out', dir, '--json']);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.report).toBe(join(dir, 'report.html'));
      expect(out.rows.map((x: { model: string; sampler: string; nfe: number }) => `${x.model} / ${x.sampler} / ${x.nfe}`)).toEqual([
        'teacher (video DiT) / DDIM 25 / 25',
        'teacher (video DiT) / DDIM 4 / 4',
        'teacher (video DiT) / DDIM 1 / 1',
        'student (lcm) / 4 steps / 4',
        'student (lcm) / 1 step / 1',
      ]);
      // The shipped teacher covers every mode at 25 steps; one DDIM step collapses to the mean.
      expect(out.rows[0].modeCoverage).toBeGreaterThanOrEqual(0.9);
      expect(out.rows[2].modeCoverage).toBeLessThan(0.3);
      expect(out.speedup).toBeGreaterThan(1);
      const html = readFileSync(join(dir, 'report.html'), 'utf8');
      expect(html).toContain('<table>');
      expect(html.match(/data:image\/png;base64,/g)?.length).toBe(5);
      expect(html.match(/data:image\/gif;base64,R0lGODlh/g)?.length).toBe(3); // teacher 25, student 4, student 1
      expect(html).toContain('<polyline');
      expect(html).toMatch(/Speedup: [0-9.]+x/);
      expect(readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every command takes --config FILE (JSON or YAML): flags win, unknown keys and bad values name the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fewstep-config-'));
    try {
      const model = 'analytic:gmm-video:modes=2,frames=1,size=2,channels=1,std=0.1,seed=1';
      writeFileSync(join(dir, 'c.json'), JSON.stringify({ solver: 'ddim', steps: 4, n: 16 }));
      const ok = fewstep(['sample', '--model', model, '--config', join(dir, 'c.json'), '--n', '8', '--out', join(dir, 's'), '--json']);
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.stdout)).toMatchObject({ steps: 4, nfe: 4, n: 8 });
      writeFileSync(join(dir, 'c.yaml'), 'solver: ddim\nstepz: 4\n');
      const unknown = fewstep(['sample', '--model', model, '--config', join(dir, 'c.yaml'), '--out', join(dir, 's')]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/stepz.*options of 'sample': model, solver, schedule, spacing, steps/s);
      writeFileSync(join(dir, 'bad.json'), JSON.stringify({ steps: 0 }));
      const bad = fewstep(['sample', '--model', model, '--config', join(dir, 'bad.json'), '--out', join(dir, 's')]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/steps.*--steps must be an integer >= 1, got '0'/s);
      for (const cmd of ['demo', 'eval', 'inspect', 'trajectories', 'sample']) expect(fewstep([cmd, '--help']).stdout).toMatch(/--config <file>/);
      expect(fewstep(['bench', 'engine', '--help']).stdout).toMatch(/--config <file>/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sample rejects an unknown solver, naming the allowed ones', () => {
    const r = fewstep(['sample', '--model', 'analytic:gmm-video:modes=2,frames=1,size=2,channels=1,std=0.1,seed=1', '--solver', 'rk45', '--out', tmpdir()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Invalid value for '--solver': "rk45"\. Allowed: 'ddim', 'euler', 'heun', 'dpm\+\+2m'\./);
  });

  it('inspect prints the header of a valid file and fails with the typed message on a corrupt one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fewstep-cli-'));
    try {
      const s = fewstep(['sample', '--model', 'analytic:gmm-video:modes=2,frames=1,size=2,channels=1,std=0.1,seed=1', '--steps', '2', '--n', '3', '--out', dir]);
      expect(s.code).toBe(0);
      const ok = fewstep(['inspect', join(dir, 'samples.safetensors'), '--json']);
      expect(ok.code).toBe(0);
      const summary = JSON.parse(ok.stdout);
      expect(summary.tensors).toEqual([{ name: 'samples', dtype: 'F32', shape: [3, 1, 2, 2, 1], bytes: 48 }]);
      const bad = fewstep(['inspect', join(dir, 'sample-info.json')]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/^fewstep: .*header/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
