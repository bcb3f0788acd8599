import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { firstValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryLogger } from '../di/logger.js';
import { readCheckpoint, type CheckpointContents } from '../checkpoint/read-checkpoint.js';
import { stepDirName } from '../checkpoint/step-dir.js';
import { ofType } from './events.js';
import { startRun } from './trainer.js';
import { nanGuard } from './plugins/nan-guard.js';
import { NonFiniteError } from './training-error.js';
import { tinyGan, type NanInjection } from './fixtures/tiny-gan.js';
import type { TrainState } from './run-state.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});
const tmp = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'fewstep-nan-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const ROLE: Record<NanInjection['phase'], string> = { discriminator: 'discriminator', fakeScore: 'fakeScore', generator: 'generator' };

describe('P27/P28: non-finite losses and gradients never reach weights, moments or EMA', () => {
  it('skips exactly the injected phase; its weights, optimizer moments and counters, and the EMA stay bitwise unchanged', async () => {
    // 9 injections: each phase x {NaN loss, finite loss with NaN gradient, +Inf loss}; G runs at odd step indices.
    const injections: NanInjection[] = [
      { phase: 'discriminator', step: 2, kind: 'loss' },
      { phase: 'discriminator', step: 6, kind: 'grad' },
      { phase: 'discriminator', step: 10, kind: 'inf' },
      { phase: 'fakeScore', step: 3, kind: 'grad' },
      { phase: 'fakeScore', step: 7, kind: 'loss' },
      { phase: 'fakeScore', step: 11, kind: 'inf' },
      { phase: 'generator', step: 1, kind: 'loss' },
      { phase: 'generator', step: 5, kind: 'grad' },
      { phase: 'generator', step: 9, kind: 'inf' },
    ];
    const out = nodePath.join(tmp, 'inject');
    const gan = tinyGan({ steps: 12, outDir: out, checkpoint: { every: 1 }, nan: injections });
    const log = new MemoryLogger();
    const run = startRun({ ...gan.config, logger: log, plugins: [nanGuard({ maxConsecutive: 3 })] });
    const skipped = firstValueFrom(run.events$.pipe(ofType('phase/skipped'), toArray()));
    const steps = firstValueFrom(run.events$.pipe(ofType('step/completed'), toArray()));
    const summary = await run.result;
    expect(summary.status).toBe('completed');
    expect(summary.skips).toEqual({ discriminator: 3, fakeScore: 3, generator: 3 });
    const nonFinite = (await skipped).filter((e) => e.payload.reason === 'non-finite');
    expect(nonFinite.map((e) => [e.payload.phase, e.payload.step - 1, e.payload.source])).toEqual(
      injections
        .map((i) => [i.phase, i.step, i.kind === 'grad' ? 'gradient' : 'loss'] as const)
        .sort((a, b) => a[1] - b[1]),
    );
    expect(log.messages.filter((m) => m.level === 'warn')).toHaveLength(9);
    expect(log.messages[0]!.message).toMatch(/step 2: phase 'generator' \(role 'generator'\) skipped: non-finite loss \(batch epoch 0 index 1\)/);
    const ck = new Map<number, CheckpointContents>();
    for (let s = 1; s <= 12; s++) ck.set(s, await readCheckpoint(nodePath.join(out, 'checkpoints', stepDirName(s))));
    const sha = (s: number, file: string): string => ck.get(s)!.manifest.files[file]!.sha256;
    const state = (s: number): TrainState => ck.get(s)!.json.get('state.json') as TrainState;
    let reached = 0;
    for (const inj of injections) {
      const before = inj.step; // checkpoint after `step` steps = the state the injected step started from
      const after = inj.step + 1;
      const role = ROLE[inj.phase];
      const same = [sha(before, `weights.${role}.safetensors`) === sha(after, `weights.${role}.safetensors`), sha(before, `optimizer.${inj.phase}.safetensors`) === sha(after, `optimizer.${inj.phase}.safetensors`)];
      const o0 = state(before).phases[inj.phase]!.optimizer;
      const o1 = state(after).phases[inj.phase]!.optimizer;
      same.push(o0.step === o1.step && JSON.stringify(o0.slotSteps) === JSON.stringify(o1.slotSteps));
      if (role === 'generator') {
        same.push(sha(before, 'weights.generatorEma.safetensors') === sha(after, 'weights.generatorEma.safetensors'));
        same.push(state(before).ema['generatorEma']!.step === state(after).ema['generatorEma']!.step);
      }
      if (!same.every(Boolean)) reached++;
      // P28: the other phases of that step decided on their own and applied their updates.
      const applied = (await steps)[inj.step]!.payload.applied;
      expect(applied).not.toContain(inj.phase);
      expect(applied).toContain(inj.phase === 'discriminator' ? 'fakeScore' : 'discriminator');
      for (const other of ['discriminator', 'fakeScore'].filter((p) => p !== inj.phase)) {
        expect(sha(before, `weights.${other}.safetensors`)).not.toBe(sha(after, `weights.${other}.safetensors`));
      }
      expect(state(after).phases[inj.phase]!.skips.total).toBe(state(before).phases[inj.phase]!.skips.total + 1);
    }
    expect(reached).toBe(0);
    console.log(`[P27] NaN/Inf injections: ${injections.length}, reached weights/moments/EMA: ${reached}`);
    gan.dispose();
  });

  it('aborts after maxConsecutive skips with a NonFiniteError, after committing a checkpoint of the last good state', async () => {
    const out = nodePath.join(tmp, 'abort');
    const nan: NanInjection[] = Array.from({ length: 20 }, (_, i) => ({ phase: 'discriminator' as const, step: 2 + i, kind: 'loss' as const }));
    const gan = tinyGan({ steps: 20, outDir: out, checkpoint: { every: 100 }, nan });
    const run = startRun({ ...gan.config, logger: new MemoryLogger(), plugins: [nanGuard({ maxConsecutive: 3 })] });
    const failed = firstValueFrom(run.events$.pipe(ofType('run/failed')));
    const err = await run.result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as Error).message).toMatch(/Phase 'discriminator' produced a non-finite loss or gradient 3 steps in a row \(last at step 5\)/);
    const f = await failed;
    expect(f.payload.step).toBe(5);
    expect(f.payload.lastCheckpoint).toBe(nodePath.join(out, 'checkpoints', 'step-000005'));
    const c = await readCheckpoint(f.payload.lastCheckpoint!);
    expect((c.json.get('state.json') as TrainState).phases['discriminator']!.skips).toEqual({ total: 3, consecutive: 3, loss: 3, gradient: 0 });
    gan.dispose();
  });
});
