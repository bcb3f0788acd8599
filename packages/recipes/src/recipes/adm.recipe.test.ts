import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, applyGuidance, flowMatchingSchedule, startRun } from '@fewstep/core';
import { VideoDiT, perturbZeroInitialised } from '@fewstep/backbones';
import { admBackwardStep, pfOdeStep, type AdmInputs } from '@fewstep/loss-adversarial';
import { fakeScoreDenoisingLoss, type FakeScoreDenoisingInputs } from '@fewstep/loss-sdm';
import { expectResumedBitExact, liveTeacher, maxAbsDiff, movedRoles, snapshot, stepContext, stepLosses, tempDirs } from '../testing/recipe-harness.test-util.js';
import { TINY_BATCH, tinyMixture } from '../testing/tiny-world.test-util.js';
import type { BackboneLike, Conditioning, DiffusionModel } from '../runtime/diffusion-model.js';
import { distill, instantiateRecipe, type InstantiatedRecipe } from '../runtime/distill.js';
import type { RecipeContext } from '../runtime/recipe-context.js';
import { adm, zeroedConditioning, type AdmDiscriminatorApi, type AdmOptions } from './adm.recipe.js';

const shape = tinyMixture().shape;
const tmp = tempDirs('fewstep-adm-');
const ADM = { deltaTFraction: 1 / 64 };

/** A recipe context for phase `phase` at `step` (run seed 7), as the trainer builds it. */
function contextFor(inst: InstantiatedRecipe<AdmOptions>, teacher: DiffusionModel, step: number, phase: string, batch: tf.NamedTensorMap = {}, batchSize = TINY_BATCH): RecipeContext<AdmOptions> {
  return stepContext(inst, teacher, { phase, step, seed: 7, batch, batchSize }).rc;
}

/** The loss inputs the recipe's phase `index` builds (term 0). */
function inputsOf(rc: RecipeContext<AdmOptions>, index: number): AdmInputs<Conditioning> {
  const term = adm.phases[index]!.terms[0]!;
  return term.inputs(rc, {}) as AdmInputs<Conditioning>;
}

describe('recipe:adm (ADM Eq. 7-8, Algorithm 1)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('validates options: ranges, unknown keys and tap names name the field and what is allowed', () => {
    const teacher = liveTeacher();
    const common = { teacher, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 };
    expect(() => instantiateRecipe(adm, { ...common, options: { realGuidance: { min: 8, max: 6 } } })).toThrow(/realGuidance.*min <= max/s);
    expect(() => instantiateRecipe(adm, { ...common, options: { steps: 0 } })).toThrow(ConfigError);
    expect(() => instantiateRecipe(adm, { ...common, options: { ttur: 0 } })).toThrow(/ttur/);
    expect(() => instantiateRecipe(adm, { ...common, options: { deltaTFraction: 0 } })).toThrow(/deltaTFraction/);
    expect(() => instantiateRecipe(adm, { ...common, options: { tur: 2 } })).toThrow(/known options: .*ttur/s);
    expect(() => instantiateRecipe(adm, { ...common, options: { discriminatorTaps: ['mid'] } })).toThrow(/block\.0, block\.1/);
    teacher.backbone.net.dispose();
  });

  it('builds generator, fake score (both = the teacher) and teacher-tap heads; paper optimizers; TTUR', () => {
    const teacher = liveTeacher();
    const inst = instantiateRecipe(adm, { teacher, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    expect(Object.keys(inst.networks).sort()).toEqual(['discriminator', 'fakeScore', 'generator']);
    expect(inst.phases.map((p) => [p.name, p.role, p.every, p.offset])).toEqual([
      ['fakeScore', 'fakeScore', 1, 0],
      ['generator', 'generator', 1, 0],
      ['discriminator', 'discriminator', 1, 0],
    ]);
    expect(inst.phases.map((p) => p.optimizer)).toEqual([
      { type: 'adamw', lr: 1e-6, betas: [0, 0.99], weightDecay: 0 },
      { type: 'adamw', lr: 1e-7, betas: [0, 0.99], weightDecay: 0 },
      { type: 'adamw', lr: 5e-6, betas: [0, 0.99], weightDecay: 0 },
    ]);
    expect(inst.student).toEqual({ parameterization: 'x0', sampler: 'multistep', steps: 1 });
    for (const role of ['generator', 'fakeScore']) {
      for (const [n, v] of teacher.backbone.net.variables()) expect(maxAbsDiff(v, inst.networks[role]!.variable(n))).toBe(0);
    }
    const heads = (inst.roles.get('discriminator')!.api as AdmDiscriminatorApi).heads;
    expect(heads.keys).toEqual(['block.0', 'block.1']);
    expect([...inst.networks.discriminator!.variables().keys()].every((n) => n.startsWith('latent.block.'))).toBe(true);
    inst.dispose();
    const ttur = instantiateRecipe(adm, { teacher, sampleShape: shape, batchSize: TINY_BATCH, seed: 1, options: { ttur: 3, steps: 2, discriminatorTaps: 1 } });
    expect(ttur.phases.map((p) => [p.every, p.offset])).toEqual([[1, 0], [3, 2], [3, 2]]);
    expect(ttur.student.steps).toBe(2);
    expect((ttur.roles.get('discriminator')!.api as AdmDiscriminatorApi).heads.keys).toEqual(['block.1']);
    ttur.dispose();
    teacher.backbone.net.dispose();
  });

  it('with fakeScore == teacher the fake and real PF-ODE steps coincide; D sees the generator step of Algorithm 1', () => {
    const teacher = liveTeacher();
    const inst = instantiateRecipe(adm, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    const rcG = contextFor(inst, teacher, 3, 'generator');
    const g = inputsOf(rcG, 1);
    expect(g.x0Hat).toBeInstanceOf(tf.Tensor);
    const x0Hat = g.x0Hat as tf.Tensor;
    expect(x0Hat.shape).toEqual([TINY_BATCH, ...shape]);
    const t = g.t as tf.Tensor;
    expect(t.shape).toEqual([TINY_BATCH]);
    const tv = Array.from(t.dataSync());
    expect(tv.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(g.real).toBe(rcG.teacher); // unconditional: no CFG
    const step = admBackwardStep(g, ADM);
    expect(maxAbsDiff(step.xFake, step.xReal)).toBeLessThan(1e-6);
    Array.from(step.tPrev.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(Math.max(tv[i]! - 1 / 64, 0), 6));
    // x_t = alpha x0_hat + sigma eps and one DDIM / Euler step with the teacher: the loss's x^real.
    const manual = tf.tidy(() => pfOdeStep(rcG.teacher, tf.add(tf.mul(x0Hat, tf.reshape(tf.sub(1, t), [-1, 1, 1, 1, 1])), tf.mul(g.eps, tf.reshape(t, [-1, 1, 1, 1, 1]))), t, step.tPrev));
    expect(maxAbsDiff(manual, step.xReal)).toBeLessThan(1e-5);

    // Algorithm 1 line 26: the discriminator phase of the same step sees the same x0_hat, eps, t.
    const rcD = contextFor(inst, teacher, 3, 'discriminator');
    const d = inputsOf(rcD, 2);
    expect(maxAbsDiff(d.x0Hat as tf.Tensor, x0Hat)).toBe(0);
    expect(maxAbsDiff(d.eps, g.eps)).toBe(0);
    expect(maxAbsDiff(d.t as tf.Tensor, t)).toBe(0);
    const stepD = admBackwardStep(d, ADM);
    expect(maxAbsDiff(stepD.xFake, step.xFake)).toBe(0);
    // At another step without a generator phase it draws its own sample.
    const other = inputsOf(contextFor(inst, teacher, 4, 'discriminator'), 2);
    expect(maxAbsDiff(other.eps, g.eps)).toBeGreaterThan(0);

    // Once the fake model moves, the two PF-ODE steps differ.
    const fake = inst.networks.fakeScore!;
    const v = fake.variable('proj_out.kernel');
    v.assign(tf.tidy(() => tf.add(v, tf.mul(tf.onesLike(v), 0.05))));
    const moved = admBackwardStep(g, ADM);
    expect(maxAbsDiff(moved.xFake, moved.xReal)).toBeGreaterThan(1e-4);
    tf.dispose([step.xFake, step.xReal, step.tPrev, stepD.xFake, stepD.xReal, stepD.tPrev, moved.xFake, moved.xReal, moved.tPrev, manual]);
    inst.dispose();
    teacher.backbone.net.dispose();
  });

  it('applies real-model CFG with w ~ U[min, max] when the batch carries conditioning (uncond = zeroed pooled)', () => {
    const backbone = VideoDiT.preset('tiny', { inChannels: 3, outChannels: 3, contextDim: null, pooledDim: 4, hiddenDim: 16, depth: 2, heads: 2, freqDim: 16, seed: 2 } as never) as unknown as BackboneLike;
    backbone.net.freeze();
    perturbZeroInitialised(backbone.net, 1, 0.2);
    const teacher: DiffusionModel = { backbone, schedule: flowMatchingSchedule(), predictionType: 'flow' };
    const inst = instantiateRecipe(adm, { teacher, preset: 'tiny', options: { realGuidance: { min: 3, max: 4 } }, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    const pooled = tf.randomNormal([TINY_BATCH, 4], 0, 1, 'float32', 3);
    const rc = contextFor(inst, teacher, 0, 'generator', { pooled });
    const g = inputsOf(rc, 1);
    const w = (inst.roles.get('discriminator')!.api as AdmDiscriminatorApi).cache.peek(0)!.w!;
    expect(w).toBeGreaterThanOrEqual(3);
    expect(w).toBeLessThanOrEqual(4);
    expect(g.real).not.toBe(rc.teacher);
    const step = admBackwardStep(g, ADM);
    const manual = tf.tidy(() => {
      const t = g.t as tf.Tensor;
      const xt = tf.add(tf.mul(g.x0Hat as tf.Tensor, tf.reshape(tf.sub(1, t), [-1, 1, 1, 1, 1])), tf.mul(g.eps, tf.reshape(t, [-1, 1, 1, 1, 1])));
      const guided = {
        schedule: rc.teacher.schedule,
        predictionType: rc.teacher.predictionType,
        predict: (x: tf.Tensor, tt: tf.Tensor) => applyGuidance(rc.teacher.predict(x, tt, { pooled }), rc.teacher.predict(x, tt, zeroedConditioning({ pooled })), w),
      };
      return pfOdeStep(guided, xt, t, step.tPrev);
    });
    expect(maxAbsDiff(manual, step.xReal)).toBeLessThan(1e-5);
    // The unguided real step differs (the guidance is not a no-op here).
    const plain = admBackwardStep({ ...g, real: rc.teacher }, ADM);
    expect(maxAbsDiff(plain.xReal, step.xReal)).toBeGreaterThan(1e-5);
    tf.dispose([pooled, manual, step.xFake, step.xReal, step.tPrev, plain.xFake, plain.xReal, plain.tPrev]);
    inst.dispose();
    backbone.net.dispose();
  });

  it('each phase trains only its own role', async () => {
    const teacher = liveTeacher();
    for (const index of [0, 1, 2]) {
      const inst = instantiateRecipe(adm, { teacher, preset: 'tiny', options: { steps: 2 }, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
      const before = snapshot(inst.networks);
      const summary = await startRun({ seed: 2, steps: 1, roles: inst.networks, phases: [inst.phases[index]!], resume: 'never' }).result;
      expect(summary.step).toBe(1);
      expect(movedRoles(before, inst.networks)).toEqual([inst.phases[index]!.role]);
      inst.dispose();
    }
    teacher.backbone.net.dispose();
  }, 30_000);

  it('a short run of the fake-score phase lowers its denoising loss on a fixed evaluation draw; all phases stay finite on a VP teacher (k = 2) and nothing leaks', async () => {
    const teacher = liveTeacher();
    const inst = instantiateRecipe(adm, { teacher, preset: 'tiny', options: { lrFake: 1e-2 }, sampleShape: shape, batchSize: 8, seed: 1 });
    // The generator is not trained here, so the same streams give the same (x0, eps, t) draw.
    const evalLoss = (): number =>
      tf.tidy(() => {
        const rc = contextFor(inst, teacher, 10_000, 'fakeScore', {}, 16);
        const inputs = adm.phases[0]!.terms[0]!.inputs(rc, {}) as FakeScoreDenoisingInputs;
        return fakeScoreDenoisingLoss.compute(inputs, {}).loss.dataSync()[0]!;
      });
    const before = evalLoss();
    const losses = (await stepLosses({ seed: 3, steps: 16, roles: inst.networks, phases: [inst.phases[0]!], resume: 'never' })).map((l) => l['fakeScore/sdm:fake-score-denoising']!);
    expect(losses).toHaveLength(16);
    expect(losses.every(Number.isFinite)).toBe(true);
    // Much of this loss is irreducible (the eps - x0 target's conditional variance), so the margin is modest.
    expect(evalLoss()).toBeLessThan(0.96 * before);
    inst.dispose();
    teacher.backbone.net.dispose();

    const vp = liveTeacher({ schedule: 'vp' });
    const start = tf.memory().numTensors;
    const vInst = instantiateRecipe(adm, { teacher: vp, preset: 'tiny', options: { steps: 2 }, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    const vLosses = await stepLosses({ seed: 3, steps: 2, roles: vInst.networks, phases: vInst.phases, resume: 'never' });
    expect(vLosses).toHaveLength(2);
    for (const l of vLosses) {
      expect(Object.keys(l).sort()).toEqual(['discriminator/adv:adm-discriminator', 'fakeScore/sdm:fake-score-denoising', 'generator/adv:adm-generator']);
      for (const v of Object.values(l)) expect(Number.isFinite(v)).toBe(true);
    }
    vInst.dispose();
    expect(tf.memory().numTensors).toBe(start); // the generator-to-discriminator hand-off is freed
    vp.backbone.net.dispose();
  }, 30_000);

  it('resumes bit-exactly after an interruption (the generator-to-discriminator hand-off is per step)', async () => {
    const teacher = liveTeacher();
    const base = { recipe: adm, teacher, preset: 'tiny', options: { steps: 2 }, sampleShape: shape, batchSize: TINY_BATCH, seed: 5, checkpoint: { every: 2 } } as const;
    const straight = await distill({ ...base, steps: 4, outDir: tmp() });
    const out = tmp();
    (await distill({ ...base, steps: 2, outDir: out })).student.dispose();
    const resumed = await distill({ ...base, steps: 4, outDir: out });
    expectResumedBitExact(straight, resumed, teacher.backbone.net);
    straight.student.dispose();
    resumed.student.dispose();
    teacher.backbone.net.dispose();
  }, 30_000);
});
