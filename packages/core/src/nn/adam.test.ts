import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ShapeError, StateMismatchError } from '../errors.js';
import { Adam, type AdamOptions } from './adam.js';
import { AdamW } from './adam-w.js';
import { fromValues, normal } from './initializers.js';
import { warmupCosine } from './lr-schedule.js';
import { Network } from './network.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

interface GoldenCase {
  name: string;
  optimizer: 'Adam' | 'AdamW';
  options: { lr: number; betas: [number, number]; eps: number; weight_decay?: number };
  schedule: { warmup: number; total: number; min_ratio: number } | null;
  maxNorm: number | null;
  lrs: number[];
  grads: number[][][];
  params: number[][][];
  expAvg: number[][];
  expAvgSq: number[][];
}
interface Golden {
  shapes: number[][];
  initial: number[][];
  cases: GoldenCase[];
}
const golden = JSON.parse(readFileSync(new URL('./fixtures/adam-golden.json', import.meta.url), 'utf8')) as Golden;
const NAMES = ['layer.kernel', 'layer.bias'];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return a.length === b.length ? m : Infinity;
}

const read = (t: tf.Tensor): Float32Array => t.dataSync() as Float32Array;

describe('Adam / AdamW against torch.optim (fixtures/make-adam-golden.py, torch 1.13)', () => {
  for (const c of golden.cases) {
    it(`${c.name}: ${c.params.length} steps within 1e-6`, async () => {
      const net = new Network('golden');
      NAMES.forEach((n, i) => net.param(n, golden.shapes[i]!, fromValues(golden.initial[i]!)));
      const { lr, betas, eps, weight_decay: weightDecay = 0 } = c.options;
      const options: AdamOptions = {
        lr: c.schedule ? warmupCosine({ lr, warmupSteps: c.schedule.warmup, totalSteps: c.schedule.total, minLr: lr * c.schedule.min_ratio }) : lr,
        betas,
        eps,
        weightDecay,
        ...(c.maxNorm === null ? {} : { maxGradNorm: c.maxNorm }),
      };
      const opt = c.optimizer === 'AdamW' ? new AdamW(options) : new Adam(options);
      let worst = 0;
      for (let t = 0; t < c.params.length; t++) {
        const grads = new Map(NAMES.map((n, i) => [n, tf.tensor(c.grads[t]![i]!, golden.shapes[i])]));
        const r = await opt.step(grads, net);
        for (const g of grads.values()) g.dispose();
        expect(r.skipped).toBe(false);
        expect(r.lr).toBeCloseTo(c.lrs[t]!, 12);
        NAMES.forEach((n, i) => (worst = Math.max(worst, maxAbsDiff(read(net.variable(n)), c.params[t]![i]!))));
      }
      const state = opt.getState();
      NAMES.forEach((n, i) => {
        worst = Math.max(worst, maxAbsDiff(read(state.slots.get(`${n}.exp_avg`)!), c.expAvg[i]!));
        worst = Math.max(worst, maxAbsDiff(read(state.slots.get(`${n}.exp_avg_sq`)!), c.expAvgSq[i]!));
      });
      expect(worst).toBeLessThan(1e-6);
      if (process.env.FEWSTEP_REPORT) console.log(`golden ${c.name}: max |ts - torch| = ${worst.toExponential(2)}`);
      expect(state.step).toBe(c.params.length);
      for (const s of state.slots.values()) s.dispose();
      opt.dispose();
      net.dispose();
    });
  }
});

describe('closed form, by hand', () => {
  it('Adam and AdamW on a scalar for 3 steps (bias correction, decoupled decay)', async () => {
    const [lr, b1, b2, eps, wd] = [0.1, 0.9, 0.999, 1e-8, 0.2];
    const gs = [0.5, -1.5, 2];
    for (const decoupled of [false, true]) {
      const net = new Network('s');
      net.param('w', [1], fromValues([1]));
      const opt = decoupled ? new AdamW({ lr, betas: [b1, b2], eps, weightDecay: wd }) : new Adam({ lr, betas: [b1, b2], eps });
      let [w, m, v] = [1, 0, 0];
      for (let t = 1; t <= gs.length; t++) {
        const g = gs[t - 1]!;
        if (decoupled) w *= 1 - lr * wd; // torch.optim.AdamW: p.mul_(1 - lr * wd) first
        m = b1 * m + (1 - b1) * g;
        v = b2 * v + (1 - b2) * g * g;
        const mHat = m / (1 - b1 ** t);
        const vHat = v / (1 - b2 ** t);
        w -= (lr * mHat) / (Math.sqrt(vHat) + eps); // torch: eps is added to sqrt(v) / sqrt(1 - b2^t)
        const grad = tf.tensor([g]);
        await opt.step(new Map([['w', grad]]), net);
        grad.dispose();
        expect(read(net.variable('w'))[0]).toBeCloseTo(w, 6);
      }
      opt.dispose();
      net.dispose();
    }
  });
});

const SHAPES: Record<string, number[]> = {
  'a.kernel': [4, 3],
  'b.kernel': [3, 3],
  'b.bias': [3],
  'c.kernel': [3, 2],
  'd.0.kernel': [5, 7],
  'd.1.kernel': [7, 5],
  'e.bias': [11],
};
const ORDER = Object.keys(SHAPES);

/** A network whose variables are registered in `order`. */
function makeNet(order: string[] = ORDER): Network {
  const net = new Network('p20', { seed: 11 });
  for (const n of order) net.param(n, SHAPES[n]!, normal({ std: 0.5 }));
  return net;
}

/** Deterministic gradients of varied magnitudes (so a reduction order change would show in the bits). */
function gradsFor(net: Network, step: number): Map<string, tf.Tensor> {
  return new Map(
    [...net.variables()].map(([n, v]) => {
      const mag = 10 ** ((n.length * 7 + step) % 5) / 7;
      const vals = Float32Array.from({ length: v.size }, (_, i) => Math.sin(step * 1.7 + i * 0.3 + n.length) * mag);
      return [n, tf.tensor(vals, v.shape)];
    }),
  );
}

async function stepWith(opt: AdamW, net: Network, step: number): Promise<void> {
  const g = gradsFor(net, step);
  await opt.step(g, net);
  for (const t of g.values()) t.dispose();
}

describe('P20: slots bound by name', () => {
  it('state restored into a network with shuffled registration order continues bitwise identically', async () => {
    const opts = { lr: 0.05, weightDecay: 0.1, maxGradNorm: 1.5 } as const;
    const ref = makeNet();
    const refOpt = new AdamW(opts);
    for (let s = 0; s < 3; s++) await stepWith(refOpt, ref, s);
    const weights = ref.getWeights();
    const state = refOpt.getState();

    const shuffled = makeNet(['e.bias', 'c.kernel', 'd.1.kernel', 'b.bias', 'a.kernel', 'd.0.kernel', 'b.kernel']);
    shuffled.setWeights(weights);
    // Deliberately wrong hyper-state that only a correct load overrides.
    const resumed = new AdamW(opts);
    await stepWith(resumed, shuffled, 7);
    resumed.setState(state, shuffled);
    shuffled.setWeights(weights);
    expect(resumed.iterations).toBe(3);

    // 27 more steps: enough for a reduction-order change to show in the bits (it does without the sort by name).
    for (let s = 3; s < 30; s++) {
      await stepWith(refOpt, ref, s);
      await stepWith(resumed, shuffled, s);
    }
    for (const [n, v] of ref.variables()) expect(read(shuffled.variable(n))).toEqual(read(v));
    const a = refOpt.getState();
    const b = resumed.getState();
    for (const [k, t] of a.slots) expect(read(b.slots.get(k)!)).toEqual(read(t));
    expect(b.slotSteps).toEqual(a.slotSteps);
    for (const t of [...weights.values(), ...state.slots.values(), ...a.slots.values(), ...b.slots.values()]) t.dispose();
    for (const x of [refOpt, resumed, ref, shuffled]) x.dispose();
  });

  it('setState names each missing or mis-shaped slot and changes nothing', async () => {
    const net = makeNet();
    const opt = new AdamW({ lr: 0.01 });
    await stepWith(opt, net, 0);
    const state = opt.getState();
    const other = new Network('other', { seed: 11 });
    other.param('a.kernel', [3, 4], normal({ std: 1 }));
    other.param('b.kernel', [3, 3], normal({ std: 1 }));
    other.param('b.bias', [3], normal({ std: 1 }));
    other.param('c.kernel', [3, 2], normal({ std: 1 }));
    other.param('d.kernel', [2, 2], normal({ std: 1 }));
    const fresh = new AdamW({ lr: 0.01 });
    let err: StateMismatchError | undefined;
    try {
      fresh.setState(state, other);
    } catch (e) {
      err = e as StateMismatchError;
    }
    expect(err).toBeInstanceOf(StateMismatchError);
    expect(err!.missing).toEqual(['d.kernel.exp_avg', 'd.kernel.exp_avg_sq', 'd.kernel (slot step)']);
    expect(err!.shapeMismatches.map((m) => m.name)).toEqual(['a.kernel.exp_avg', 'a.kernel.exp_avg_sq']);
    expect(err!.message).toContain("'a.kernel.exp_avg' found [4, 3], expected [3, 4]");
    expect(fresh.iterations).toBe(0);
    expect(fresh.getState().slots.size).toBe(0);
    for (const t of state.slots.values()) t.dispose();
    for (const x of [opt, fresh, net, other]) x.dispose();
  });

  it('accepts tf.variableGrads keys; rejects gradients of unknown variables and wrong shapes', async () => {
    const net = makeNet();
    const opt = new Adam({ lr: 0.01 });
    const v = net.variable('b.bias');
    const g = tf.ones([3]);
    await opt.step({ [v.name]: g }, net);
    expect(read(v)).not.toEqual(read(tf.tidy(() => tf.clone(g))));
    await expect(opt.step(new Map([['z.kernel', g]]), net)).rejects.toThrow(StateMismatchError);
    await expect(opt.step(new Map([['a.kernel', g]]), net)).rejects.toThrow(ShapeError);
    g.dispose();
    opt.dispose();
    net.dispose();
  });
});

describe('P27 / P29: non-finite gradients skip; clipping never makes NaN', () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    it(`a ${bad} gradient element skips the step: weights, moments, counters bitwise unchanged`, async () => {
      const net = makeNet();
      const opt = new AdamW({ lr: 0.05, maxGradNorm: 1 });
      await stepWith(opt, net, 0);
      const w0 = new Map([...net.variables()].map(([n, x]) => [n, read(x).slice()]));
      const s0 = opt.getState();
      const grads = gradsFor(net, 1);
      const vals = read(grads.get('b.kernel')!).slice();
      vals[4] = bad;
      grads.get('b.kernel')!.dispose();
      grads.set('b.kernel', tf.tensor(vals, [3, 3]));
      const r = await opt.step(grads, net);
      expect(r.skipped).toBe(true);
      expect(Number.isFinite(r.gradNorm)).toBe(false);
      for (const [n, x] of net.variables()) expect(read(x)).toEqual(w0.get(n));
      const s1 = opt.getState();
      for (const [k, t] of s0.slots) expect(read(s1.slots.get(k)!)).toEqual(read(t));
      expect(s1.step).toBe(1);
      expect(s1.skipped).toBe(1);
      expect(s1.slotSteps).toEqual(s0.slotSteps);
      for (const t of [...grads.values(), ...s0.slots.values(), ...s1.slots.values()]) t.dispose();
      opt.dispose();
      net.dispose();
    });
  }

  it('finite huge gradients (up to 3e38) are clipped without NaN or Inf', async () => {
    const net = makeNet();
    const opt = new AdamW({ lr: 0.05, maxGradNorm: 1 });
    for (const scale of [1e20, 1e30, 3e38]) {
      const grads = new Map([...net.variables()].map(([n, v]) => [n, tf.fill(v.shape, n === 'b.bias' ? -scale : scale)]));
      const r = await opt.step(grads, net);
      for (const g of grads.values()) g.dispose();
      expect(r.skipped).toBe(false);
      expect(r.clipped).toBe(true);
      expect(Number.isFinite(r.gradNorm)).toBe(true);
      for (const v of net.variables().values()) expect(read(v).every(Number.isFinite)).toBe(true);
      const s = opt.getState();
      for (const t of s.slots.values()) {
        expect(read(t).every(Number.isFinite)).toBe(true);
        t.dispose();
      }
    }
    opt.dispose();
    net.dispose();
  });

  it('skipped steps do not advance the learning-rate schedule', async () => {
    const net = makeNet();
    const opt = new AdamW({ lr: (t) => 0.1 * (t + 1) });
    const nan = new Map([['b.bias', tf.tensor([NaN, 0, 0])]]);
    const ok = new Map([['b.bias', tf.tensor([1, 0, 0])]]);
    expect((await opt.step(ok, net)).lr).toBeCloseTo(0.1);
    expect((await opt.step(nan, net)).skipped).toBe(true);
    expect((await opt.step(ok, net)).lr).toBeCloseTo(0.2);
    for (const t of [...nan.values(), ...ok.values()]) t.dispose();
    opt.dispose();
    net.dispose();
  });
});

describe('P33: no tensor leak', () => {
  it('100 optimizer steps (with clipping, a NaN-skip every 17, state save every 25) keep numTensors flat', async () => {
    const net = makeNet();
    const opt = new AdamW({ lr: 0.01, maxGradNorm: 1 });
    await stepWith(opt, net, 0); // burn-in: creates the slots
    const before = tf.memory().numTensors;
    for (let s = 1; s <= 100; s++) {
      const grads = gradsFor(net, s);
      if (s % 17 === 0) {
        grads.get('b.bias')!.dispose();
        grads.set('b.bias', tf.tensor([NaN, 1, 1]));
      }
      await opt.step(grads, net);
      for (const g of grads.values()) g.dispose();
      if (s % 25 === 0) {
        const st = opt.getState();
        opt.setState(st, net);
        for (const t of st.slots.values()) t.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
    }
    expect(opt.skippedSteps).toBe(5);
    opt.dispose();
    net.dispose();
    expect(tf.memory().numTensors).toBe(before - 3 * ORDER.length);
  });
});
