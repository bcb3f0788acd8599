import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, flowMatchingSchedule, randomNormal, seededRng, train, type Network } from '@fewstep/core';
import { VideoDiT } from '@fewstep/backbones';
import { changedVariables, computeTerm, snapshot, trainingContext, weights } from '../testing/recipe-harness.test-util.js';
import { TINY_BATCH, realSource, tinyMixture, tinyTeacher } from '../testing/tiny-world.test-util.js';
import { instantiateRecipe, type InstantiatedRecipe } from '../runtime/distill.js';
import type { BackboneLike, DiffusionModel } from '../runtime/diffusion-model.js';
import { resolveRecipeOptions } from '../runtime/resolve-options.js';
import { mcm, type McmOptions } from './mcm.recipe.js';
import type { McmDiscriminator } from './mcm-discriminator.js';

const shape = tinyMixture().shape; // [2, 4, 4, 3]

/** Randomises the zero-initialised output projection so that the teacher (and the student copy) predict something. */
function liveTeacher(model: DiffusionModel, seed = 3): DiffusionModel {
  const v = model.backbone.net.variable('proj_out.kernel');
  const r = randomNormal(v.shape, seededRng(seed));
  v.assign(tf.mul(r, 0.3) as tf.Tensor);
  r.dispose();
  return model;
}

function conditionalTeacher(): DiffusionModel {
  const backbone = VideoDiT.preset('tiny', { inChannels: 3, outChannels: 3, contextDim: 8, pooledDim: null, hiddenDim: 16, depth: 1, heads: 2, freqDim: 16, seed: 2 } as never) as unknown as BackboneLike;
  backbone.net.freeze();
  return liveTeacher({ backbone, schedule: flowMatchingSchedule(), predictionType: 'flow' }, 5);
}

function build(teacher: DiffusionModel, options: Partial<McmOptions> = {}): InstantiatedRecipe<McmOptions> {
  return instantiateRecipe(mcm, { teacher, preset: 'tiny', options, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
}

/** Runs one phase's term outside the trainer (run seed 7), recording the random streams it draws. */
function runTerm(inst: InstantiatedRecipe<McmOptions>, phaseName: string, batch: tf.NamedTensorMap, step = 0): { loss: number; metrics: Record<string, number>; drawn: string[] } {
  const drawn = new Set<string>();
  const ctx = trainingContext(inst, { phase: phaseName, step, batch, seed: 7, onDraw: (s) => drawn.add(s) });
  let loss = NaN;
  const metrics: Record<string, number> = {};
  tf.tidy(() => {
    const out = computeTerm(inst, phaseName, 0, ctx);
    loss = out.loss.dataSync()[0]!;
    for (const [k, v] of Object.entries(out.metrics ?? {})) metrics[k] = v.dataSync()[0]!;
  });
  return { loss, metrics, drawn: [...drawn] };
}

function realBatch(seed = 11): { x0: tf.Tensor } {
  return { x0: tinyMixture().sample(TINY_BATCH, seededRng(seed)).x0 };
}

describe('recipe:mcm (MCM Eq. 3-9 on a tiny flow-matching video DiT)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('validates options; the schema defaults are the paper settings', () => {
    const paper = resolveRecipeOptions(mcm, 'paper');
    expect(paper).toMatchObject({ lambdaReal: 0.5, lambdaAdv: 1, loraRank: 64, lr: 5e-6, discriminatorLr: 5e-5, motion: 'learnable', solverSteps: 50, distance: 'pseudo-huber', dinov2: 'vit-s14', dinov2Layers: [2, 5, 8, 11], guidanceRange: [5, 15], sparseFrames: 2 });
    expect(mcm.student(paper)).toEqual({ parameterization: 'consistency', sampler: 'multistep', steps: 4 });
    const teacher = tinyTeacher();
    expect(() => build(teacher, { lambdaReal: 1.5 })).toThrow(/lambdaReal.*1\.5/s);
    expect(() => build(teacher, { lambdaReal: -0.1 })).toThrow(ConfigError);
    expect(() => build(teacher, { trajectoryMixing: 'sum' as never })).toThrow(/trajectoryMixing/);
    expect(() => build(teacher, { motion: 'difference' as never })).toThrow(/motion.*difference/s);
    expect(() => build(teacher, { motion: 'difference' as never })).toThrow(/frame-difference/);
    expect(() => build(teacher, { guidanceRange: [3, 1] })).toThrow(ConfigError);
    expect(() => build(teacher, { loraRank: 0 })).toThrow(/loraRank/);
    expect(() => build(teacher, { sparseFrames: 3 })).toThrow(/sparseFrames.*3.*\[1, 2\]/s);
    expect(() => build(teacher, { lamdaReal: 0.5 } as never)).toThrow(/known options: .*lambdaReal/s);
    expect(() => instantiateRecipe(mcm, { teacher, preset: 'tiny', sampleShape: [1, 4, 4, 3], batchSize: 2, seed: 1 })).toThrow(/F >= 2/);
    teacher.backbone.net.dispose();
  });

  it('builds the generator with a trainable motion head (exported without it), its EMA, and D heads on frozen features', () => {
    const teacher = liveTeacher(tinyTeacher());
    const inst = build(teacher);
    expect(Object.keys(inst.networks).sort()).toEqual(['discriminator', 'generator', 'generatorEma']);
    expect(inst.phases.map((p) => [p.name, p.role])).toEqual([['generator', 'generator'], ['discriminator', 'discriminator']]);
    const g = inst.networks.generator!;
    for (const n of ['w1', 'b1', 'w2', 'b2']) {
      expect(g.isTrainable(`motionHead.${n}`)).toBe(true);
      expect(inst.networks.generatorEma!.has(`motionHead.${n}`)).toBe(true);
    }
    const exported = inst.exportStudent();
    expect([...exported.variables().keys()].sort()).toEqual([...teacher.backbone.net.variables().keys()].sort());
    for (const [n, v] of teacher.backbone.net.variables()) expect(tf.max(tf.abs(tf.sub(v, exported.variable(n)))).dataSync()[0]).toBe(0);
    exported.dispose();
    const d = inst.roles.get('discriminator')!.api as McmDiscriminator;
    expect(d.textKey).toBeUndefined();
    expect([...d.net.trainableVariables().keys()].every((n) => n.startsWith('head'))).toBe(true);
    expect(d.source.net!.trainableVariables().size).toBe(0);
    const logits = tf.tidy(() => d.logits(tf.ones([5, 4, 4, 3])));
    expect(logits.shape[0]).toBe(5);
    logits.dispose();
    inst.dispose();

    // Fixed representations build no head; LoRA trains adapters (+ the head) only; the teacher-tap source works.
    const fixed = build(teacher, { motion: 'frame-difference', discriminatorFeatures: 'teacher' });
    expect(fixed.networks.generator!.has('motionHead.w1')).toBe(false);
    const dt = fixed.roles.get('discriminator')!.api as McmDiscriminator;
    expect(dt.source.channels).toEqual([16, 16]);
    const tl = tf.tidy(() => dt.logits(tf.ones([3, 4, 4, 3])));
    expect(tl.shape[0]).toBe(3);
    expect(tf.all(tf.isFinite(tl)).dataSync()[0]).toBe(1);
    tl.dispose();
    fixed.dispose();
    const lora = build(teacher, { loraRank: 2 });
    const trainable = [...lora.networks.generator!.trainableVariables().keys()];
    expect(trainable.filter((n) => n.startsWith('motionHead.')).length).toBe(4);
    expect(trainable.filter((n) => !n.startsWith('motionHead.')).every((n) => /lora/i.test(n))).toBe(true);
    const lx = lora.exportStudent();
    expect(lx.has('motionHead.w1')).toBe(false);
    lx.dispose();
    lora.dispose();
    teacher.backbone.net.dispose();
  });

  it('lambdaReal = 1 never draws the generated trajectory; lambdaReal = 0 never reads the data x0', () => {
    const teacher = liveTeacher(tinyTeacher());
    const batch = realBatch();
    const onlyReal = build(teacher, { lambdaReal: 1 });
    const r1 = runTerm(onlyReal, 'generator', batch);
    expect(r1.drawn.some((s) => s.startsWith('mcm/gen'))).toBe(false);
    expect(r1.drawn.some((s) => s.startsWith('mcm/real'))).toBe(true);
    expect(r1.metrics.mcdGenerated).toBeUndefined();
    expect(r1.metrics.mcdReal).toBeGreaterThan(0);
    expect(r1.loss).toBeCloseTo(r1.metrics.mcdReal! + r1.metrics.advReal!, 5);
    // D alone in a step (no stash from the generator phase) draws its own fakes, also never generated ones.
    const d1 = runTerm(onlyReal, 'discriminator', batch, 3);
    expect(d1.drawn.some((s) => s.startsWith('mcm/d/real'))).toBe(true);
    expect(d1.drawn.some((s) => s.startsWith('mcm/d/gen'))).toBe(false);
    onlyReal.dispose();

    // x0 full of NaN: any use of it would make the loss NaN.
    const poisoned = { x0: tf.fill([TINY_BATCH, ...shape], NaN), images: tf.ones([TINY_BATCH * 2, 4, 4, 3]) };
    const onlyGen = build(teacher, { lambdaReal: 0 });
    const r0 = runTerm(onlyGen, 'generator', poisoned);
    expect(Number.isFinite(r0.loss)).toBe(true);
    expect(r0.drawn.some((s) => s.startsWith('mcm/real'))).toBe(false);
    expect(r0.metrics.mcdReal).toBeUndefined();
    expect(r0.loss).toBeCloseTo(r0.metrics.mcdGenerated! + r0.metrics.advGenerated!, 5);
    const d0 = runTerm(onlyGen, 'discriminator', poisoned, 3);
    expect(Number.isFinite(d0.loss)).toBe(true);
    expect(d0.drawn.some((s) => s.startsWith('mcm/d/real'))).toBe(false);
    onlyGen.dispose();
    // The check has teeth: the mixed objective does read x0 (Eq. 9 as written: both kinds, weighted).
    const mixed = build(teacher, { lambdaReal: 0.25, trajectoryMixing: 'weighted-sum' });
    const rm = runTerm(mixed, 'generator', poisoned);
    expect(Number.isNaN(rm.loss)).toBe(true);
    const rm2 = runTerm(mixed, 'generator', batch);
    expect(rm2.drawn.some((s) => s.startsWith('mcm/gen')) && rm2.drawn.some((s) => s.startsWith('mcm/real'))).toBe(true);
    expect(rm2.loss).toBeCloseTo(0.25 * (rm2.metrics.mcdReal! + rm2.metrics.advReal!) + 0.75 * (rm2.metrics.mcdGenerated! + rm2.metrics.advGenerated!), 5);
    mixed.dispose();
    // Per-step mixing (the authors' code): one kind per step, carrying the whole weight; both kinds occur over steps.
    const perStep = build(teacher, { lambdaReal: 0.5, lambdaAdv: 0 });
    const kinds = new Set<string>();
    for (let step = 0; step < 6; step++) {
      const r = runTerm(perStep, 'generator', batch, step);
      const kind = r.metrics.mcdReal !== undefined ? 'real' : 'gen';
      kinds.add(kind);
      expect(r.drawn.some((s) => s.startsWith(kind === 'real' ? 'mcm/gen' : 'mcm/real'))).toBe(false);
      expect(r.loss).toBeCloseTo(kind === 'real' ? r.metrics.mcdReal! : r.metrics.mcdGenerated!, 6);
    }
    expect(kinds.size).toBe(2);
    perStep.dispose();
    tf.dispose([batch.x0, poisoned.x0, poisoned.images]);
    teacher.backbone.net.dispose();
  });

  it('applies the motion representation to both sides: a constant shift of the student or of the EMA target leaves L_MCD unchanged', () => {
    const teacher = liveTeacher(tinyTeacher());
    const batch = realBatch(5);
    for (const motion of ['frame-difference', 'learnable'] as const) {
      const inst = build(teacher, { motion, lambdaReal: 1, lambdaAdv: 0 });
      const base = runTerm(inst, 'generator', batch).loss;
      expect(base).toBeGreaterThan(0);
      const probe = tf.ones([1, ...shape]);
      const before = tf.tidy(() => inst.roles.get('generator')!.backbone!.forward({ x: probe, t: tf.scalar(500) }).out);
      for (const role of ['generator', 'generatorEma']) {
        // proj_out.bias adds the same c to every element of the flow prediction: x0_hat and f_theta shift by a constant.
        const bias = inst.networks[role]!.variable('proj_out.bias');
        bias.assign(tf.add(bias, 0.7) as tf.Tensor);
        expect(runTerm(inst, 'generator', batch).loss).toBeCloseTo(base, 5);
      }
      const after = tf.tidy(() => inst.roles.get('generator')!.backbone!.forward({ x: probe, t: tf.scalar(500) }).out);
      expect(tf.max(tf.abs(tf.sub(after, before))).dataSync()[0]).toBeGreaterThan(0.5);
      tf.dispose([probe, before, after]);
      inst.dispose();
    }
    batch.x0.dispose();
    teacher.backbone.net.dispose();
  });

  it("the D phase trains on the generator phase's fake frames of the same step", () => {
    const teacher = liveTeacher(tinyTeacher());
    const inst = build(teacher, { lambdaReal: 1 });
    const d = inst.roles.get('discriminator')!.api as McmDiscriminator;
    const batch = realBatch();
    const images = tf.ones([TINY_BATCH * 2, 4, 4, 3]);
    runTerm(inst, 'generator', batch, 4);
    const stashed = d.stashed(4)!;
    expect(stashed.shape).toEqual([TINY_BATCH * 2, 4, 4, 3]);
    expect(d.stashed(5)).toBeUndefined();
    const same = runTerm(inst, 'discriminator', { ...batch, images }, 4);
    expect(same.drawn.some((s) => s.startsWith('mcm/d/real/t'))).toBe(false);
    // Closed form of Eq. 5 on the stashed fakes and the given images.
    const expected = tf.tidy(() => tf.add(tf.mean(tf.relu(tf.sub(1, d.logits(images)))), tf.mean(tf.relu(tf.add(1, d.logits(stashed))))).dataSync()[0]!);
    expect(same.loss).toBeCloseTo(expected, 5);
    const other = runTerm(inst, 'discriminator', { ...batch, images }, 5);
    expect(other.drawn.some((s) => s.startsWith('mcm/d/real/t'))).toBe(true);
    tf.dispose([batch.x0, images]);
    inst.dispose();
    teacher.backbone.net.dispose();
  });

  it('the discriminator phase updates only the D heads', async () => {
    const teacher = liveTeacher(tinyTeacher());
    const inst = build(teacher);
    const d = inst.roles.get('discriminator')!.api as McmDiscriminator;
    const nets: Record<string, Network> = { ...inst.networks, critic: d.source.net!, teacher: teacher.backbone.net };
    const before = snapshot(nets);
    await train({ seed: 2, steps: 2, roles: inst.networks, phases: [inst.phases[1]!], ema: inst.ema, data: realSource() });
    for (const k of ['generator', 'generatorEma', 'critic', 'teacher']) expect(changedVariables(before.get(k)!, nets[k]!)).toEqual([]);
    const moved = changedVariables(before.get('discriminator')!, d.net);
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.every((n) => n.startsWith('head'))).toBe(true);
    inst.dispose();
    teacher.backbone.net.dispose();
  }, 30_000);

  it('the generator phase trains the motion head with the student and its EMA target follows (mu = emaDecay)', async () => {
    const teacher = liveTeacher(tinyTeacher());
    const inst = build(teacher, { emaDecay: 0.9 });
    const g = inst.networks.generator!;
    const ema = inst.networks.generatorEma!;
    const w0 = g.variable('motionHead.w1').dataSync().slice();
    const dBefore = weights(inst.networks.discriminator!);
    await train({ seed: 2, steps: 1, roles: inst.networks, phases: [inst.phases[0]!], ema: inst.ema, data: realSource() });
    const w1 = g.variable('motionHead.w1').dataSync();
    const e1 = ema.variable('motionHead.w1').dataSync();
    expect(Math.max(...w1.map((v, i) => Math.abs(v - w0[i]!)))).toBeGreaterThan(0);
    for (let i = 0; i < w1.length; i++) expect(e1[i]).toBeCloseTo(0.9 * w0[i]! + 0.1 * w1[i]!, 6);
    expect(changedVariables(dBefore, inst.networks.discriminator!)).toEqual([]);
    inst.dispose();
    teacher.backbone.net.dispose();
  }, 30_000);

  it('works on a VP (epsilon) teacher: both trajectory kinds and D give finite losses', () => {
    const teacher = liveTeacher(tinyTeacher({ schedule: 'vp' }));
    const inst = build(teacher);
    const batch = realBatch();
    const kinds = new Set<string>();
    for (let step = 0; step < 4; step++) {
      const g = runTerm(inst, 'generator', batch, step);
      expect(Number.isFinite(g.loss)).toBe(true);
      kinds.add(g.metrics.real === undefined ? 'gen' : 'real');
      expect(g.metrics.real === undefined).toBe(g.metrics.generated !== undefined);
      expect(Number.isFinite(runTerm(inst, 'discriminator', batch, step).loss)).toBe(true);
    }
    expect(kinds.size).toBe(2);
    batch.x0.dispose();
    inst.dispose();
    teacher.backbone.net.dispose();
  });

  it('with a text-conditioned teacher: CFG range for the teacher, text-conditioned heads, finite losses', () => {
    const teacher = conditionalTeacher();
    const inst = build(teacher);
    const d = inst.roles.get('discriminator')!.api as McmDiscriminator;
    expect(d.textKey).toBe('context');
    expect(d.net.has('text0.proj.kernel')).toBe(true);
    const x0 = realBatch().x0;
    const context = randomNormal([TINY_BATCH, 3, 8], seededRng(4));
    const g = runTerm(inst, 'generator', { x0, context });
    expect(Number.isFinite(g.loss)).toBe(true);
    expect(g.drawn.filter((s) => s === 'mcm/real/w' || s === 'mcm/gen/w').length).toBe(1);
    const dl = runTerm(inst, 'discriminator', { x0, context });
    expect(Number.isFinite(dl.loss)).toBe(true);
    const frames = tf.ones([2, 4, 4, 3]);
    const a = randomNormal([2, 3, 8], seededRng(8));
    const b = randomNormal([2, 3, 8], seededRng(9));
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(d.logits(frames, { context: a }), d.logits(frames, { context: b })))).dataSync()[0]!);
    expect(diff).toBeGreaterThan(0);
    tf.dispose([x0, context, frames, a, b]);
    inst.dispose();
    teacher.backbone.net.dispose();
  });
});
