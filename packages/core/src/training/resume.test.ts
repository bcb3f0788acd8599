import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESUME_POINTS, runResumeCheck } from './fixtures/resume-check.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});
const tmp = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'fewstep-resume-cpu-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('P21-P23: exact resume in a fresh process (cpu)', () => {
  it('losses and every final tensor (weights, EMA, moments, counters) are bitwise equal to the uninterrupted run', async () => {
    const outcomes = await runResumeCheck('cpu', tmp);
    for (const o of outcomes) {
      expect(o.error, `k=${o.k}`).toBeUndefined();
      expect(o.startStep).toBe(o.k);
      expect(o.childBackend).toBe('cpu');
      expect(o.lossMismatches, `k=${o.k}`).toEqual([]);
      expect(o.fileMismatches, `k=${o.k}`).toEqual([]);
      expect(o.lossesCompared).toBeGreaterThan(0);
      // Non-vacuity: every role's weights and every optimizer moved between k and S.
      expect(o.unchangedSinceK.filter((f) => f.endsWith('.safetensors')), `k=${o.k}`).toEqual([]);
    }
    const equal = outcomes.filter((o) => !o.error && o.lossMismatches.length === 0 && o.fileMismatches.length === 0).length;
    console.log(`[P21] cpu: resume points ${RESUME_POINTS.join(', ')}; bitwise-equal runs ${equal}/${outcomes.length}; losses compared ${outcomes.reduce((a, o) => a + o.lossesCompared, 0)}`);
  });
});
