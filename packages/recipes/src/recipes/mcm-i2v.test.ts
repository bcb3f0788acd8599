/**
 * MCM with an image-to-video teacher (issue 10 item 3): both trajectory kinds (real and the
 * student's own one-step samples) are solved and predicted under the batch's conditioning frame.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomNormal, sampleI2vPairs, seededRng } from '@fewstep/core';
import { distill, instantiateRecipe } from '../runtime/distill.js';
import { modelDenoiser } from '../runtime/diffusion-model.js';
import { studentSampler } from '../runtime/student.js';
import { firstBatch, imagePathGradient, maxAbsDiff, stepContext, termLoss } from '../testing/recipe-harness.test-util.js';
import { TINY_BATCH, i2vRealSource, tinyI2vMixture, tinyI2vTeacher } from '../testing/tiny-world.test-util.js';
import { mcm } from './mcm.recipe.js';

const shape = tinyI2vMixture().shape;

describe('recipe:mcm on an image-to-video teacher', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('both trajectory kinds carry the condition to the student (image-path gradient), none without it; D on teacher features reads it per frame', async () => {
    const teacher = tinyI2vTeacher({ seed: 3 });
    const batch = await firstBatch(i2vRealSource());
    const { image: _drop, ...noImage } = batch;
    for (const lambdaReal of [1, 0]) {
      const inst = instantiateRecipe(mcm, { teacher, preset: 'tiny', options: { lambdaReal }, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
      const g = imagePathGradient(inst, 'generator', 0, stepContext(inst, teacher, { phase: 'generator', step: 0, batch }).ctx);
      expect(g.variables).toContain('patch_embed_image.kernel');
      expect(g.max).toBeGreaterThan(0);
      expect(imagePathGradient(inst, 'generator', 0, stepContext(inst, teacher, { phase: 'generator', step: 0, batch: noImage }).ctx).max).toBe(0);
      inst.dispose();
    }
    const inst = instantiateRecipe(mcm, { teacher, preset: 'tiny', options: { discriminatorFeatures: 'teacher', lambdaReal: 1 }, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    const d = termLoss(inst, 'discriminator', 0, stepContext(inst, teacher, { phase: 'discriminator', step: 0, batch }).ctx);
    const swapped = { ...batch, image: tf.reverse(batch['image']!, 0) };
    const dSwapped = termLoss(inst, 'discriminator', 0, stepContext(inst, teacher, { phase: 'discriminator', step: 0, batch: swapped }).ctx);
    expect(Number.isFinite(d)).toBe(true);
    expect(dSwapped).not.toBe(d);
    swapped.image.dispose();
    inst.dispose();
    tf.dispose(Object.values(batch));
    teacher.backbone.net.dispose();
  });

  it('distills a few steps on I2V pairs; the 4-step student follows its condition', async () => {
    const teacher = tinyI2vTeacher({ seed: 3 });
    const out = await distill({ recipe: mcm, teacher, preset: 'tiny', data: { real: i2vRealSource() }, sampleShape: shape, batchSize: TINY_BATCH, steps: 3, seed: 3 });
    expect(out.summaries[0]!.step).toBe(3);
    expect(maxAbsDiff(out.student.variable('patch_embed_image.kernel'), teacher.backbone.net.variable('patch_embed_image.kernel'))).toBeGreaterThan(0);
    const student = modelDenoiser({ ...teacher, backbone: teacher.backbone.withNetwork(out.student) });
    const { condition, imageNoiseSigma, x0 } = sampleI2vPairs(tinyI2vMixture(), 2, seededRng(11));
    const swapped = tf.reverse(condition, 0);
    const noise = randomNormal([2, ...shape], seededRng(4));
    const sampler = studentSampler(out.spec, teacher.schedule);
    const a = sampler.sample(student, noise, { cond: { image: condition, imageNoiseSigma }, rng: 6 });
    const b = sampler.sample(student, noise, { cond: { image: swapped, imageNoiseSigma }, rng: 6 });
    expect(a.nfe).toBe(4);
    expect(maxAbsDiff(a.sample, b.sample)).toBeGreaterThan(1e-3);
    tf.dispose([condition, imageNoiseSigma, x0, swapped, noise, a.sample, b.sample]);
    out.student.dispose();
    teacher.backbone.net.dispose();
  }, 60_000);
});
