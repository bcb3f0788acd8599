/**
 * P33: no tensor leak in steady state. After a burn-in, `tf.memory().numTensors` must be the same
 * after every step of a run that saves a checkpoint every 50 steps, samples every 100, writes
 * JSONL + TensorBoard, and takes the NaN-skip path every 97 steps; then a resumed run, and the
 * end of both runs, must leave the count where it started. FEWSTEP_LEAK_STEPS=1000 for the long
 * version (default 200).
 */
import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryLogger } from '../di/logger.js';
import { startRun } from './trainer.js';
import { jsonlMetrics } from './plugins/jsonl-metrics.js';
import { tensorboard } from './plugins/tensorboard.js';
import { sampleWriter } from './plugins/sample-writer.js';
import { generate, tinyGan, type NanInjection } from './fixtures/tiny-gan.js';
import type { TrainingPlugin } from './plugin.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});
const tmp = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'fewstep-leak-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const R = Number(process.env['FEWSTEP_LEAK_STEPS'] ?? 200);
const BURN = 10;

describe('P33: no tensor leak in steady state', () => {
  it(`${R} steps with checkpoints, samples, metrics and NaN skips; then a resume`, async () => {
    const total = BURN + R;
    const nan: NanInjection[] = [];
    for (let s = 97; s < total + 50; s += 97) nan.push({ phase: 'discriminator', step: s, kind: 'loss' }, { phase: 'generator', step: s % 2 === 1 ? s : s + 1, kind: 'grad' });
    const out = nodePath.join(tmp, 'run');
    const counts: number[] = [];
    const probe: TrainingPlugin = { name: 'test:count', afterStep: () => void counts.push(tf.memory().numTensors) };
    const sampler = sampleWriter({
      every: 100,
      write: async ({ networks }) => {
        const x = tf.tidy(() => generate(networks['generatorEma']!, tf.ones([2, 4])));
        await x.data();
        x.dispose();
      },
    });
    const gan = tinyGan({ steps: total, outDir: out, checkpoint: { every: 50, keepLast: 2 }, nan, plugins: [probe, sampler, jsonlMetrics(), tensorboard()] });
    const before = tf.memory().numTensors;
    const summary = await startRun({ ...gan.config, logger: new MemoryLogger() }).result;
    expect(summary.skips['discriminator']).toBe(nan.filter((n) => n.phase === 'discriminator' && n.step < total).length);
    const baseline = counts[BURN - 1]!;
    const drift = counts.slice(BURN).map((c, i) => [BURN + i + 1, c - baseline] as const).filter(([, d]) => d !== 0);
    expect(drift).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
    const delta = counts.at(-1)! - baseline;

    // Resume from the last checkpoint and run 20 more steps: nothing left behind either.
    counts.length = 0;
    const resumed = await startRun({ ...gan.config, steps: total + 20, logger: new MemoryLogger() }).result;
    expect(resumed.startStep).toBe(total);
    expect(new Set(counts).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    gan.dispose();
    console.log(`[P33] ${R} steps after ${BURN} burn-in: Δ numTensors ${delta} (${delta / R} per step); numTensors after both runs = before (${before}); after disposing the fixture: ${tf.memory().numTensors}`);
  });
});
