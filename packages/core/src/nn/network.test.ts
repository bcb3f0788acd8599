import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, StateMismatchError } from '../errors.js';
import { fromValues, glorotUniform, heUniform, normal, ones, zeros } from './initializers.js';
import { Network } from './network.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function build(seed = 5, order: 'forward' | 'reverse' = 'forward'): Network {
  const net = new Network('unet', { seed });
  const specs: [string, number[]][] = [
    ['down.0.res.conv1.kernel', [3, 3, 2, 4]],
    ['down.0.res.conv1.bias', [4]],
    ['mid.attn.qkv.kernel', [4, 12]],
    ['out.kernel', [12, 2]],
  ];
  for (const [n, s] of order === 'forward' ? specs : [...specs].reverse()) {
    net.param(n, s, n.endsWith('bias') ? zeros() : glorotUniform());
  }
  net.buffer('mid.norm.running_mean', [4], zeros());
  return net;
}

const values = (t: tf.Tensor): Float32Array => t.dataSync() as Float32Array;

describe('Network', () => {
  it('creates hierarchical names through scopes, in insertion order, and counts parameters', () => {
    const net = new Network('n');
    const res = net.scope('down.0').scope('res');
    res.param('conv1.kernel', [3, 3, 2, 4], heUniform());
    res.param('conv1.bias', [4], zeros());
    net.buffer('stats', [2], ones());
    expect([...net.variables().keys()]).toEqual(['down.0.res.conv1.kernel', 'down.0.res.conv1.bias', 'stats']);
    expect(net.numParameters()).toBe(3 * 3 * 2 * 4 + 4);
    expect(res.variable('conv1.bias')).toBe(net.variable('down.0.res.conv1.bias'));
    expect(() => net.param('down.0.res.conv1.bias', [4], zeros())).toThrow(ConfigError);
    expect(() => net.param('bad..name', [4], zeros())).toThrow(ConfigError);
    expect(() => net.variable('down.0.res.conv2.bias')).toThrow(/closest: 'down.0.res.conv1.bias'/);
    net.dispose();
  });

  it('initialisation depends on (seed, name) only, not on creation order; seed 0 is deterministic', () => {
    const a = build(5, 'forward');
    const b = build(5, 'reverse');
    const c = build(6, 'forward');
    for (const [n, v] of a.variables()) expect(values(b.variable(n))).toEqual(values(v));
    expect(values(c.variable('out.kernel'))).not.toEqual(values(a.variable('out.kernel')));
    const z1 = new Network('z', { seed: 0 });
    const z2 = new Network('z', { seed: 0 });
    expect(values(z1.param('w', [8], normal({ std: 0.02 })))).toEqual(values(z2.param('w', [8], normal({ std: 0.02 }))));
    // Glorot bound: sqrt(6 / (fanIn + fanOut)) with conv fans kh*kw*cin, kh*kw*cout.
    const k = values(a.variable('down.0.res.conv1.kernel'));
    const limit = Math.sqrt(6 / (3 * 3 * 2 + 3 * 3 * 4));
    expect(Math.max(...k.map(Math.abs))).toBeLessThanOrEqual(limit);
    expect(Math.max(...k.map(Math.abs))).toBeGreaterThan(limit * 0.8);
    for (const n of [a, b, c, z1, z2]) n.dispose();
  });

  it('freeze / unfreeze by prefix controls trainableVariables; buffers never become trainable', () => {
    const net = build();
    expect([...net.trainableVariables().keys()]).toHaveLength(4);
    net.freeze('down.0');
    expect([...net.trainableVariables().keys()]).toEqual(['mid.attn.qkv.kernel', 'out.kernel']);
    net.freeze();
    expect(net.trainableVariables().size).toBe(0);
    net.unfreeze();
    expect([...net.trainableVariables().keys()]).toHaveLength(4);
    expect(net.isTrainable('mid.norm.running_mean')).toBe(false);
    expect(() => net.freeze('down.01')).toThrow(ConfigError);
    net.dispose();
  });

  it('clone is a deep, independent copy (values, flags) and assign copies back', () => {
    const net = build();
    net.freeze('out');
    const copy = net.clone('unet.ema');
    expect(copy.name).toBe('unet.ema');
    expect(copy.isTrainable('out.kernel')).toBe(false);
    const before = values(net.variable('out.kernel')).slice();
    copy.variable('out.kernel').assign(tf.onesLike(copy.variable('out.kernel')));
    expect(values(net.variable('out.kernel'))).toEqual(before);
    net.variable('mid.attn.qkv.kernel').assign(tf.zerosLike(net.variable('mid.attn.qkv.kernel')));
    expect(values(copy.variable('mid.attn.qkv.kernel')).some((x) => x !== 0)).toBe(true);
    net.dispose();
    expect(values(copy.variable('out.kernel'))[0]).toBe(1); // survives the original's disposal
    const fresh = build(99);
    fresh.assign(copy);
    for (const [n, v] of copy.variables()) expect(values(fresh.variable(n))).toEqual(values(v));
    const other = new Network('other');
    other.param('out.kernel', [2, 12], zeros());
    expect(() => fresh.assign(other)).toThrow(StateMismatchError);
    for (const n of [copy, fresh, other]) n.dispose();
  });

  it('getWeights / setWeights round-trip; strict errors name every problem and assign nothing', () => {
    const net = build();
    const saved = net.getWeights();
    const target = build(42);
    const snapshot = new Map([...target.variables()].map(([n, v]) => [n, values(v).slice()]));
    const expectUntouched = (): void => {
      for (const [n, v] of target.variables()) expect(values(v)).toEqual(snapshot.get(n));
    };
    // missing
    const missing = new Map(saved);
    missing.delete('out.kernel');
    expect(() => target.setWeights(missing)).toThrow(/1 missing.*\n.*'out\.kernel'/);
    expectUntouched();
    // extra
    const extra = new Map(saved).set('out.kernel.lora_A', tf.zeros([12, 2]));
    let err: unknown;
    try {
      target.setWeights(extra);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateMismatchError);
    expect((err as StateMismatchError).unexpected).toEqual(['out.kernel.lora_A']);
    expect((err as StateMismatchError).message).toMatch(/Fix: /);
    expectUntouched();
    // shape mismatch (even non-strict), with everything else valid: nothing partially assigned
    const wrong = new Map(saved).set('mid.attn.qkv.kernel', tf.zeros([12, 4]));
    expect(() => target.setWeights(wrong, { strict: false })).toThrow(/'mid\.attn\.qkv\.kernel' found \[12, 4\], expected \[4, 12\]/);
    expectUntouched();
    // non-strict subset loads; strict full set loads everything
    target.setWeights(missing, { strict: false });
    expect(values(target.variable('out.kernel'))).toEqual(snapshot.get('out.kernel'));
    target.setWeights(saved);
    for (const [n, v] of net.variables()) expect(values(target.variable(n))).toEqual(values(v));
    for (const t of [...saved.values(), extra.get('out.kernel.lora_A')!, wrong.get('mid.attn.qkv.kernel')!]) t.dispose();
    net.dispose();
    target.dispose();
  });

  it('dispose frees every variable (no leak over build/clone/getWeights/dispose cycles)', () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      const net = build(i);
      const c = net.clone();
      const w = net.getWeights();
      c.setWeights(w);
      for (const t of w.values()) t.dispose();
      net.dispose();
      c.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    const net = build();
    net.dispose();
    expect(() => net.variables()).toThrow(/disposed/);
  });

  it('fromValues initialiser checks the length', () => {
    const net = new Network('v');
    expect(values(net.param('w', [2, 2], fromValues([1, 2, 3, 4])))).toEqual(new Float32Array([1, 2, 3, 4]));
    expect(() => net.param('x', [3], fromValues([1, 2]))).toThrow(ConfigError);
    net.dispose();
  });
});
