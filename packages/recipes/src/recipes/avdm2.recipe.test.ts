import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { gmmVideo } from '@fewstep/core';
import { frameSdmLoss } from '@fewstep/loss-sdm';
import { instantiateRecipe, type InstantiatedRecipe } from '../runtime/distill.js';
import type { DiffusionModel } from '../runtime/diffusion-model.js';
import { expectConfigErrors, perturbWeights, stepContext, trace } from '../testing/recipe-harness.test-util.js';
import { TINY_BATCH, tinyMixture, tinyTeacher } from '../testing/tiny-world.test-util.js';
import { NEVER, type DenoisingDiscriminator } from './denoising-gan.js';
import { avdm2, frameDenoiser, frameSdmInputs, type Avdm2Options } from './avdm2.recipe.js';

const shape = tinyMixture().shape;
const ROLES = ['generator', 'fakeScore2d', 'discriminator'] as const;

/** The trainer context of `phaseName` at `step` (batch: seeded `x0`) and the recipe context its terms see. */
function contexts(inst: InstantiatedRecipe<Avdm2Options>, teacher: DiffusionModel, phaseName: string, step: number, sampleShape: readonly number[] = shape) {
  const x0 = tf.randomNormal([TINY_BATCH, ...sampleShape], 0, 0.5, 'float32', 17);
  return { ...stepContext(inst, teacher, { phase: phaseName, step, batch: { x0 }, sampleShape }), dispose: () => x0.dispose() };
}

describe('recipe:avdm2 (video denoising GAN + 2D frame SDM, Algorithm 1)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('validates options: a bad value is a ConfigError naming the field', () => {
    const teacher = tinyTeacher();
    expectConfigErrors(avdm2, teacher, [
      [{ ttur: 0 }, /options\.ttur/],
      [{ frames: 0 }, /options\.frames/],
      [{ sdmTMin: 0.9, sdmTMax: 0.2 }, /options\.sdmTMax/],
      [{ ganTMax: 2 }, /options\.ganTMax/],
      [{ sdmWeighting: 'linear' }, /options\.sdmWeighting/],
      [{ frameSdm: false, lambdaAdm: 0 }, /options\.lambdaAdm/],
      [{ lambdaSdm: 0, lambdaAdm: 0 }, /options\.lambdaAdm/],
      [{ frames: 3 }, /frames.*3.*\[1, 2\]/s], // K > F = 2 frames of the tiny videos
      [{ warmupSteps: 1.5 }, /options\.warmupSteps/],
      [{ lambdaSDM: 1 }, /known options: .*lambdaSdm/s],
    ]);
    teacher.backbone.net.dispose();
  });

  it('paper settings as defaults; D = multi-scale head on frozen teacher taps; "GAN alone" switches SDM and the 2D fake model off', () => {
    const teacher = tinyTeacher();
    const inst = instantiateRecipe(avdm2, { teacher, preset: 'paper', options: { frames: 2 }, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    expect(inst.options).toMatchObject({ steps: 4, ttur: 2, sdmTMin: 0.2, sdmTMax: 0.98, ganTMin: 0, ganTMax: 0.5, lr: 2e-5, lrFake: 2e-5, lrDisc: 2e-5, warmupSteps: 500 });
    expect(inst.phases.map((p) => [p.name, p.role, p.every, p.offset])).toEqual([
      ['generator', 'generator', 2, 0],
      ['fakeScore2d', 'fakeScore2d', 1, 0],
      ['discriminator', 'discriminator', 1, 0],
    ]);
    for (const p of inst.phases) {
      expect(p.optimizer).toEqual({ type: 'adamw', lr: { type: 'warmup-constant', lr: 2e-5, warmupSteps: 500 }, betas: [0.9, 0.999], weightDecay: 0.01 });
    }
    expect(inst.student).toEqual({ parameterization: 'x0', sampler: 'multistep', steps: 4 });
    const d = inst.roles.get('discriminator')!.api as DenoisingDiscriminator;
    expect(d.taps).toEqual(['block.0', 'block.1']); // three asked, the tiny DiT has two
    const names = [...inst.networks.discriminator!.variables().keys()];
    expect(names.some((n) => n.startsWith('head.scale0.conv'))).toBe(true);
    expect(names.some((n) => n.startsWith('head.scale1.conv'))).toBe(true);
    expect(names.some((n) => n.startsWith('head.fuse.conv'))).toBe(true);
    const x = tf.randomNormal([3, ...shape], 0, 1, 'float32', 2);
    const logits = d.logits(x, tf.fill([3], 0.25));
    // taps [3, 2, 2, 2, 16] -> frames [6, 2, 2, 16] -> [6, 2, 2, 1] -> 8 patch logits per video
    expect(logits.shape).toEqual([3, 8]);
    tf.dispose([x, logits]);
    inst.dispose();

    const ganAlone = instantiateRecipe(avdm2, { teacher, preset: 'tiny', options: { frameSdm: false }, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    expect(ganAlone.phases.map((p) => [p.name, p.every, p.offset])).toEqual([
      ['generator', 2, 0],
      ['fakeScore2d', NEVER, NEVER - 1],
      ['discriminator', 1, 0],
    ]);
    const { ctx, phase, dispose } = contexts(ganAlone, teacher, 'generator', 0);
    const [sdmDef, sdmOpts] = phase.losses[1]!;
    const out = sdmDef.compute(ctx, sdmOpts as never);
    expect(sdmDef.name).toBe('sdm:frame-sdm');
    expect(out.loss.dataSync()[0]).toBe(0);
    out.loss.dispose();
    dispose();
    ganAlone.dispose();
    teacher.backbone.net.dispose();
  });

  it('trains exactly the phase roles each step (generator every 2 steps), with finite losses and a frozen teacher', async () => {
    const teacher = tinyTeacher();
    const { moved, losses, teacherMoved } = await trace({ recipe: avdm2, teacher, roles: ROLES, options: { warmupSteps: 0, frames: 1 }, steps: 3 });
    expect(teacherMoved).toBe(0);
    expect(moved[0]!.generator).toBeGreaterThan(0);
    expect(moved[1]!.generator).toBe(0);
    expect(moved[2]!.generator).toBeGreaterThan(0);
    for (const m of moved) {
      expect(m.fakeScore2d).toBeGreaterThan(0);
      expect(m.discriminator).toBeGreaterThan(0);
    }
    expect(Object.keys(losses[0]!).sort()).toEqual(['discriminator/adv:logistic-discriminator', 'fakeScore2d/sdm:fake-score-denoising', 'generator/adv:logistic-generator', 'generator/sdm:frame-sdm']);
    expect(Object.keys(losses[1]!).sort()).toEqual(['discriminator/adv:logistic-discriminator', 'fakeScore2d/sdm:fake-score-denoising']);
    for (const l of losses) for (const v of Object.values(l)) expect(Number.isFinite(v)).toBe(true);
    // Step 0: the 2D fake model is still the teacher, so the frame SDM gradient (and its surrogate) is 0.
    expect(losses[0]!['generator/sdm:frame-sdm']).toBe(0);
    expect(losses[2]!['generator/sdm:frame-sdm']).toBeGreaterThan(0);
    teacher.backbone.net.dispose();
  }, 30_000);

  it('frame SDM reaches only K frames of each video, and is zero while the 2D fake model equals the teacher', () => {
    const videoShape = gmmVideo('gmm-video:modes=2,frames=4,size=4,channels=3,std=0.1,seed=3').shape; // F = 4
    const teacher = tinyTeacher();
    const inst = instantiateRecipe(avdm2, { teacher, preset: 'tiny', options: { frames: 2 }, sampleShape: videoShape, batchSize: TINY_BATCH, seed: 1 });
    const video = tf.variable(tf.randomNormal([TINY_BATCH, ...videoShape], 0, 1, 'float32', 5));
    const gradOf = (): tf.Tensor => {
      const { rc, dispose } = contexts(inst, teacher, 'generator', 0, videoShape);
      const o = { frames: 2, tMin: 0.2, tMax: 0.98, weighting: 'dmd' as const, reduction: 'mean' as const };
      const g = tf.grad((v: tf.Tensor) => frameSdmLoss.compute(frameSdmInputs(rc, v), o).loss)(video);
      dispose();
      return g;
    };
    const zero = gradOf();
    expect(tf.max(tf.abs(zero)).dataSync()[0]).toBe(0);
    perturbWeights(inst.networks.fakeScore2d!, 0.05, 1);
    const g = gradOf();
    // Per (video, frame): is any gradient entry non-zero?
    const touched = tf.tidy(() => tf.greater(tf.max(tf.abs(g), [2, 3, 4]), 0).arraySync()) as unknown as number[][];
    for (const frames of touched) expect(frames.filter(Boolean).length).toBe(2);
    tf.dispose([zero, g, video]);

    // The 2D model is the video model on one-frame videos.
    const { rc, dispose } = contexts(inst, teacher, 'generator', 0, videoShape);
    const imgs = tf.randomNormal([3, 4, 4, 3], 0, 1, 'float32', 8);
    const t = tf.tensor1d([0.3, 0.6, 0.9]);
    const a = frameDenoiser(rc.teacher, undefined).predict(imgs, t);
    const b = rc.teacher.predict(tf.reshape(imgs, [3, 1, 4, 4, 3]), t);
    expect(a.shape).toEqual([3, 4, 4, 3]);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([imgs, t, a, b]);
    dispose();
    inst.dispose();
    teacher.backbone.net.dispose();
  });

  it('every phase term is finite on a flow-matching and a VP (epsilon) teacher', () => {
    for (const schedule of ['flow', 'vp'] as const) {
      const teacher = tinyTeacher({ schedule });
      const inst = instantiateRecipe(avdm2, { teacher, preset: 'tiny', options: { frames: 1 }, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
      perturbWeights(inst.networks.fakeScore2d!, 0.05, 1);
      for (const p of inst.phases) {
        const { ctx, dispose } = contexts(inst, teacher, p.name!, 1);
        // The terms of a phase run in one scope, as in the trainer (they share the generator sample).
        const values = tf.tidy(() => p.losses.map(([def, opts]) => def.compute(ctx, opts as never).loss.dataSync()[0]!));
        expect(values).toHaveLength(p.losses.length);
        for (const v of values) {
          expect(Number.isFinite(v)).toBe(true);
          expect(v).toBeGreaterThan(0);
        }
        dispose();
      }
      inst.dispose();
      teacher.backbone.net.dispose();
    }
  });
});
