import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { forwardDiffuse, Network, normal, vpDiscreteSchedule } from '@fewstep/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak, expectTensorsClose, seededNormal } from '@fewstep/testing';
import { teacherTapFeatures } from './teacher-tap-features.js';
import { tinyTeacher } from './test-sources.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('teacherTapFeatures', () => {
  const schedule = vpDiscreteSchedule();

  it('returns the named taps of the teacher on x_t; noised input skips the diffusion', async () => {
    const net = new Network('teacher', { seed: 1 });
    const teacher = tinyTeacher(net, 2);
    const features = teacherTapFeatures({ teacher, taps: ['a', 'b'], schedule });
    const x = seededNormal([2, 3, 4, 4, 2], 1);
    const eps = seededNormal([2, 3, 4, 4, 2], 2);
    const t = tf.tensor1d([100, 700]);
    const taps = features({ x, t, eps });
    expect(Object.keys(taps)).toEqual(['a', 'b']);
    expect(taps.a!.shape).toEqual([2, 3, 4, 4, 4]);
    expect(taps.b!.shape).toEqual([2, 3, 2, 2, 8]);
    const xt = forwardDiffuse(schedule, x, eps, t);
    const direct = features({ x: xt, t, noised: true });
    expectTensorsClose(direct.a!, taps.a!, { atol: 1e-6, what: 'tap a, noised vs diffused' });
    // The noise matters: another eps gives other features.
    const other = features({ x, t, eps: tf.neg(eps) });
    expect(tf.max(tf.abs(tf.sub(other.b!, taps.b!))).dataSync()[0]).toBeGreaterThan(1e-3);
    await expectNoLeak(() => features({ x, t: 500, eps }));
    tf.dispose([x, eps, t, xt, ...Object.values(taps), ...Object.values(direct), ...Object.values(other)]);
    net.dispose();
  });

  it('gradients flow to the generator sample x; the frozen teacher is untouched', () => {
    const net = new Network('teacher', { seed: 2 });
    const teacher = tinyTeacher(net, 2);
    const features = teacherTapFeatures({ teacher, taps: ['b'], schedule });
    const gen = new Network('generator', { seed: 3 });
    const x0 = gen.param('x0', [2, 2, 4, 4, 2], normal({ std: 1 }));
    const eps = seededNormal([2, 2, 4, 4, 2], 5);
    const before = [...net.variables().values()].map((v) => tf.clone(v));
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(features({ x: x0, t: 300, eps }).b!)) as tf.Scalar, [x0]);
    expect(Object.keys(grads)).toEqual([x0.name]);
    expect(tf.max(tf.abs(grads[x0.name]!)).dataSync()[0]).toBeGreaterThan(0);
    [...net.variables().values()].forEach((v, i) => expectTensorsClose(v, before[i]!, { atol: 0, rtol: 0, what: v.name }));
    tf.dispose([value, eps, ...Object.values(grads), ...before]);
    net.dispose();
    gen.dispose();
  });

  it('validates taps, schedule and eps', () => {
    const net = new Network('teacher', { seed: 1 });
    const teacher = tinyTeacher(net, 2);
    const x = seededNormal([1, 4, 4, 2], 1);
    expect(() => teacherTapFeatures({ teacher, taps: [] })).toThrow(/taps/);
    expect(() => teacherTapFeatures({ teacher, taps: ['a'] })({ x, t: 1, eps: x })).toThrow(/schedule/);
    expect(() => teacherTapFeatures({ teacher, taps: ['a'], schedule })({ x, t: 1 })).toThrow(/eps/);
    expect(() => teacherTapFeatures({ teacher, taps: ['zz'] })({ x, t: 1, noised: true })).toThrow(/zz/);
    x.dispose();
    net.dispose();
  });
});
