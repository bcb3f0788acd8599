import { beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { writeSafetensors } from '@fewstep/core';
import { ShapesVideo, writeVideoFolder } from '@fewstep/data';
import { fewstep, tempDirs } from '../testing/cli.test-util.js';

const tmp = tempDirs('fewstep-eval-');
const REFERENCE = 'shapes-video:frames=8,size=16,seed=1';
const N = 64;

/** Every key the video path's --json object carries. */
const KEYS = [
  'samples',
  'reference',
  'features',
  'shape',
  'n',
  'nReference',
  'frechetDistance',
  'frechetMeanTerm',
  'frechetCovarianceTerm',
  'sharpness',
  'sharpnessRef',
  'sharpnessRatio',
  'temporalChange',
  'temporalChangeRef',
  'temporalChangeRatio',
  'diversity',
  'diversityRef',
  'diversityRatio',
  'captionAgreement',
  'captionAgreementReason',
  'captionAgreementRef',
  'featureNet',
  'nfe',
  'msPerSample',
  'solver',
  'steps',
];

let pngDir: string;
let samplesDir: string;
/** Frechet distance of the real PNG clips (first test), compared with noise's (second test). */
let realFd = NaN;

beforeAll(async () => {
  await tf.setBackend('cpu');
  // Real clips of the teacher's world (another content seed), as PNG frame folders with captions.
  pngDir = tmp();
  const real = new ShapesVideo('shapes-video:frames=8,size=16,seed=5').batch(0, N);
  await writeVideoFolder(pngDir, real.videos, real.captions);
  // A `fewstep sample` directory of pure noise with the speed it would record.
  samplesDir = tmp();
  const noise = tf.tidy(() => tf.clipByValue(tf.randomNormal([N, 8, 16, 16, 3], 0, 0.6, 'float32', 9), -1, 1));
  await writeSafetensors(join(samplesDir, 'samples.safetensors'), { samples: { dtype: 'F32', shape: noise.shape, data: noise.dataSync() as Float32Array } });
  writeFileSync(join(samplesDir, 'sample-info.json'), JSON.stringify({ solver: 'student:multistep', steps: 4, nfe: 4, msPerSample: 2.5, n: N }));
  tf.dispose([real.videos, real.labels, real.tokens, noise]);
});

describe('fewstep eval on video data', () => {
  it('a PNG frame folder with captions vs a shapes-video spec: one JSON object with every metric and a caption score', () => {
    const r = fewstep(['eval', '--samples', pngDir, '--reference', REFERENCE, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const m = JSON.parse(r.stdout);
    expect(Object.keys(m).sort()).toEqual([...KEYS].sort());
    expect(m).toMatchObject({ n: N, nReference: N, shape: [8, 16, 16, 3], featureNet: { name: 'fewstep-video-features', version: 1, featureDim: 128 }, nfe: null, msPerSample: null });
    expect(m.reference).toBe('shapes-video:frames=8,size=16,seed=1,shapes=1..3,channels=3,n=1024');
    expect(m.captionAgreement).toMatchObject({ n: N, skipped: 0 });
    expect(m.captionAgreement.all).toBeGreaterThan(0.5);
    expect(m.captionAgreementRef.all).toBeGreaterThan(0.5);
    // Same world, other clips: pixel statistics agree within a factor.
    for (const k of ['sharpnessRatio', 'temporalChangeRatio', 'diversityRatio']) expect(Math.abs(Math.log(m[k]))).toBeLessThan(Math.log(1.5));
    expect(m.frechetDistance).toBeGreaterThan(0);
    realFd = m.frechetDistance as number;
  });

  it('a fewstep sample directory vs the first 48 clips of a reference DIR: speed from sample-info.json, no captions, a much larger distance for noise', () => {
    const r = fewstep(['eval', '--samples', samplesDir, '--reference', pngDir, '--n-reference', '48', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m).toMatchObject({ n: N, nReference: 48, nfe: 4, msPerSample: 2.5, solver: 'student:multistep', steps: 4, captionAgreement: null });
    expect(m.captionAgreementReason).toMatch(/carry no captions/);
    expect(m.captionAgreementRef.n).toBe(48);
    expect(m.frechetDistance).toBeGreaterThan(2 * realFd);
    expect(m.temporalChangeRatio).toBeGreaterThan(3); // noise flickers
  });

  it('prints a table without --json; --n-reference draws that many clips; a mismatched spec is a shape error', () => {
    const r = fewstep(['eval', '--samples', samplesDir, '--reference', REFERENCE, '--n-reference', '80']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^samples {3}.*\(64 videos \[8, 16, 16, 3\]; student:multistep 4 steps, NFE 4, 2\.50 ms\/sample\)/m);
    expect(r.stdout).toMatch(/^reference .*\(80 videos\)/m);
    expect(r.stdout).toMatch(/^features {2}fewstep-video-features v1 \(128-d\)/m);
    for (const row of ['Frechet distance', 'sharpness', 'temporal change', 'diversity', 'caption agreement']) expect(r.stdout).toMatch(new RegExp(`^${row} `, 'm'));
    expect(r.stdout).toMatch(/caption agreement: n\/a \(the samples carry no captions/);
    const bad = fewstep(['eval', '--samples', samplesDir, '--reference', 'shapes-video:frames=4,size=16,seed=1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/has shape \[64, 4, 16, 16, 3\], expected \[N, 8, 16, 16, 3\]/);
  });
});
