import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, randomNormal, seededRng } from '@fewstep/core';
import { lcm } from '../recipes/lcm.recipe.js';
import { expectResumedBitExact, tempDirs } from '../testing/recipe-harness.test-util.js';
import { TINY_BATCH, realSource, tinyMixture, tinyTeacher } from '../testing/tiny-world.test-util.js';
import { distill, instantiateRecipe } from './distill.js';
import { loadModelDirectory, saveModelDirectory } from './model-directory.js';
import { studentSampler } from './student.js';

const tmp = tempDirs('fewstep-recipe-');

describe('recipe runtime (LCM on a tiny flow-matching DiT)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  const shape = tinyMixture().shape;

  it('validates options: a bad value and an unknown key name the field, the value and what is allowed', () => {
    const teacher = tinyTeacher();
    const common = { teacher, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 };
    expect(() => instantiateRecipe(lcm, { ...common, options: { emaDecay: 2 } })).toThrow(ConfigError);
    expect(() => instantiateRecipe(lcm, { ...common, options: { emaDecay: 2 } })).toThrow(/emaDecay.*2/s);
    expect(() => instantiateRecipe(lcm, { ...common, options: { emaDeacy: 0.9 } })).toThrow(/known options: .*emaDecay/s);
    expect(() => instantiateRecipe(lcm, { ...common, preset: 'huge' })).toThrow(/paper, tiny/);
    teacher.backbone.net.dispose();
  });

  it('trains only the generator, keeps the EMA target, and the student starts as the teacher', () => {
    const teacher = tinyTeacher();
    const inst = instantiateRecipe(lcm, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    expect(Object.keys(inst.networks).sort()).toEqual(['generator', 'generatorEma']);
    expect(inst.phases.map((p) => [p.name, p.role])).toEqual([['generator', 'generator']]);
    expect(inst.student).toEqual({ parameterization: 'consistency', sampler: 'multistep', steps: 4 });
    const s = inst.exportStudent();
    for (const [n, v] of teacher.backbone.net.variables()) expect(tf.max(tf.abs(tf.sub(v, s.variable(n)))).dataSync()[0]).toBe(0);
    s.dispose();
    inst.dispose();
    teacher.backbone.net.dispose();
  });

  it('distills, resumes bit-exactly after an interruption, and the saved student samples in k steps', async () => {
    const teacher = tinyTeacher();
    const base = { recipe: lcm, teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 3, data: { real: realSource() } } as const;
    const straight = await distill({ ...base, steps: 4, outDir: tmp(), checkpoint: { every: 2 } });
    const out = tmp();
    const half = await distill({ ...base, steps: 2, outDir: out, checkpoint: { every: 2 } });
    half.student.dispose();
    const resumed = await distill({ ...base, steps: 4, outDir: out, checkpoint: { every: 2 } });
    expectResumedBitExact(straight, resumed, teacher.backbone.net);

    const dir = join(tmp(), 'student');
    await saveModelDirectory(dir, { backbone: teacher.backbone, network: straight.student, schedule: teacher.schedule, predictionType: teacher.predictionType }, { role: 'student', sampleShape: shape, student: straight.spec });
    const loaded = await loadModelDirectory(dir);
    expect(loaded.student).toEqual(straight.spec);
    for (const [n, v] of straight.student.variables()) expect(Array.from(loaded.model.backbone.net.variable(n).dataSync())).toEqual(Array.from(v.dataSync()));
    for (const k of [1, 2, 4]) {
      const noise = randomNormal([3, ...shape], seededRng(1));
      const { modelDenoiser } = await import('./diffusion-model.js');
      const r = studentSampler(loaded.student!, loaded.model.schedule, k).sample(modelDenoiser(loaded.model), noise, { rng: 5 });
      expect(r.nfe).toBe(k);
      expect(r.sample.shape).toEqual([3, ...shape]);
      expect(tf.all(tf.isFinite(r.sample)).dataSync()[0]).toBe(1);
      tf.dispose([noise, r.sample]);
    }
    loaded.dispose();
    straight.student.dispose();
    resumed.student.dispose();
    teacher.backbone.net.dispose();
  }, 120_000);
});
