import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startRun, valueAndGrads } from '@fewstep/core';
import { computeTerm, firstBatch, movedRoles, snapshot, termLoss, trainingContext } from '../testing/recipe-harness.test-util.js';
import { TINY_BATCH, tinyMixture, tinyTeacher, trajectorySource } from '../testing/tiny-world.test-util.js';
import { instantiateRecipe } from '../runtime/distill.js';
import { accVideo, accVideoStudent, accVideoTrajectoryTimes } from './accvideo.recipe.js';
import { accVideoAdm } from './hybrid-accvideo-adm.recipe.js';

const shape = tinyMixture().shape;

describe('recipe:accvideo-adm (AccVideo Eq. 6 + ADM Eq. 7-8, composed in code)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('composes the trajectory loss with ADM: roles, phases in ADM order, optimizers, the AccVideo student', () => {
    const teacher = tinyTeacher();
    const inst = instantiateRecipe(accVideoAdm, { teacher, preset: 'paper', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    expect(Object.keys(inst.networks).sort()).toEqual(['discriminator', 'fakeScore', 'generator']);
    expect(inst.phases.map((p) => [p.name, p.role, p.losses.map(([d, o]) => [d.name, o.weight])])).toEqual([
      ['fakeScore', 'fakeScore', [['sdm:fake-score-denoising', undefined]]],
      ['generator', 'generator', [['consistency:trajectory', undefined], ['adv:adm-generator', 0.1]]],
      ['discriminator', 'discriminator', [['adv:adm-discriminator', undefined]]],
    ]);
    expect(inst.phases.map((p) => p.optimizer)).toEqual([
      { type: 'adamw', lr: 1e-6, betas: [0, 0.99], weightDecay: 0 },
      { type: 'adamw', lr: 5e-6, weightDecay: 0.01 },
      { type: 'adamw', lr: 5e-6, betas: [0, 0.99], weightDecay: 0 },
    ]);
    expect(inst.student).toEqual(accVideoStudent({ timesteps: 'key' }));
    // ADM's D: one head per teacher block.
    expect(new Set([...inst.networks.discriminator!.variables().keys()].map((n) => n.split('.')[0]))).toEqual(new Set(['head0', 'head1']));
    inst.dispose();
    const uniform = instantiateRecipe(accVideoAdm, { teacher, preset: 'tiny', options: { timesteps: 'uniform' }, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    expect(uniform.student).toEqual(accVideoStudent({ timesteps: 'uniform' }));
    uniform.dispose();
    teacher.backbone.net.dispose();
  });

  it('its trajectory term is AccVideo\'s (same value on every segment)', async () => {
    const teacher = tinyTeacher();
    const data = trajectorySource(accVideoTrajectoryTimes());
    const batch = await firstBatch(data.source);
    const hybrid = instantiateRecipe(accVideoAdm, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    const acc = instantiateRecipe(accVideo, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    for (let step = 0; step < 5; step++) {
      const a = termLoss(hybrid, 1, 0, trainingContext(hybrid, { phase: 1, step, batch }));
      const b = termLoss(acc, 0, 0, trainingContext(acc, { phase: 0, step, batch }));
      expect(a).toBeGreaterThan(0);
      expect(a).toBe(b);
    }
    hybrid.dispose();
    acc.dispose();
    tf.dispose(Object.values(batch));
    data.dispose();
    teacher.backbone.net.dispose();
  });

  it('ADM at initialization: fake score = teacher, so D sees identical steps (L_D >= 2, equal probs); L_G reaches the generator', async () => {
    const teacher = tinyTeacher();
    const data = trajectorySource(accVideoTrajectoryTimes());
    const batch = await firstBatch(data.source);
    const inst = instantiateRecipe(accVideoAdm, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    tf.tidy(() => {
      const out = computeTerm(inst, 2, 0, trainingContext(inst, { phase: 2, step: 0, batch }));
      expect(out.loss.dataSync()[0]).toBeGreaterThanOrEqual(2 - 1e-6);
      expect(out.metrics!.dRealProb!.dataSync()[0]).toBeCloseTo(out.metrics!.dFakeProb!.dataSync()[0]!, 6);
    });
    const { value, grads } = valueAndGrads(inst.networks.generator!, () => computeTerm(inst, 1, 1, trainingContext(inst, { phase: 1, step: 0, batch })).loss);
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    expect(grads.size).toBeGreaterThan(0);
    expect([...grads.values()].some((g) => tf.max(tf.abs(g)).dataSync()[0]! > 0)).toBe(true);
    tf.dispose([value, ...grads.values()]);
    inst.dispose();
    tf.dispose(Object.values(batch));
    data.dispose();
    teacher.backbone.net.dispose();
  });

  it('each phase moves only its own role; a full step moves all three and never the teacher', async () => {
    const teacher = tinyTeacher();
    const data = trajectorySource(accVideoTrajectoryTimes());
    const teacher0 = snapshot({ teacher: teacher.backbone.net });
    for (const [i, role] of ['fakeScore', 'generator', 'discriminator'].entries()) {
      const inst = instantiateRecipe(accVideoAdm, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
      const before = snapshot(inst.networks);
      await startRun({ seed: 1, steps: 1, roles: inst.networks, phases: [inst.phases[i]!], data: data.source }).result;
      expect(movedRoles(before, inst.networks)).toEqual([role]);
      inst.dispose();
    }
    const inst = instantiateRecipe(accVideoAdm, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    const before = snapshot(inst.networks);
    const tensors = tf.memory().numTensors;
    await startRun({ seed: 1, steps: 1, roles: inst.networks, phases: inst.phases, data: data.source }).result;
    expect(tf.memory().numTensors).toBe(tensors);
    expect(movedRoles(before, inst.networks)).toEqual(['discriminator', 'fakeScore', 'generator']);
    expect(movedRoles(teacher0, { teacher: teacher.backbone.net })).toEqual([]);
    inst.dispose();
    data.dispose();
    teacher.backbone.net.dispose();
  }, 30_000);

  it('validates its options (strict, ranges) and the teacher schedule', () => {
    const teacher = tinyTeacher();
    const common = { teacher, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 };
    expect(() => instantiateRecipe(accVideoAdm, { ...common, options: { lambdaAdv: 0.1 } })).toThrow(/known options: .*lambdaAdm/s);
    expect(() => instantiateRecipe(accVideoAdm, { ...common, options: { lambdaAdm: -1 } })).toThrow(/lambdaAdm.*-1/s);
    expect(() => instantiateRecipe(accVideoAdm, { ...common, options: { deltaTFraction: 0 } })).toThrow(/deltaTFraction/);
    expect(() => instantiateRecipe(accVideoAdm, { ...common, options: { timesteps: 'cosine' } })).toThrow(/timesteps/);
    const vp = tinyTeacher({ schedule: 'vp' });
    expect(() => instantiateRecipe(accVideoAdm, { ...common, teacher: vp })).toThrow(/schedule/);
    vp.backbone.net.dispose();
    teacher.backbone.net.dispose();
  });
});
