import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ShapesVideo, writeVideoFolder } from '@fewstep/data';
import { fewstep, tempDirs } from '../testing/cli.test-util.js';

const tmp = tempDirs('fewstep-train-features-');
const DATA = 'shapes-video:frames=4,size=8,seed=2,n=64';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('fewstep train-features', () => {
  it('trains with checkpoints and metrics.jsonl, resumes after a restart, and the result plugs into eval --features', async () => {
    const dir = join(tmp(), 'features');
    const cfg = join(tmp(), 'train-features.yaml');
    writeFileSync(cfg, `data: ${DATA}\nsteps: 3\nbatch-size: 4\nlr: 0.003\nheld-out: 8\ncheckpoint-every: 3\n`);
    const a = fewstep(['train-features', '--config', cfg, '--out', dir, '--json']);
    expect(a.code, a.stderr).toBe(0);
    const r = JSON.parse(a.stdout);
    expect(r).toMatchObject({ dir, steps: 3, data: 'shapes-video:frames=4,size=8,seed=2,shapes=1..3,channels=3,n=64', heldOut: { n: 8 } });
    for (const k of ['presence', 'shape', 'direction']) expect(r.heldOut[k]).toBeGreaterThanOrEqual(0);
    expect(r.heldOut.caption.n).toBe(8);
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(true);
    const model = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    expect(model).toMatchObject({ name: 'fewstep-video-features', version: 1, input: { frames: 4, size: 8, channels: 3 }, data: r.data, provenance: { steps: 3, batchSize: 4, lr: 0.003, seed: 1 } });
    const lines = () => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines().map((l) => l.step)).toEqual([1, 2, 3]);
    expect(lines()[0]).toHaveProperty('metric/features/attributes/shapeAcc');
    // The same command again (a killed job restarted) resumes from the newest checkpoint; the
    // held-out accuracy is printed at the end.
    const b = fewstep(['train-features', '--config', cfg, '--out', dir]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/resumed from .*step-000003/);
    expect(lines().map((l) => l.step)).toEqual([1, 2, 3]);
    expect(b.stdout).toMatch(/held-out accuracy on 8 fresh clips: presence [0-9.]+%, shape [0-9.]+%, direction [0-9.]+%/);
    // Flags override the config: another step count is another cosine schedule, refused by name.
    const more = fewstep(['train-features', '--config', cfg, '--steps', '5', '--out', dir]);
    expect(more.code).toBe(2);
    expect(more.stderr).toMatch(/totalSteps: found 3, expected 5/);
    // Its own feature space: eval scores clips of its size with --features DIR.
    const clips = tmp();
    const b8 = new ShapesVideo('shapes-video:frames=4,size=8,seed=9').batch(0, 6);
    await writeVideoFolder(clips, b8.videos, b8.captions);
    tf.dispose([b8.videos, b8.labels, b8.tokens]);
    const e = fewstep(['eval', '--samples', clips, '--reference', DATA, '--features', dir, '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout)).toMatchObject({ features: dir, n: 6, nReference: 6, featureNet: { name: 'fewstep-video-features', version: 1 }, captionAgreement: { n: 6 } });
  });

  it('names the missing or bad option', () => {
    const noData = fewstep(['train-features', '--steps', '2', '--out', tmp()]);
    expect(noData.code).toBe(2);
    expect(noData.stderr).toMatch(/Invalid value for '--data'/);
    const bigBatch = fewstep(['train-features', '--data', DATA, '--steps', '2', '--batch-size', '65', '--out', tmp()]);
    expect(bigBatch.code).toBe(2);
    expect(bigBatch.stderr).toMatch(/--batch-size.*at most n = 64/);
  });
});
