import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { expectTensorsClose, seededNormal } from '@fewstep/testing';
import { ConfigError, FewstepError } from '../errors.js';
import { enableWasmThreads } from './wasm-threads.js';

async function onCpu(f: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend('cpu');
  const t = f();
  const v = t.dataSync() as Float32Array;
  t.dispose();
  return v;
}

describe('enableWasmThreads', () => {
  it('rejects thread counts outside 1..8 before touching the backend', async () => {
    await expect(enableWasmThreads(0)).rejects.toBeInstanceOf(ConfigError);
    await expect(enableWasmThreads(2.5)).rejects.toBeInstanceOf(ConfigError);
    await expect(enableWasmThreads(9)).rejects.toThrow(/an integer from 1 to 8/);
  });

  it('runs the threaded SIMD build with 2 XNNPACK threads in Node and matches cpu', async () => {
    const a = () => seededNormal([64, 48], 1);
    const b = () => seededNormal([48, 40], 2);
    const x = () => seededNormal([2, 9, 9, 8], 3);
    const w = () => seededNormal([3, 3, 8, 6], 4);
    const matmulRef = await onCpu(() => tf.tidy(() => tf.matMul(a(), b())));
    const convRef = await onCpu(() => tf.tidy(() => tf.conv2d(x() as tf.Tensor4D, w() as tf.Tensor4D, 1, 'same')));

    expect(await enableWasmThreads(2)).toBe(2);
    expect(tf.getBackend()).toBe('wasm');
    tf.tidy(() => {
      expectTensorsClose(tf.matMul(a(), b()), matmulRef, { what: 'threaded matMul' });
      expectTensorsClose(tf.conv2d(x() as tf.Tensor4D, w() as tf.Tensor4D, 1, 'same'), convRef, { what: 'threaded conv2d' });
    });
  });

  it('refuses to change the thread count of an initialised wasm backend', async () => {
    const err = await enableWasmThreads(4).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FewstepError);
    expect((err as Error).message).toMatch(/already initialised with 2 thread/);
  });
});
