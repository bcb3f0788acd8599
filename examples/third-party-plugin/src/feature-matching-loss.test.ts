import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ConfigError, ShapeError } from '@fewstep/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { featureMatchingLoss, type FeatureMatchingInputs, type FeatureMatchingOptions } from './feature-matching-loss.js';

/**
 * @fewstep/testing (and its loss conformance suite) is private to the fewstep repo, so an outside
 * plugin cannot install it: these tests check the same properties by hand (a namespaced name, a
 * finite scalar, gradients only to the trained side, no leaks, typed errors) and the math
 * against a float64 hand computation, the closed-form gradient and central finite differences.
 */
beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A deterministic "random" array (sines: no seed state to share). */
const values = (n: number, phase: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(1.7 * i + phase) * 1.3 + 0.2 * Math.cos(phase * i));

const FAKE_SHAPE = { a: [3, 2, 2], b: [3, 4] } as const;
const REAL_SHAPE = { a: [2, 2, 2], b: [2, 4] } as const; // the real batch may be smaller

function makeInputs(): { fake: Record<string, number[]>; real: Record<string, number[]> } {
  return {
    fake: { a: values(12, 0.3), b: values(12, 1.1) },
    real: { a: values(8, 2.3), b: values(8, 0.7) },
  };
}

function tensors(arrays: Record<string, number[]>, shapes: Record<string, readonly number[]>): Record<string, tf.Tensor> {
  return Object.fromEntries(Object.entries(arrays).map(([k, v]) => [k, tf.tensor(v, [...shapes[k]!])]));
}

/** sum_l w_l mean_d |mean_b fake - mean_b real|^p in float64. */
function handLoss(fake: Record<string, number[]>, real: Record<string, number[]>, p: 1 | 2, weights: Record<string, number> = {}): { loss: number; perTap: Record<string, number>; delta: Record<string, number[]> } {
  let loss = 0;
  const perTap: Record<string, number> = {};
  const delta: Record<string, number[]> = {};
  for (const tap of Object.keys(fake)) {
    const bf = FAKE_SHAPE[tap as 'a' | 'b'][0];
    const br = REAL_SHAPE[tap as 'a' | 'b'][0];
    const d = fake[tap]!.length / bf;
    const dl: number[] = [];
    let term = 0;
    for (let j = 0; j < d; j++) {
      let mf = 0;
      let mr = 0;
      for (let b = 0; b < bf; b++) mf += fake[tap]![b * d + j]! / bf;
      for (let b = 0; b < br; b++) mr += real[tap]![b * d + j]! / br;
      dl.push(mf - mr);
      term += Math.abs(mf - mr) ** p / d;
    }
    delta[tap] = dl;
    perTap[tap] = term;
    loss += (weights[tap] ?? 1) * term;
  }
  return { loss, perTap, delta };
}

const opts = (o: Partial<FeatureMatchingOptions> = {}): FeatureMatchingOptions => ({ ...featureMatchingLoss.defaults, ...o });

describe('fm:feature-matching: plugin contract', () => {
  it('has a namespaced name, cites its equation, trains the generator it requires, defaults to l2 and no tap weights', () => {
    expect(featureMatchingLoss.name).toMatch(/^[a-z0-9-]+:[a-z0-9-]+$/);
    expect(featureMatchingLoss.equation).toMatch(/Salimans et al\. 2016/);
    expect(featureMatchingLoss.requires).toContain(featureMatchingLoss.trains);
    expect(featureMatchingLoss.trains).toBe('generator');
    expect(featureMatchingLoss.defaults).toEqual({ distance: 'l2', tapWeights: {} });
  });

  it('rejects bad options and bad inputs with typed errors naming the field', () => {
    const validate = (o: Partial<FeatureMatchingOptions>) => () => featureMatchingLoss.validate!(opts(o));
    expect(validate({ distance: 'l3' as never })).toThrow(ConfigError);
    expect(validate({ distance: 'l3' as never })).toThrow(/distance.*l3/s);
    expect(validate({ tapWeights: { a: -1 } })).toThrow(/tapWeights\['a'\].*-1/s);
    expect(validate({ tapWeights: { a: NaN } })).toThrow(ConfigError);
    expect(validate({ tapWeights: { a: 0, b: 2.5 }, distance: 'l1' })).not.toThrow();
    const x = tf.zeros([2, 3]);
    const y = tf.zeros([2, 4]);
    expect(() => featureMatchingLoss.compute({ fake: {}, real: {} }, opts())).toThrow(/at least one critic tap/);
    expect(() => featureMatchingLoss.compute({ fake: { a: x }, real: {} }, opts())).toThrow(/real\['a'\]/);
    expect(() => featureMatchingLoss.compute({ fake: { a: x }, real: { a: y } }, opts())).toThrow(ShapeError);
    tf.dispose([x, y]);
  });
});

describe('fm:feature-matching math (Salimans et al. 2016 Sec. 3.1)', () => {
  it.each([['l2', 2], ['l1', 1]] as const)('%s: value and per-tap metrics equal the float64 hand computation; no leak', (distance, p) => {
    const { fake, real } = makeInputs();
    const weights = { a: 0.5, b: 2 };
    const want = handLoss(fake, real, p, weights);
    const before = tf.memory().numTensors;
    const inputs: FeatureMatchingInputs = { fake: tensors(fake, FAKE_SHAPE), real: tensors(real, REAL_SHAPE) };
    const made = tf.memory().numTensors;
    const out = featureMatchingLoss.compute(inputs, opts({ distance, tapWeights: weights }));
    expect(tf.memory().numTensors - made).toBe(3); // the loss and one metric per tap, nothing else
    expect(out.loss.rank).toBe(0);
    expect(out.loss.dataSync()[0]).toBeCloseTo(want.loss, 5);
    expect(out.metrics!.a!.dataSync()[0]).toBeCloseTo(want.perTap.a!, 5);
    expect(out.metrics!.b!.dataSync()[0]).toBeCloseTo(want.perTap.b!, 5);
    tf.dispose([out.loss, ...Object.values(out.metrics!), ...Object.values(inputs.fake), ...Object.values(inputs.real)]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a hand-sized case: one tap, fake means (1, 3), real means (0, 1) -> l2 (1 + 4) / 2 = 2.5, l1 (1 + 2) / 2 = 1.5', () => {
    const fake = { t: tf.tensor2d([[0, 2], [2, 4]]) };
    const real = { t: tf.tensor2d([[0, 1]]) };
    const l2 = featureMatchingLoss.compute({ fake, real }, opts());
    const l1 = featureMatchingLoss.compute({ fake, real }, opts({ distance: 'l1' }));
    expect(l2.loss.dataSync()[0]).toBeCloseTo(2.5, 6);
    expect(l1.loss.dataSync()[0]).toBeCloseTo(1.5, 6);
    tf.dispose([l2.loss, l1.loss, ...Object.values(l2.metrics!), ...Object.values(l1.metrics!), fake.t, real.t]);
  });

  it.each([['l2', 2], ['l1', 1]] as const)('%s: dL/dfake matches the closed form w p |D|^(p-1) sign(D) / (B D_l) and central finite differences', (distance, p) => {
    const { fake, real } = makeInputs();
    const weights = { a: 0.5, b: 2 };
    const realT = tensors(real, REAL_SHAPE);
    const fa = tf.tensor(fake.a!, [...FAKE_SHAPE.a]);
    const fb = tf.tensor(fake.b!, [...FAKE_SHAPE.b]);
    const o = opts({ distance, tapWeights: weights });
    const [ga, gb] = tf.grads((a: tf.Tensor, b: tf.Tensor) => featureMatchingLoss.compute({ fake: { a, b }, real: realT }, o).loss)([fa, fb]);
    const { delta } = handLoss(fake, real, p, weights);
    for (const [tap, g] of [['a', ga!], ['b', gb!]] as const) {
      const [bf] = FAKE_SHAPE[tap];
      const d = fake[tap]!.length / bf;
      const want = fake[tap]!.map((_, i) => {
        const dj = delta[tap]![i % d]!;
        return (weights[tap] * p * Math.abs(dj) ** (p - 1) * Math.sign(dj)) / (bf * d);
      });
      const got = Array.from(g.dataSync());
      got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
    }
    // Central differences of the float64 hand loss (exact for l2; l1 is linear away from D = 0).
    const h = 1e-4;
    const gotA = ga!.dataSync();
    for (const i of [0, 5, 11]) {
      const up = { ...fake, a: fake.a!.map((v, j) => (j === i ? v + h : v)) };
      const down = { ...fake, a: fake.a!.map((v, j) => (j === i ? v - h : v)) };
      const fd = (handLoss(up, real, p, weights).loss - handLoss(down, real, p, weights).loss) / (2 * h);
      expect(gotA[i]!).toBeCloseTo(fd, 5);
    }
    tf.dispose([ga!, gb!, fa, fb, ...Object.values(realT)]);
  });

  it('gradients reach the generator through a frozen critic; real features are constants even when computed from the generator', () => {
    const theta = tf.variable(tf.tensor2d(values(6, 0.9), [2, 3]), true, 'fm-test/theta');
    const critic = tf.tensor2d(values(12, 1.9), [3, 4]); // a frozen critic: not in the variable list
    const x0 = tf.tensor2d(values(6, 2.9), [2, 3]);
    const phi = (x: tf.Tensor2D) => ({ h: tf.relu(tf.matMul(x, critic)), out: tf.matMul(x, critic) });
    const { value, grads } = tf.variableGrads(() => featureMatchingLoss.compute({ fake: phi(tf.add(theta, x0)), real: phi(x0) }, opts()).loss, [theta]);
    expect(tf.max(tf.abs(grads['fm-test/theta']!)).dataSync()[0]).toBeGreaterThan(0);
    // Only the fake side is differentiated: feeding the same theta into "real" changes nothing.
    const both = tf.variableGrads(() => featureMatchingLoss.compute({ fake: phi(tf.add(theta, x0)), real: phi(tf.mul(theta, 0.5)) }, opts()).loss, [theta]);
    const realConst = tf.tidy(() => tf.mul(theta, 0.5));
    const onlyFake = tf.variableGrads(() => featureMatchingLoss.compute({ fake: phi(tf.add(theta, x0)), real: phi(realConst as tf.Tensor2D) }, opts()).loss, [theta]);
    expect(Array.from(both.grads['fm-test/theta']!.dataSync())).toEqual(Array.from(onlyFake.grads['fm-test/theta']!.dataSync()));
    tf.dispose([value, ...Object.values(grads), both.value, ...Object.values(both.grads), onlyFake.value, ...Object.values(onlyFake.grads), realConst, critic, x0]);
    theta.dispose();
  });

  it('is zero with a zero gradient when the fake and real batch means agree (the minimiser), whatever the batches', () => {
    const fake = { t: tf.tensor2d([[1, -1], [3, 5]]) }; // means (2, 2)
    const real = { t: tf.tensor2d([[2, 0], [2, 4], [2, 2]]) }; // means (2, 2)
    const [g] = tf.grads((f: tf.Tensor) => featureMatchingLoss.compute({ fake: { t: f }, real }, opts()).loss)([fake.t]);
    const out = featureMatchingLoss.compute({ fake, real }, opts());
    expect(out.loss.dataSync()[0]).toBe(0);
    expect(Array.from(g!.dataSync())).toEqual([0, 0, 0, 0]);
    tf.dispose([g!, out.loss, ...Object.values(out.metrics!), fake.t, real.t]);
  });
});
