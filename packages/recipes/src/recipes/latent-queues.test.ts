import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, Network, ShapeError } from '@fewstep/core';
import { LatentQueues } from './latent-queues.js';

/** `n` states `[n, 1, 1, 1, 2]` whose values are `(id, -id)` for ids `from, from + 1, ...`. */
function states(from: number, n: number): tf.Tensor {
  return tf.tensor(Array.from({ length: n }, (_, i) => [from + i, -(from + i)]).flat(), [n, 1, 1, 1, 2]);
}

/** The ids of states (first channel). */
function ids(x: tf.Tensor | undefined): number[] {
  if (x === undefined) return [];
  const v = tf.tidy(() => Array.from(tf.reshape(tf.slice(tf.reshape(x, [x.shape[0]!, 2]), [0, 0], [-1, 1]), [-1]).dataSync()));
  x.dispose();
  return v;
}

describe('LatentQueues (AccVideo Algorithm 1 queues as network buffers)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  const sampleShape = [1, 1, 1, 2];

  it('FIFO with a capacity in samples: push appends and drops the oldest, pop removes the oldest, fill counters follow', () => {
    const net = new Network('queues', { seed: 1 });
    const q = new LatentQueues(net, { queues: 3, capacity: 5, sampleShape });
    expect([...net.variables().keys()]).toEqual(['q0.latents', 'q0.fill', 'q1.latents', 'q1.fill', 'q2.latents', 'q2.fill']);
    expect(net.trainableVariables().size).toBe(0);
    expect([...net.variables().keys()].every((n) => net.isBuffer(n))).toBe(true);
    const before = tf.memory().numTensors;
    expect(q.fills()).toEqual([0, 0, 0]);
    expect(q.pop(1, 1)).toBeUndefined();
    expect(q.newest(1, 1)).toBeUndefined();

    const a = states(1, 3);
    q.push(1, a);
    a.dispose();
    expect(q.fills()).toEqual([0, 3, 0]);
    const b = states(4, 4);
    q.push(1, b);
    b.dispose();
    // 7 pushed into capacity 5: states 1 and 2 were dropped.
    expect(q.fill(1)).toBe(5);
    expect(ids(q.newest(1, 5))).toEqual([3, 4, 5, 6, 7]);
    expect(ids(q.newest(1, 2))).toEqual([6, 7]);
    expect(ids(q.pop(1, 2))).toEqual([3, 4]);
    expect(q.fill(1)).toBe(3);
    expect(q.pop(1, 4)).toBeUndefined(); // fewer than 4 queued: nothing is removed
    expect(q.fill(1)).toBe(3);
    expect(ids(q.pop(1, 3))).toEqual([5, 6, 7]);
    expect(q.fills()).toEqual([0, 0, 0]);
    // Past the fill, slots are zero.
    expect(Array.from(net.variable('q1.latents').dataSync()).every((v) => v === 0)).toBe(true);
    // A single push larger than the capacity keeps its newest states.
    const c = states(10, 7);
    q.push(2, c);
    c.dispose();
    expect(ids(q.pop(2, 5))).toEqual([12, 13, 14, 15, 16]);
    expect(q.fills()).toEqual([0, 0, 0]);
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
  });

  it('pushes values, not a gradient path', () => {
    const net = new Network('queues', { seed: 1 });
    const q = new LatentQueues(net, { queues: 1, capacity: 2, sampleShape });
    const w = tf.variable(tf.ones([1, 1, 1, 1, 2]));
    const { grads } = tf.variableGrads(() => {
      const x = tf.mul(w, 3);
      q.push(0, x);
      const y = q.newest(0, 1)!;
      return tf.sum(tf.add(tf.mul(x, 0), y)) as tf.Scalar;
    }, [w]);
    expect(Array.from(grads[w.name]!.dataSync())).toEqual([0, 0]);
    expect(ids(q.pop(0, 1))).toEqual([3]);
    tf.dispose([w, ...Object.values(grads)]);
    net.dispose();
  });

  it('binds to the buffers of an existing network (a clone, a restored role) and keeps their contents', () => {
    const net = new Network('queues', { seed: 1 });
    const q = new LatentQueues(net, { queues: 2, capacity: 4, sampleShape });
    const x = states(1, 3);
    q.push(0, x);
    x.dispose();
    const copy = net.clone('queues.copy');
    const q2 = new LatentQueues(copy, { queues: 2, capacity: 4, sampleShape });
    expect(q2.fills()).toEqual([3, 0]);
    expect(ids(q2.pop(0, 2))).toEqual([1, 2]);
    expect(q.fills()).toEqual([3, 0]); // the source is untouched
    q.clear();
    expect(q.fills()).toEqual([0, 0]);
    expect(() => new LatentQueues(copy, { queues: 2, capacity: 5, sampleShape })).toThrow(ShapeError);
    net.dispose();
    copy.dispose();
  });

  it('rejects bad options, queue indices and state shapes', () => {
    const net = new Network('queues', { seed: 1 });
    expect(() => new LatentQueues(net, { queues: 0, capacity: 4, sampleShape })).toThrow(ConfigError);
    expect(() => new LatentQueues(net, { queues: 2, capacity: 1.5, sampleShape })).toThrow(/capacity/);
    expect(() => new LatentQueues(net, { queues: 2, capacity: 2, sampleShape: [] })).toThrow(/sampleShape/);
    const q = new LatentQueues(net, { queues: 2, capacity: 4, sampleShape });
    const bad = tf.zeros([2, 1, 1, 2]);
    expect(() => q.push(0, bad)).toThrow(ShapeError);
    const good = tf.zeros([1, 1, 1, 1, 2]);
    expect(() => q.push(2, good)).toThrow(/queue.*2.*\[0, 2\)/s);
    expect(() => q.pop(0, 0)).toThrow(ConfigError);
    tf.dispose([bad, good]);
    net.dispose();
  });
});
