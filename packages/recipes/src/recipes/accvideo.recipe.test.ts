import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ACCVIDEO_KEY_TIMESTEPS, ACCVIDEO_UNIFORM_TIMESTEPS, ConfigError, definePlugin, readCheckpoint, startRun } from '@fewstep/core';
import { changed, expectResumedBitExact, firstBatch, tempDirs, termLoss, trainingContext, weights } from '../testing/recipe-harness.test-util.js';
import { TINY_BATCH, tinyMixture, tinyTeacher, trajectorySource } from '../testing/tiny-world.test-util.js';
import { distill, instantiateRecipe, type InstantiatedRecipe } from '../runtime/distill.js';
import type { RecipeContext } from '../runtime/recipe-context.js';
import { accVideo, accVideoSegment, accVideoStudent, accVideoTaps, accVideoTrajectoryTimes } from './accvideo.recipe.js';
import { LatentQueues } from './latent-queues.js';

const shape = tinyMixture().shape;
const tmp = tempDirs('fewstep-accvideo-');

/** Loss of term `term` of phase `phaseIndex` at `step` on `batch` (run seed 1). */
function lossAt(inst: InstantiatedRecipe, phaseIndex: number, term: number, step: number, batch: tf.NamedTensorMap): number {
  return termLoss(inst, phaseIndex, term, trainingContext(inst, { phase: phaseIndex, step, batch }));
}

describe('recipe:accvideo (AccVideo Algorithm 1, Eq. 6-8)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('key vs uniform select the paper lists; the student is the 5-step ODE student on that grid without its 0', () => {
    expect(accVideoTrajectoryTimes()).toEqual([...ACCVIDEO_KEY_TIMESTEPS]);
    expect(accVideoTrajectoryTimes({ timesteps: 'key' })).toEqual([1, 0.9651, 0.913, 0.8235, 0.6363, 0]);
    expect(accVideoTrajectoryTimes({ timesteps: 'uniform' })).toEqual([...ACCVIDEO_UNIFORM_TIMESTEPS]);
    expect(accVideoStudent({ timesteps: 'uniform' })).toEqual({ parameterization: 'velocity', sampler: 'ode', steps: 5, timesteps: [1, 0.8109, 0.6057, 0.3783, 0.2258] });
    const teacher = tinyTeacher();
    for (const timesteps of ['key', 'uniform'] as const) {
      const inst = instantiateRecipe(accVideo, { teacher, preset: 'tiny', options: { timesteps }, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
      expect(inst.student).toEqual({ parameterization: 'velocity', sampler: 'ode', steps: 5, timesteps: accVideoTrajectoryTimes({ timesteps }).slice(0, -1) });
      expect(Object.keys(inst.networks).sort()).toEqual(['discriminator', 'generator', 'latentQueues']);
      expect(inst.phases.map((p) => [p.name, p.role])).toEqual([['generator', 'generator'], ['discriminator', 'discriminator']]);
      expect(inst.phases.map((p) => p.optimizer)).toEqual([{ type: 'adamw', lr: 2e-4, weightDecay: 0.01 }, { type: 'adamw', lr: 2e-4, weightDecay: 0.01 }]);
      // m + 1 = 6 queues; m = 5 heads; only the heads train.
      expect(inst.roles.get('latentQueues')!.net.trainableVariables().size).toBe(0);
      expect((inst.roles.get('latentQueues')!.api as LatentQueues).queues).toBe(6);
      expect(new Set([...inst.networks.discriminator!.variables().keys()].map((n) => n.split('.')[1]))).toEqual(new Set(['head0', 'head1', 'head2', 'head3', 'head4']));
      inst.dispose();
    }
    // The paper preset is the schema defaults: lambda_adv 0.1, AdamW lr 5e-6.
    const paper = instantiateRecipe(accVideo, { teacher, preset: 'paper', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    expect(paper.options).toMatchObject({ timesteps: 'key', lambdaAdv: 0.1, lr: 5e-6, headsLr: 5e-6, segmentOrder: 'cycle' });
    expect(paper.phases[0]!.losses.map(([d, o]) => [d.name, o.weight])).toEqual([['consistency:trajectory', undefined], ['adv:logistic-generator', 0.1]]);
    paper.dispose();
    teacher.backbone.net.dispose();
  });

  it('segments follow Algorithm 1 (k = m-1 .. 0, cyclic) or a per-step draw shared by both phases', () => {
    const times = accVideoTrajectoryTimes();
    const at = (step: number, phase: string) => ({ step, seed: 3, phase }) as unknown as RecipeContext;
    expect([0, 1, 2, 3, 4, 5, 6].map((s) => accVideoSegment(at(s, 'generator'), times, 'cycle').k)).toEqual([4, 3, 2, 1, 0, 4, 3]);
    const s0 = accVideoSegment(at(0, 'generator'), times, 'cycle');
    expect(s0).toEqual({ k: 4, m: 5, iFrom: 0, iTo: 1, tFrom: 1, tTo: 0.9651 });
    expect(accVideoSegment(at(4, 'generator'), times, 'cycle')).toEqual({ k: 0, m: 5, iFrom: 4, iTo: 5, tFrom: 0.6363, tTo: 0 });
    const ks = Array.from({ length: 40 }, (_, s) => accVideoSegment(at(s, 'generator'), times, 'random').k);
    expect(new Set(ks)).toEqual(new Set([0, 1, 2, 3, 4]));
    for (let s = 0; s < 40; s++) expect(accVideoSegment(at(s, 'discriminator'), times, 'random').k).toBe(ks[s]);
  });

  it('the trajectory term equals the closed-form secant regression (Eq. 6) on every segment, for both lists', async () => {
    const teacher = tinyTeacher();
    for (const timesteps of ['key', 'uniform'] as const) {
      const times = accVideoTrajectoryTimes({ timesteps });
      const data = trajectorySource(times);
      const batch = await firstBatch(data.source);
      const inst = instantiateRecipe(accVideo, { teacher, preset: 'tiny', options: { timesteps }, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
      for (let step = 0; step < 5; step++) {
        const k = 4 - step;
        const [tFrom, tTo] = [times[5 - k - 1]!, times[5 - k]!];
        const expected = tf.tidy(() => {
          const traj = batch.trajectory!;
          const from = tf.squeeze(tf.slice(traj, [0, 5 - k - 1], [-1, 1]), [1]);
          const to = tf.squeeze(tf.slice(traj, [0, 5 - k], [-1, 1]), [1]);
          // The student starts as the teacher: v = its raw flow output at (l_{t'_{k+1}}, 1000 t'_{k+1}).
          const v = teacher.backbone.forward({ x: from, t: tf.fill([TINY_BATCH], 1000 * tFrom) }).out;
          return tf.mean(tf.square(tf.sub(v, tf.div(tf.sub(to, from), tTo - tFrom)))).dataSync()[0]!;
        });
        const got = lossAt(inst, 0, 0, step, batch);
        expect(got).toBeGreaterThan(0);
        expect(Math.abs(got - expected)).toBeLessThan(1e-6 * Math.max(1, expected));
      }
      inst.dispose();
      tf.dispose(Object.values(batch));
      data.dispose();
    }
    teacher.backbone.net.dispose();
  });

  it('one step: the generator phase never moves the heads; the discriminator phase moves only H_k; Q_k holds the fake states', async () => {
    const teacher = tinyTeacher();
    const times = accVideoTrajectoryTimes();
    const data = trajectorySource(times);
    // Generator phase alone: the heads (and the teacher) stay, the student moves.
    const genOnly = instantiateRecipe(accVideo, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    const heads0 = weights(genOnly.networks.discriminator!);
    const student0 = weights(genOnly.networks.generator!);
    const teacher0 = weights(teacher.backbone.net);
    await startRun({ seed: 1, steps: 1, roles: genOnly.networks, phases: [genOnly.phases[0]!], data: data.source }).result;
    expect(changed(heads0, genOnly.networks.discriminator!)).toBe(false);
    expect(changed(student0, genOnly.networks.generator!)).toBe(true);
    expect(changed(teacher0, teacher.backbone.net)).toBe(false);
    genOnly.dispose();

    // Both phases, step 0 (k = m - 1 = 4): only head 4 moves.
    const inst = instantiateRecipe(accVideo, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    const heads = weights(inst.networks.discriminator!);
    const tensors = tf.memory().numTensors;
    await startRun({ seed: 1, steps: 1, roles: inst.networks, phases: inst.phases, data: data.source }).result;
    expect(tf.memory().numTensors).toBe(tensors); // no leaked tensor (the queues are updated in place)
    expect(changed(heads, inst.networks.discriminator!, 'heads.head4.')).toBe(true);
    for (const h of [0, 1, 2, 3]) expect(changed(heads, inst.networks.discriminator!, `heads.head${h}.`)).toBe(false);
    // Algorithm 1 lines 12-17 at k = 4: z pushed to Q_5 and popped, the student's step pushed to Q_4.
    const queues = inst.roles.get('latentQueues')!.api as LatentQueues;
    expect(queues.fills()).toEqual([0, 0, 0, 0, TINY_BATCH, 0]);
    const q4 = queues.newest(4, TINY_BATCH)!;
    expect(tf.all(tf.isFinite(q4)).dataSync()[0]).toBe(1);
    expect(tf.max(tf.abs(q4)).dataSync()[0]).toBeGreaterThan(0);
    q4.dispose();
    inst.dispose();
    data.dispose();
    teacher.backbone.net.dispose();
  }, 30_000);

  it('queues survive a checkpoint: 2 steps + resume to 4 equals 4 straight, bit for bit; the checkpoint holds the queues', async () => {
    const teacher = tinyTeacher();
    const data = trajectorySource(accVideoTrajectoryTimes());
    const base = { recipe: accVideo, teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 3, data: { trajectories: data.source } } as const;
    const straight = await distill({ ...base, steps: 4, outDir: tmp(), checkpoint: { every: 2 } });
    const out = tmp();
    const half = await distill({ ...base, steps: 2, outDir: out, checkpoint: { every: 2 } });
    half.student.dispose();
    // After steps 0 (k = 4) and 1 (k = 3), Q_3 holds the batch the step-2 generator phase pops.
    const ck = await readCheckpoint(half.summaries[0]!.lastCheckpoint!);
    const fills: Record<string, number> = {};
    for (const [file, contents] of ck.tensors) {
      if (!file.includes('latentQueues')) continue;
      for (const [name, t] of contents.tensors) {
        const m = /^q(\d)\.fill$/.exec(name);
        if (m) fills[m[1]!] = Number((t.data as ArrayLike<number>)[0]);
      }
    }
    expect(Object.keys(fills).sort()).toEqual(['0', '1', '2', '3', '4', '5']);
    expect([0, 1, 2, 3, 4, 5].map((k) => fills[k])).toEqual([0, 0, 0, TINY_BATCH, 0, 0]);
    const resumed = await distill({ ...base, steps: 4, outDir: out, checkpoint: { every: 2 } });
    expectResumedBitExact(straight, resumed, teacher.backbone.net);
    // Control: the same 4 steps with the queues emptied after step 2 (as a resume that lost them) differ.
    const clearAt2 = definePlugin({
      name: 'clear-queues',
      afterStep: ({ step, networks }) => {
        if (step === 2) new LatentQueues(networks.latentQueues!, { queues: 6, capacity: 64, sampleShape: shape }).clear();
      },
    });
    const lost = await distill({ ...base, steps: 4, plugins: [clearAt2] });
    const differs = [...straight.student.variables()].some(([n, v]) => tf.any(tf.notEqual(v, lost.student.variable(n))).dataSync()[0] === 1);
    expect(differs).toBe(true);
    lost.student.dispose();
    straight.student.dispose();
    resumed.student.dispose();
    data.dispose();
    teacher.backbone.net.dispose();
  }, 60_000);

  it('a short run of the trajectory term lowers Eq. 6 on a fixed batch (every segment)', async () => {
    const teacher = tinyTeacher();
    const data = trajectorySource(accVideoTrajectoryTimes());
    const batch = await firstBatch(data.source);
    const inst = instantiateRecipe(accVideo, { teacher, preset: 'tiny', options: { lr: 3e-3 }, sampleShape: shape, batchSize: TINY_BATCH, seed: 2 });
    const mean = () => [0, 1, 2, 3, 4].reduce((s, step) => s + lossAt(inst, 0, 0, step, batch), 0) / 5;
    const before = mean();
    const p = inst.phases[0]!;
    await startRun({ seed: 2, steps: 20, roles: inst.networks, phases: [{ ...p, losses: [p.losses[0]!] }], data: data.source }).result;
    expect(mean()).toBeLessThan(0.9 * before);
    inst.dispose();
    tf.dispose(Object.values(batch));
    data.dispose();
    teacher.backbone.net.dispose();
  }, 30_000);

  it('an empty Q_{k+1} falls back to simulating the student from the batch noise l\'_{t\'_m} (random segments)', async () => {
    const teacher = tinyTeacher();
    const times = accVideoTrajectoryTimes();
    const data = trajectorySource(times);
    // A seed whose first random segment is k <= 2: Q_{k+1} is empty at step 0.
    const seed = [1, 2, 3, 4, 5, 6, 7, 8].find((s) => accVideoSegment({ step: 0, seed: s } as unknown as RecipeContext, times, 'random').k <= 2)!;
    const k = accVideoSegment({ step: 0, seed } as unknown as RecipeContext, times, 'random').k;
    const batch = await firstBatch(data.source, seed);
    const inst = instantiateRecipe(accVideo, { teacher, preset: 'tiny', options: { segmentOrder: 'random' }, sampleShape: shape, batchSize: TINY_BATCH, seed });
    await startRun({ seed, steps: 1, roles: inst.networks, phases: [inst.phases[0]!], data: data.source }).result;
    const queues = inst.roles.get('latentQueues')!.api as LatentQueues;
    expect(queues.fills()).toEqual([0, 1, 2, 3, 4, 5].map((q) => (q === k ? TINY_BATCH : 0)));
    // Closed form: Euler steps of the (initial) student = teacher from l'_{t'_5} down to t'_k.
    const expected = tf.tidy(() => {
      let x = tf.squeeze(tf.slice(batch.trajectory!, [0, 0], [-1, 1]), [1]);
      for (let i = 0; i < 5 - k; i++) {
        const v = teacher.backbone.forward({ x, t: tf.fill([TINY_BATCH], 1000 * times[i]!) }).out;
        x = tf.add(x, tf.mul(v, times[i + 1]! - times[i]!));
      }
      return x;
    });
    const got = queues.newest(k, TINY_BATCH)!;
    expect(tf.max(tf.abs(tf.sub(got, expected))).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([got, expected, ...Object.values(batch)]);
    inst.dispose();
    data.dispose();
    teacher.backbone.net.dispose();
  }, 30_000);

  it('validates options, taps, the schedule and the queue capacity with ConfigErrors naming the field', async () => {
    const teacher = tinyTeacher();
    const common = { teacher, sampleShape: shape, batchSize: TINY_BATCH, seed: 1 };
    expect(() => instantiateRecipe(accVideo, { ...common, options: { lambdaAdv: -1 } })).toThrow(/lambdaAdv.*-1/s);
    expect(() => instantiateRecipe(accVideo, { ...common, options: { timesteps: 'linear' } })).toThrow(ConfigError);
    expect(() => instantiateRecipe(accVideo, { ...common, options: { timesteps: 'linear' } })).toThrow(/timesteps/);
    expect(() => instantiateRecipe(accVideo, { ...common, options: { lambaAdv: 0.1 } })).toThrow(/known options: .*lambdaAdv/s);
    expect(() => instantiateRecipe(accVideo, { ...common, options: { queueCapacity: 0 } })).toThrow(/queueCapacity/);
    expect(() => instantiateRecipe(accVideo, { ...common, options: { tapNoisy: 'block.9' } })).toThrow(/tapNoisy.*block\.9.*block\.0, block\.1/s);
    expect(() => accVideoTrajectoryTimes({ timesteps: 'linear' as never })).toThrow(ConfigError);
    expect(accVideoTaps(teacher.backbone, {})).toEqual({ tapNoisy: 'block.1', tapClean: 'block.0' });
    const vp = tinyTeacher({ schedule: 'vp' });
    expect(() => instantiateRecipe(accVideo, { ...common, teacher: vp })).toThrow(/schedule.*vp-discrete/s);
    vp.backbone.net.dispose();
    const data = trajectorySource(accVideoTrajectoryTimes());
    await expect(distill({ recipe: accVideo, teacher, preset: 'tiny', options: { queueCapacity: 2 }, sampleShape: shape, batchSize: TINY_BATCH, steps: 1, data: { trajectories: data.source } })).rejects.toThrow(/queueCapacity.*2.*batch size 4/s);
    const wrong = trajectorySource([1, 0.5, 0]);
    await expect(distill({ recipe: accVideo, teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, steps: 1, data: { trajectories: wrong.source } })).rejects.toThrow(/trajectory/);
    wrong.dispose();
    data.dispose();
    teacher.backbone.net.dispose();
  }, 20_000);
});
