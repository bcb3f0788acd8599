import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fewstep, tempDirs } from '../testing/cli.test-util.js';

const tmp = tempDirs('fewstep-teacher-');

describe('fewstep train-teacher', () => {
  it('trains a shapes-video teacher by denoising score matching, resumes, and `distill` takes the directory', () => {
    const dir = tmp();
    const out = join(dir, 'teacher');
    const data = 'shapes-video:frames=2,size=8,seed=1,n=32';
    const r = fewstep(['train-teacher', '--data', data, '--backbone', 'video-dit', '--steps', '3', '--batch', '4', '--checkpoint-every', '1', '--out', out, '--json']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({ dir: out, sampleShape: [2, 8, 8, 3] });
    expect(info.parameters).toBeGreaterThan(1000);
    const manifest = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
    expect(manifest).toMatchObject({ role: 'teacher', predictionType: 'flow', schedule: { type: 'flow-matching' }, provenance: { data } });
    const losses = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(losses.map((l) => l.step)).toEqual([1, 2, 3]);
    for (const l of losses) expect(Number.isFinite(l['loss/teacher'])).toBe(true);
    // The same command again (a killed job restarted) resumes from the newest checkpoint, not from scratch.
    const again = fewstep(['train-teacher', '--data', data, '--backbone', 'video-dit', '--steps', '3', '--batch', '4', '--checkpoint-every', '1', '--out', out, '--json']);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/resumed from .*step-000003/);
    // A different step count is a different cosine schedule: refused, naming the difference.
    const more = fewstep(['train-teacher', '--data', data, '--steps', '4', '--batch', '4', '--out', out]);
    expect(more.code).toBe(2);
    expect(more.stderr).toMatch(/totalSteps: found 3, expected 4/);
    // The directory is a teacher for `distill` (real data from the spec in its provenance).
    const run = join(dir, 'lcm');
    const d = fewstep(['distill', '--recipe', 'lcm', '--teacher', out, '--preset', 'tiny', '--steps', '2', '--batch', '4', '--out', run, '--json']);
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ recipe: 'recipe:lcm', steps: 2, studentSteps: 4 });
    expect(existsSync(join(run, 'student', 'model.json'))).toBe(true);
  }, 300_000);

  it('names the field, the value and what is allowed on bad input', () => {
    const bad = fewstep(['train-teacher', '--data', 'cifar10', '--steps', '2', '--out', join(tmp(), 'x')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--data.*cifar10.*gmm-video.*shapes-video/s);
    const badBackbone = fewstep(['train-teacher', '--data', 'shapes-video:frames=2,size=8', '--backbone', 'resnet', '--steps', '2', '--out', join(tmp(), 'y')]);
    expect(badBackbone.code).toBe(2);
    expect(badBackbone.stderr).toMatch(/--backbone.*resnet/s);
  }, 120_000);
});
