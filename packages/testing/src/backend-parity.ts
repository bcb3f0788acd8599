import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { expectTensorsClose } from './tensors.js';
import { seededNormal } from './fixtures.js';

export interface ParityOptions {
  /** Seed of input i is `seed + seedStep * i`. @default 11 */
  seed?: number;
  /** @default 13 */
  seedStep?: number;
  /** @default 1e-5 */
  rtol?: number;
  /** The backend compared with `cpu`. @default 'wasm' */
  backend?: string;
}

interface Result {
  shape: number[];
  values: Float32Array;
}

/** Runs `f` on `backend` with seeded inputs; asserts no engine tensor or backend data id leaked. */
async function runOn(backend: string, shapes: number[][], f: (...xs: tf.Tensor[]) => tf.Tensor[], o: ParityOptions): Promise<Result[]> {
  await tf.setBackend(backend);
  const inputs = shapes.map((s, i) => seededNormal(s, (o.seed ?? 11) + (o.seedStep ?? 13) * i));
  const before = { tensors: tf.memory().numTensors, ids: tf.backend().numDataIds() };
  const outs = f(...inputs);
  const results = outs.map((t) => ({ shape: t.shape.slice(), values: t.dataSync().slice() as Float32Array }));
  tf.dispose(outs);
  expect(tf.memory().numTensors, `${backend}: engine tensors leaked`).toBe(before.tensors);
  expect(tf.backend().numDataIds(), `${backend}: backend data leaked`).toBe(before.ids);
  tf.dispose(inputs);
  return results;
}

/**
 * Asserts that `f` gives the same outputs on `options.backend` (default wasm) as on the `cpu`
 * backend (the reference implementation), within `rtol`, for the same seeded inputs, and leaks
 * nothing on either. Leaves `options.backend` active.
 */
export async function expectMatchesCpu(
  what: string,
  shapes: number[][],
  f: (...xs: tf.Tensor[]) => tf.Tensor[],
  options: ParityOptions = {},
): Promise<void> {
  const expected = await runOn('cpu', shapes, f, options);
  const actual = await runOn(options.backend ?? 'wasm', shapes, f, options);
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    expect(a.shape, `${what} output ${i} shape`).toEqual(expected[i]!.shape);
    expectTensorsClose(a.values, expected[i]!.values, { rtol: options.rtol ?? 1e-5, what: `${what} output ${i}` });
  });
}

/** `op` -> `[y, ...dL/dxs]` for `L = sum(y * r)` with a fixed seeded `r` (seed `dySeed`). */
export function withGrads(op: (...xs: tf.Tensor[]) => tf.Tensor, dySeed = 77): (...xs: tf.Tensor[]) => tf.Tensor[] {
  return (...xs) => {
    const y = op(...xs);
    const dy = seededNormal(y.shape, dySeed);
    const grads = tf.grads((...args: tf.Tensor[]) => op(...args))(xs, dy);
    dy.dispose();
    return [y, ...grads];
  };
}
