import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ddimSampler, kStepTimesteps, randomNormal, seededRng, startRun, type PhaseConfig } from '@fewstep/core';
import { Dinov2Critic } from '@fewstep/backbones';
import { teacherSolve } from '@fewstep/loss-consistency';
import { distill, instantiateRecipe, type InstantiatedRecipe } from '../runtime/distill.js';
import { modelDenoiser } from '../runtime/diffusion-model.js';
import { studentSampler } from '../runtime/student.js';
import { liveTeacher, maxAbsDiff, maxDelta, recordSteps, weights } from '../testing/recipe-harness.test-util.js';
import { TINY_BATCH, realSource, tinyMixture } from '../testing/tiny-world.test-util.js';
import { OSV_TINY_DINOV2, latentCriticSource, type OsvFeatureSource } from './osv-discriminator.js';
import { createOsvRecipes, osv, osvStage1, osvStage2, osvStage1Options, osvStage2Options, osvTeacherOptions, osvTeacherSolve } from './osv.recipe.js';

const shape = tinyMixture().shape; // [2, 4, 4, 3]

/** Runs the given phases of an instantiated recipe on the bare trainer (no recipe setup). */
async function train(inst: InstantiatedRecipe<any>, phases: readonly PhaseConfig[], steps: number, seed = 2): Promise<number[][]> {
  const run = startRun({ seed, steps, roles: inst.networks, phases, ema: inst.ema, data: realSource() });
  const losses = recordSteps(run, (p) => phases.map((ph) => p.phaseLosses[ph.name as string] ?? NaN));
  await run.result;
  return losses;
}

describe('OSV recipes (tiny flow-matching DiT, tiny random DINOv2 on upsampled latents)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('validates options: m against the grid, critic layers / size against the architecture, unknown keys', () => {
    expect(osvStage2Options.parse({}).m).toBe(5);
    expect(osvStage2Options.parse({}).numTimesteps).toBe(100);
    expect(osvStage1Options.parse({}).lr).toBe(5e-6);
    const teacher = liveTeacher({ seed: 3 });
    const common = { teacher, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 };
    expect(() => instantiateRecipe(osvStage2, { ...common, preset: 'tiny', options: { m: 0 } })).toThrow(ConfigError);
    expect(() => instantiateRecipe(osvStage2, { ...common, preset: 'tiny', options: { m: 10, numTimesteps: 10 } })).toThrow(/options\.m.*numTimesteps/s);
    expect(() => instantiateRecipe(osvStage1, { ...common, preset: 'tiny', options: { criticLayers: [1, 3] } })).toThrow(/criticLayers.*\[0, 2\]/s);
    expect(() => instantiateRecipe(osvStage1, { ...common, preset: 'tiny', options: { criticSize: 9 } })).toThrow(/criticSize.*patch size 2/s);
    expect(() => instantiateRecipe(osvStage1, { ...common, preset: 'tiny', options: { temporalKernel: 2 } })).toThrow(/temporalKernel.*odd/s);
    expect(() => instantiateRecipe(osvStage1, { ...common, preset: 'tiny', options: { m: 5 } })).toThrow(/known options: .*lambdaLgp/s);
    expect(() => instantiateRecipe(osvStage2, { ...common, preset: 'tiny', options: { lr: -1 } })).toThrow(/lr/);
    expect(() => instantiateRecipe(osvStage2, { ...common, preset: 'tiny', options: { loraRank: 0 } })).toThrow(/loraRank/);
    teacher.backbone.net.dispose();
  });

  it('the student is 1 step + Time-Travel Sampler (NFE 2), or plain multistep without TTS (NFE 1)', () => {
    const teacher = liveTeacher({ seed: 3 });
    const spec = osvStage2.student(osvStage2Options.parse({}));
    expect(spec).toEqual({ parameterization: 'consistency', sampler: 'time-travel', steps: 1 });
    expect(osvStage1.student(osvStage1Options.parse({}))).toEqual(spec);
    const tts = studentSampler(spec, teacher.schedule);
    expect(tts.nfe(teacher.schedule)).toBe(2);
    const noise = randomNormal([2, ...shape], seededRng(4));
    const r = tts.sample(modelDenoiser(teacher), noise, { rng: 3 });
    expect(r.nfe).toBe(2);
    expect(r.sample.shape).toEqual([2, ...shape]);
    const plain = osvStage2.student(osvStage2Options.parse({ timeTravel: false }));
    expect(plain.sampler).toBe('multistep');
    expect(studentSampler(plain, teacher.schedule).nfe(teacher.schedule)).toBe(1);
    expect(studentSampler(osvStage2.student(osvStage2Options.parse({ steps: 2 })), teacher.schedule).nfe(teacher.schedule)).toBe(4);
    tf.dispose([noise, r.sample]);
    teacher.backbone.net.dispose();
  });

  it('m-step teacher solve: m = 5 along the 100-step grid equals teacherSolve(m = 5) and core DDIM over the same 5 steps; m = 1 differs', () => {
    const teacher = liveTeacher({ seed: 3 });
    const den = modelDenoiser(teacher);
    const grid = kStepTimesteps(teacher.schedule, 100);
    expect(grid.length).toBe(100);
    const i = 37;
    const x = randomNormal([2, ...shape], seededRng(8));
    const ours = osvTeacherSolve(den, x, grid.slice(i, i + 6));
    const ref = teacherSolve(den, x, grid[i]!, grid[i + 5]!, 5);
    const ddim = ddimSampler({ steps: 5, timesteps: grid.slice(i, i + 5), tEnd: grid[i + 5]! }).sample(den, x);
    expect(ddim.nfe).toBe(5);
    expect(maxAbsDiff(ours, ref)).toBeLessThan(1e-5);
    expect(maxAbsDiff(ours, ddim.sample)).toBeLessThan(1e-5);
    // Closed form of one DDIM (Euler) step on flow matching: x' = x + (t' - t) v.
    const one = osvTeacherSolve(den, x, [grid[i]!, grid[i + 1]!]);
    const v = den.predict(x, tf.fill([2], grid[i]!)); // the flow velocity (modelDenoiser scales t itself)
    const euler = tf.add(x, tf.mul(v, grid[i + 1]! - grid[i]!));
    expect(maxAbsDiff(one, euler)).toBeLessThan(1e-5);
    const m1 = osvTeacherSolve(den, x, [grid[i]!, grid[i + 5]!]);
    expect(maxAbsDiff(m1, ours)).toBeGreaterThan(1e-4);

    // VP (discrete, trailing 100-step grid 999, 989, ...): the grid walk equals teacherSolve(m = 5).
    const vp = liveTeacher({ schedule: 'vp', seed: 3 });
    const vden = modelDenoiser(vp);
    const vgrid = kStepTimesteps(vp.schedule, 100);
    expect(vgrid.slice(0, 3)).toEqual([999, 989, 979]);
    const vo = osvTeacherSolve(vden, x, vgrid.slice(10, 16));
    const vr = teacherSolve(vden, x, vgrid[10]!, vgrid[15]!, 5);
    expect(maxAbsDiff(vo, vr)).toBeLessThan(1e-5);
    tf.dispose([x, ours, ref, ddim.sample, one, v, euler, m1, vo, vr]);
    teacher.backbone.net.dispose();
    vp.backbone.net.dispose();
  });

  it('teacher CFG (Eq. 8): none without conditioning or at w = 1; else uncond = zeroed conditioning, uncond + w (cond - uncond)', () => {
    expect(osvTeacherOptions(undefined, 3)).toEqual({});
    const context = tf.ones([2, 3, 4]);
    expect(osvTeacherOptions({ context }, 1)).toEqual({ cond: { context } });
    const g = osvTeacherOptions({ context }, 3);
    expect(g.cond).toEqual({ context });
    expect(g.guidance?.scale).toBe(3);
    expect(g.guidance?.formula).toBe('uncond + w * (cond - uncond)');
    const u = g.guidance!.uncond!.context!;
    expect(u.shape).toEqual([2, 3, 4]);
    expect(Array.from(u.dataSync()).every((v) => v === 0)).toBe(true);
    tf.dispose([context, u]);
  });

  it('LoRA: one stage-1 step trains only the adapters (base kernels bitwise unchanged) and the heads', async () => {
    const teacher = liveTeacher({ seed: 3 });
    const inst = instantiateRecipe(osvStage1, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    expect(Object.keys(inst.networks).sort()).toEqual(['discriminator', 'generator']);
    expect(inst.phases.map((p) => [p.name, p.role])).toEqual([
      ['generator', 'generator'],
      ['discriminator', 'discriminator'],
    ]);
    const gen = inst.networks.generator!;
    const trainable = [...gen.trainableVariables().keys()];
    expect(trainable.length).toBeGreaterThan(0);
    expect(trainable.every((n) => /\.lora_[AB]$/.test(n))).toBe(true);
    const g0 = weights(gen);
    const d0 = weights(inst.networks.discriminator!);
    await train(inst, inst.phases, 1);
    let adapterMoved = 0;
    for (const [n, v] of gen.variables()) {
      const now = v.dataSync();
      if (/\.lora_[AB]$/.test(n)) adapterMoved = Math.max(adapterMoved, ...Array.from(now, (x, k) => Math.abs(x - g0.get(n)![k]!)));
      else {
        expect(Array.from(now)).toEqual(Array.from(g0.get(n)!));
        expect(Array.from(now)).toEqual(Array.from(teacher.backbone.net.variable(n).dataSync()));
      }
    }
    expect(adapterMoved).toBeGreaterThan(0);
    expect(maxDelta(d0, weights(inst.networks.discriminator!))).toBeGreaterThan(0);
    // The exported student is the base with the LoRA delta merged.
    const s = inst.exportStudent();
    expect([...s.variables().keys()].some((n) => n.includes('lora'))).toBe(false);
    const k = 'blocks.0.attn1.to_q.kernel';
    const merged = tf.tidy(() => gen.kernel(k));
    expect(maxAbsDiff(s.variable(k), merged)).toBe(0);
    expect(maxAbsDiff(s.variable(k), teacher.backbone.net.variable(k))).toBeGreaterThan(0);
    merged.dispose();
    s.dispose();
    inst.dispose();
    teacher.backbone.net.dispose();
  });

  it('the discriminator phase updates only its heads (generator and frozen DINOv2 untouched) and lowers the hinge loss', async () => {
    const teacher = liveTeacher({ seed: 3 });
    const critic = Dinov2Critic.create(OSV_TINY_DINOV2, { seed: 5 });
    critic.net.freeze();
    const c0 = weights(critic.net);
    const { osvStage1: s1 } = createOsvRecipes({ featureSource: (env) => latentCriticSource(critic, { layers: [1, 2], size: 8, sampleShape: env.sampleShape }) });
    const inst = instantiateRecipe(s1, { teacher, preset: 'tiny', options: { lrDiscriminator: 2e-3 }, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    // 2 spatial 2D heads and 2 temporal 1D heads.
    const names = [...inst.networks.discriminator!.variables().keys()];
    expect(names.some((n) => n.startsWith('spatial1.'))).toBe(true);
    expect(names.some((n) => n.startsWith('temporal1.'))).toBe(true);
    const g0 = weights(inst.networks.generator!);
    const d0 = weights(inst.networks.discriminator!);
    const dPhase = inst.phases.filter((p) => p.role === 'discriminator');
    const losses = (await train(inst, dPhase, 8)).map((l) => l[0]!);
    for (const [n, v] of inst.networks.generator!.variables()) expect(Array.from(v.dataSync())).toEqual(Array.from(g0.get(n)!));
    for (const [n, v] of critic.net.variables()) expect(Array.from(v.dataSync())).toEqual(Array.from(c0.get(n)!));
    expect(maxDelta(d0, weights(inst.networks.discriminator!))).toBeGreaterThan(0);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(mean(losses.slice(-3))).toBeLessThan(mean(losses.slice(0, 3)));
    inst.dispose();
    critic.dispose();
    teacher.backbone.net.dispose();
  });

  it('stage 2: the EMA target moves with the decay (closed form on the adapters) and keeps the teacher base', async () => {
    const teacher = liveTeacher({ schedule: 'vp', seed: 3 });
    const inst = instantiateRecipe(osvStage2, { teacher, preset: 'tiny', options: { emaDecay: 0.5, m: 2 }, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    expect(Object.keys(inst.networks).sort()).toEqual(['discriminator', 'generator', 'generatorEma']);
    expect(inst.ema).toEqual([{ role: 'generatorEma', source: 'generator', decay: 0.5 }]);
    const gen = inst.networks.generator!;
    const theta0 = weights(gen);
    const run = startRun({ seed: 2, steps: 1, roles: inst.networks, phases: inst.phases, ema: inst.ema, data: realSource() });
    const emaNet = run.networks.generatorEma!;
    await run.result;
    let checked = 0;
    for (const [n, v] of gen.variables()) {
      const ema = emaNet.variable(n).dataSync();
      const th = v.dataSync();
      if (/\.lora_[AB]$/.test(n)) {
        // theta^-_1 = d theta^-_0 + (1 - d) theta_1, theta^-_0 = theta_0.
        th.forEach((x, k) => expect(ema[k]!).toBeCloseTo(0.5 * theta0.get(n)![k]! + 0.5 * x, 6));
        if (n.endsWith('lora_B') && Array.from(th).some((x) => x !== 0)) checked++;
      } else expect(Array.from(ema)).toEqual(Array.from(teacher.backbone.net.variable(n).dataSync()));
    }
    expect(checked).toBeGreaterThan(0);
    inst.dispose();
    teacher.backbone.net.dispose();
  });

  it('under distill, the discriminator phase judges the same detached samples the generator phase drew', async () => {
    const teacher = liveTeacher({ seed: 3 });
    const critic = Dinov2Critic.create(OSV_TINY_DINOV2, { seed: 5 });
    const seen: Float32Array[] = [];
    const featureSource = (env: { sampleShape: readonly number[] }): OsvFeatureSource => {
      const inner = latentCriticSource(critic, { layers: [2], size: 8, sampleShape: env.sampleShape });
      return {
        ...inner,
        features: (x, t, c) => {
          seen.push(x.dataSync().slice() as Float32Array);
          return inner.features(x, t, c);
        },
      };
    };
    const { osvStage2: s2 } = createOsvRecipes({ featureSource });
    const before = tf.memory().numTensors;
    const out = await distill({ recipe: s2, teacher, preset: 'tiny', options: { m: 5 }, data: { real: realSource() }, sampleShape: shape, batchSize: TINY_BATCH, steps: 2, seed: 3 });
    // Per step: G (fake), then D on one pass over concat([real = EMA target, fake]).
    expect(seen.length).toBe(4);
    for (const s of [0, 2]) {
      const g = Array.from(seen[s]!);
      const both = Array.from(seen[s + 1]!);
      expect(both.length).toBe(2 * g.length);
      expect(both.slice(g.length)).toEqual(g);
      expect(both.slice(0, g.length)).not.toEqual(g);
    }
    out.student.dispose();
    expect(tf.memory().numTensors).toBe(before);
    critic.dispose();
    teacher.backbone.net.dispose();
  });

  it('recipe:osv runs stage 1 then stage 2 on one step budget, options shared by name (m for the sweep)', async () => {
    const teacher = liveTeacher({ seed: 3 });
    expect(osv.kind).toBe('stages');
    expect(osv.stages.map((s) => [s.recipe.name, s.fraction])).toEqual([
      ['recipe:osv-stage1', 0.3],
      ['recipe:osv-stage2', 0.7],
    ]);
    const stages: string[] = [];
    const out = await distill({
      recipe: osv,
      teacher,
      preset: 'tiny',
      options: { m: 1, lr: 1e-3 },
      data: { real: realSource() },
      sampleShape: shape,
      batchSize: TINY_BATCH,
      steps: 3,
      seed: 3,
      onRun: (_run, s) => stages.push(`${s.recipe}:${s.steps}`),
    });
    expect(stages).toEqual(['recipe:osv-stage1:1', 'recipe:osv-stage2:2']);
    expect(out.summaries.map((s) => s.step)).toEqual([1, 2]);
    expect(out.options[0]).toMatchObject({ lr: 1e-3, lambdaLgp: 1, criticArch: 'tiny' });
    expect(out.options[0]).not.toHaveProperty('m');
    expect(out.options[1]).toMatchObject({ lr: 1e-3, m: 1, emaDecay: 0.95, criticArch: 'tiny' });
    expect(out.spec).toEqual({ parameterization: 'consistency', sampler: 'time-travel', steps: 1 });
    expect([...out.student.variables().keys()].some((n) => n.includes('lora'))).toBe(false);
    expect(maxAbsDiff(out.student.variable('blocks.0.attn1.to_q.kernel'), teacher.backbone.net.variable('blocks.0.attn1.to_q.kernel'))).toBeGreaterThan(0);
    out.student.dispose();
    teacher.backbone.net.dispose();
  }, 60_000);
});
