import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ConfigError, flowMatchingSchedule, seededRng, vpDiscreteSchedule, type Denoiser } from '@fewstep/core';
import { describeLossConformance, expectTensorsClose, seededNormal } from '@fewstep/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { frameSdmLoss, pickFrames, type FrameSdmInputs, type FrameSdmOptions } from './frame-sdm-loss.js';
import { gaussianDenoiser } from './gaussian-fixtures.test-util.js';

const schedule = flowMatchingSchedule();
const [B, F, H, W, C] = [2, 4, 2, 2, 1];
const MU_R = [0.5, -1, 2, 0];
const MU_F = [1.5, -1, 0, 0.25];
const STD = 0.7;
let theta: tf.Variable | undefined;
const generator = () => (theta ??= tf.variable(seededNormal([B, F, H, W, C], 21), true, 'frame-sdm-test/theta'));
const inputs = (seed = 5, video: tf.Tensor = generator()): FrameSdmInputs => ({
  video,
  teacher: gaussianDenoiser(MU_R, [H, W, C], STD, schedule),
  fakeScore: gaussianDenoiser(MU_F, [H, W, C], STD, schedule, 'eps'),
  rng: seededRng(seed),
});
const dispose = (i: FrameSdmInputs) => [i.teacher, i.fakeScore].forEach((d) => (d as unknown as { dispose(): void }).dispose());

beforeAll(async () => {
  await tf.setBackend('cpu');
  generator();
});

describeLossConformance<FrameSdmOptions, FrameSdmInputs>(frameSdmLoss, {
  inputs: () => inputs(),
  trainable: () => [generator()],
  valid: [{}, { frames: 1, weighting: 'snr' }, { frames: 3, weighting: 'constant', tMin: 0.5, tMax: 0.5 }],
  invalid: [
    { options: { frames: 0 }, error: /frames/ },
    { options: { frames: 1.5 }, error: /frames/ },
    { options: { tMin: 0.9, tMax: 0.2 }, error: /tMin/ },
    { options: { tMax: 1.5 }, error: /tMax/ },
    { options: { weighting: 'x' as never }, error: /weighting/ },
  ],
});

describe('sdm:frame-sdm (AVDM2 Eq. 8)', () => {
  it('pickFrames draws K distinct frames per video, reproducibly', () => {
    const a = pickFrames(3, 5, 3, seededRng(1));
    expect(a).toEqual(pickFrames(3, 5, 3, seededRng(1)));
    for (let b = 0; b < 3; b++) {
      const mine = a.slice(b * 3, b * 3 + 3);
      expect(new Set(mine).size).toBe(3);
      mine.forEach((i) => expect(Math.floor(i / 5)).toBe(b));
    }
  });

  it('selected frames get the closed-form gradient w(t)(eps_phi - eps_psi); the others exactly zero', () => {
    // Equal-std Gaussians: eps_phi - eps_psi = (alpha sigma / v)(mu_f - mu_r), v = alpha^2 s^2 + sigma^2;
    // with w = alpha / sigma ('snr') the gradient is (alpha^2 / v)(mu_f - mu_r), whatever the noise.
    const video = seededNormal([B, F, H, W, C], 22);
    const input = inputs(9, video);
    const options: FrameSdmOptions = { frames: 2, weighting: 'snr', tMin: 0.5, tMax: 0.5 };
    const [dv] = tf.grads((v: tf.Tensor) => frameSdmLoss.compute({ ...input, video: v, rng: seededRng(9) }, options).loss)([video]);
    const picked = new Set(pickFrames(B, F, 2, seededRng(9)));
    const [alpha, sigma] = [0.5, 0.5];
    const coef = (alpha * alpha) / (alpha * alpha * STD * STD + sigma * sigma);
    const expected: number[] = [];
    for (let i = 0; i < B * F; i++) for (let j = 0; j < 4; j++) expected.push(picked.has(i) ? coef * (MU_F[j]! - MU_R[j]!) : 0);
    expectTensorsClose(dv!, expected, { rtol: 1e-4, what: 'frame SDM gradient' });
    const perFrame = tf.sum(tf.abs(tf.reshape(dv!, [B * F, -1])), 1).dataSync();
    for (let i = 0; i < B * F; i++) {
      if (picked.has(i)) expect(perFrame[i]).toBeGreaterThan(0);
      else expect(perFrame[i]).toBe(0);
    }
    tf.dispose([video, dv!]);
    dispose(input);
  });

  it('is reproducible for a seed, and conditions each frame on its own video', () => {
    const a = inputs(3);
    const b = inputs(3);
    const la = frameSdmLoss.compute(a, {});
    const lb = frameSdmLoss.compute(b, {});
    expect(la.loss.dataSync()[0]).toBe(lb.loss.dataSync()[0]);
    tf.dispose([la.loss, lb.loss, ...Object.values(la.metrics ?? {}), ...Object.values(lb.metrics ?? {})]);
    [a, b].forEach(dispose);

    const seen: number[][] = [];
    const probe: Denoiser = {
      schedule: vpDiscreteSchedule(),
      predictionType: 'epsilon',
      predict: (xt, _t, cond) => {
        seen.push(Array.from(cond!.dataSync()));
        return tf.zerosLike(xt);
      },
    };
    const video = seededNormal([B, F, H, W, C], 23);
    const cond = tf.tensor2d([[10], [20]]);
    const out = frameSdmLoss.compute({ video, teacher: probe, fakeScore: probe, rng: seededRng(4), cond }, { frames: 2 });
    const expectedCond = pickFrames(B, F, 2, seededRng(4)).map((i) => (Math.floor(i / F) + 1) * 10);
    expect(seen).toEqual([expectedCond, expectedCond]);
    tf.dispose([out.loss, ...Object.values(out.metrics ?? {}), video, cond]);
  });

  it('rejects more frames than the video has, and mismatched schedules', () => {
    const i = inputs();
    expect(() => frameSdmLoss.compute(i, { frames: 5 })).toThrow(ConfigError);
    const other = { ...i, fakeScore: { ...i.fakeScore, schedule: vpDiscreteSchedule(), predictionType: 'epsilon' as const, predict: i.fakeScore.predict } };
    expect(() => frameSdmLoss.compute(other, {})).toThrow(/schedule/);
    dispose(i);
  });
});
