/**
 * The image-to-video distillation pipeline (`runDistill` on `analytic:gmm-i2v:`): first-frame
 * conditioned data, teacher-made datasets that record their conditions, conditions for a recipe
 * that reads no data, conditional metrics, typed errors for mismatched data.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, INITIAL_CURSOR, conditionalMixtureDenoiser, firstFrame, flowMatchingSchedule, gmmI2v, initEngine, readSafetensors } from '@fewstep/core';
import { shapesVideoSource } from '@fewstep/data';
import { tempDirs } from '../testing/cli.test-util.js';
import { dataConditions, firstFrameConditionSource, i2vMetrics, mixtureConditions } from './i2v.js';
import { runDistill, type RunDistillOptions } from './run-distill.js';

const tmp = tempDirs('fewstep-i2v-');
const SPEC = 'gmm-i2v:modes=4,frames=2,size=4,channels=3,std=0.2,seed=3';
const SMALL_TEACHER = { steps: 4, batchSize: 4, overrides: { hiddenDim: 16, depth: 1, heads: 2, mlpRatio: 2, freqDim: 16 } };

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

beforeAll(async () => {
  await initEngine({ backend: 'wasm', report: false });
});

describe('image-to-video distillation pipeline', () => {
  it('first-frame conditioned shapes-video batches: image = frame 0 (+ seeded augmentation), same batch on a re-read', async () => {
    const src = firstFrameConditionSource(shapesVideoSource('shapes-video:frames=3,size=8,seed=1,n=16', { batchSize: 4 }), { sigmaAug: 0.1 });
    const a = await src.next(INITIAL_CURSOR, 5);
    const again = await src.next(INITIAL_CURSOR, 5);
    expect(Object.keys(a.tensors).sort()).toEqual(['image', 'imageNoiseSigma', 'x0']);
    const f0 = firstFrame(a.tensors['x0']!);
    const d = maxAbsDiff(a.tensors['image']!, f0);
    expect(d).toBeGreaterThan(0.01);
    expect(d).toBeLessThan(0.8);
    expect(maxAbsDiff(a.tensors['image']!, again.tensors['image']!)).toBe(0);
    expect(Array.from(a.tensors['imageNoiseSigma']!.dataSync())).toEqual(Array.from(new Float32Array(4).fill(0.1)));
    const c = await dataConditions(firstFrameConditionSource(shapesVideoSource('shapes-video:frames=3,size=8,seed=1,n=16', { batchSize: 4 })), 6, 5);
    expect(c.image.shape).toEqual([6, 8, 8, 3]);
    tf.dispose([...Object.values(a.tensors), ...Object.values(again.tensors), f0, c.image, c.imageNoiseSigma]);
  });

  it('the conditional metrics: exact conditional samples score first-frame RMSE 0; ignoring the condition does not', () => {
    const gmm = gmmI2v(SPEC);
    const c = mixtureConditions(gmm, 64, 3);
    const exact = conditionalMixtureDenoiser(gmm, flowMatchingSchedule(), 'sample');
    // Posterior mean at t = 0.999 of pure noise: frame 0 is the condition exactly.
    const xt = tf.randomNormal([64, ...gmm.shape], 0, 1, 'float32', 1);
    const x0 = exact.posteriorMean(xt, 0.999, { image: c.image });
    const ignored = exact.posteriorMean(xt, 0.999);
    const m = i2vMetrics(gmm, c.image, x0);
    expect(m.firstFrameRmse).toBeLessThan(1e-5);
    expect(m.firstFramePrecision).toBe(1);
    expect(i2vMetrics(gmm, c.image, ignored).firstFrameRmse).toBeGreaterThan(0.1);
    tf.dispose([c.image, c.imageNoiseSigma, xt, x0, ignored]);
    exact.dispose();
  });

  it('analytic:gmm-i2v + accvideo: the trajectories record their conditions; the student is i2v and scored with first-frame metrics', async () => {
    const out = tmp();
    const base: RunDistillOptions = { recipe: 'accvideo', teacher: `analytic:${SPEC}`, out, steps: 2, preset: 'tiny', batchSize: 4, teacherFit: SMALL_TEACHER, dataset: { n: 8, solverSteps: 4 }, evalSteps: [1], evalSamples: 16, quietBar: true, progress: () => undefined };
    const r = await runDistill(base);
    expect(r.task).toBe('i2v');
    expect(Object.keys(r.metrics![0]!)).toEqual(expect.arrayContaining(['firstFrameRmse', 'firstFramePrecision', 'modeAgreement', 'precision', 'modeCoverage', 'energyDistance']));
    const file = readdirSync(join(out, 'data')).find((f) => f.startsWith('trajectories-'))!;
    expect(file).toMatch(/-i2v\.safetensors$/);
    const { tensors } = await readSafetensors(join(out, 'data', file));
    expect([...tensors.keys()].sort()).toEqual(['image', 'imageNoiseSigma', 'trajectory']);
    expect(tensors.get('image')!.shape).toEqual([8, 4, 4, 3]);
    expect(tensors.get('trajectory')!.shape).toEqual([8, 6, 2, 4, 4, 3]);
    const manifest = (await import('node:fs')).readFileSync(join(out, 'student', 'model.json'), 'utf8');
    expect(JSON.parse(manifest)).toMatchObject({ task: 'i2v', role: 'student', provenance: { task: 'i2v', data: expect.stringMatching(/^gmm-i2v:/) } });
  }, 120_000);

  it('adm (no data of its own) runs under the real conditions; a t2v spec for an i2v teacher is a typed error', async () => {
    const out = tmp();
    const r = await runDistill({ recipe: 'adm', teacher: `analytic:${SPEC}`, out, steps: 1, preset: 'tiny', batchSize: 4, teacherFit: SMALL_TEACHER, evalSteps: [1], evalSamples: 16, quietBar: true, progress: () => undefined });
    expect(r.metrics![0]!.firstFrameRmse).toBeGreaterThan(0);
    const bad = runDistill({ recipe: 'lcm', teacher: join(out, 'teacher'), data: SPEC.replace('gmm-i2v:', 'gmm-video:'), out: tmp(), steps: 1, quietBar: true, progress: () => undefined });
    await expect(bad).rejects.toThrow(ConfigError);
    await expect(bad).rejects.toThrow(/--data.*gmm-i2v/s);
  }, 120_000);
});
