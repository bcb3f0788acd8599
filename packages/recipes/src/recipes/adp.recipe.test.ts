import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, flowMatchingSchedule, seededRng, startRun, vpDiscreteSchedule } from '@fewstep/core';
import { odePairRegressionLoss, type OdePairRegressionInputs } from '@fewstep/loss-consistency';
import { changed, liveTeacher, maxAbsDiff, movedRoles, snapshot, stepContext, stepLosses, weights } from '../testing/recipe-harness.test-util.js';
import { TINY_BATCH, odePairSource, tinyMixture, tinyTeacher } from '../testing/tiny-world.test-util.js';
import type { DiffusionModel } from '../runtime/diffusion-model.js';
import { instantiateRecipe, type InstantiatedRecipe } from '../runtime/distill.js';
import type { RecipeContext } from '../runtime/recipe-context.js';
import { pixelDiscriminator } from './adm-discriminator.js';
import { adp, adpDiscriminatorTimes, adpGeneratorTimesteps, adpRecipe, type AdpDiscriminatorApi, type AdpOptions } from './adp.recipe.js';

const shape = tinyMixture().shape;

/** A recipe context for phase `phase` at `step` (run seed 5), as the trainer builds it. */
function contextFor(inst: InstantiatedRecipe<AdpOptions>, teacher: DiffusionModel, step: number, phase: string, batch: tf.NamedTensorMap): RecipeContext<AdpOptions> {
  return stepContext(inst, teacher, { phase, step, seed: 5, batch }).rc;
}

/** A constructed ODE pair `{ noise, x0 }` of `TINY_BATCH` samples. */
function pair(): { noise: tf.Tensor; x0: tf.Tensor } {
  return { noise: tf.randomNormal([TINY_BATCH, ...shape], 0, 1, 'float32', 21), x0: tf.mul(tf.randomNormal([TINY_BATCH, ...shape], 0, 1, 'float32', 22), 0.5) };
}

describe('recipe:adp (ADM paper Eq. 9-10)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('draws generator times from the cubic schedule t = (1 - u^3) T (E[t/T] = 3/4) and D times from U(0, T]', () => {
    for (const schedule of [flowMatchingSchedule(), vpDiscreteSchedule({ betaSchedule: 'scaled_linear' })]) {
      const T = schedule.tMax;
      const n = 40_000;
      const ts = adpGeneratorTimesteps(schedule).sample(n, seededRng(3)).map((t) => t / T);
      const mean = ts.reduce((a, b) => a + b, 0) / n;
      expect(mean).toBeCloseTo(0.75, 2); // 1 - E[u^3] = 1 - 1/4
      // P(t/T <= 1/2) = P(u^3 >= 1/2) = 1 - 2^(-1/3): the schedule favours high noise.
      expect(ts.filter((t) => t <= 0.5).length / n).toBeCloseTo(1 - 2 ** (-1 / 3), 2);
      // Var(t/T) = Var(u^3) = 1/7 - 1/16.
      const variance = ts.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
      expect(variance).toBeCloseTo(1 / 7 - 1 / 16, 2);
      expect(Math.min(...ts)).toBeGreaterThan(0);
      expect(Math.max(...ts)).toBeLessThanOrEqual(1);
      const tPrime = Array.from(adpDiscriminatorTimes(schedule, n, seededRng(4)).dataSync()).map((t) => t / T);
      expect(tPrime.reduce((a, b) => a + b, 0) / n).toBeCloseTo(0.5, 2);
      expect(Math.min(...tPrime)).toBeGreaterThan(0);
      expect(Math.max(...tPrime)).toBeLessThanOrEqual(1);
    }
  });

  it('the regression term is mean ||v_theta((1 - t) x0 + t noise, t) - (noise - x0)||^2 on a constructed pair', () => {
    const teacher = liveTeacher();
    const inst = instantiateRecipe(adp, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    const { noise, x0 } = pair();
    const rc = contextFor(inst, teacher, 0, 'generator', { noise, x0 });
    const inputs = adp.phases[0]!.terms[0]!.inputs(rc, {}) as OdePairRegressionInputs;
    const api = inst.roles.get('discriminator')!.api as AdpDiscriminatorApi;
    const t = api.generatorMemo.get(rc, () => {
      throw new Error('the generator forward should be memoised');
    }).t;
    const tv = Array.from(t.dataSync());
    expect(tv.every((v) => v > 0 && v <= 1)).toBe(true);
    expect(maxAbsDiff(inputs.noise, noise)).toBe(0);
    expect(maxAbsDiff(inputs.clean, x0)).toBe(0);
    // Closed form: the student (= the teacher at initialisation) is a flow model, its raw output is the velocity.
    const expected = tf.tidy(() => {
      const tt = tf.reshape(t, [-1, 1, 1, 1, 1]);
      const xt = tf.add(tf.mul(x0, tf.sub(1, tt)), tf.mul(noise, tt));
      const v = teacher.backbone.forward({ x: xt, t: tf.mul(t, 1000) }).out;
      return tf.mean(tf.square(tf.sub(v, tf.sub(noise, x0))));
    });
    const loss = odePairRegressionLoss.compute(inputs, {}).loss;
    expect(expected.dataSync()[0]!).toBeGreaterThan(0.1);
    expect(loss.dataSync()[0]!).toBeCloseTo(expected.dataSync()[0]!, 4);
    // The generator phase left its detached sample for the discriminator phase of the same step.
    const cached = api.fakeCache.peek(0, rc.batch)!.x0Hat;
    const x0Hat = tf.tidy(() => tf.sub(tf.add(tf.mul(x0, tf.sub(1, tf.reshape(t, [-1, 1, 1, 1, 1]))), tf.mul(noise, tf.reshape(t, [-1, 1, 1, 1, 1]))), tf.mul(inputs.velocity, tf.reshape(t, [-1, 1, 1, 1, 1]))));
    expect(maxAbsDiff(cached, x0Hat)).toBeLessThan(1e-5);
    tf.dispose([noise, x0, expected, loss, x0Hat]);
    inst.dispose();
    teacher.backbone.net.dispose();
  });

  it('on a VP teacher the input is alpha_t x0 + sigma_t noise and the velocity eps_hat - x0_hat', () => {
    const teacher = liveTeacher({ schedule: 'vp' });
    const inst = instantiateRecipe(adp, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    const { noise, x0 } = pair();
    const rc = contextFor(inst, teacher, 0, 'generator', { noise, x0 });
    const inputs = adp.phases[0]!.terms[0]!.inputs(rc, {}) as OdePairRegressionInputs;
    const g = (inst.roles.get('discriminator')!.api as AdpDiscriminatorApi).generatorMemo.get(rc, () => {
      throw new Error('memoised');
    });
    expect(Array.from(g.t.dataSync()).every((v) => v > 0 && v <= 999)).toBe(true);
    const expected = tf.tidy(() => {
      const s = teacher.schedule;
      const a = tf.reshape(s.alphaTensor(g.t), [-1, 1, 1, 1, 1]);
      const sg = tf.reshape(s.sigmaTensor(g.t), [-1, 1, 1, 1, 1]);
      const xt = tf.add(tf.mul(x0, a), tf.mul(noise, sg));
      const eps = teacher.backbone.forward({ x: xt, t: g.t }).out; // epsilon prediction
      const x0Hat = tf.div(tf.sub(xt, tf.mul(sg, eps)), a);
      return tf.mean(tf.square(tf.sub(tf.sub(eps, x0Hat), tf.sub(noise, x0))));
    });
    const loss = odePairRegressionLoss.compute(inputs, {}).loss;
    expect(loss.dataSync()[0]!).toBeCloseTo(expected.dataSync()[0]!, 3);
    tf.dispose([noise, x0, expected, loss]);
    inst.dispose();
    teacher.backbone.net.dispose();
  });

  it('builds latent heads on teacher taps and pixel heads on a frozen random DINOv2; paper optimizers', () => {
    const teacher = liveTeacher();
    const inst = instantiateRecipe(adp, { teacher, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    expect(Object.keys(inst.networks).sort()).toEqual(['discriminator', 'generator']);
    expect(inst.phases.map((p) => [p.name, p.role, p.losses.map(([l, o]) => [l.name, o.weight])])).toEqual([
      ['generator', 'generator', [['consistency:ode-pair-regression', 1], ['adv:hinge-generator', 0.85], ['adv:hinge-generator', 0.15]]],
      ['discriminator', 'discriminator', [['adv:hinge-discriminator', 0.85], ['adv:hinge-discriminator', 0.15]]],
    ]);
    expect(inst.phases.map((p) => p.optimizer)).toEqual([
      { type: 'adamw', lr: 1e-6, betas: [0, 0.99], weightDecay: 0 },
      { type: 'adamw', lr: 5e-6, betas: [0, 0.99], weightDecay: 0 },
    ]);
    expect(inst.student).toEqual({ parameterization: 'x0', sampler: 'multistep', steps: 1 });
    const api = inst.roles.get('discriminator')!.api as AdpDiscriminatorApi;
    expect(api.latent.keys).toEqual(['block.0', 'block.1']);
    expect(api.pixel.keys).toEqual(['grid0', 'grid1', 'grid2', 'grid3']); // DINOv2 hidden states 1..4
    const names = [...inst.networks.discriminator!.trainableVariables().keys()];
    expect(names.some((n) => n.startsWith('latent.block.1.'))).toBe(true);
    expect(names.some((n) => n.startsWith('pixel.grid3.'))).toBe(true);
    expect(names.every((n) => n.startsWith('latent.') || n.startsWith('pixel.'))).toBe(true);
    // The pixel D is differentiable in its input (the generator's gradient path).
    const x = tf.randomNormal([2, ...shape], 0, 1, 'float32', 1);
    const grad = tf.grad((v: tf.Tensor) => tf.sum(composePixel(api)(v)))(x);
    expect(tf.tidy(() => tf.max(tf.abs(grad)).dataSync()[0]!)).toBeGreaterThan(0);
    tf.dispose([x, grad]);
    inst.dispose();
    teacher.backbone.net.dispose();
  });

  it('the pixel D takes any FeatureFn', async () => {
    const teacher = liveTeacher();
    let disposed = 0;
    const recipe = adpRecipe({ pixelFeatures: () => ({ features: (x) => ({ raw: tf.clone(x) }), dispose: () => disposed++ }) });
    const inst = instantiateRecipe(recipe, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    expect((inst.roles.get('discriminator')!.api as AdpDiscriminatorApi).pixel.keys).toEqual(['raw']);
    const pairs = odePairSource();
    const losses = await stepLosses({ seed: 1, steps: 1, roles: inst.networks, phases: inst.phases, data: pairs.source, resume: 'never' });
    expect(Object.values(losses[0]!).every(Number.isFinite)).toBe(true);
    inst.dispose();
    expect(disposed).toBe(1);
    pairs.dispose();
    teacher.backbone.net.dispose();
  });

  it('each phase trains only its own role, and the teacher stays frozen', async () => {
    const teacher = liveTeacher();
    const teacherBefore = weights(teacher.backbone.net);
    const pairs = odePairSource();
    for (const index of [0, 1]) {
      const inst = instantiateRecipe(adp, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
      const before = snapshot(inst.networks);
      await startRun({ seed: 2, steps: 1, roles: inst.networks, phases: [inst.phases[index]!], data: pairs.source, resume: 'never' }).result;
      expect(movedRoles(before, inst.networks)).toEqual([inst.phases[index]!.role]);
      inst.dispose();
    }
    expect(changed(teacherBefore, teacher.backbone.net)).toBe(false);
    pairs.dispose();
    teacher.backbone.net.dispose();
  }, 30_000);

  it('a short run lowers the regression term on a fixed evaluation draw; every term stays finite; no tensors leak', async () => {
    const teacher = liveTeacher();
    const pairs = odePairSource(16, 8);
    const evalPair = pair();
    const start = tf.memory().numTensors;
    const inst = instantiateRecipe(adp, { teacher, preset: 'tiny', options: { lrGenerator: 5e-3 }, sampleShape: shape, batchSize: 8, seed: 1 });
    // The same step / phase / batch gives the same cubic times: a fixed evaluation of the term.
    const evalLoss = (): number =>
      tf.tidy(() => {
        const rc = contextFor(inst, teacher, 10_000, 'generator', { ...evalPair });
        return odePairRegressionLoss.compute(adp.phases[0]!.terms[0]!.inputs(rc, {}) as OdePairRegressionInputs, {}).loss.dataSync()[0]!;
      });
    const before = evalLoss();
    const losses = await stepLosses({ seed: 4, steps: 6, roles: inst.networks, phases: inst.phases, data: pairs.source, resume: 'never' });
    expect(losses).toHaveLength(6);
    for (const l of losses) {
      expect(Object.keys(l).sort()).toEqual([
        'discriminator/adv:hinge-discriminator',
        'discriminator/adv:hinge-discriminator#2',
        'generator/adv:hinge-generator',
        'generator/adv:hinge-generator#2',
        'generator/consistency:ode-pair-regression',
      ]);
      expect(Object.values(l).every(Number.isFinite)).toBe(true);
    }
    // The pairs' ends are independent here, so much of the term is irreducible: a modest margin.
    expect(evalLoss()).toBeLessThan(0.9 * before);
    inst.dispose();
    expect(tf.memory().numTensors).toBe(start);
    tf.dispose([evalPair.noise, evalPair.x0]);
    pairs.dispose();
    teacher.backbone.net.dispose();
  }, 30_000);

  it('validates options', () => {
    const teacher = tinyTeacher();
    const common = { teacher, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 };
    expect(() => instantiateRecipe(adp, { ...common, options: { lambda1: -1 } })).toThrow(/lambda1.*-1/s);
    expect(() => instantiateRecipe(adp, { ...common, options: { steps: 0 } })).toThrow(ConfigError);
    expect(() => instantiateRecipe(adp, { ...common, options: { lamda2: 0.1 } })).toThrow(/known options: .*lambda2/s);
    expect(() => instantiateRecipe(adp, { ...common, options: { pixelCritic: { layers: [5] } } })).toThrow(/pixelCritic\.layers/);
    expect(() => instantiateRecipe(adp, { ...common, options: { pixelCritic: { hiddenSize: 30, numHeads: 4 } } })).toThrow(/numHeads/);
    expect(() => instantiateRecipe(adp, { ...common, options: { headChannels: [] } })).toThrow(/headChannels/);
    teacher.backbone.net.dispose();
  });
});

/** The pixel discriminator of an ADP discriminator role, as the recipe composes it. */
function composePixel(api: AdpDiscriminatorApi): (x: tf.Tensor) => tf.Tensor {
  return pixelDiscriminator(api.pixelSource, api.pixel, 0);
}
