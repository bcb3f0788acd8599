import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { predictX0Eps } from '@fewstep/core';
import { dmdLoss } from '@fewstep/loss-sdm';
import { instantiateRecipe } from '../runtime/distill.js';
import { expectConfigErrors, perturbWeights, stepContext, trace } from '../testing/recipe-harness.test-util.js';
import { TINY_BATCH, tinyMixture, tinyTeacher } from '../testing/tiny-world.test-util.js';
import { NEVER, type DenoisingDiscriminator } from './denoising-gan.js';
import { dmd2, dmdInputs, type Dmd2Options } from './dmd2.recipe.js';

const shape = tinyMixture().shape;
const ROLES = ['generator', 'fakeScore', 'discriminator'] as const;

describe('recipe:dmd2 (DMD + denoising GAN, backward simulation, TTUR)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('validates options: a bad value is a ConfigError naming the field', () => {
    const teacher = tinyTeacher();
    expectConfigErrors(dmd2, teacher, [
      [{ ttur: 0 }, /options\.ttur/],
      [{ lambdaGan: -1 }, /options\.lambdaGan/],
      [{ dmdTMin: 0.9, dmdTMax: 0.5 }, /options\.dmdTMax/],
      [{ ganTMax: 1.5 }, /options\.ganTMax/],
      [{ discHead: 'mlp' }, /options\.discHead/],
      [{ discTaps: ['nope'] }, /discTaps.*nope.*block\.0, block\.1/s],
      [{ lambdaGn: 1 }, /known options: .*lambdaGan/s],
    ]);
    teacher.backbone.net.dispose();
  });

  it('builds generator / fake score from the teacher, D heads on the deepest teacher tap, and a 4-step x0 student', () => {
    const teacher = tinyTeacher();
    const inst = instantiateRecipe(dmd2, { teacher, preset: 'paper', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    expect(inst.options).toMatchObject({ steps: 4, ttur: 5, lambdaGan: 5e-3, lambdaDmd: 0.5, dmdTMin: 0.02, dmdTMax: 0.98, lr: 5e-7, weightDecay: 0.01 });
    expect(inst.phases.map((p) => [p.name, p.role, p.every, p.offset])).toEqual([
      ['generator', 'generator', 5, 0],
      ['fakeScore', 'fakeScore', 1, 0],
      ['discriminator', 'discriminator', 1, 0],
    ]);
    expect(inst.phases[0]!.optimizer).toEqual({ type: 'adamw', lr: 5e-7, betas: [0.9, 0.999], weightDecay: 0.01, maxGradNorm: 10 });
    expect(inst.student).toEqual({ parameterization: 'x0', sampler: 'multistep', steps: 4 });
    for (const role of ['generator', 'fakeScore']) {
      for (const [n, v] of teacher.backbone.net.variables()) expect(Array.from(inst.networks[role]!.variable(n).dataSync())).toEqual(Array.from(v.dataSync()));
    }
    const d = inst.roles.get('discriminator')!.api as DenoisingDiscriminator;
    expect(d.taps).toEqual(['block.1']);
    expect([...inst.networks.discriminator!.variables().keys()].every((n) => n.startsWith('head0.'))).toBe(true);
    const x = tf.randomNormal([3, ...shape], 0, 1, 'float32', 2);
    const logits = d.logits(x, tf.fill([3], 0.5));
    // One head2d (4x4 stride 2) on the [3, 2, 2, 2, 16] tap: one logit per frame.
    expect(logits.shape).toEqual([3, 2]);
    tf.dispose([x, logits]);
    inst.dispose();
    const noGan = instantiateRecipe(dmd2, { teacher, options: { lambdaGan: 0 }, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    expect(noGan.phases.map((p) => [p.name, p.every, p.offset])[2]).toEqual(['discriminator', NEVER, NEVER - 1]);
    noGan.dispose();
    teacher.backbone.net.dispose();
  });

  it('trains exactly the phase roles each step (generator every ttur steps), with finite losses and a frozen teacher', async () => {
    const teacher = tinyTeacher();
    const { moved, losses, teacherMoved } = await trace({ recipe: dmd2, teacher, roles: ROLES, options: { ttur: 2 }, steps: 3 });
    expect(teacherMoved).toBe(0);
    // Step 0 and 2: generator, fake score and D; step 1: fake score and D only.
    expect(moved[0]!.generator).toBeGreaterThan(0);
    expect(moved[1]!.generator).toBe(0);
    expect(moved[2]!.generator).toBeGreaterThan(0);
    for (const m of moved) {
      expect(m.fakeScore).toBeGreaterThan(0);
      expect(m.discriminator).toBeGreaterThan(0);
    }
    expect(Object.keys(losses[0]!).sort()).toEqual(['discriminator/adv:logistic-discriminator', 'fakeScore/sdm:fake-score-denoising', 'generator/adv:logistic-generator', 'generator/sdm:dmd']);
    expect(Object.keys(losses[1]!).sort()).toEqual(['discriminator/adv:logistic-discriminator', 'fakeScore/sdm:fake-score-denoising']);
    for (const l of losses) for (const v of Object.values(l)) expect(Number.isFinite(v)).toBe(true);
    teacher.backbone.net.dispose();
  }, 30_000);

  it('DMD alone (lambdaGan = 0): fake score == teacher gives a zero DMD gradient (generator unchanged), a trained fake score moves it; D never trains', async () => {
    const teacher = tinyTeacher();
    const { moved, losses } = await trace({ recipe: dmd2, teacher, roles: ROLES, options: { lambdaGan: 0, ttur: 2 }, steps: 3 });
    // Step 0 runs the generator first, while f_psi is still an exact copy of F_phi: grad = 0.
    expect(losses[0]!['generator/sdm:dmd']).toBe(0);
    expect(moved[0]!.generator).toBe(0);
    // Step 2: f_psi has trained on generator samples for two steps, so f_psi != F_phi.
    expect(losses[2]!['generator/sdm:dmd']).toBeGreaterThan(0);
    expect(moved[2]!.generator).toBeGreaterThan(0);
    expect(moved.map((m) => m.discriminator)).toEqual([0, 0, 0]);
    expect(losses.every((l) => !('discriminator/adv:logistic-discriminator' in l))).toBe(true);
    expect(losses[0]!['generator/adv:logistic-generator']).toBe(0);
    teacher.backbone.net.dispose();
  }, 30_000);

  it('the DMD gradient on x0_hat is the closed form 2 (f_psi - F_phi)(x_t) / (N (mean|x0_hat - F_phi| + eps)), scores at the same x_t', () => {
    for (const schedule of ['flow', 'vp'] as const) {
      const teacher = tinyTeacher({ schedule });
      const inst = instantiateRecipe(dmd2, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
      // Make the fake score differ from the teacher (as after training on generator samples).
      perturbWeights(inst.networks.fakeScore!, 0.05);
      const { x0 } = tinyMixture().sample(TINY_BATCH, () => 0.37);
      const { rc } = stepContext<Dmd2Options>(inst, teacher, { phase: 'generator', step: 0, batch: { x0 } });
      const x0Hat = tf.variable(tf.randomNormal([TINY_BATCH, ...shape], 0, 1, 'float32', 9));
      const inputs = dmdInputs(rc, x0Hat, 'test');
      const t = Array.from(inputs.t.dataSync());
      const span = teacher.schedule.tMax - teacher.schedule.tMin;
      for (const ti of t) {
        expect(ti).toBeGreaterThanOrEqual(teacher.schedule.tMin + 0.02 * span - 1e-4);
        expect(ti).toBeLessThanOrEqual(teacher.schedule.tMin + 0.98 * span + 1e-4);
      }
      // Both x0-predictions are the models' own at the returned x_t.
      const real = predictX0Eps(rc.teacher, inputs.xt, inputs.t).x0;
      const fakeX0 = predictX0Eps(rc.denoiser('fakeScore'), inputs.xt, inputs.t).x0;
      expect(tf.max(tf.abs(tf.sub(real, inputs.realX0))).dataSync()[0]).toBe(0);
      expect(tf.max(tf.abs(tf.sub(fakeX0, inputs.fakeX0))).dataSync()[0]).toBe(0);
      expect(tf.max(tf.abs(tf.sub(fakeX0, real))).dataSync()[0]).toBeGreaterThan(1e-4);
      const g = tf.grad((x: tf.Tensor) => dmdLoss.compute({ ...inputs, x0Hat: x }, {}).loss)(x0Hat);
      const norm = tf.mean(tf.abs(tf.sub(x0Hat, real)), [1, 2, 3, 4], true);
      const closed = tf.div(tf.mul(tf.sub(fakeX0, real), 2 / x0Hat.size), tf.add(norm, 1e-6));
      const scale = tf.max(tf.abs(closed)).dataSync()[0]!;
      expect(scale).toBeGreaterThan(0);
      expect(tf.max(tf.abs(tf.sub(g, closed))).dataSync()[0]).toBeLessThan(1e-5 * scale);
      tf.dispose([x0Hat, real, fakeX0, g, norm, closed, inputs.xt, inputs.t, inputs.realX0, inputs.fakeX0]);
      x0.dispose();
      inst.dispose();
      teacher.backbone.net.dispose();
    }
  });
});
