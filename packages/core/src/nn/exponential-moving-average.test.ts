import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { StateMismatchError } from '../errors.js';
import { ExponentialMovingAverage } from './exponential-moving-average.js';
import { fromValues, normal, zeros } from './initializers.js';
import { Network } from './network.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const read = (t: tf.Tensor): Float32Array => t.dataSync() as Float32Array;

function source(seed = 3): Network {
  const net = new Network('student', { seed });
  net.param('block.kernel', [4, 3], normal({ std: 1 }));
  net.param('block.bias', [3], normal({ std: 1 }));
  net.param('frozen.kernel', [2, 2], normal({ std: 1 }), { trainable: false });
  net.buffer('norm.running_var', [3], fromValues([1, 2, 3]));
  return net;
}

/** Moves the source to a new point each step (deterministic). */
function perturb(net: Network, step: number): void {
  tf.tidy(() => {
    for (const [n, v] of net.variables()) {
      if (!v.trainable && !n.startsWith('norm')) continue;
      v.assign(tf.add(v, tf.mul(tf.sin(tf.add(tf.reshape(tf.range(0, v.size), v.shape), step)), 0.1)));
    }
  });
}

describe('ExponentialMovingAverage (P32)', () => {
  it('closed form after n updates with constant weights: theta + d^n (ema0 - theta); buffers copied', () => {
    const src = source();
    const ema = new ExponentialMovingAverage(src.clone('ema'), src, { decay: 0.9 });
    const ema0 = new Map([...ema.target.variables()].map(([n, v]) => [n, read(v).slice()]));
    perturb(src, 1); // the source jumps once, then stays constant
    const theta = new Map([...src.variables()].map(([n, v]) => [n, read(v).slice()]));
    const n = 7;
    for (let i = 0; i < n; i++) expect(ema.update()).toBe(0.9);
    expect(ema.step).toBe(n);
    for (const name of ['block.kernel', 'block.bias']) {
      const expected = theta.get(name)!.map((t, i) => t + 0.9 ** n * (ema0.get(name)![i]! - t));
      const got = read(ema.target.variable(name));
      for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(expected[i]!, 6);
    }
    // Frozen parameters and buffers are copied, not averaged: bitwise equal to the source.
    expect(read(ema.target.variable('norm.running_var'))).toEqual(theta.get('norm.running_var'));
    expect(read(ema.target.variable('frozen.kernel'))).toEqual(theta.get('frozen.kernel'));
    ema.target.dispose();
    src.dispose();
  });

  it('a constant source equal to the EMA stays bitwise fixed', () => {
    const src = source();
    const ema = new ExponentialMovingAverage(src.clone(), src, { decay: 0.999 });
    for (let i = 0; i < 5; i++) ema.update();
    for (const [n, v] of src.variables()) expect(read(ema.target.variable(n))).toEqual(read(v));
    ema.target.dispose();
    src.dispose();
  });

  it('warm-up decay is min(decay, (1 + t) / (10 + t))', () => {
    const src = new Network('s');
    src.param('w', [1], zeros());
    const ema = new ExponentialMovingAverage(src.clone(), src, { decay: 0.5, warmup: true });
    expect([0, 1, 5, 8, 9, 100].map((t) => ema.decayAt(t))).toEqual([0.1, 2 / 11, 6 / 15, 0.5, 0.5, 0.5]);
    // One update from ema = 1 toward theta = 0 at t = 0: 0.1 * 1.
    ema.target.variable('w').assign(tf.ones([1]));
    expect(ema.update()).toBeCloseTo(0.1, 15);
    expect(read(ema.target.variable('w'))[0]).toBeCloseTo(0.1, 7);
    expect(ema.update(1)).toBeCloseTo(2 / 11, 15);
    expect(read(ema.target.variable('w'))[0]).toBeCloseTo(0.1 * (2 / 11), 7);
    expect(ema.step).toBe(2);
    ema.target.dispose();
    src.dispose();
  });

  it('resume (save state, restore into a fresh EMA, continue) is bitwise equal to the uninterrupted run', () => {
    const run = (interruptAt: number | null): Map<string, Float32Array> => {
      const src = source();
      let ema = new ExponentialMovingAverage(src.clone(), src, { decay: 0.95, warmup: true });
      for (let s = 0; s < 12; s++) {
        if (s === interruptAt) {
          const state = ema.getState();
          ema.target.dispose();
          // A fresh EMA with deliberately wrong hyper-state: only a correct load fixes it.
          const other = source(99);
          const fresh = new ExponentialMovingAverage(other.clone(), src, { decay: 0.5, warmup: false });
          other.dispose();
          fresh.setState(state);
          for (const t of state.weights.values()) t.dispose();
          ema = fresh;
        }
        perturb(src, s);
        ema.update();
      }
      const out = new Map([...ema.target.variables()].map(([n, v]) => [n, read(v).slice()]));
      ema.target.dispose();
      src.dispose();
      return out;
    };
    const ref = run(null);
    for (const k of [1, 6, 11]) {
      const resumed = run(k);
      for (const [n, v] of ref) expect(resumed.get(n)).toEqual(v);
    }
  });

  it('rejects a target that does not match the source, and leaks nothing over 100 updates', () => {
    const src = source();
    const wrong = new Network('w');
    wrong.param('block.kernel', [3, 4], zeros());
    expect(() => new ExponentialMovingAverage(wrong, src, { decay: 0.9 })).toThrow(StateMismatchError);
    const ema = new ExponentialMovingAverage(src.clone(), src, { decay: 0.9 });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) {
      perturb(src, i);
      ema.update();
    }
    expect(tf.memory().numTensors).toBe(before);
    for (const x of [wrong, ema.target, src]) x.dispose();
  });
});
