import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fewstep, tempDirs } from '../testing/cli.test-util.js';

const tmp = tempDirs('fewstep-distill-');

const SPEC = 'gmm-video:modes=4,frames=2,size=4,channels=3,std=0.2,seed=3';

describe('fewstep distill', () => {
  it('analytic teacher -> fitted teacher -> LCM student: metrics.jsonl, checkpoints, a student that `sample --model` loads, --json summary; --resume continues', () => {
    const dir = tmp();
    const config = join(dir, 'distill.yaml');
    writeFileSync(config, ['recipe: lcm', `teacher: "analytic:${SPEC}"`, 'preset: tiny', 'batch: 4', 'teacherFit:', '  steps: 4', 'evalSamples: 32', 'options:', '  steps: 2', ''].join('\n'));
    const out = join(dir, 'run');
    const r = fewstep(['distill', '--config', config, '--steps', '3', '--out', out, '--checkpoint-every', '1', '--watchdog', 'warn', '--json']);
    expect(r.stderr).not.toMatch(/Error:/);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ recipe: 'recipe:lcm', steps: 3, studentSteps: 2 });
    expect(s.seconds).toBeGreaterThan(0);
    expect(s.metrics.map((m: { steps: number; nfe: number }) => [m.steps, m.nfe])).toEqual([
      [1, 1],
      [2, 2],
      [4, 4],
    ]);
    for (const m of s.metrics) for (const k of ['modeCoverage', 'precision', 'totalVariation', 'spreadRatio', 'energyDistance']) expect(Number.isFinite(m[k])).toBe(true);
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([1, 2, 3]);
    expect(existsSync(join(out, 'checkpoints'))).toBe(true);
    expect(existsSync(join(out, 'teacher', 'model.json'))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(out, 'student', 'model.json'), 'utf8'));
    expect(manifest).toMatchObject({ format: 'fewstep-model', role: 'student', student: { parameterization: 'consistency', sampler: 'multistep', steps: 2 }, provenance: { recipe: 'recipe:lcm' } });

    const samples = join(dir, 'samples');
    const sr = fewstep(['sample', '--model', join(out, 'student'), '--n', '5', '--format', 'png,gif', '--out', samples, '--json']);
    expect(sr.code).toBe(0);
    const info = JSON.parse(sr.stdout);
    expect(info).toMatchObject({ steps: 2, nfe: 2, n: 5, shape: [5, 2, 4, 4, 3], solver: 'student:multistep' });
    expect(info.files.map((f: string) => f.slice(samples.length + 1))).toEqual(['samples.safetensors', 'samples.png', 'samples.gif']);
    expect(readFileSync(join(samples, 'samples.gif')).subarray(0, 6).toString('latin1')).toBe('GIF89a');
    expect(readFileSync(join(samples, 'samples.png')).subarray(1, 4).toString('latin1')).toBe('PNG');
    const badFormat = fewstep(['sample', '--model', join(out, 'student'), '--n', '2', '--format', 'avi', '--out', samples]);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toMatch(/--format.*avi.*png, gif, mp4/s);

    // A second run into the same directory without --resume is refused; with --resume it continues to 4 steps.
    const again = fewstep(['distill', '--config', config, '--steps', '4', '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/--resume/);
    const resumed = fewstep(['distill', '--config', config, '--steps', '4', '--out', out, '--resume', '--json']);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/resumed from .*step-000003/);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step)).toEqual([1, 2, 3, 4]);
  }, 300_000);

  it('bad input is a typed error naming the field, the value and what is allowed', () => {
    const dir = tmp();
    const unknown = fewstep(['distill', '--recipe', 'lcmx', '--teacher', `analytic:${SPEC}`, '--steps', '2', '--out', join(dir, 'a')]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--recipe.*lcmx.*avdm2.*accvideo/s);
    const badOption = fewstep(['distill', '--recipe', 'lcm', '--teacher', `analytic:${SPEC}`, '--steps', '2', '--out', join(dir, 'b'), '--set', 'emaDecay=3']);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toMatch(/emaDecay.*3/);
    const config = join(dir, 'bad.json');
    writeFileSync(config, JSON.stringify({ recipe: 'lcm', stepz: 3 }));
    const badConfig = fewstep(['distill', '--config', config, '--out', join(dir, 'c')]);
    expect(badConfig.code).toBe(2);
    expect(badConfig.stderr).toMatch(/stepz/);
  }, 120_000);
});
