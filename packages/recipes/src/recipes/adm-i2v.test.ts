/**
 * ADM with an image-to-video teacher (issue 10 item 3). ADM reads no data; its conditions come
 * from a `conditions` source (`distill({ conditions })`, the `{ x0, image, imageNoiseSigma }`
 * batches of the tiny `gmm-i2v:` mixture, of which only the conditioning keys are used).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomNormal, sampleI2vPairs, seededRng } from '@fewstep/core';
import { distill, instantiateRecipe } from '../runtime/distill.js';
import { modelDenoiser } from '../runtime/diffusion-model.js';
import { studentSampler } from '../runtime/student.js';
import { expectResumedBitExact, firstBatch, imagePathGradient, maxAbsDiff, stepContext, tempDirs } from '../testing/recipe-harness.test-util.js';
import { TINY_BATCH, i2vRealSource, tinyI2vMixture, tinyI2vTeacher } from '../testing/tiny-world.test-util.js';
import { adm, zeroedConditioning } from './adm.recipe.js';

const shape = tinyI2vMixture().shape;
const tmp = tempDirs('fewstep-adm-i2v-');

describe('recipe:adm on an image-to-video teacher', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('the condition reaches the fake score and the generator (image-path gradients), and none without it; CFG drops the image', async () => {
    const teacher = tinyI2vTeacher({ seed: 3 });
    const batch = await firstBatch(i2vRealSource());
    const { image: _drop, ...noImage } = batch;
    const inst = instantiateRecipe(adm, { teacher, preset: 'tiny', options: { steps: 2 }, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    for (const phase of ['fakeScore', 'generator']) {
      const g = imagePathGradient(inst, phase, 0, stepContext(inst, teacher, { phase, step: 0, batch }).ctx);
      expect(g.variables).toContain('patch_embed_image.kernel');
      expect(g.max).toBeGreaterThan(0);
      expect(imagePathGradient(inst, phase, 0, stepContext(inst, teacher, { phase, step: 0, batch: noImage }).ctx).max).toBe(0);
    }
    const pooled = tf.ones([TINY_BATCH, 2]);
    const u = zeroedConditioning({ image: batch['image']!, imageNoiseSigma: batch['imageNoiseSigma']!, pooled });
    expect(Object.keys(u).sort()).toEqual(['imageNoiseSigma', 'pooled']);
    expect(Array.from(u['pooled']!.dataSync()).every((v) => v === 0)).toBe(true);
    tf.dispose([pooled, u['pooled']!]);
    inst.dispose();
    tf.dispose(Object.values(batch));
    teacher.backbone.net.dispose();
  });

  it('distills under the conditions source, resumes bit-exactly, and the 2-step student follows its condition', async () => {
    const teacher = tinyI2vTeacher({ seed: 3 });
    const base = { recipe: adm, teacher, preset: 'tiny', options: { steps: 2 }, conditions: i2vRealSource(), sampleShape: shape, batchSize: TINY_BATCH, seed: 5, checkpoint: { every: 2 } } as const;
    const straight = await distill({ ...base, steps: 4, outDir: tmp() });
    const out = tmp();
    (await distill({ ...base, steps: 2, outDir: out })).student.dispose();
    const resumed = await distill({ ...base, steps: 4, outDir: out });
    expectResumedBitExact(straight, resumed, teacher.backbone.net);
    const student = modelDenoiser({ ...teacher, backbone: teacher.backbone.withNetwork(straight.student) });
    const { condition, imageNoiseSigma, x0 } = sampleI2vPairs(tinyI2vMixture(), 2, seededRng(11));
    const swapped = tf.reverse(condition, 0);
    const noise = randomNormal([2, ...shape], seededRng(4));
    const sampler = studentSampler(straight.spec, teacher.schedule);
    const a = sampler.sample(student, noise, { cond: { image: condition, imageNoiseSigma }, rng: 6 });
    const b = sampler.sample(student, noise, { cond: { image: swapped, imageNoiseSigma }, rng: 6 });
    expect(maxAbsDiff(a.sample, b.sample)).toBeGreaterThan(1e-3);
    tf.dispose([condition, imageNoiseSigma, x0, swapped, noise, a.sample, b.sample]);
    straight.student.dispose();
    resumed.student.dispose();
    teacher.backbone.net.dispose();
  }, 60_000);
});
