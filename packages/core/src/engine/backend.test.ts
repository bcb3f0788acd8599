import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, type ModuleImporter } from './backend.js';
import { MemoryLogger } from '../di/logger.js';
import { BackendUnavailableError, ConfigError } from '../errors.js';

/** An importer where the optional peers are missing (as on a fresh `npm ci`) unless listed. */
function importer(broken: string[] = []): ModuleImporter {
  const optional = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', 'webgpu', '@tensorflow/tfjs-backend-webgpu'];
  return async (s) => {
    if (broken.includes(s) || optional.includes(s)) throw new Error(`Cannot find package '${s}'`);
    return import(s);
  };
}

afterAll(async () => {
  await tf.setBackend('wasm');
});

describe('initEngine', () => {
  it('with no optional peers installed, resolves wasm, registers training kernels and reports why in one line', async () => {
    const log = new MemoryLogger();
    const info = await initEngine({ env: {}, logger: log, importer: importer() });
    expect(info.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.forced).toBe(false);
    expect(info.kernels).toEqual(expect.arrayContaining(['Conv2DBackpropFilter', 'UnsortedSegmentSum', 'Conv3D']));
    expect(info.reasons[0]).toMatch(/^tensorflow: @tensorflow\/tfjs-node-gpu not installed .*@tensorflow\/tfjs-node not installed/);
    expect(info.reasons[1]).toMatch(/^webgpu: webgpu \+ @tensorflow\/tfjs-backend-webgpu not installed/);
    const lines = log.messages.filter((m) => m.level === 'info');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.message).toMatch(/^backend: wasm \(@tensorflow\/tfjs-backend-wasm\) - /);
    expect(lines[0]!.message).not.toContain('\n');
    expect(log.messages.filter((m) => m.level === 'warn')).toHaveLength(0);
  });

  it('FEWSTEP_BACKEND forces a backend', async () => {
    const info = await initEngine({ env: { FEWSTEP_BACKEND: 'cpu' }, logger: new MemoryLogger(), importer: importer() });
    expect(info.backend).toBe('cpu');
    expect(info.forced).toBe(true);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('a forced backend that is unavailable fails with a clear, typed error', async () => {
    const run = initEngine({ env: { FEWSTEP_BACKEND: 'tensorflow' }, logger: new MemoryLogger(), importer: importer() });
    await expect(run).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(
      initEngine({ env: { FEWSTEP_BACKEND: 'tensorflow' }, logger: new MemoryLogger(), importer: importer() }),
    ).rejects.toThrow(/^Backend 'tensorflow' is not available: @tensorflow\/tfjs-node-gpu not installed.*Allowed values of FEWSTEP_BACKEND: 'tensorflow', 'webgpu', 'wasm', 'cpu'\. Fix: install a native binding/);
    await expect(
      initEngine({ env: { FEWSTEP_BACKEND: 'webgpu' }, logger: new MemoryLogger(), importer: importer() }),
    ).rejects.toThrow(/Backend 'webgpu' is not available: webgpu \+ @tensorflow\/tfjs-backend-webgpu not installed/);
  });

  it('an unknown FEWSTEP_BACKEND names the value and the allowed ones', async () => {
    await expect(initEngine({ env: { FEWSTEP_BACKEND: 'cuda' }, logger: new MemoryLogger(), importer: importer() })).rejects.toThrow(
      ConfigError,
    );
    await expect(initEngine({ env: { FEWSTEP_BACKEND: 'cuda' }, logger: new MemoryLogger(), importer: importer() })).rejects.toThrow(
      `Invalid value for 'FEWSTEP_BACKEND': "cuda". Allowed: 'tensorflow', 'webgpu', 'wasm', 'cpu'.`,
    );
  });

  it('falling back to cpu prints a loud warning with the expected slowdown', async () => {
    const log = new MemoryLogger();
    const info = await initEngine({ env: {}, logger: log, importer: importer(['@tensorflow/tfjs-backend-wasm']) });
    expect(info.backend).toBe('cpu');
    expect(info.reasons).toContainEqual(expect.stringMatching(/^wasm: @tensorflow\/tfjs-backend-wasm failed to load/));
    const warns = log.messages.filter((m) => m.level === 'warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]!.message).toMatch(/running on the plain tfjs 'cpu' backend because no faster backend could start/);
    expect(warns[0]!.message).toMatch(/2800x slower than PyTorch/);
  });

  it('forcing cpu also warns', async () => {
    const log = new MemoryLogger();
    await initEngine({ env: { FEWSTEP_BACKEND: 'cpu' }, logger: log, importer: importer() });
    expect(log.messages.filter((m) => m.level === 'warn')[0]!.message).toMatch(/forced by FEWSTEP_BACKEND=cpu/);
  });
});
