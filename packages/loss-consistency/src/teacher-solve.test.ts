import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigError,
  ddimSampler,
  flowMatchingSchedule,
  gmmVideo,
  guidedDenoiser,
  mixtureDenoiser,
  vpDiscreteSchedule,
  type Denoiser,
} from '@fewstep/core';
import { expectNoLeak, expectTensorsClose, seededNormal } from '@fewstep/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { teacherSolve, teacherSolveGrid } from './teacher-solve.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const gmm = gmmVideo('gmm-video:modes=2,frames=2,size=4,channels=1,std=0.1,seed=5');
const shape = [3, 2, 4, 4, 1];

describe('teacherSolve', () => {
  it.each([
    ['flow matching, flow prediction', flowMatchingSchedule(), 'flow', 0.9, 0.3],
    ['vp discrete, eps prediction', vpDiscreteSchedule(), 'epsilon', 900, 300],
  ] as const)('equals core ddimSampler (eta 0) over the same grid: %s', async (_n, schedule, type, tFrom, tTo) => {
    const den = mixtureDenoiser(gmm, schedule, type);
    const x = seededNormal(shape, 1, 1);
    const m = 4;
    const grid = teacherSolveGrid(den, tFrom, tTo, m);
    const ours = teacherSolve(den, x, tFrom, tTo, m);
    const ref = ddimSampler({ steps: m, timesteps: grid }).sample(den, x, { returnTrajectory: true });
    expectTensorsClose(ours, ref.trajectory![m]!, { atol: 1e-5, rtol: 1e-4 });
    ref.trajectory!.forEach((t) => t.dispose());
    ref.sample.dispose();
    await expectNoLeak(() => teacherSolve(den, x, tFrom, tTo, m).dispose());
  });

  it('on the exact Gaussian-mixture teacher, m = 5 steps land closer to the ODE solution than 1 step', () => {
    const den = mixtureDenoiser(gmm, flowMatchingSchedule(), 'flow');
    const x = seededNormal(shape, 2, 1);
    const exact = teacherSolve(den, x, 0.95, 0.2, 200);
    const err = (m: number) => tf.tidy(() => tf.norm(tf.sub(teacherSolve(den, x, 0.95, 0.2, m), exact)).dataSync()[0]!);
    const e1 = err(1);
    const e5 = err(5);
    expect(e5).toBeLessThan(0.5 * e1);
    expect(e1).toBeGreaterThan(1e-3);
  });

  it('with guidance equals DDIM on guidedDenoiser(teacher) (uncond + w (cond - uncond))', () => {
    const base: Denoiser<tf.Tensor> = {
      schedule: flowMatchingSchedule(),
      predictionType: 'flow',
      predict: (xt, _t, cond) => (cond === undefined ? tf.mul(xt, 0.3) : tf.add(tf.mul(xt, 0.5), cond)),
    };
    const cond = tf.fill(shape, 0.2);
    const guidance = { scale: 4 };
    const x = seededNormal(shape, 3, 1);
    const grid = teacherSolveGrid(base, 0.8, 0.4, 2);
    const ours = teacherSolve(base, x, 0.8, 0.4, 2, { cond, guidance });
    const ref = ddimSampler({ steps: 2, timesteps: grid.slice(0, 2), tEnd: 0.4 }).sample(guidedDenoiser(base, guidance), x, { cond });
    expectTensorsClose(ours, ref.sample, { atol: 1e-5 });
    const unguided = teacherSolve(base, x, 0.8, 0.4, 2, { cond });
    expect(tf.max(tf.abs(tf.sub(unguided, ours))).dataSync()[0]).toBeGreaterThan(1e-2);
  });

  it('grid: m + 1 equally spaced times, integers for discrete schedules; bad m / times are ConfigErrors', () => {
    const flow = mixtureDenoiser(gmm, flowMatchingSchedule(), 'flow');
    expect(teacherSolveGrid(flow, 1, 0.5, 2)).toEqual([1, 0.75, 0.5]);
    const vp = mixtureDenoiser(gmm, vpDiscreteSchedule(), 'epsilon');
    expect(teacherSolveGrid(vp, 999, 499, 3)).toEqual([999, 832, 666, 499]);
    expect(() => teacherSolveGrid(flow, 1, 0.5, 0)).toThrow(ConfigError);
    expect(() => teacherSolveGrid(flow, 0.5, 0.5, 1)).toThrow(ConfigError);
  });
});
