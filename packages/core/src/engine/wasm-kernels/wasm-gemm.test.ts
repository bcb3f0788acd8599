import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '../register-gradients.js';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { expectMatchesCpu, expectTensorsClose, seededNormal, withGrads as withGradsOf } from '@fewstep/testing';
import { registerWasmTrainingKernels } from './index.js';
import { buildModule, FunctionBuilder, I32, sleb, uleb } from './wasm-assembler.js';
import { relaxedSimdSupported } from './relaxed-simd.js';
import { wasmGemm } from './wasm-gemm.js';
import { asWasm } from './wasm-internals.js';

/** wasm (with fewstep's kernels) against the cpu reference, same seeded inputs, no leaks. */
const matchesCpu = (what: string, shapes: number[][], f: (...xs: tf.Tensor[]) => tf.Tensor[]): Promise<void> =>
  expectMatchesCpu(what, shapes, f);
const withGrads = (op: (...xs: tf.Tensor[]) => tf.Tensor): ((...xs: tf.Tensor[]) => tf.Tensor[]) => withGradsOf(op, 77);

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmTrainingKernels();
});

describe('wasm assembler', () => {
  it('encodes LEB128 like the specification examples', () => {
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
  });

  it('builds a module that validates and runs', () => {
    const f = new FunctionBuilder([I32, I32], [I32]);
    f.get(0).get(1).emit(0x6c); // i32.mul
    const bytes = buildModule([{ name: 'mul', fn: f }], { shared: false, maximumPages: 0 });
    const wa = (globalThis as unknown as { WebAssembly: { Module: new (b: Uint8Array) => object; Instance: new (m: object, i: object) => { exports: { mul(a: number, b: number): number } }; Memory: new (d: { initial: number }) => object } }).WebAssembly;
    const inst = new wa.Instance(new wa.Module(bytes), { env: { memory: new wa.Memory({ initial: 1 }) } });
    expect(inst.exports.mul(6, 7)).toBe(42);
  });

  it('uses relaxed SIMD FMA where the engine has it', () => {
    expect(wasmGemm(asWasm(tf.backend())).fma).toBe(relaxedSimdSupported());
  });
});

describe('BatchMatMul on the wasm GEMM matches cpu', () => {
  const cases: Array<[string, number[], number[], boolean, boolean]> = [
    ['K > KC (blocks of k)', [37, 600], [600, 19], false, false],
    ['N > NC (blocks of columns)', [9, 20], [20, 1100], false, false],
    ['M > MC, transposeA', [40, 300], [40, 24], true, false],
    ['both transposed, odd sizes', [13, 27], [31, 13], true, true],
    ['stacked batches (b has one batch)', [5, 30, 12], [12, 9], false, false],
    ['stacked batches, transposeB', [5, 30, 12], [1, 9, 12], false, true],
    ['many small products (batched in wasm)', [40, 8, 16], [40, 16, 8], false, false],
    ['many small products, transposes', [40, 16, 8], [40, 8, 16], true, true],
    ['small products with a broadcast batch', [1, 8, 16], [6, 16, 8], false, false],
    ['attention-like q·kᵀ', [6, 70, 16], [6, 70, 16], false, true],
    ['attention-like pᵀ·dO', [6, 70, 70], [6, 70, 16], true, false],
    ['rank 4', [2, 3, 9, 8], [2, 3, 8, 7], false, false],
  ];
  for (const [name, sa, sb, ta, tb] of cases) {
    it(`${name}`, async () => {
      // tfjs's BatchMatMul gradient does not reduce broadcast batch dims (fails on cpu too).
      const grads = !name.includes('broadcast') && !name.includes('stacked');
      await matchesCpu(name, [sa, sb], grads ? withGrads((a, b) => tf.matMul(a!, b!, ta, tb)) : (a, b) => [tf.matMul(a!, b!, ta, tb)]);
    });
  }

  it('empty products (M = 0, K = 0)', async () => {
    await matchesCpu('K = 0', [[3, 0], [0, 4]], (a, b) => [tf.matMul(a!, b!)]);
    await matchesCpu('M = 0', [[2, 0, 5], [2, 5, 3]], (a, b) => [tf.matMul(a!, b!)]);
  });
});

describe('_FusedMatMul on the wasm GEMM matches cpu', () => {
  for (const activation of ['linear', 'relu', 'relu6', 'sigmoid', 'elu', 'leakyrelu'] as const) {
    it(`bias [N] + ${activation}, transposes`, async () => {
      for (const [ta, tb] of [[false, false], [true, false], [false, true]] as const) {
        const sa = ta ? [24, 33] : [33, 24];
        const sb = tb ? [17, 24] : [24, 17];
        const op = (a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor) =>
          tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, transposeA: ta, transposeB: tb, activation, leakyreluAlpha: 0.1 });
        await matchesCpu(`fused ${activation} tA=${ta} tB=${tb}`, [sa, sb, [17]], activation === 'linear' ? withGrads(op) : (a, b, c) => [op(a!, b!, c!)]);
      }
    });
  }

  it('bias [1], batched, prelu', async () => {
    await matchesCpu('bias [1]', [[3, 10, 6], [3, 6, 5], [1]], (a, b, c) => [tf.fused.matMul({ a: a as tf.Tensor3D, b: b as tf.Tensor3D, bias: c })]);
    await matchesCpu('prelu', [[10, 6], [6, 5], [5], [5]], (a, b, c, w) => [
      tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias: c, activation: 'prelu', preluActivationWeights: w }),
    ]);
  });
});

describe('alignUp', () => {
  it('rounds heap addresses above 2 GiB up without int32 wrap-around (a bitwise & would go negative)', async () => {
    const { alignUp } = await import('./wasm-gemm.js');
    expect(alignUp(2 ** 31 + 3, 8)).toBe(2 ** 31 + 8);
    expect(alignUp(3_000_000_001, 16)).toBe(3_000_000_016);
    expect(alignUp(64, 16)).toBe(64);
    expect(((2 ** 31 + 3 + 7) & ~7) < 0).toBe(true);
  });
});
