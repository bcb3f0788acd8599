import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '../register-gradients.js';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { expectNoLeak, expectTensorsClose, seededNormal } from '@fewstep/testing';
import { registerWasmTrainingKernels } from './index.js';
import { mergeTransposeAxes } from './layout-kernels.js';
import { axisGroups } from './reduce-kernels.js';

interface Result {
  shape: number[];
  values: Float32Array | Int32Array;
}

/** Runs `f` on `backend` with seeded inputs; asserts no engine tensor or backend data id leaked. */
async function runOn(backend: 'cpu' | 'wasm', shapes: number[][], f: (...xs: tf.Tensor[]) => tf.Tensor[], scale = 1): Promise<Result[]> {
  await tf.setBackend(backend);
  const inputs = shapes.map((s, i) => seededNormal(s, 5 + 17 * i, scale));
  const before = { tensors: tf.memory().numTensors, ids: tf.backend().numDataIds() };
  const outs = f(...inputs);
  const results = outs.map((t) => ({ shape: t.shape.slice(), values: t.dataSync().slice() as Float32Array }));
  tf.dispose(outs);
  expect(tf.memory().numTensors, `${backend}: engine tensors leaked`).toBe(before.tensors);
  expect(tf.backend().numDataIds(), `${backend}: backend data leaked`).toBe(before.ids);
  tf.dispose(inputs);
  return results;
}

async function matchesCpu(what: string, shapes: number[][], f: (...xs: tf.Tensor[]) => tf.Tensor[], scale = 1, rtol = 1e-5): Promise<void> {
  const expected = await runOn('cpu', shapes, f, scale);
  const actual = await runOn('wasm', shapes, f, scale);
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    expect(a.shape, `${what} output ${i} shape`).toEqual(expected[i]!.shape);
    expectTensorsClose(a.values, expected[i]!.values, { rtol, what: `${what} output ${i}` });
  });
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmTrainingKernels();
});

describe('Identity shares the heap block', () => {
  it('tf.clone reuses the block, stays readable after the source is disposed, and frees it last', async () => {
    await tf.setBackend('wasm');
    const ids = tf.backend().numDataIds();
    const x = tf.tensor([1, 2, 3, 4], [2, 2]);
    const y = tf.clone(x);
    expect(tf.backend().numDataIds()).toBe(ids + 1);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]);
    y.dispose();
    expect(tf.backend().numDataIds()).toBe(ids);
  });

  it('gradients through identity-like ops do not leak', async () => {
    await tf.setBackend('wasm');
    await expectNoLeak(() =>
      tf.tidy(() => {
        const x = seededNormal([3, 4], 1);
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.clone(t), tf.clone(t))))(x);
        expectTensorsClose(g, tf.mul(x, 2), { what: 'd/dx sum(x²)' });
      }),
    );
  });
});

describe('Sum / Mean over any axes without transposes', () => {
  it('collapses axes into kept/reduced groups', () => {
    expect(axisGroups([16, 256, 32, 2], [1, 3])).toEqual([
      { size: 16, reduced: false },
      { size: 256, reduced: true },
      { size: 32, reduced: false },
      { size: 2, reduced: true },
    ]);
    expect(axisGroups([1, 4096, 64], [0, 1])).toEqual([
      { size: 4096, reduced: true },
      { size: 64, reduced: false },
    ]);
  });

  const cases: Array<[number[], number | number[] | null]> = [
    [[1, 300, 64], [0, 1]],
    [[300, 67], 0],
    [[6, 50, 8, 2], [1, 3]],
    [[6, 50, 8, 2], [0, 1]],
    [[4, 5, 6, 7], [0, 2]],
    [[4, 5, 6, 7], [1, 3]],
    [[4, 5, 6, 7], [0, 1, 2]],
    [[4, 5, 6, 7], [-1, 0]],
    [[2, 1, 9, 1, 5], [0, 2]],
    [[8, 3], 1],
    [[8, 3], null],
  ];
  for (const [shape, axis] of cases) {
    it(`shape [${shape}] axis ${JSON.stringify(axis)} (keepDims both ways)`, async () => {
      await matchesCpu(`sum/mean ${shape} ${axis}`, [shape], (x) => [
        tf.sum(x!, axis ?? undefined),
        tf.mean(x!, axis ?? undefined),
        tf.sum(x!, axis ?? undefined, true),
        tf.mean(x!, axis ?? undefined, true),
      ]);
    });
  }

  it('int32 inputs keep wasm\'s kernel', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor([[1, 2], [3, 4], [5, 6]], undefined, 'int32');
    expect(Array.from(tf.sum(x, 0).dataSync())).toEqual([9, 12]);
    tf.dispose(x);
  });

  it('sums long columns in float64 (exact for integers beyond float32 sums)', async () => {
    await tf.setBackend('wasm');
    // 20000 rows of 1 + 2^-20: float32 accumulation would drift, float64 gives the exact sum.
    const x = tf.fill([20000, 3], 1 + 2 ** -20);
    const s = tf.sum(x, 0).dataSync();
    expect(s[0]).toBe(Math.fround(20000 * (1 + 2 ** -20)));
    tf.dispose(x);
  });
});

describe('broadcast Add / Sub / Multiply / RealDiv', () => {
  const pairs: Array<[number[], number[]]> = [
    [[6, 50, 8, 2], [6, 1, 8, 1]],
    [[6, 1, 8, 1], [6, 50, 8, 2]],
    [[4, 7, 3], [4, 1, 1]],
    [[4, 7, 3], [7, 1]],
    [[5, 9, 5], [5, 1, 5]],
    [[2, 3, 4, 5], [3, 1, 5]],
    [[10, 1], [1, 9]],
  ];
  for (const [sa, sb] of pairs) {
    it(`[${sa}] ∘ [${sb}]: values and gradients`, async () => {
      await matchesCpu(`binary [${sa}] [${sb}]`, [sa, sb], (a, b) => {
        const denom = tf.tidy(() => tf.add(tf.abs(b!), 0.5));
        const w = seededNormal(tf.broadcast_util.assertAndGetBroadcastShape(sa, sb), 3);
        const out = [tf.add(a!, b!), tf.sub(a!, b!), tf.mul(a!, b!), tf.div(a!, denom)];
        const grads = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.sub(tf.mul(x, y), tf.div(x, tf.add(tf.abs(y), 0.5))), w)))([a!, b!]);
        tf.dispose([denom, w]);
        return [...out, ...grads];
      });
    });
  }
});

describe('Tanh (SIMD)', () => {
  it('matches cpu over small, medium, large and non-finite inputs', async () => {
    await matchesCpu('tanh x0.1', [[1001]], (x) => [tf.tanh(x!)], 0.1);
    await matchesCpu('tanh x3', [[3, 333]], (x) => [tf.tanh(x!)], 3);
    await matchesCpu('tanh x30', [[999]], (x) => [tf.tanh(x!)], 30);
    await tf.setBackend('wasm');
    const special = tf.tensor([0, -0, 1e-30, -1e-30, 0.25, -0.25, 10, -10, 1e6, -1e6, NaN, Infinity, -Infinity]);
    const y = Array.from(tf.tanh(special).dataSync());
    expect(y.slice(0, 4)).toEqual([0, 0, 1e-30, -1e-30].map(Math.fround));
    expect(y.slice(6, 10)).toEqual([1, -1, 1, -1]);
    expect(Number.isNaN(y[10])).toBe(true);
    expect(y.slice(11)).toEqual([1, -1]);
    special.dispose();
  });

  it('elementwise relative error below 1e-6 against Math.tanh', async () => {
    await tf.setBackend('wasm');
    const xs = Float32Array.from({ length: 20001 }, (_, i) => -12 + (24 * i) / 20000);
    const x = tf.tensor(xs);
    const y = tf.tanh(x).dataSync();
    let worst = 0;
    xs.forEach((v, i) => {
      const e = Math.tanh(v);
      if (e !== 0) worst = Math.max(worst, Math.abs((y[i] as number) - e) / Math.abs(e));
    });
    expect(worst).toBeLessThan(1e-6);
    x.dispose();
  });

  it('gradient matches cpu', async () => {
    await matchesCpu('tanh grad', [[257]], (x) => [tf.grad((t: tf.Tensor) => tf.sum(tf.tanh(t)))(x!)], 2);
  });
});

describe('Softmax (SIMD rows)', () => {
  it('matches cpu for row lengths 1..257, large logits and gradients', async () => {
    for (const shape of [[5, 1], [4, 3], [3, 4], [6, 7], [2, 3, 256], [257]]) {
      await matchesCpu(`softmax [${shape}]`, [shape], (x) => [tf.softmax(x!)], 3);
    }
    await matchesCpu('softmax large logits', [[8, 100]], (x) => [tf.softmax(x!)], 40);
    await matchesCpu('softmax grad', [[6, 33]], (x) => {
      const w = seededNormal([6, 33], 9);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.softmax(t), w)))(x!);
      w.dispose();
      return [g];
    });
  });

  it('handles -Infinity (masked) entries and NaN rows like cpu', async () => {
    const values = [0, -Infinity, 1, 2, -Infinity, -1e9, 3, 0.5, NaN, 1, 2, 3, 4, -95, -85, 5];
    const run = async (b: 'cpu' | 'wasm'): Promise<number[]> => {
      await tf.setBackend(b);
      const x = tf.tensor(values, [4, 4]);
      const y = tf.softmax(x);
      const out = Array.from(y.dataSync());
      tf.dispose([x, y]);
      return out;
    };
    const expected = await run('cpu');
    const actual = await run('wasm');
    actual.forEach((a, i) => {
      const e = expected[i] as number;
      if (Number.isNaN(e)) expect(Number.isNaN(a), `entry ${i}`).toBe(true);
      else if (e === 0) expect(a, `masked entry ${i} must be exactly 0`).toBe(0);
      else expect(Math.abs(a - e), `entry ${i}`).toBeLessThan(1e-6);
    });
  });
});

describe('Transpose (merged axes) and Tile (block copies)', () => {
  it('merges axes that stay adjacent', () => {
    expect(mergeTransposeAxes([2, 3, 4, 5, 6], [0, 2, 3, 1, 4])).toEqual({ shape: [2, 3, 20, 6], perm: [0, 2, 1, 3] });
    expect(mergeTransposeAxes([2, 1, 4, 5], [1, 0, 2, 3])).toEqual({ shape: [40], perm: [0] });
    expect(mergeTransposeAxes([2, 3, 4, 5, 6, 7], [5, 4, 3, 2, 1, 0]).shape).toEqual([2, 3, 4, 5, 6, 7]);
  });

  const perms: Array<[number[], number[]]> = [
    [[2, 3, 4, 5, 6], [0, 2, 3, 1, 4]],
    [[2, 3, 4, 5, 6], [4, 0, 1, 2, 3]],
    [[3, 1, 4, 2, 5, 2], [0, 2, 1, 3, 5, 4]],
    [[2, 1, 4, 5], [1, 0, 2, 3]],
    [[6, 7], [1, 0]],
    [[2, 3, 4, 2, 3, 2], [5, 4, 3, 2, 1, 0]],
  ];
  for (const [shape, perm] of perms) {
    it(`transpose [${shape}] by [${perm}] (float32, int32) and its gradient`, async () => {
      await matchesCpu(`transpose ${shape}`, [shape], (x) =>
        tf.tidy(() => [
          tf.transpose(x!, perm),
          tf.transpose(tf.cast(tf.mul(x!, 100), 'int32'), perm),
          tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.transpose(t, perm), tf.reshape(tf.range(0, t.size), perm.map((d) => shape[d]!)))))(x!),
        ]),
      );
    });
  }

  const tiles: Array<[number[], number[]]> = [
    [[3, 4], [2, 3]],
    [[1, 64], [50, 1]],
    [[2, 3, 4], [1, 2, 1]],
    [[2, 3, 4], [3, 1, 1]],
    [[5], [4]],
    [[2, 1, 3], [2, 5, 2]],
  ];
  for (const [shape, reps] of tiles) {
    it(`tile [${shape}] by [${reps}] (float32, int32, bool) and its gradient`, async () => {
      await matchesCpu(`tile ${shape}`, [shape], (x) =>
        tf.tidy(() => [
          tf.tile(x!, reps),
          tf.tile(tf.cast(tf.mul(x!, 100), 'int32'), reps),
          tf.cast(tf.tile(tf.greater(x!, 0), reps), 'int32'),
          tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.tile(t, reps))))(x!),
        ]),
      );
    });
  }
});
