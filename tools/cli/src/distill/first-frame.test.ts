/**
 * First-frame handling end to end (issue 10, item 4): `runDistill` fits an image-to-video teacher
 * to the exact first-frame-conditioned denoiser of a small `gmm-i2v:` mixture, distills it with
 * LCM, and the student's first output frame matches its condition within the teacher's own
 * tolerance; the same student sampled with the image dropped (the condition ignored) fails the
 * same check.
 *
 * Tolerance: the teacher's own first-frame RMSE to the condition (DDIM 25, the same conditions),
 * times 2 (our factor, as the model-level fidelity test in @fewstep/backbones allows 2x the fit's
 * residual), and at most half the first-frame RMSE of the teacher sampled without the image (no
 * condition-free sampler does better than the data's spread of first frames). The default suite
 * runs a short version (small teacher, 300 fit + 150 LCM steps, about a minute on 2 busy cores);
 * `FEWSTEP_SLOW=1` runs a longer one (more fitting and distillation).
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { ddimSampler, gmmI2v, initEngine } from '@fewstep/core';
import { loadModelDirectory, modelDenoiser, studentSampler } from '@fewstep/recipes';
import { tempDirs } from '../testing/cli.test-util.js';
import { i2vMetrics, mixtureConditions, sampleUnderConditions } from './i2v.js';
import { runDistill } from './run-distill.js';

const tmp = tempDirs('fewstep-first-frame-');
const SPEC = 'gmm-i2v:modes=4,frames=3,size=4,channels=3,std=0.05,seed=5';
const SLOW = process.env['FEWSTEP_SLOW'] === '1';
const SETTINGS = SLOW ? { fit: 1200, distill: 600, n: 256 } : { fit: 300, distill: 150, n: 128 };

beforeAll(async () => {
  await initEngine({ backend: 'wasm', report: false });
});

describe('image-to-video first frame, end to end', () => {
  it(`LCM student from a fitted I2V teacher: frame 0 within the teacher's tolerance; with the image dropped it is not (${SLOW ? 'long' : 'short'} run)`, async () => {
    const out = tmp();
    const gmm = gmmI2v(SPEC);
    const r = await runDistill({
      recipe: 'lcm',
      teacher: `analytic:${SPEC}`,
      out,
      steps: SETTINGS.distill,
      preset: 'tiny',
      options: { lr: 2e-4 },
      batchSize: 8,
      seed: 1,
      teacherFit: { steps: SETTINGS.fit, batchSize: 16, lr: 3e-3, overrides: { hiddenDim: 32, depth: 2, heads: 2, mlpRatio: 2, freqDim: 32 } },
      evalSteps: [4],
      evalSamples: SETTINGS.n,
      quietBar: true,
      progress: () => undefined,
    });
    expect(r.task).toBe('i2v');
    const student = r.metrics![0]!;
    expect(student.steps).toBe(4);

    // The teacher's own first-frame error (DDIM 25) and the condition-free reference, on the conditions runDistill scored (seed 99 + 2).
    const teacher = await loadModelDirectory(join(out, 'teacher'));
    const loadedStudent = await loadModelDirectory(join(out, 'student'));
    expect(teacher.task).toBe('i2v');
    expect(loadedStudent.task).toBe('i2v');
    const conditions = mixtureConditions(gmm, SETTINGS.n, 101);
    const opts = { noiseSeed: 99, rng: 100 };
    const teacherDen = modelDenoiser(teacher.model);
    const t25 = await sampleUnderConditions(teacherDen, ddimSampler({ steps: 25 }), teacher.model.backbone, conditions, gmm.shape, opts);
    const tNoImage = await sampleUnderConditions(teacherDen, ddimSampler({ steps: 25 }), teacher.model.backbone, conditions, gmm.shape, { ...opts, dropImage: true });
    const sNoImage = await sampleUnderConditions(modelDenoiser(loadedStudent.model), studentSampler(loadedStudent.student!, loadedStudent.model.schedule, 4), loadedStudent.model.backbone, conditions, gmm.shape, { ...opts, dropImage: true });
    const teacherRmse = i2vMetrics(gmm, conditions.image, t25.sample).firstFrameRmse;
    const conditionFree = i2vMetrics(gmm, conditions.image, tNoImage.sample).firstFrameRmse;
    const ignored = i2vMetrics(gmm, conditions.image, sNoImage.sample).firstFrameRmse;
    const tolerance = Math.min(2 * teacherRmse, 0.5 * conditionFree);
    console.log(
      `I2V first frame (${SLOW ? 'long' : 'short'} run, ${r.seconds.toFixed(0)} s): RMSE teacher DDIM-25 ${teacherRmse.toFixed(4)}, student 4 steps ${student.firstFrameRmse!.toFixed(4)}, ` +
        `student without the image ${ignored.toFixed(4)}, teacher without the image ${conditionFree.toFixed(4)}; tolerance ${tolerance.toFixed(4)}`,
    );
    expect(student.firstFrameRmse!).toBeLessThan(tolerance);
    expect(ignored).toBeGreaterThan(tolerance);
    tf.dispose([conditions.image, conditions.imageNoiseSigma, t25.sample, tNoImage.sample, sNoImage.sample]);
    teacher.dispose();
    loadedStudent.dispose();
  }, SLOW ? 900_000 : 180_000);
});
