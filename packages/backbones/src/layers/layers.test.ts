import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, Network } from '@fewstep/core';
import { expectTensorsClose, seededNormal } from '@fewstep/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { patchify3d, unpatchify3d } from '../dit/patchify-3d.js';
import { geluTanh, silu } from './activations.js';
import { scaledDotProductAttention } from './attention.js';
import { conv2d, initConv2d, upsampleNearest2x } from './conv2d.js';
import { groupNorm, initNorm, resolveGroups } from './group-norm.js';
import { layerNorm, normalizeOver } from './layer-norm.js';
import { applyRope, rope3dTables, ropeAxes } from './rope-3d.js';
import { sinusoidalEmbedding } from './timestep-embedding.js';

beforeAll(async () => {
  await initEngine({ backend: 'wasm', report: false });
});

describe('layers', () => {
  it('resolveGroups keeps at least two channels per group and divides the channels', () => {
    expect(resolveGroups(320, 32)).toBe(32);
    expect(resolveGroups(32, 32)).toBe(16);
    expect(resolveGroups(48, 8)).toBe(8);
    expect(resolveGroups(12, 32)).toBe(6);
    expect(resolveGroups(10, 4)).toBe(2);
    expect(resolveGroups(1, 32)).toBe(1);
  });

  it('groupNorm matches a direct computation per sample and group', () => {
    const net = new Network('gn');
    initNorm(net.scope('n'), 8);
    const x = seededNormal([2, 3, 3, 8], 1, 2);
    const y = groupNorm(net.scope('n'), x, 4);
    const xv = x.arraySync() as number[][][][];
    const expected = new Float32Array(2 * 9 * 8);
    for (let b = 0; b < 2; b++) {
      for (let g = 0; g < 4; g++) {
        const vals: number[] = [];
        for (let i = 0; i < 9; i++) for (let c = 2 * g; c < 2 * g + 2; c++) vals.push(xv[b]![Math.floor(i / 3)]![i % 3]![c]!);
        const mean = vals.reduce((a, v) => a + v, 0) / vals.length;
        const variance = vals.reduce((a, v) => a + (v - mean) ** 2, 0) / vals.length;
        for (let i = 0; i < 9; i++) for (let c = 2 * g; c < 2 * g + 2; c++) expected[b * 72 + i * 8 + c] = (xv[b]![Math.floor(i / 3)]![i % 3]![c]! - mean) / Math.sqrt(variance + 1e-5);
      }
    }
    expectTensorsClose(y, expected, { rtol: 1e-5, what: 'groupNorm' });
    tf.dispose([x, y]);
    net.dispose();
  });

  it('layerNorm has zero mean and unit variance per row; geluTanh matches its formula', () => {
    const x = seededNormal([4, 16], 2, 3);
    const y = layerNorm(undefined, x);
    const { mean, variance } = tf.moments(y, -1);
    expectTensorsClose(mean, new Float32Array(4), { atol: 1e-5 });
    expectTensorsClose(variance, new Float32Array(4).fill(1), { rtol: 1e-3 });
    const g = geluTanh(tf.tensor1d([-3, -1, 0, 0.5, 2]));
    const ref = [-3, -1, 0, 0.5, 2].map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
    expectTensorsClose(g, ref, { rtol: 1e-5 });
    tf.dispose([x, y, mean, variance, g]);
  });

  it('hand-written gradients (GELU-tanh, SiLU, normalisation) equal autodiff of the composite formulas', () => {
    const x = seededNormal([3, 4, 6], 11, 2);
    const w = seededNormal([3, 4, 6], 12);
    const c = Math.sqrt(2 / Math.PI);
    const pairs: [string, (t: tf.Tensor) => tf.Tensor, (t: tf.Tensor) => tf.Tensor][] = [
      ['geluTanh', geluTanh, (t) => tf.mul(tf.mul(t, 0.5), tf.add(1, tf.tanh(tf.mul(tf.add(t, tf.mul(tf.pow(t, 3), 0.044715)), c))))],
      ['silu', silu, (t) => tf.mul(t, tf.sigmoid(t))],
      ['normalizeOver', (t) => normalizeOver(t, [1, 2], 1e-5), (t) => {
        const { mean, variance } = tf.moments(t, [1, 2], true);
        return tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, 1e-5)));
      }],
    ];
    for (const [what, custom, composite] of pairs) {
      const f = (g: (t: tf.Tensor) => tf.Tensor) => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(g(t), w)));
      expectTensorsClose(custom(x), composite(x), { rtol: 1e-5, what: `${what} value` });
      expectTensorsClose(f(custom)(x), f(composite)(x), { rtol: 1e-4, what: `${what} gradient` });
    }
    tf.dispose([x, w]);
  });

  it('sinusoidalEmbedding is [cos, sin] of value * frequency', () => {
    const e = sinusoidalEmbedding(tf.tensor1d([0, 3]), 8, 2);
    const row = (v: number): number[] => {
      const f = [0, 1, 2, 3].map((j) => Math.exp((-Math.log(10000) * j) / 4));
      return [...f.map((fi) => Math.cos(2 * v * fi)), ...f.map((fi) => Math.sin(2 * v * fi))];
    };
    expectTensorsClose(e, [...row(0), ...row(3)], { atol: 1e-5 });
    e.dispose();
  });

  it('scaledDotProductAttention matches a per-head loop, and a key mask removes keys', () => {
    const [b, n, m, heads, d] = [2, 3, 4, 2, 4];
    const q = seededNormal([b, n, heads * d], 3);
    const k = seededNormal([b, m, heads * d], 4);
    const v = seededNormal([b, m, heads * d], 5);
    const mask = tf.tensor2d([[1, 1, 0, 1], [1, 1, 1, 1]]);
    const out = scaledDotProductAttention(q, k, v, heads, { keyMask: mask });
    const qa = q.arraySync() as number[][][];
    const ka = k.arraySync() as number[][][];
    const va = v.arraySync() as number[][][];
    const ma = mask.arraySync() as number[][];
    const expected: number[] = [];
    for (let bi = 0; bi < b; bi++) {
      for (let i = 0; i < n; i++) {
        for (let h = 0; h < heads; h++) {
          const s = Array.from({ length: m }, (_, j) => {
            let dot = 0;
            for (let c = 0; c < d; c++) dot += qa[bi]![i]![h * d + c]! * ka[bi]![j]![h * d + c]!;
            return ma[bi]![j] ? dot / Math.sqrt(d) : -Infinity;
          });
          const mx = Math.max(...s);
          const p = s.map((x) => Math.exp(x - mx));
          const z = p.reduce((a, x) => a + x, 0);
          for (let c = 0; c < d; c++) expected.push(p.reduce((a, pj, j) => a + (pj / z) * va[bi]![j]![h * d + c]!, 0));
        }
      }
    }
    expectTensorsClose(out, expected, { rtol: 1e-5, atol: 1e-6, what: 'attention' });
    tf.dispose([q, k, v, mask, out]);
  });

  it('3D RoPE: scores depend only on relative positions; position 0 is the identity', () => {
    const axes = ropeAxes(16);
    expect(axes.t + axes.h + axes.w).toBe(16);
    const { cos, sin } = rope3dTables(3, 2, 2, axes);
    const one = seededNormal([1, 16], 6);
    const other = seededNormal([1, 16], 7);
    const q = applyRope(tf.tile(one, [12, 1]), cos, sin, axes);
    const k = applyRope(tf.tile(other, [12, 1]), cos, sin, axes);
    const s = tf.matMul(q, k, false, true).arraySync() as number[][];
    // token index = f*4 + y*2 + x: (f=0,y=0,x=0)->(f=1,y=1,x=0) equals (f=1,y=0,x=1)->(f=2,y=1,x=1)
    expect(s[0]![6]!).toBeCloseTo(s[5]![11]!, 4);
    expect(s[0]![6]!).not.toBeCloseTo(s[0]![5]!, 2);
    expectTensorsClose(tf.slice(q, [0, 0], [1, 16]), one, { rtol: 1e-6 });
    tf.dispose([cos, sin, one, other, q, k]);
  });

  it('patchify3d / unpatchify3d are inverse and group (pt, ph, pw, C) per token', () => {
    const x = seededNormal([2, 4, 4, 6, 3], 8);
    const p = patchify3d(x, [2, 2, 3]);
    expect(p.shape).toEqual([2, 2 * 2 * 2, 2 * 2 * 3 * 3]);
    const token0 = tf.reshape(tf.slice(x, [0, 0, 0, 0, 0], [1, 2, 2, 3, 3]), [-1]);
    expectTensorsClose(tf.reshape(tf.slice(p, [0, 0, 0], [1, 1, 36]), [-1]), token0, { rtol: 0 });
    expectTensorsClose(unpatchify3d(p, [2, 2, 2], [2, 2, 3]), x, { rtol: 0 });
  });

  it('conv2d stride 2 pads like PyTorch (1 on each side); upsampleNearest2x repeats pixels', () => {
    const net = new Network('conv');
    initConv2d(net.scope('c'), 3, 1, 1, { bias: false });
    net.variable('c.kernel').assign(tf.ones([3, 3, 1, 1]));
    const x = tf.reshape(tf.range(1, 17, 1, 'float32'), [1, 4, 4, 1]);
    const y = conv2d(net.scope('c'), x, 2);
    // Output (0,0) covers rows/cols -1..1 (zero padded): 1+2+5+6 = 14; (1,1) covers rows/cols 1..3.
    expectTensorsClose(y, [14, 30, 57, 99], { rtol: 0 });
    const u = upsampleNearest2x(tf.reshape(tf.tensor1d([1, 2, 3, 4]), [1, 2, 2, 1]));
    expectTensorsClose(u, [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4], { rtol: 0 });
    net.dispose();
  });
});
