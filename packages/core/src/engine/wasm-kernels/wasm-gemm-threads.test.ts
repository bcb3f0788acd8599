import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '../register-gradients.js';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { expectTensorsClose, seededNormal } from '@fewstep/testing';
import { enableWasmThreads } from '../wasm-threads.js';
import { registerWasmTrainingKernels } from './index.js';
import { wasmGemm } from './wasm-gemm.js';
import { asWasm, heapBuffer } from './wasm-internals.js';

type Case = [string, number[][], (...xs: tf.Tensor[]) => tf.Tensor[]];

/** Products, batches and convolutions large enough to be split over the threads. */
const cases: Case[] = [
  ['matMul split by columns', [[96, 200], [200, 256]], (a, b) => [tf.matMul(a!, b!)]],
  ['matMul split by rows, transposeA', [[600, 256], [600, 40]], (a, b) => [tf.matMul(a!, b!, true, false)]],
  ['batched attention q·kᵀ and gradients', [[8, 128, 32], [8, 128, 32]], (q, k) => {
    const f = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, false, true);
    return [f(q!, k!), ...tf.grads(f)([q!, k!])];
  }],
  ['many small products', [[4200, 8, 16], [4200, 16, 8]], (a, b) => [tf.matMul(a!, b!)]],
  ['conv2d forward and gradients', [[2, 24, 24, 16], [3, 3, 16, 32]], (x, w) => {
    const f = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same');
    return [f(x!, w!), ...tf.grads(f)([x!, w!])];
  }],
];

async function run(backend: 'cpu' | 'wasm', shapes: number[][], f: Case[2]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const inputs = shapes.map((s, i) => seededNormal(s, 3 + i));
  const before = tf.backend().numDataIds();
  const outs = f(...inputs);
  const values = outs.map((t) => t.dataSync().slice() as Float32Array);
  tf.dispose(outs);
  expect(tf.backend().numDataIds(), `${backend}: data leaked`).toBe(before);
  tf.dispose(inputs);
  return values;
}

describe('fewstep wasm GEMM on 2 threads (threaded build, shared heap)', () => {
  it('splits products, batches and convolutions over a worker and matches cpu', async () => {
    const expected: Float32Array[][] = [];
    for (const [, shapes, f] of cases) expected.push(await run('cpu', shapes, f));
    expect(await enableWasmThreads(2)).toBe(2);
    registerWasmTrainingKernels();
    expect(wasmGemm(asWasm(tf.backend())).threads).toBe(2);
    for (let i = 0; i < cases.length; i++) {
      const [name, shapes, f] = cases[i]!;
      const actual = await run('wasm', shapes, f);
      actual.forEach((a, j) => expectTensorsClose(a, expected[i]![j]!, { rtol: 1e-5, what: `${name} output ${j}` }));
    }
  });

  it('keeps reading the shared heap correctly after it grows (views come from memory.buffer)', async () => {
    await tf.setBackend('wasm');
    const backend = asWasm(tf.backend());
    const before = heapBuffer(backend).byteLength;
    const big = tf.fill([64, 1024, 1024], 1); // 256 MiB: grows the heap
    expect(heapBuffer(backend).byteLength).toBeGreaterThan(before);
    expect(heapBuffer(backend)).toBeInstanceOf(SharedArrayBuffer);
    const x = tf.reshape(tf.range(0, 4096 * 8), [4096, 8]);
    const s = tf.sum(x, 0); // fewstep's SIMD column sum on the grown heap
    const m = tf.matMul(tf.ones([200, 300]), tf.ones([300, 100])); // split over both threads
    expect(Array.from(s.dataSync())).toEqual(Array.from({ length: 8 }, (_, j) => 8 * (4095 * 4096) / 2 + 4096 * j));
    expect(new Set(m.dataSync()).size).toBe(1);
    expect(m.dataSync()[0]).toBe(300);
    tf.dispose([big, x, s, m]);
  });
});
