import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  Adam,
  ConfigError,
  StepRandom,
  flowMatchingSchedule,
  generatedDataSource,
  gmmVideo,
  ofType,
  seededRng,
  valueAndGrads,
  vpDiscreteSchedule,
  type DataSource,
  type LossUse,
  type Network,
  type TrainingContext,
} from '@fewstep/core';
import { distill, instantiateRecipe, lcmOptions, type BackboneLike, type DiffusionModel } from '@fewstep/recipes';
import { beforeAll, describe, expect, it } from 'vitest';
import { microVideoDiT } from './backbone-presets.js';
import { criticTaps, criticTime, featureMatchingLcm } from './feature-matching-lcm.recipe.js';

/**
 * The recipe on a tiny world: a 4-mode analytic Gaussian-mixture video distribution `[2, 4, 4, 3]`
 * (core's `gmmVideo`, exact samples as the real data) and an untrained `micro` video DiT teacher
 * (this plugin's preset), under flow matching and under a VP schedule.
 */
const SPEC = 'gmm-video:modes=4,frames=2,size=4,channels=3,std=0.1,seed=3';
const gmm = gmmVideo(SPEC);
const shape = gmm.shape;
const B = 4;

function microTeacher(schedule: 'flow' | 'vp' = 'flow'): DiffusionModel {
  const backbone = microVideoDiT({ seed: 1 }) as unknown as BackboneLike;
  backbone.net.freeze();
  return schedule === 'vp'
    ? { backbone, schedule: vpDiscreteSchedule({ betaSchedule: 'scaled_linear' }), predictionType: 'epsilon' }
    : { backbone, schedule: flowMatchingSchedule(), predictionType: 'flow' };
}

function realSource(batch = B): DataSource {
  return generatedDataSource({ name: 'data:fm-gmm', config: { spec: SPEC, batch }, make: (_c, rng) => ({ x0: gmm.sample(batch, rng).x0 }) });
}

const values = (net: Network): Map<string, Float32Array> => new Map([...net.variables()].map(([n, v]) => [n, v.dataSync().slice() as Float32Array]));
const maxChange = (a: Map<string, Float32Array>, net: Network): number => {
  let m = 0;
  for (const [n, v] of net.variables()) {
    const now = v.dataSync();
    a.get(n)!.forEach((x, i) => (m = Math.max(m, Math.abs(x - now[i]!))));
  }
  return m;
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('recipe:feature-matching-lcm: options and structure', () => {
  it("defaults are LCM's paper settings plus ours; bad options name the field", () => {
    const teacher = microTeacher();
    const inst = instantiateRecipe(featureMatchingLcm, { teacher, sampleShape: shape, batchSize: B, seed: 1 });
    expect(inst.options).toEqual({ ...lcmOptions.parse({}), lambdaFm: 1, fmDistance: 'l2', fmTaps: [], fmTimeRange: [0, 0.5] });
    expect(Object.keys(inst.networks).sort()).toEqual(['generator', 'generatorEma']);
    expect(inst.phases.map((p) => [p.role, p.losses.map(([l, o]) => [l.name, o])])).toEqual([
      ['generator', [['consistency:consistency-distillation', { distance: 'l2' }], ['fm:feature-matching', { weight: 1, distance: 'l2' }]]],
    ]);
    expect(inst.ema).toEqual([{ role: 'generatorEma', source: 'generator', decay: 0.95 }]);
    expect(inst.student).toEqual({ parameterization: 'consistency', sampler: 'multistep', steps: 4 });
    inst.dispose();
    const common = { teacher, sampleShape: shape, batchSize: B, seed: 1 };
    expect(() => instantiateRecipe(featureMatchingLcm, { ...common, options: { fmTimeRange: [0.6, 0.2] } })).toThrow(/fmTimeRange.*lo <= hi/s);
    expect(() => instantiateRecipe(featureMatchingLcm, { ...common, options: { lambdaFm: -1 } })).toThrow(ConfigError);
    expect(() => instantiateRecipe(featureMatchingLcm, { ...common, options: { fmTaps: ['block.7'] } })).toThrow(/fmTaps.*block\.7.*block\.0, block\.1/s);
    expect(() => instantiateRecipe(featureMatchingLcm, { ...common, options: { lambdaFM: 1 } })).toThrow(/known options: .*lambdaFm/s);
    teacher.backbone.net.dispose();
  });

  it('critic taps and critic times: every tap by default, a chosen subset, t_c on either schedule', () => {
    const teacher = microTeacher();
    expect(criticTaps(teacher, [])).toEqual(['block.0', 'block.1']);
    expect(criticTaps(teacher, ['block.1'])).toEqual(['block.1']);
    expect(criticTime(flowMatchingSchedule(), [0, 0.5], 0.5)).toBeCloseTo(0.25, 12);
    expect(criticTime(vpDiscreteSchedule({ betaSchedule: 'scaled_linear' }), [0, 0.5], 1)).toBeCloseTo(999 / 2, 9);
    expect(criticTime(flowMatchingSchedule(), [0.2, 0.2], 0.9)).toBeCloseTo(0.2, 12);
    teacher.backbone.net.dispose();
  });
});

describe('recipe:feature-matching-lcm: training', () => {
  it("at one fixed step (same batch, same random streams) the feature-matching gradient is a descent direction, and Adam lowers the generator's objective", async () => {
    const teacher = microTeacher();
    const inst = instantiateRecipe(featureMatchingLcm, { teacher, preset: 'tiny', sampleShape: shape, batchSize: B, seed: 1 });
    const x0 = gmm.sample(B, seededRng(21)).x0;
    const generator = inst.networks.generator!;
    const [cdTerm, fmTerm] = inst.phases[0]!.losses;
    // What the trainer hands a term: a fresh context of step 0 each time, so every evaluation draws the same numbers.
    const context = (): TrainingContext => {
      const random = new StepRandom(5, 0, 'generator');
      return {
        step: 0,
        phase: 'generator',
        role: 'generator',
        seed: 5,
        networks: inst.networks,
        network: (role) => inst.networks[role]!,
        batch: { x0 },
        batchId: null,
        rng: (s) => random.rng(s),
        randomNormal: (sh, s, std) => random.normal(sh, s, std),
        randomUniform: (sh, s, lo, hi) => random.uniform(sh, s, lo, hi),
      };
    };
    const term = ([loss, o]: LossUse) => (): tf.Scalar =>
      tf.tidy(() => tf.mul(loss.compute(context(), { ...loss.defaults, ...o }).loss, (o.weight as number | undefined) ?? 1) as tf.Scalar);
    const total = (): tf.Scalar => tf.tidy(() => tf.add(term(cdTerm!)(), term(fmTerm!)()) as tf.Scalar);
    const read = (f: () => tf.Scalar): number => {
      const v = f();
      const x = v.dataSync()[0]!;
      v.dispose();
      return x;
    };
    const teacherBefore = values(teacher.backbone.net);
    const emaBefore = values(inst.networks.generatorEma!);

    // 1. The gradient of L_FM reaches the generator through the frozen critic, and a small step against it lowers L_FM.
    const fm0 = read(term(fmTerm!));
    const { value, grads } = valueAndGrads(generator, term(fmTerm!));
    expect(value.dataSync()[0]).toBeCloseTo(fm0, 7);
    const norm = Math.sqrt([...grads.values()].reduce((s, g) => s + tf.sum(tf.square(g)).dataSync()[0]!, 0));
    expect(norm).toBeGreaterThan(0);
    const saved = new Map([...generator.trainableVariables()].map(([n, v]) => [n, tf.clone(v)]));
    for (const [n, v] of generator.trainableVariables()) if (grads.has(n)) v.assign(tf.tidy(() => tf.sub(v, tf.mul(grads.get(n)!, 1e-3 / norm))));
    expect(read(term(fmTerm!))).toBeLessThan(fm0);
    for (const [n, v] of generator.trainableVariables()) v.assign(saved.get(n)!);
    tf.dispose([value, ...grads.values(), ...saved.values()]);

    // 2. A few Adam steps (lr 1e-3) on that step lower the objective the trainer minimises, L_CD + lambdaFm L_FM.
    const total0 = read(total);
    const opt = new Adam({ lr: 1e-3 });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 4; i++) {
      const r = valueAndGrads(generator, total);
      await opt.step(r.grads, generator);
      tf.dispose([r.value, ...r.grads.values()]);
    }
    expect(tf.memory().numTensors - before).toBe(opt.getState().slots.size); // only Adam's moments were kept
    expect(read(total)).toBeLessThan(total0);
    // Only the generator trained: the frozen teacher (the critic) and the EMA target did not move.
    expect(maxChange(teacherBefore, teacher.backbone.net)).toBe(0);
    expect(maxChange(emaBefore, inst.networks.generatorEma!)).toBe(0);
    opt.dispose();
    inst.dispose();
    x0.dispose();
    teacher.backbone.net.dispose();
  });

  it.each(['flow', 'vp'] as const)('distill (%s teacher): both terms are reported per step, the student moves away from the teacher, the teacher does not move', async (kind) => {
    const teacher = microTeacher(kind);
    const teacherBefore = values(teacher.backbone.net);
    const steps: { losses: Record<string, number>; metrics: Record<string, number> }[] = [];
    const result = await distill({
      recipe: featureMatchingLcm,
      teacher,
      preset: 'tiny',
      sampleShape: shape,
      batchSize: B,
      steps: 3,
      seed: 2,
      data: { real: realSource() },
      onRun: (run) => void run.events$.pipe(ofType('step/completed')).subscribe((e) => steps.push({ losses: { ...e.payload.losses }, metrics: { ...e.payload.metrics } })),
    });
    expect(steps).toHaveLength(3);
    for (const s of steps) {
      expect(Object.keys(s.losses).sort()).toEqual(['generator/consistency:consistency-distillation', 'generator/fm:feature-matching']);
      expect(Object.values(s.losses).every(Number.isFinite)).toBe(true);
      // The per-tap metrics add up to the (unweighted, w_l = 1) feature-matching loss.
      const perTap = s.metrics['generator/fm:feature-matching/block.0']! + s.metrics['generator/fm:feature-matching/block.1']!;
      expect(perTap).toBeCloseTo(s.losses['generator/fm:feature-matching']!, 6);
    }
    expect(result.spec).toEqual({ parameterization: 'consistency', sampler: 'multistep', steps: 4 });
    expect(maxChange(teacherBefore, result.student)).toBeGreaterThan(0);
    expect(maxChange(teacherBefore, teacher.backbone.net)).toBe(0);
    result.student.dispose();
    teacher.backbone.net.dispose();
  });
});
