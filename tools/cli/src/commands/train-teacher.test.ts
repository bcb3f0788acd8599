import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodePng } from '@fewstep/data';
import { fewstep, tempDirs } from '../testing/cli.test-util.js';
import { trainTeacherCommand } from './train-teacher.js';

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

  it('--task i2v on shapes-video: the first frame conditions a DSM-trained teacher, `distill` conditions on the data\'s first frames, `sample --image` samples it', () => {
    const dir = tmp();
    const out = join(dir, 'teacher');
    const data = 'shapes-video:frames=2,size=8,seed=1,n=32';
    const r = fewstep(['train-teacher', '--data', data, '--task', 'i2v', '--cond-dropout', '0.2', '--image-noise', 'lognormal', '--steps', '2', '--batch', '4', '--out', out, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ task: 'i2v', sampleShape: [2, 8, 8, 3] });
    const manifest = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
    expect(manifest).toMatchObject({ task: 'i2v', backbone: { config: { imageCondition: { concat: true, mask: true, embed: 'pooled', noiseAugment: true } } }, provenance: { data, task: 'i2v', condDropout: 0.2, imageNoise: 'lognormal' } });
    const run = join(dir, 'lcm');
    const d = fewstep(['distill', '--recipe', 'lcm', '--teacher', out, '--preset', 'tiny', '--steps', '1', '--batch', '4', '--out', run, '--json']);
    expect(d.code).toBe(0);
    expect(JSON.parse(readFileSync(join(run, 'student', 'model.json'), 'utf8'))).toMatchObject({ task: 'i2v', role: 'student', provenance: { data, task: 'i2v' } });
    const png = join(dir, 'frame.png');
    writeFileSync(png, encodePng({ width: 8, height: 8, channels: 3, data: new Uint8Array(8 * 8 * 3).fill(200) }));
    const sr = fewstep(['sample', '--model', join(run, 'student'), '--image', png, '--image-noise', '0.05', '--n', '2', '--out', join(dir, 's'), '--json']);
    expect(sr.code).toBe(0);
    expect(JSON.parse(sr.stdout)).toMatchObject({ task: 'i2v', imageNoiseSigma: 0.05, nfe: 4, shape: [2, 2, 8, 8, 3] });
  }, 300_000);

  it('image-to-video options are checked before any work', async () => {
    const run = (args: string[]) => trainTeacherCommand().exitOverride().configureOutput({ writeOut: () => undefined, writeErr: () => undefined }).parseAsync(args, { from: 'user' });
    const out = join(tmp(), 'x');
    await expect(run(['--data', 'gmm-video:modes=2,frames=2,size=4,channels=3,std=0.1,seed=1', '--task', 'i2v', '--steps', '1', '--out', out])).rejects.toThrow(/--data.*gmm-i2v:modes=2/s);
    await expect(run(['--data', 'gmm-i2v:modes=2,frames=2,size=4,channels=3,std=0.1,seed=1', '--task', 't2v', '--steps', '1', '--out', out])).rejects.toThrow(/--task.*'i2v' for 'gmm-i2v:' data/s);
    await expect(run(['--data', 'shapes-video:frames=2,size=8', '--cond-dropout', '0.1', '--steps', '1', '--out', out])).rejects.toThrow(/--cond-dropout.*only with --task i2v/s);
    await expect(run(['--data', 'shapes-video:frames=2,size=8', '--task', 'i2v', '--image-noise', 'loud', '--steps', '1', '--out', out])).rejects.toThrow(/--image-noise.*loud.*lognormal/s);
    await expect(run(['--data', 'shapes-video:frames=2,size=8', '--task', 'i2v', '--cond-dropout', '1', '--steps', '1', '--out', out])).rejects.toThrow(/--cond-dropout.*\[0, 1\)/s);
  });

  it('names the field, the value and what is allowed on bad input', () => {
    const bad = fewstep(['train-teacher', '--data', 'cifar10', '--steps', '2', '--out', join(tmp(), 'x')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--data.*cifar10.*gmm-video.*shapes-video/s);
    const badBackbone = fewstep(['train-teacher', '--data', 'shapes-video:frames=2,size=8', '--backbone', 'resnet', '--steps', '2', '--out', join(tmp(), 'y')]);
    expect(badBackbone.code).toBe(2);
    expect(badBackbone.stderr).toMatch(/--backbone.*resnet/s);
  }, 120_000);
});
