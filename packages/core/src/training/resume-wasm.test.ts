import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../engine/backend.js';
import { MemoryLogger } from '../di/logger.js';
import { RESUME_POINTS, runResumeCheck } from './fixtures/resume-check.js';

beforeAll(async () => {
  // Registers fewstep's wasm training kernels (conv filter gradient, ...).
  await initEngine({ backend: 'wasm', report: false, logger: new MemoryLogger() });
});
const tmp = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'fewstep-resume-wasm-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('P21-P23: exact resume in a fresh process (wasm)', () => {
  it('losses and every final tensor are bitwise equal to the uninterrupted run on wasm', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const outcomes = await runResumeCheck('wasm', tmp);
    for (const o of outcomes) {
      expect(o.error, `k=${o.k}`).toBeUndefined();
      expect(o.startStep).toBe(o.k);
      expect(o.childBackend).toBe('wasm');
      expect(o.lossMismatches, `k=${o.k}`).toEqual([]);
      expect(o.fileMismatches, `k=${o.k}`).toEqual([]);
      expect(o.unchangedSinceK.filter((f) => f.endsWith('.safetensors')), `k=${o.k}`).toEqual([]);
    }
    const equal = outcomes.filter((o) => !o.error && o.lossMismatches.length === 0 && o.fileMismatches.length === 0).length;
    console.log(`[P21] wasm: resume points ${RESUME_POINTS.join(', ')}; bitwise-equal runs ${equal}/${outcomes.length}`);
  });
});
