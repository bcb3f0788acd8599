import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '../register-gradients.js';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { expectNoLeak, expectTensorsClose, finiteDifferenceCheck, mulberry32, seededNormal } from '@fewstep/testing';
import { miscKernelConfigs } from './misc-kernels.js';
import { batchMatMulConfig } from './batch-matmul.js';
import { isFewstepOverride, originalWasmKernel } from './override-kernel.js';

/** Registers (or re-registers) the configs under test, as registerWasmTrainingKernels does. */
function registerAll(configs: readonly tf.KernelConfig[]): void {
  for (const c of configs) {
    if (tf.getKernel(c.kernelName, c.backendName) !== undefined) tf.unregisterKernel(c.kernelName, c.backendName);
    tf.registerKernel(c);
  }
}

interface Result {
  shape: number[];
  values: Float32Array | Int32Array | Uint8Array;
}

/**
 * Runs `f` on `backend` with inputs built by `make` (seeded, so identical on both backends);
 * returns each output's shape and values, and checks that nothing leaked (engine tensors and
 * the backend's own data ids, which catches kernel intermediates).
 */
async function runOn(backend: 'cpu' | 'wasm', make: () => tf.Tensor[], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<Result[]> {
  await tf.setBackend(backend);
  const inputs = make();
  const before = { tensors: tf.memory().numTensors, ids: tf.backend().numDataIds() };
  const out = f(...inputs);
  const outs = Array.isArray(out) ? out : [out];
  const results = outs.map((t) => ({ shape: t.shape.slice(), values: t.dataSync().slice() as Result['values'] }));
  tf.dispose(outs);
  expect(tf.memory().numTensors, `${backend}: engine tensors leaked`).toBe(before.tensors);
  expect(tf.backend().numDataIds(), `${backend}: backend data leaked`).toBe(before.ids);
  tf.dispose(inputs);
  return results;
}

/** Asserts wasm (with fewstep's kernels) matches cpu on `f`. */
async function matchesCpu(
  what: string,
  make: () => tf.Tensor[],
  f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
  rtol = 1e-5,
): Promise<void> {
  const expected = await runOn('cpu', make, f);
  const actual = await runOn('wasm', make, f);
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i] as Result;
    expect(a.shape, `${what}[${i}] shape`).toEqual(e.shape);
    expectTensorsClose(a.values, e.values, { rtol, what: `${what}[${i}]` });
  });
}

const normal = (shape: number[], seed: number) => seededNormal(shape, seed);

function seededInts(shape: number[], seed: number, lo: number, hi: number): tf.Tensor {
  const rand = mulberry32(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Int32Array.from({ length: n }, () => lo + Math.floor(rand() * (hi - lo))), shape, 'int32');
}

/** A weighted sum, so gradients are not all-ones patterns. */
function weightedSum(y: tf.Tensor, seed: number): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.mul(y, seededNormal(y.shape, seed))));
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerAll(miscKernelConfigs);
});

afterAll(async () => {
  await tf.setBackend('cpu');
});

describe('wasm kernel registration', () => {
  it('overrides never wrap themselves when registered twice', async () => {
    await tf.setBackend('wasm');
    registerAll(miscKernelConfigs);
    registerAll(miscKernelConfigs);
    const current = tf.getKernel('BatchMatMul', 'wasm');
    expect(current).toBe(batchMatMulConfig);
    expect(isFewstepOverride(current)).toBe(true);
    const original = originalWasmKernel('BatchMatMul');
    expect(isFewstepOverride(original)).toBe(false);
    expect(original?.kernelFunc).not.toBe(batchMatMulConfig.kernelFunc);
  });
});

describe('BatchMatMul (XNNPACK for batches and transposes)', () => {
  // tfjs's BatchMatMul gradient does not reduce broadcast batch dims (it fails on cpu too), so
  // broadcast cases compare the forward pass only.
  const cases: Array<[string, number[], number[], boolean, boolean]> = [
    ['2-D plain', [33, 20], [20, 17], false, false],
    ['2-D transposeB', [33, 20], [17, 20], false, true],
    ['2-D transposeA', [20, 33], [20, 17], true, false],
    ['batched q·kᵀ', [3, 40, 16], [3, 40, 16], false, true],
    ['batched attn·v', [3, 40, 40], [3, 40, 16], false, false],
    ['batched transposeA', [3, 16, 40], [3, 16, 24], true, false],
    ['batched both transposed', [3, 16, 40], [3, 24, 16], true, true],
    ['b broadcast', [4, 30, 12], [1, 12, 9], false, false],
    ['a broadcast, transposeB', [1, 30, 12], [4, 9, 12], false, true],
    ['rank 4', [2, 3, 20, 8], [2, 3, 8, 20], false, false],
    ['tiny (scalar-loop path)', [5, 4, 3], [5, 3, 6], false, false],
    ['K = 1', [3, 20, 1], [3, 1, 30], false, false],
  ];
  for (const [name, sa, sb, ta, tb] of cases) {
    it(`${name}: forward and gradients match cpu`, async () => {
      const make = () => [normal(sa, 1), normal(sb, 2)];
      await matchesCpu(`${name} forward`, make, (a, b) => tf.matMul(a as tf.Tensor, b as tf.Tensor, ta, tb));
      if (name.includes('broadcast')) return;
      await matchesCpu(`${name} grads`, make, (a, b) =>
        tf.grads((x: tf.Tensor, y: tf.Tensor) => weightedSum(tf.matMul(x, y, ta, tb), 3))([a as tf.Tensor, b as tf.Tensor]),
      );
    });
  }

  it('general batch broadcasting ([2,1] × [1,3]) matches a per-batch reference', async () => {
    await tf.setBackend('wasm');
    await expectNoLeak(() =>
      tf.tidy(() => {
        const a = normal([2, 1, 5, 4], 4);
        const b = normal([1, 3, 4, 6], 5);
        const out = tf.matMul(a, b);
        expect(out.shape).toEqual([2, 3, 5, 6]);
        for (let i = 0; i < 2; i++) {
          for (let j = 0; j < 3; j++) {
            const ai = tf.reshape(tf.slice(a, [i, 0, 0, 0], [1, 1, 5, 4]), [5, 4]);
            const bj = tf.reshape(tf.slice(b, [0, j, 0, 0], [1, 1, 4, 6]), [4, 6]);
            const oij = tf.reshape(tf.slice(out, [i, j, 0, 0], [1, 1, 5, 6]), [5, 6]);
            expectTensorsClose(oij, tf.matMul(ai, bj), { what: `batch ${i},${j}` });
          }
        }
      }),
    'broadcast matmul');
  });

  it('finite differences agree with the wasm gradients of transposed batched matmuls', async () => {
    await tf.setBackend('wasm');
    for (const [ta, tb] of [
      [false, true],
      [true, false],
      [true, true],
    ] as const) {
      const a = normal(ta ? [2, 8, 6] : [2, 6, 8], 6);
      const b = normal(tb ? [2, 5, 8] : [2, 8, 5], 7);
      const worst = finiteDifferenceCheck((x, y) => weightedSum(tf.matMul(x as tf.Tensor, y as tf.Tensor, ta, tb), 8), [a, b]);
      worst.forEach((w) => expect(w, `transposeA=${ta} transposeB=${tb}`).toBeLessThan(1e-2));
      tf.dispose([a, b]);
    }
  });
});

describe('UnsortedSegmentSum and the gradient of gather', () => {
  it('sums rows by segment (duplicates, multi-dim ids, int32) like cpu', async () => {
    await matchesCpu('in-range ids', () => [normal([40, 6], 10), seededInts([40], 11, 0, 9)], (x, ids) =>
      tf.unsortedSegmentSum(x as tf.Tensor, ids as tf.Tensor1D, 9),
    );
    // The cpu kernel fails on multi-dimensional ids; compare with the flattened call instead.
    await tf.setBackend('wasm');
    await expectNoLeak(() =>
      tf.tidy(() => {
        const x = normal([4, 5, 3], 12);
        const ids = seededInts([4, 5], 13, 0, 6);
        const flat = tf.unsortedSegmentSum(tf.reshape(x, [20, 3]), tf.reshape(ids, [20]) as tf.Tensor1D, 6);
        expectTensorsClose(tf.unsortedSegmentSum(x, ids as tf.Tensor1D, 6), flat, { what: '2-D ids' });
      }),
    );
    await matchesCpu('int32 x', () => [seededInts([30, 4], 14, -50, 50), seededInts([30], 15, 0, 5)], (x, ids) =>
      tf.unsortedSegmentSum(x as tf.Tensor, ids as tf.Tensor1D, 5),
    );
  });

  it('drops out-of-range ids like cpu', async () => {
    await matchesCpu('out-of-range ids', () => [normal([30, 4], 16), seededInts([30], 17, -3, 10)], (x, ids) =>
      tf.unsortedSegmentSum(x as tf.Tensor, ids as tf.Tensor1D, 7),
    );
  });

  it('gives gather (axis 0 and 1) the same gradient as cpu, and passes finite differences', async () => {
    for (const axis of [0, 1]) {
      await matchesCpu(`gather axis ${axis} grad`, () => [normal([11, 7, 3], 20), seededInts([9], 21, 0, 7)], (params, idx) =>
        tf.grad((p: tf.Tensor) => weightedSum(tf.gather(p, idx as tf.Tensor1D, axis), 22))(params as tf.Tensor),
      );
    }
    // An embedding-style lookup: 1000 × 16 table, 2 × 64 token ids (the cpu reference kernel is
    // O(vocabulary × tokens), so this stays small).
    await matchesCpu('embedding grad', () => [normal([1000, 16], 23), seededInts([2, 64], 24, 0, 1000)], (table, ids) =>
      tf.grad((t: tf.Tensor) => weightedSum(tf.gather(t, ids as tf.Tensor), 25))(table as tf.Tensor),
    );
    await tf.setBackend('wasm');
    const params = normal([10, 4], 26);
    const ids = seededInts([12], 27, 0, 10);
    const [worst] = finiteDifferenceCheck((p) => weightedSum(tf.gather(p as tf.Tensor, ids as tf.Tensor1D), 28), [params]);
    expect(worst).toBeLessThan(1e-2);
    tf.dispose([params, ids]);
  });
});

describe('complex64 on wasm', () => {
  const makeParts = () => [normal([3, 5], 30), normal([3, 5], 31)];

  it('complex / real / imag / abs / clone / cast match cpu', async () => {
    await matchesCpu('complex', makeParts, (re, im) => tf.complex(re as tf.Tensor, im as tf.Tensor));
    await matchesCpu('real, imag', makeParts, (re, im) =>
      tf.tidy(() => {
        const c = tf.complex(re as tf.Tensor, im as tf.Tensor);
        return [tf.real(c), tf.imag(c), tf.abs(c), tf.clone(c)];
      }),
    );
    await matchesCpu('cast', makeParts, (re, im) =>
      tf.tidy(() => {
        const c = tf.complex(re as tf.Tensor, im as tf.Tensor);
        const asInt = tf.cast(re as tf.Tensor, 'int32');
        return [tf.cast(c, 'float32'), tf.cast(c, 'int32'), tf.cast(re as tf.Tensor, 'complex64'), tf.cast(asInt, 'complex64')];
      }),
    );
  });

  it('complex add / sub / mul (with broadcasting) and a spectral distance match cpu', async () => {
    const make = () => [normal([3, 5], 32), normal([3, 5], 33), normal([3, 5], 34), normal([3, 5], 35)];
    await matchesCpu('complex binary', make, (ar, ai, br, bi) =>
      tf.tidy(() => {
        const a = tf.complex(ar as tf.Tensor, ai as tf.Tensor);
        const b = tf.complex(br as tf.Tensor, bi as tf.Tensor);
        return [tf.add(a, b), tf.sub(b, a), tf.mul(a, b), tf.mul(a, a)];
      }),
    );
    // cpu's complex broadcasting returns NaNs; on wasm, broadcasting [5] must equal tiling it.
    await tf.setBackend('wasm');
    await expectNoLeak(() =>
      tf.tidy(() => {
        const a = tf.complex(normal([3, 5], 32), normal([3, 5], 33));
        const b = tf.complex(normal([5], 34), normal([5], 35));
        const tiled = tf.complex(tf.reshape(tf.tile(tf.real(b), [3]), [3, 5]), tf.reshape(tf.tile(tf.imag(b), [3]), [3, 5]));
        expectTensorsClose(tf.mul(a, b), tf.mul(a, tiled), { what: 'broadcast mul' });
        expectTensorsClose(tf.sub(a, b), tf.sub(a, tiled), { what: 'broadcast sub' });
      }),
    );
    await matchesCpu('spectral distance', () => [normal([2, 32], 36), normal([2, 32], 37)], (x, y) =>
      tf.tidy(() => tf.mean(tf.abs(tf.sub(tf.spectral.rfft(x as tf.Tensor), tf.spectral.rfft(y as tf.Tensor))))),
    );
  });

  it('reads complex64 back as interleaved pairs (dataSync, data, array)', async () => {
    await tf.setBackend('wasm');
    const re = tf.tensor([1, 3]);
    const im = tf.tensor([2, 4]);
    const c = tf.complex(re, im);
    expect(Array.from(c.dataSync())).toEqual([1, 2, 3, 4]);
    expect(Array.from(await c.data())).toEqual([1, 2, 3, 4]);
    expect(await c.array()).toEqual([1, 2, 3, 4]);
    tf.dispose([re, im, c]);
  });

  it('the gradient of abs(complex) matches cpu', async () => {
    await matchesCpu('abs grad', makeParts, (re, im) => {
      const c = tf.complex(re as tf.Tensor, im as tf.Tensor);
      const g = tf.grad((z: tf.Tensor) => tf.sum(tf.abs(z)))(c);
      c.dispose();
      return g;
    });
  });

  const sizes = [1, 2, 3, 8, 12, 17, 64, 100, 256];
  it(`fft / ifft match cpu for n = ${sizes.join(', ')}`, async () => {
    for (const n of sizes) {
      const make = () => [normal([3, n], 40 + n), normal([3, n], 41 + n)];
      await matchesCpu(`fft n=${n}`, make, (re, im) => tf.tidy(() => tf.spectral.fft(tf.complex(re as tf.Tensor, im as tf.Tensor))));
      await matchesCpu(`ifft n=${n}`, make, (re, im) => tf.tidy(() => tf.spectral.ifft(tf.complex(re as tf.Tensor, im as tf.Tensor))));
    }
  });

  it('ifft inverts fft (radix-2 and Bluestein lengths)', async () => {
    await tf.setBackend('wasm');
    for (const n of [16, 30, 1000]) {
      await expectNoLeak(
        () =>
          tf.tidy(() => {
            const re = normal([2, n], 50);
            const im = normal([2, n], 51);
            const back = tf.spectral.ifft(tf.spectral.fft(tf.complex(re, im)));
            expectTensorsClose(tf.real(back), re, { rtol: 1e-5, what: `real n=${n}` });
            expectTensorsClose(tf.imag(back), im, { rtol: 1e-5, what: `imag n=${n}` });
          }),
        `fft round trip n=${n}`,
      );
    }
  });

  it('rfft / irfft (even, odd and 3-D inputs) match cpu', async () => {
    for (const shape of [[4, 16], [3, 10], [2, 3, 9]]) {
      await matchesCpu(`rfft ${shape}`, () => [normal(shape, 60)], (x) => tf.tidy(() => tf.spectral.rfft(x as tf.Tensor)));
      await matchesCpu(`irfft ${shape}`, () => [normal(shape, 61), normal(shape, 62)], (re, im) =>
        tf.tidy(() => tf.spectral.irfft(tf.complex(re as tf.Tensor, im as tf.Tensor))),
      );
    }
    await matchesCpu('rfft with fftLength', () => [normal([2, 12], 63)], (x) => tf.tidy(() => tf.spectral.rfft(x as tf.Tensor, 8)));
  });
});

describe('Einsum', () => {
  const forms: Array<[string, number[][]]> = [
    ['ij,jk->ik', [[5, 4], [4, 6]]],
    ['bij,bjk->bik', [[3, 5, 4], [3, 4, 6]]],
    ['bhqd,bhkd->bhqk', [[2, 3, 7, 5], [2, 3, 6, 5]]],
    ['bhqk,bhkd->bhqd', [[2, 3, 7, 6], [2, 3, 6, 5]]],
    ['ji,jk->ik', [[4, 5], [4, 6]]],
    ['ij,kj->ki', [[5, 4], [6, 4]]],
    ['i,i->', [[7], [7]]],
    ['bi,bi->b', [[3, 7], [3, 7]]],
    ['i,j->ij', [[4], [5]]],
    ['ij,ij->ij', [[3, 4], [3, 4]]],
    ['ijk,jl->lki', [[2, 3, 4], [3, 5]]],
    ['abc,cd->abd', [[2, 3, 4], [4, 5]]],
    ['ij->ji', [[4, 6]]],
    ['bij->bji', [[2, 4, 6]]],
    ['ij->i', [[4, 6]]],
    ['ijk->', [[2, 3, 4]]],
  ];
  for (const [eq, shapes] of forms) {
    it(`${eq}: forward and gradients match cpu`, async () => {
      const make = () => shapes.map((s, i) => normal(s, 70 + i));
      await matchesCpu(`einsum ${eq}`, make, (...xs) => tf.einsum(eq, ...xs));
      await matchesCpu(`einsum ${eq} grads`, make, (...xs) =>
        tf.grads((...ys: tf.Tensor[]) => weightedSum(tf.einsum(eq, ...ys), 80))(xs),
      );
    });
  }

  // Two forms the cpu kernel gets wrong (shape [2] for a full contraction; an identity result
  // that aliases its input's data), checked against references on wasm alone.
  it('full contraction ij,jk-> is a scalar equal to sum(A·B)', async () => {
    await tf.setBackend('wasm');
    await expectNoLeak(() =>
      tf.tidy(() => {
        const a = normal([3, 4], 70);
        const b = normal([4, 2], 71);
        const y = tf.einsum('ij,jk->', a, b);
        expect(y.shape).toEqual([]);
        expectTensorsClose(y, tf.sum(tf.matMul(a, b)), { what: 'ij,jk->' });
        const [ga, gb] = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.einsum('ij,jk->', x, z) as tf.Scalar)([a, b]);
        expectTensorsClose(ga as tf.Tensor, tf.tile(tf.reshape(tf.sum(b, 1), [1, 4]), [3, 1]), { what: 'd/dA' });
        expectTensorsClose(gb as tf.Tensor, tf.tile(tf.reshape(tf.sum(a, 0), [4, 1]), [1, 2]), { what: 'd/dB' });
      }),
    );
  });

  it('identity ij->ij returns an independent tensor equal to its input', async () => {
    await tf.setBackend('wasm');
    const x = normal([3, 2], 72);
    const y = tf.einsum('ij->ij', x);
    expectTensorsClose(y, x, { what: 'ij->ij' });
    y.dispose();
    expect(Array.from(x.dataSync())).toHaveLength(6);
    x.dispose();
  });

  it('rejects repeated labels in one operand (ii->i), as cpu does', async () => {
    for (const backend of ['cpu', 'wasm']) {
      await tf.setBackend(backend);
      const x = normal([3, 3], 90);
      expect(() => tf.einsum('ii->i', x), backend).toThrow(/duplicate axes/);
      x.dispose();
    }
  });

  it('finite differences agree with the wasm einsum gradients', async () => {
    await tf.setBackend('wasm');
    for (const [eq, shapes] of [
      ['bhqd,bhkd->bhqk', [[1, 2, 4, 3], [1, 2, 5, 3]]],
      ['ijk,jl->lki', [[2, 3, 4], [3, 5]]],
      ['ij->i', [[4, 6]]],
    ] as Array<[string, number[][]]>) {
      const xs = shapes.map((s, i) => normal(s, 100 + i));
      const worst = finiteDifferenceCheck((...ys) => weightedSum(tf.einsum(eq, ...ys), 110), xs);
      worst.forEach((w) => expect(w, eq).toBeLessThan(1e-2));
      tf.dispose(xs);
    }
  });
});
