import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ddimSampler, flowMatchingSchedule, GaussianMixture, mixtureDenoiser, type Denoiser } from '@fewstep/core';
import { afterAll, describe, expect, it } from 'vitest';
import { describeLossConformance, expectTensorsClose, finiteDifferenceCheck, seededNormal } from '@fewstep/testing';
import { admBackwardStep, admDiscriminatorLoss, admGeneratorLoss } from './adm-loss.js';
import { pfOdeStep } from './pf-ode-step.js';

// Top-level: the module-level variables and teachers below need a backend.
await tf.setBackend('cpu');

const schedule = flowMatchingSchedule(); // alpha = 1 - t, sigma = t
const D = 4;
const s = 0.5;
const muReal = [1, -1, 0.5, 2];
const muFake = [0, 0.5, -1, 1];
/** A one-component mixture N(mu, s^2 I): its exact denoiser is a closed form. */
const gaussian = (mu: number[]) => new GaussianMixture({ means: Float32Array.from(mu), weights: [1], std: s, shape: [D] });
const real = mixtureDenoiser(gaussian(muReal), schedule, 'flow');
const fake = mixtureDenoiser(gaussian(muFake), schedule, 'eps');

afterAll(() => {
  real.dispose();
  fake.dispose();
});

/** Closed form of one PF-ODE step for N(mu, s^2): E[x0 | x_t] = mu + alpha s^2 / (alpha^2 s^2 + sigma^2) (x_t - alpha mu). */
function exactStep(mu: number[], xt: number[], t: number, tNext: number): number[] {
  const [a, sg, a2, sg2] = [1 - t, t, 1 - tNext, tNext];
  return xt.map((x, i) => {
    const m = mu[i % D]!;
    const x0 = m + ((a * s * s) / (a * a * s * s + sg * sg)) * (x - a * m);
    const eps = (x - a * x0) / sg;
    return a2 * x0 + sg2 * eps;
  });
}

describe('PF-ODE step', () => {
  it('matches the closed form for a Gaussian teacher and core ddimSampler (eta 0)', async () => {
    const xt = seededNormal([3, D], 11);
    const step = pfOdeStep(real, xt, 0.7, 0.55);
    const expected = exactStep(muReal, Array.from(await xt.data()), 0.7, 0.55);
    expectTensorsClose(step, tf.tensor2d(expected, [3, D]), { atol: 1e-5, what: 'closed form' });
    const ddim = ddimSampler({ steps: 1, timesteps: [0.7], tEnd: 0.55 }).sample(real, xt);
    expectTensorsClose(step, ddim.sample, { atol: 1e-5, what: 'ddim' });
    tf.dispose([xt, step, ddim.sample]);
  });

  it('accepts per-sample times [B]', async () => {
    const xt = seededNormal([2, D], 12);
    const step = pfOdeStep(fake, xt, tf.tensor1d([0.9, 0.3]), tf.tensor1d([0.8, 0.1]));
    const v = Array.from(await xt.data());
    const expected = [...exactStep(muFake, v.slice(0, D), 0.9, 0.8), ...exactStep(muFake, v.slice(D), 0.3, 0.1)];
    expectTensorsClose(step, tf.tensor2d(expected, [2, D]), { atol: 1e-5 });
    tf.dispose([xt, step]);
  });
});

// Linear D(x, t) = x · w + t (per sample).
const w = tf.variable(tf.tensor1d([0.5, -0.25, 1, 0.1]), true, 'adv-test.adm.w');
const discriminator = (x: tf.Tensor, t: tf.Tensor) => tf.add(tf.sum(tf.mul(x, w), 1), t);
const a = tf.variable(tf.tensor1d([1.2, 0.8, -0.5, 1]), true, 'adv-test.adm.a');
const z = () => tf.tensor2d([0.3, -1.1, 0.7, 2, -0.4, 0.9, 1.5, -0.2], [2, D]);
const eps = () => tf.tensor2d([0.2, 0.4, -0.6, 1.1, -1.3, 0.5, 0.05, -0.7], [2, D]);

describe('ADM losses against closed forms', () => {
  it('hinge on the exact one-step results at t - T/64', async () => {
    const x0Hat = z();
    const e = eps();
    const t = 0.6;
    const tPrev = 0.6 - 1 / 64;
    const [x0v, ev, wv] = [Array.from(await x0Hat.data()), Array.from(await e.data()), Array.from(await w.data())];
    const xt = x0v.map((x, i) => (1 - t) * x + t * ev[i]!);
    const logits = (xs: number[]) => [0, 1].map((b) => xs.slice(b * D, b * D + D).reduce((acc, x, j) => acc + x * wv[j]!, tPrev));
    const dF = logits(exactStep(muFake, xt, t, tPrev));
    const dR = logits(exactStep(muReal, xt, t, tPrev));
    const mean = (v: number[]) => (v[0]! + v[1]!) / 2;
    const inputs = { x0Hat, eps: e, t, fake, real, discriminator };
    const g = admGeneratorLoss.compute(inputs, admGeneratorLoss.defaults);
    const d = admDiscriminatorLoss.compute(inputs, admDiscriminatorLoss.defaults);
    expect((await g.loss.data())[0]).toBeCloseTo(-mean(dF), 4);
    const hinge = mean(dF.map((v) => Math.max(0, 1 + v))) + mean(dR.map((v) => Math.max(0, 1 - v)));
    expect((await d.loss.data())[0]).toBeCloseTo(hinge, 4);
    expect((await d.metrics!.rt!.data())[0]).toBeCloseTo(mean(dR.map(Math.sign)), 6);
    tf.dispose([x0Hat, e, g.loss, d.loss, ...Object.values(g.metrics!), ...Object.values(d.metrics!)]);
  });

  it('generator gradient through the fake model step matches finite differences', () => {
    const e = eps();
    const x0Hat = z();
    const f = (x: tf.Tensor) => admGeneratorLoss.compute({ x0Hat: x, eps: e, t: 0.7, fake, real, discriminator }, admGeneratorLoss.defaults).loss;
    const [worst] = finiteDifferenceCheck(f, [x0Hat], { eps: 1e-2, samples: 8 });
    expect(worst).toBeLessThan(2e-2);
    tf.dispose([e, x0Hat]);
  });

  it('guides the real model with CFG: uncond + w (cond - uncond)', async () => {
    // x0-prediction model: x0 = 0.5 x_t (+ cond when conditioned).
    const linear: Denoiser<tf.Tensor> = {
      schedule,
      predictionType: 'sample',
      predict: (xt, _t, cond) => (cond === undefined ? tf.mul(xt, 0.5) : tf.add(tf.mul(xt, 0.5), cond)),
    };
    const cond = tf.tensor2d([1, 0, -1, 2, 0.5, 0.5, 0, 1], [2, D]);
    const x0Hat = z();
    const e = eps();
    const { xReal, tPrev } = admBackwardStep({ x0Hat, eps: e, t: 0.5, fake: linear, real: linear, discriminator, cond }, { deltaTFraction: 0.25, realGuidanceScale: 3 });
    const guided: Denoiser<tf.Tensor> = { ...linear, predict: (xt) => tf.add(tf.mul(xt, 0.5), tf.mul(cond, 3)) };
    const xt = tf.add(tf.mul(x0Hat, 0.5), tf.mul(e, 0.5));
    const expected = pfOdeStep(guided, xt, 0.5, 0.25);
    expectTensorsClose(xReal, expected, { atol: 1e-5 });
    expectTensorsClose(tPrev, tf.tensor1d([0.25, 0.25]), { atol: 1e-7 });
    tf.dispose([cond, x0Hat, e, xReal, tPrev, xt, expected]);
  });

  it('rejects models on different schedules', () => {
    const other = { ...real, schedule: { ...schedule, type: 'vp-discrete' } } as unknown as Denoiser;
    const x0Hat = z();
    const e = eps();
    expect(() => admBackwardStep({ x0Hat, eps: e, t: 0.5, fake, real: other, discriminator }, { deltaTFraction: 0.1 })).toThrow(/schedule/);
    tf.dispose([x0Hat, e]);
  });
});

// Fresh teachers per call: the conformance suite disposes every tensor reachable from the inputs.
const teachers = () => ({ fake: mixtureDenoiser(gaussian(muFake), schedule, 'eps'), real: mixtureDenoiser(gaussian(muReal), schedule, 'flow') });
const invalid = [
  { options: { deltaTFraction: 0 }, error: /deltaTFraction/ },
  { options: { realGuidanceScale: { min: 8, max: 6 } }, error: /realGuidanceScale/ },
];
describeLossConformance(admGeneratorLoss, {
  inputs: () => ({ x0Hat: () => tf.mul(z(), a), eps: eps(), t: tf.tensor1d([0.8, 0.4]), ...teachers(), discriminator }),
  trainable: () => [a],
  valid: [{}, { deltaTFraction: 0.5 }],
  invalid,
});
describeLossConformance(admDiscriminatorLoss, {
  inputs: () => ({ x0Hat: z(), eps: eps(), t: 0.5, ...teachers(), discriminator }),
  trainable: () => [w],
  valid: [{}, { deltaTFraction: 1 }],
  invalid,
});
