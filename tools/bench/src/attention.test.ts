import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, it } from 'vitest';
import { expectNoLeak, expectTensorsClose, seededNormalValues } from '@fewstep/testing';
import { selfAttention } from './attention.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Plain-loop reference: per sample and head, softmax(q kᵀ / √d) v, then the output projection. */
function naiveAttention(
  x: Float32Array, n: number, t: number, c: number, heads: number,
  wQkv: Float32Array, bQkv: Float32Array, wOut: Float32Array, bOut: Float32Array,
): number[] {
  const d = c / heads;
  const out: number[] = [];
  for (let s = 0; s < n; s++) {
    const qkv: number[][] = [];
    for (let i = 0; i < t; i++) {
      const row: number[] = [];
      for (let o = 0; o < 3 * c; o++) {
        let acc = bQkv[o] as number;
        for (let k = 0; k < c; k++) acc += (x[(s * t + i) * c + k] as number) * (wQkv[k * 3 * c + o] as number);
        row.push(acc);
      }
      qkv.push(row);
    }
    const merged: number[][] = Array.from({ length: t }, () => new Array<number>(c).fill(0));
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < t; i++) {
        const scores: number[] = [];
        for (let j = 0; j < t; j++) {
          let dot = 0;
          for (let e = 0; e < d; e++) dot += (qkv[i]![h * d + e] as number) * (qkv[j]![c + h * d + e] as number);
          scores.push(dot / Math.sqrt(d));
        }
        const mx = Math.max(...scores);
        const ex = scores.map((v) => Math.exp(v - mx));
        const z = ex.reduce((a, b) => a + b, 0);
        for (let e = 0; e < d; e++) {
          let acc = 0;
          for (let j = 0; j < t; j++) acc += ((ex[j] as number) / z) * (qkv[j]![2 * c + h * d + e] as number);
          merged[i]![h * d + e] = acc;
        }
      }
    }
    for (let i = 0; i < t; i++) {
      for (let o = 0; o < c; o++) {
        let acc = bOut[o] as number;
        for (let k = 0; k < c; k++) acc += (merged[i]![k] as number) * (wOut[k * c + o] as number);
        out.push(acc);
      }
    }
  }
  return out;
}

describe('selfAttention', () => {
  it('matches a plain-loop multi-head attention (2 samples, 3 tokens, C=4, 2 heads)', async () => {
    const [n, t, c, heads] = [2, 3, 4, 2];
    const xv = seededNormalValues(n * t * c, 1);
    const wq = seededNormalValues(c * 3 * c, 2).map((v) => v * 0.5);
    const bq = seededNormalValues(3 * c, 3).map((v) => v * 0.1);
    const wo = seededNormalValues(c * c, 4).map((v) => v * 0.5);
    const bo = seededNormalValues(c, 5).map((v) => v * 0.1);
    const p = { wQkv: tf.tensor2d(wq, [c, 3 * c]), bQkv: tf.tensor1d(bq), wOut: tf.tensor2d(wo, [c, c]), bOut: tf.tensor1d(bo) };
    const x = tf.tensor3d(xv, [n, t, c]);
    expectTensorsClose(selfAttention(x, p, heads), naiveAttention(xv, n, t, c, heads, wq, bq, wo, bo), {
      rtol: 1e-5,
      what: 'selfAttention',
    });
    await expectNoLeak(() => selfAttention(x, p, heads), 'selfAttention');
  });
});
