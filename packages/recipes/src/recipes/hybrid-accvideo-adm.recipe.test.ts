import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { INITIAL_CURSOR, StepRandom, startRun, valueAndGrads, type Network, type TrainingContext } from '@fewstep/core';
import { TINY_BATCH, tinyMixture, tinyTeacher, trajectorySource } from '../testing/tiny-world.test-util.js';
import { instantiateRecipe, type InstantiatedRecipe } from '../runtime/distill.js';
import { accVideo, accVideoStudent, accVideoTrajectoryTimes } from './accvideo.recipe.js';
import { accVideoAdm } from './hybrid-accvideo-adm.recipe.js';

const shape = tinyMixture().shape;

function phaseContext(inst: InstantiatedRecipe, phaseIndex: number, step: number, batch: tf.NamedTensorMap, seed = 1): TrainingContext {
  const p = inst.phases[phaseIndex]!;
  const random = new StepRandom(seed, step, p.name!);
  return {
    step,
    phase: p.name!,
    role: p.role,
    seed,
    networks: inst.networks,
    network: (r) => inst.networks[r]!,
    batch,
    batchId: null,
    rng: (s) => random.rng(s),
    randomNormal: (sh, s, std) => random.normal(sh, s, std),
    randomUniform: (sh, s, lo, hi) => random.uniform(sh, s, lo, hi),
  };
}

function compute(inst: InstantiatedRecipe, phaseIndex: number, term: number, ctx: TrainingContext) {
  const [def, opts] = inst.phases[phaseIndex]!.losses[term]!;
  return def.compute(ctx, { ...(def.defaults as object), ...(opts ?? {}) });
}

function snapshot(nets: Readonly<Record<string, Network>>): Record<string, Float32Array[]> {
  return Object.fromEntries(Object.entries(nets).map(([r, n]) => [r, [...n.variables().values()].map((v) => v.dataSync().slice() as Float32Array)]));
}

function movedRoles(before: Record<string, Float32Array[]>, nets: Readonly<Record<string, Network>>): string[] {
  return Object.entries(nets)
    .filter(([r, n]) => [...n.variables().values()].some((v, i) => v.dataSync().some((x, j) => x !== before[r]![i]![j])))
    .map(([r]) => r)
    .sort();
}

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
    const batch = (await data.source.next(INITIAL_CURSOR, 0)).tensors;
    const hybrid = instantiateRecipe(accVideoAdm, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    const acc = instantiateRecipe(accVideo, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    for (let step = 0; step < 5; step++) {
      const a = tf.tidy(() => compute(hybrid, 1, 0, phaseContext(hybrid, 1, step, batch)).loss.dataSync()[0]!);
      const b = tf.tidy(() => compute(acc, 0, 0, phaseContext(acc, 0, step, batch)).loss.dataSync()[0]!);
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
    const batch = (await data.source.next(INITIAL_CURSOR, 0)).tensors;
    const inst = instantiateRecipe(accVideoAdm, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    tf.tidy(() => {
      const out = compute(inst, 2, 0, phaseContext(inst, 2, 0, batch));
      expect(out.loss.dataSync()[0]).toBeGreaterThanOrEqual(2 - 1e-6);
      expect(out.metrics!.dRealProb!.dataSync()[0]).toBeCloseTo(out.metrics!.dFakeProb!.dataSync()[0]!, 6);
    });
    const { value, grads } = valueAndGrads(inst.networks.generator!, () => compute(inst, 1, 1, phaseContext(inst, 1, 0, batch)).loss);
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
