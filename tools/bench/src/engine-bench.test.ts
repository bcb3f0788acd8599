import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { runEngineBench, type EngineBenchResult } from './engine-bench.js';
import { formatEngineBenchTable } from './format-table.js';
import type { BenchShapes } from './workloads/index.js';

const tiny = (
  JSON.parse(readFileSync(new URL('./fixtures/torch-tiny-losses.json', import.meta.url), 'utf8')) as { shapes: BenchShapes }
).shapes;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('runEngineBench', () => {
  it('times every workload, profiles its kernels and frees everything (tiny shapes, cpu, no torch)', async () => {
    const before = tf.memory().numTensors;
    const messages: string[] = [];
    const r = await runEngineBench({ steps: 1, warmup: 0, torch: false, profile: true, shapes: tiny, onProgress: (m) => messages.push(m) });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.backend).toBe('cpu');
    expect(Object.keys(r.workloads)).toEqual(['conv-train', 'video-unet-block-train', 'dit-block-train']);
    for (const w of Object.values(r.workloads)) {
      expect(w.ms).toBeGreaterThan(0);
      expect(w.gflops).toBeGreaterThan(0);
      expect(w.torchMs).toBeUndefined();
    }
    expect(r.torch).toEqual({ available: false, reason: 'disabled (torch: false)' });
    const convProfile = r.profile?.['conv-train'] ?? [];
    expect(convProfile.map((k) => k.kernel)).toContain('Conv2DBackpropFilter');
    const shares = convProfile.reduce((a, k) => a + k.share, 0);
    expect(shares).toBeGreaterThan(0.5);
    expect(shares).toBeLessThanOrEqual(1 + 1e-9);
    expect(messages.some((m) => m.includes('steps=1 < 10'))).toBe(true);
  });

  it('rejects unknown workloads and bad step counts with the allowed values', async () => {
    await expect(runEngineBench({ workloads: ['resnet'], torch: false })).rejects.toThrow(
      /Invalid value for 'workloads': "resnet"\. Allowed: conv-train, video-unet-block-train, dit-block-train/,
    );
    await expect(runEngineBench({ steps: 0, torch: false })).rejects.toThrow(/'steps': 0\. Allowed: an integer >= 1/);
  });
});

describe('formatEngineBenchTable', () => {
  it('prints a markdown row per workload with ratio and loss check, the twin line and the profile', () => {
    const r: EngineBenchResult = {
      backend: 'wasm',
      steps: 10,
      warmup: 3,
      workloads: {
        'conv-train': { ms: 120.04, torchMs: 40, ratio: 3.001, gflops: 27.7, params: 147712, loss0: 0.5, torchLoss0: 0.5, lossMatch: true },
      },
      torch: { available: true, version: '1.13.1', threads: 2, blas: 'openblas', referenceBlas: false },
      profile: { 'conv-train': [{ kernel: 'Conv2D', ms: 50, share: 0.5, calls: 4, inclusiveMs: 60 }] },
    };
    const text = formatEngineBenchTable(r);
    expect(text).toContain('| workload | wasm ms/step | torch ms/step | ratio |');
    expect(text).toContain('| conv-train | 120.0 | 40.0 | 3.00× | 27.70 | 147712 | ok (0.50000 vs 0.50000) |');
    expect(text).toContain('torch 1.13.1 on CPU, 2 threads');
    expect(text).toContain('| Conv2D | 50.00 | 50.0% | 4 | 60.00 |');
  });
});
