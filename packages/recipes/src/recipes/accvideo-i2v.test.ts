/**
 * AccVideo with an image-to-video teacher (issue 10 item 3): trajectories that record the
 * condition they were solved under (`{ trajectory, image, imageNoiseSigma }`) drive both student
 * terms and the teacher-feature critic.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomNormal, sampleI2vPairs, seededRng } from '@fewstep/core';
import { distill, instantiateRecipe } from '../runtime/distill.js';
import { modelDenoiser } from '../runtime/diffusion-model.js';
import { studentSampler } from '../runtime/student.js';
import { firstBatch, imagePathGradient, maxAbsDiff, stepContext, termLoss } from '../testing/recipe-harness.test-util.js';
import { TINY_BATCH, i2vTrajectorySource, tinyI2vMixture, tinyI2vTeacher } from '../testing/tiny-world.test-util.js';
import { accVideo, accVideoTrajectoryTimes } from './accvideo.recipe.js';

const shape = tinyI2vMixture().shape;

describe('recipe:accvideo on an image-to-video teacher', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('the recorded condition reaches the student in the trajectory and adversarial terms; the critic runs [real; fake] under the stacked condition', async () => {
    const teacher = tinyI2vTeacher({ seed: 3 });
    const data = i2vTrajectorySource(accVideoTrajectoryTimes());
    const batch = await firstBatch(data.source);
    const { image: _drop, ...noImage } = batch;
    const inst = instantiateRecipe(accVideo, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    for (const step of [0, 3]) {
      for (const term of [0, 1]) {
        const g = imagePathGradient(inst, 'generator', term, stepContext(inst, teacher, { phase: 'generator', step, batch }).ctx);
        expect(g.variables).toContain('patch_embed_image.kernel');
        expect(g.max).toBeGreaterThan(0);
        expect(imagePathGradient(inst, 'generator', term, stepContext(inst, teacher, { phase: 'generator', step, batch: noImage }).ctx).max).toBe(0);
      }
      // One teacher pass over concat([real, fake]) (2B) with the batch's B conditions stacked; the image changes D's loss.
      const d = termLoss(inst, 'discriminator', 0, stepContext(inst, teacher, { phase: 'discriminator', step, batch }).ctx);
      const swapped = { ...batch, image: tf.reverse(batch['image']!, 0) };
      const dSwapped = termLoss(inst, 'discriminator', 0, stepContext(inst, teacher, { phase: 'discriminator', step, batch: swapped }).ctx);
      expect(Number.isFinite(d)).toBe(true);
      expect(dSwapped).not.toBe(d);
      swapped.image.dispose();
    }
    inst.dispose();
    tf.dispose(Object.values(batch));
    data.dispose();
    teacher.backbone.net.dispose();
  });

  it('distills on I2V trajectories; the 5-step ODE student follows its condition', async () => {
    const teacher = tinyI2vTeacher({ seed: 3 });
    const data = i2vTrajectorySource(accVideoTrajectoryTimes());
    const out = await distill({ recipe: accVideo, teacher, preset: 'tiny', data: { trajectories: data.source }, sampleShape: shape, batchSize: TINY_BATCH, steps: 3, seed: 3 });
    expect(out.summaries[0]!.step).toBe(3);
    expect(maxAbsDiff(out.student.variable('patch_embed_image.kernel'), teacher.backbone.net.variable('patch_embed_image.kernel'))).toBeGreaterThan(0);
    const student = modelDenoiser({ ...teacher, backbone: teacher.backbone.withNetwork(out.student) });
    const { condition, imageNoiseSigma, x0 } = sampleI2vPairs(tinyI2vMixture(), 2, seededRng(11));
    const swapped = tf.reverse(condition, 0);
    const noise = randomNormal([2, ...shape], seededRng(4));
    const sampler = studentSampler(out.spec, teacher.schedule);
    const a = sampler.sample(student, noise, { cond: { image: condition, imageNoiseSigma } });
    const b = sampler.sample(student, noise, { cond: { image: swapped, imageNoiseSigma } });
    expect(a.nfe).toBe(5);
    expect(maxAbsDiff(a.sample, b.sample)).toBeGreaterThan(1e-3);
    tf.dispose([condition, imageNoiseSigma, x0, swapped, noise, a.sample, b.sample]);
    out.student.dispose();
    data.dispose();
    teacher.backbone.net.dispose();
  }, 60_000);
});
