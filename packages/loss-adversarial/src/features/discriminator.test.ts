import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Network, normal, vpDiscreteSchedule } from '@fewstep/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak, expectTensorsClose, seededNormal } from '@fewstep/testing';
import type { AdmInputs } from '../adm-loss.js';
import { hingeGeneratorLoss } from '../gan-objectives.js';
import { head2d } from '../heads/discriminator-heads.js';
import { composeDiscriminator, fromCritic, fromTeacherTaps } from './discriminator.js';
import { criticFeatures } from './critic-features.js';
import { teacherTapFeatures } from './teacher-tap-features.js';
import { textConditionedHead } from './text-conditioned-head.js';
import { tinyCritic, tinyTeacher } from './test-sources.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('composeDiscriminator', () => {
  it('teacher taps + head2d + adv:hinge-generator: gradients reach the generator input and the heads, not the teacher', async () => {
    const teacherNet = new Network('teacher', { seed: 1 });
    const extract = teacherTapFeatures({ teacher: tinyTeacher(teacherNet, 2), taps: ['a', 'b'], schedule: vpDiscreteSchedule() });
    const dNet = new Network('disc', { seed: 2 });
    const eps = seededNormal([2, 2, 4, 4, 2], 3);
    const d = composeDiscriminator(fromTeacherTaps(extract, { noise: () => eps }), [
      { feature: 'a', head: head2d(dNet, 'a', { inChannels: 4, channels: [4] }) },
      { feature: 'b', head: head2d(dNet, 'b', { inChannels: 8, channels: [4] }) },
    ]);
    const gen = new Network('gen', { seed: 4 });
    const x0 = gen.param('x0', [2, 2, 4, 4, 2], normal({ std: 1 }));
    const t = tf.tensor1d([200, 600]);
    // Head a: [2, 2, 2, 2, 1] -> 8 logits per sample; head b: [2, 2, 1, 1, 1] -> 2.
    const logits = d(x0, t);
    const admDiscriminator: AdmInputs['discriminator'] = d; // usable as ADM's D as is
    expectTensorsClose(admDiscriminator(x0, t), logits, { atol: 0, what: 'D through the ADM type' });
    expect(logits.shape).toEqual([2, 10]);
    await expectNoLeak(() => d(x0, t));

    const headVars = [...dNet.trainableVariables().values()];
    const { value, grads } = tf.variableGrads(() => {
      const out = hingeGeneratorLoss.compute({ fakeLogits: () => d(x0, t) }, hingeGeneratorLoss.defaults);
      tf.dispose(Object.values(out.metrics ?? {}));
      return out.loss;
    }, [x0, ...headVars]);
    expectTensorsClose(value, tf.neg(tf.mean(logits)), { atol: 1e-6, what: 'hinge generator loss = -mean D' });
    for (const v of [x0, ...headVars]) expect(tf.max(tf.abs(grads[v.name]!)).dataSync()[0], v.name).toBeGreaterThan(0);
    for (const v of teacherNet.variables().values()) expect(grads[v.name]).toBeUndefined();
    tf.dispose([eps, t, logits, value, ...Object.values(grads)]);
    for (const n of [teacherNet, dNet, gen]) n.dispose();
  });

  it('x_t inputs (ADM form), a critic source and a text-conditioned head; errors name the missing feature', () => {
    const teacherNet = new Network('teacher', { seed: 5 });
    const extract = teacherTapFeatures({ teacher: tinyTeacher(teacherNet, 3), taps: ['a'] });
    const dNet = new Network('disc', { seed: 6 });
    const xt = seededNormal([2, 4, 4, 3], 7);
    const t = tf.tensor1d([10, 20]);
    const dTeacher = composeDiscriminator(fromTeacherTaps(extract), [{ feature: 'a', head: head2d(dNet, 'a', { inChannels: 4, channels: [4] }) }]);
    const y = dTeacher(xt, t);
    expect(y.shape).toEqual([2, 4]);

    const criticNet = new Network('critic', { seed: 8 });
    const critic = criticFeatures({ critic: tinyCritic(criticNet, 2, 4, 2), layers: [1], patchSize: 2, prefixTokens: 1 });
    const text = textConditionedHead(dNet, 'tc', { head: head2d(dNet, 'c', { inChannels: 4, channels: [4] }), featureChannels: 4, textChannels: 3 });
    const dCritic = composeDiscriminator(fromCritic(critic), [{ feature: 'grid0', head: text, conditioned: true }]);
    const e = seededNormal([2, 3], 9);
    const z = dCritic(xt, t, e);
    expect(z.shape).toEqual([2, 1]);
    const z2 = dCritic(xt, t, tf.neg(e));
    expect(tf.max(tf.abs(tf.sub(z, z2))).dataSync()[0]).toBeGreaterThan(1e-4);
    expect(() => dCritic(xt, t)).toThrow(/cond/);
    expect(() => composeDiscriminator(fromCritic(critic), [{ feature: 'grid7', head: text }])(xt, t)).toThrow(/grid7/);
    expect(() => composeDiscriminator(fromCritic(critic), [])).toThrow(/heads/);
    tf.dispose([xt, t, y, e, z, z2]);
    for (const n of [teacherNet, dNet, criticNet]) n.dispose();
  });
});
