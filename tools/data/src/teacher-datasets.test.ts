import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { INITIAL_CURSOR, ShapeError, conditionalMixtureDenoiser, ddimSampler, firstFrame, flowMatchingSchedule, gmmI2v, gmmVideo, mixtureDenoiser, randomNormal, sampleI2vPairs, seededRng } from '@fewstep/core';
import { mixtureSource, teacherOdePairs, teacherTrajectories } from './teacher-datasets.js';

const SPEC = 'modes=3,frames=2,size=2,channels=1,std=0.1,seed=2';

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

describe('teacher datasets for image-to-video teachers', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('a gmm-i2v mixture gives { x0, image = frame 0 of x0, imageNoiseSigma } batches; gmm-video gives { x0 } as before', async () => {
    const i2v = gmmI2v(`gmm-i2v:${SPEC}`);
    const b = await mixtureSource(i2v, 4).next(INITIAL_CURSOR, 7);
    expect(Object.keys(b.tensors).sort()).toEqual(['image', 'imageNoiseSigma', 'x0']);
    const f0 = firstFrame(b.tensors['x0']!);
    expect(maxAbsDiff(f0, b.tensors['image']!)).toBe(0);
    expect(Array.from(b.tensors['imageNoiseSigma']!.dataSync())).toEqual([0, 0, 0, 0]);
    // Augmented: image = frame 0 + sigma e, recorded level sigma.
    const aug = await mixtureSource(i2v, 4, { sigmaAug: 0.5 }).next(INITIAL_CURSOR, 7);
    expect(maxAbsDiff(aug.tensors['x0']!, b.tensors['x0']!)).toBe(0);
    expect(maxAbsDiff(aug.tensors['image']!, b.tensors['image']!)).toBeGreaterThan(0.05);
    expect(Array.from(aug.tensors['imageNoiseSigma']!.dataSync())).toEqual([0.5, 0.5, 0.5, 0.5]);
    const plain = await mixtureSource(gmmVideo(`gmm-video:${SPEC}`), 4).next(INITIAL_CURSOR, 7);
    expect(Object.keys(plain.tensors)).toEqual(['x0']);
    tf.dispose([...Object.values(b.tensors), ...Object.values(aug.tensors), ...Object.values(plain.tensors), f0]);
  });

  it('trajectories and ODE pairs are solved under their conditions and record them (the exact I2V teacher: frame 0 ends on the condition)', () => {
    const gmm = gmmI2v(`gmm-i2v:${SPEC}`);
    const teacher = conditionalMixtureDenoiser(gmm, flowMatchingSchedule(), 'flow');
    const { condition, x0, imageNoiseSigma } = sampleI2vPairs(gmm, 6, seededRng(3));
    const keep = [1, 0.5, 0];
    const r = teacherTrajectories(teacher, gmm.shape, { n: 6, keep, solverSteps: 20, batchSize: 4, seed: 5, condition: { image: condition, imageNoiseSigma } });
    expect(r.trajectory.shape).toEqual([6, 3, ...gmm.shape]);
    expect(maxAbsDiff(r.image, condition)).toBe(0);
    expect(r.image).not.toBe(condition);
    const final = tf.squeeze(tf.slice(r.trajectory, [0, 2], [-1, 1]), [1]);
    const f0 = firstFrame(final);
    expect(maxAbsDiff(f0, condition)).toBeLessThan(0.02);
    // The same noise without the condition: the unconditional teacher's states (noise identical, end different).
    const plain = teacherTrajectories(mixtureDenoiser(gmm, flowMatchingSchedule(), 'flow'), gmm.shape, { n: 6, keep, solverSteps: 20, batchSize: 4, seed: 5 });
    expect(maxAbsDiff(tf.slice(plain, [0, 0], [-1, 1]), tf.slice(r.trajectory, [0, 0], [-1, 1]))).toBe(0);
    const plainF0 = firstFrame(tf.squeeze(tf.slice(plain, [0, 2], [-1, 1]), [1]));
    expect(maxAbsDiff(plainF0, condition)).toBeGreaterThan(0.05);

    const pairs = teacherOdePairs(teacher, gmm.shape, { n: 6, solverSteps: 20, batchSize: 4, seed: 5, condition: { image: condition } });
    expect(Object.keys(pairs).sort()).toEqual(['image', 'imageNoiseSigma', 'noise', 'x0']);
    expect(Array.from(pairs.imageNoiseSigma.dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
    const direct = ddimSampler({ steps: 20 }).sample(teacher, pairs.noise, { cond: { image: condition } });
    expect(maxAbsDiff(direct.sample, pairs.x0)).toBeLessThan(1e-5);
    expect(() => teacherOdePairs(teacher, gmm.shape, { n: 5, solverSteps: 2, seed: 1, condition: { image: condition } })).toThrow(ShapeError);
    tf.dispose([condition, x0, imageNoiseSigma, r.trajectory, r.image, r.imageNoiseSigma, final, f0, plain, plainF0, ...Object.values(pairs), direct.sample]);
    teacher.dispose();
  });
});
