import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, readSafetensors, type LoadedTensor } from '@fewstep/core';
import { resampleWeights, resizeGrid, resizeRows, type AxisResample } from './resample.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

interface Case {
  name: string;
  mode: 'bicubic' | 'linear';
  height?: number;
  width?: number;
  length?: number;
  antialias?: boolean;
  offset?: number;
}

let ref: Map<string, LoadedTensor>;
const cases: Case[] = JSON.parse(readFileSync(`${FIXTURES}interpolation.json`, 'utf8')).cases;

function toTensor(t: LoadedTensor): tf.Tensor {
  return tf.tensor(t.data as Float32Array, [...t.shape], 'float32');
}

function maxAbs(a: tf.Tensor, b: LoadedTensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - (b.data as Float32Array)[i]!));
  return m;
}

beforeAll(async () => {
  await initEngine({ backend: 'wasm', report: false });
  ref = (await readSafetensors(`${FIXTURES}interpolation.safetensors`)).tensors;
});

describe('resample (torch F.interpolate parity, align_corners=False)', () => {
  it.each(cases.filter((c) => c.mode === 'bicubic'))('$name', (c) => {
    const grid = toTensor(ref.get('grid')!) as tf.Tensor3D; // [5, 4, 3]
    const mode = c.antialias ? 'cubic-aa' : 'cubic';
    // With an offset, torch got scale_factor = (n + offset) / size and samples with step 1 / scale_factor.
    const rows: AxisResample = c.offset ? { mode, scale: 5 / (c.height! + c.offset) } : { mode };
    const cols: AxisResample = c.offset ? { mode, scale: 4 / (c.width! + c.offset) } : { mode };
    const y = resizeGrid(grid, c.height!, c.width!, rows, cols);
    expect(maxAbs(y, ref.get(c.name)!)).toBeLessThan(1e-5);
    tf.dispose([grid, y]);
  });

  it.each(cases.filter((c) => c.mode === 'linear'))('$name', (c) => {
    const rows = toTensor(ref.get('rows')!) as tf.Tensor2D; // [9, 2]
    const y = resizeRows(rows, c.length!, { mode: 'linear' });
    expect(maxAbs(y, ref.get(c.name)!)).toBeLessThan(1e-5);
    if (y !== rows) y.dispose();
    rows.dispose();
  });

  it('same size without an explicit scale is the identity (no resampling)', () => {
    const g = tf.zeros([3, 3, 2]) as tf.Tensor3D;
    expect(resizeGrid(g, 3, 3, { mode: 'cubic' })).toBe(g);
    g.dispose();
    // Rows of the weight matrices are partitions of unity.
    for (const mode of ['cubic', 'cubic-aa', 'linear'] as const) {
      const w = resampleWeights(7, 3, { mode });
      for (let i = 0; i < 3; i++) expect(w.slice(i * 7, i * 7 + 7).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
  });

  it('rejects invalid sizes with a ConfigError', () => {
    expect(() => resampleWeights(0, 3, { mode: 'cubic' })).toThrow(/resample input size.*positive integer/);
    expect(() => resampleWeights(3, 2.5, { mode: 'cubic' })).toThrow(/resample output size/);
  });
});
