/**
 * OSV on its native task, image-to-video (issue 10 item 3): both stages and the Time-Travel
 * Sampler with an I2V teacher (tiny DiT with `imageCondition`) on `{ x0, image, imageNoiseSigma }`
 * batches of the tiny `gmm-i2v:` mixture.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomNormal, seededRng } from '@fewstep/core';
import { distill, instantiateRecipe } from '../runtime/distill.js';
import { modelDenoiser } from '../runtime/diffusion-model.js';
import { studentSampler } from '../runtime/student.js';
import { firstBatch, imagePathGradient, maxAbsDiff, stepContext } from '../testing/recipe-harness.test-util.js';
import { TINY_BATCH, i2vRealSource, tinyI2vMixture, tinyI2vTeacher } from '../testing/tiny-world.test-util.js';
import { osv, osvCriticInput, osvStage1, osvStage2, osvTeacherOptions } from './osv.recipe.js';

const shape = tinyI2vMixture().shape; // [2, 4, 4, 3]

describe('OSV on an image-to-video teacher', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('both stages: the conditioning frame reaches the trained student (image-path gradient), and none without it; the critic sees it first', async () => {
    const teacher = tinyI2vTeacher({ seed: 3 });
    const batch = await firstBatch(i2vRealSource());
    const { image: _drop, ...noImage } = batch;
    for (const [recipe, options] of [
      [osvStage1, {}],
      [osvStage2, { m: 2 }],
    ] as const) {
      const inst = instantiateRecipe(recipe as typeof osvStage1, { teacher, preset: 'tiny', options, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
      const { ctx, rc } = stepContext(inst, teacher, { phase: 'generator', step: 0, batch });
      expect(Object.keys(rc.cond ?? {}).sort()).toEqual(['image', 'imageNoiseSigma']);
      const g = imagePathGradient(inst, 'generator', 0, ctx);
      expect(g.variables.some((n) => n.startsWith('patch_embed_image.kernel.lora_'))).toBe(true);
      expect(g.max).toBeGreaterThan(0);
      const none = imagePathGradient(inst, 'generator', 0, stepContext(inst, teacher, { phase: 'generator', step: 0, batch: noImage }).ctx);
      expect(none.max).toBe(0);
      // The critic's input: [B, 1 + F, H, W, C], frame 0 the condition, then the video.
      const x = randomNormal([TINY_BATCH, ...shape], seededRng(2));
      const framed = osvCriticInput(rc, x);
      expect(framed.shape).toEqual([TINY_BATCH, shape[0]! + 1, ...shape.slice(1)]);
      expect(maxAbsDiff(tf.squeeze(tf.slice(framed, [0, 0], [-1, 1]), [1]), batch['image']!)).toBe(0);
      expect(maxAbsDiff(tf.slice(framed, [0, 1], [-1, -1]), x)).toBe(0);
      tf.dispose([x, framed]);
      inst.dispose();
    }
    tf.dispose(Object.values(batch));
    teacher.backbone.net.dispose();
  });

  it('CFG c0 drops the image (null embedding) and keeps the noise level', () => {
    const image = tf.ones([2, 4, 4, 3]);
    const imageNoiseSigma = tf.fill([2], 0.05);
    const g = osvTeacherOptions({ image, imageNoiseSigma }, 3);
    expect(Object.keys(g.guidance!.uncond!)).toEqual(['imageNoiseSigma']);
    expect(g.guidance!.uncond!.imageNoiseSigma).toBe(imageNoiseSigma);
    tf.dispose([image, imageNoiseSigma]);
  });

  it('recipe:osv runs both stages on I2V pairs; the 1-step TTS student (image conditioning inherited) follows its condition', async () => {
    const teacher = tinyI2vTeacher({ seed: 3 });
    const out = await distill({ recipe: osv, teacher, preset: 'tiny', options: { m: 2 }, data: { real: i2vRealSource() }, sampleShape: shape, batchSize: TINY_BATCH, steps: 3, seed: 3 });
    expect(out.summaries.map((s) => s.step)).toEqual([1, 2]);
    expect(out.spec).toEqual({ parameterization: 'consistency', sampler: 'time-travel', steps: 1 });
    expect(out.student.has('patch_embed_image.kernel')).toBe(true);
    expect(maxAbsDiff(out.student.variable('patch_embed_image.kernel'), teacher.backbone.net.variable('patch_embed_image.kernel'))).toBeGreaterThan(0);
    const student = modelDenoiser({ ...teacher, backbone: teacher.backbone.withNetwork(out.student) });
    const sampler = studentSampler(out.spec, teacher.schedule);
    const { condition, imageNoiseSigma, x0 } = (await import('@fewstep/core')).sampleI2vPairs(tinyI2vMixture(), 2, seededRng(11));
    const noise = randomNormal([2, ...shape], seededRng(4));
    const a = sampler.sample(student, noise, { cond: { image: condition, imageNoiseSigma }, rng: 5 });
    const again = sampler.sample(student, noise, { cond: { image: condition, imageNoiseSigma }, rng: 5 });
    const swapped = tf.reverse(condition, 0);
    const b = sampler.sample(student, noise, { cond: { image: swapped, imageNoiseSigma }, rng: 5 });
    expect(a.nfe).toBe(2);
    expect(maxAbsDiff(a.sample, again.sample)).toBe(0);
    expect(maxAbsDiff(a.sample, b.sample)).toBeGreaterThan(1e-3);
    tf.dispose([condition, imageNoiseSigma, x0, noise, swapped, a.sample, again.sample, b.sample]);
    out.student.dispose();
    teacher.backbone.net.dispose();
  }, 60_000);
});
