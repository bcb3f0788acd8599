import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { firstValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ShapeError } from '../errors.js';
import { MemoryLogger } from '../di/logger.js';
import { DependencyManager } from '../di/dependency-manager.js';
import { Tokens } from '../di/tokens.js';
import { Network } from '../nn/network.js';
import { zeros, constant } from '../nn/initializers.js';
import { readCheckpoint } from '../checkpoint/read-checkpoint.js';
import { ofType, type StampedTrainingEvent } from './events.js';
import { lossTerm } from './loss-term.js';
import { startRun, train } from './trainer.js';
import { jsonlMetrics } from './plugins/jsonl-metrics.js';
import { tensorboard } from './plugins/tensorboard.js';
import { progressBar } from './plugins/progress-bar.js';
import { sampleWriter } from './plugins/sample-writer.js';
import { decodeEvent, readRecords } from './plugins/tfevents.js';
import { tinyGan, generate } from './fixtures/tiny-gan.js';
import type { TrainingConfig } from './config.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});
const tmp = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'fewstep-trainer-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const outDir = (): string => nodePath.join(tmp, `run-${n++}`);

/** y = w * x regression, one role; loss (w - 3)^2 style. */
function linear(): { net: Network; config: TrainingConfig } {
  const net = new Network('lin', { seed: 3 });
  net.param('w', [2], constant(0));
  net.param('b', [1], zeros());
  const loss = lossTerm('mse', (ctx) => tf.mean(tf.squaredDifference(tf.add(ctx.network('model').variable('w'), ctx.network('model').variable('b')), tf.tensor1d([3, -1]))) as tf.Scalar);
  return { net, config: { seed: 0, steps: 5, roles: { model: net }, phases: [{ role: 'model', losses: [loss], optimizer: { lr: 0.1 } }], logger: new MemoryLogger() } };
}

describe('trainer', () => {
  it('runs phases in order with TTUR, reports every loss term, lr and seconds, and events are serializable', async () => {
    const gan = tinyGan({ steps: 6 });
    const run = startRun({ ...gan.config, logger: new MemoryLogger() });
    const all = firstValueFrom(run.events$.pipe(toArray()));
    const progress: number[] = [];
    run.progress$.subscribe((p) => progress.push(p.step));
    const summary = await run.result;
    const events = await all;
    expect(summary).toMatchObject({ status: 'completed', step: 6, startStep: 0, resumedFrom: null, skips: { discriminator: 0, fakeScore: 0, generator: 0 } });
    expect(events[0]!.type).toBe('run/started');
    expect(events.at(-1)!.type).toBe('run/completed');
    const steps = events.filter((e) => e.type === 'step/completed') as Extract<StampedTrainingEvent, { type: 'step/completed' }>[];
    expect(steps.map((e) => e.payload.step)).toEqual([1, 2, 3, 4, 5, 6]);
    // D and F every step; G at step indices 1, 3, 5 (every 2, offset 1), after D and F.
    expect(steps.map((e) => e.payload.applied)).toEqual([
      ['discriminator', 'fakeScore'],
      ['discriminator', 'fakeScore', 'generator'],
      ['discriminator', 'fakeScore'],
      ['discriminator', 'fakeScore', 'generator'],
      ['discriminator', 'fakeScore'],
      ['discriminator', 'fakeScore', 'generator'],
    ]);
    const s2 = steps[1]!.payload;
    expect(Object.keys(s2.losses).sort()).toEqual(['discriminator/logistic', 'fakeScore/denoising', 'generator/adversarial', 'generator/score-regression']);
    expect(s2.phaseLosses['generator']).toBeCloseTo(0.5 * s2.losses['generator/adversarial']! + s2.losses['generator/score-regression']!, 5);
    expect(s2.metrics['discriminator/logistic/realLogit']).toEqual(expect.any(Number));
    // Warm-up: G's lr is 0 on its first update, 5e-4 on its second, then 1e-3.
    expect(steps.filter((e) => e.payload.lr['generator'] !== undefined).map((e) => e.payload.lr['generator'])).toEqual([0, 5e-4, 1e-3]);
    expect(s2.lr).toMatchObject({ discriminator: 2e-3, fakeScore: 1e-3 });
    expect(s2.seconds).toBeGreaterThan(0);
    expect(s2.batch).toEqual({ epoch: 0, index: 1 });
    const skipped = events.filter((e) => e.type === 'phase/skipped');
    expect(skipped.map((e) => [e.payload.step, e.payload.reason])).toEqual([
      [1, 'schedule'],
      [3, 'schedule'],
      [5, 'schedule'],
    ]);
    for (const e of events) {
      expect(e.metadata.runId).toBe(run.id);
      expect(JSON.parse(JSON.stringify(e))).toEqual(e);
    }
    expect(progress.at(-1)).toBe(6);
    expect(run.networks['generatorEma']).toBeUndefined(); // created by the run, disposed with it
    gan.dispose();
  });

  it('ofType narrows, and the run scope provides RunId / RunStop$ to plugins', async () => {
    const { net, config } = linear();
    const dm = DependencyManager.createRoot({ logger: new MemoryLogger() });
    let sawId = '';
    let stopped = false;
    const run = startRun({
      ...config,
      dm,
      runId: 'r-1',
      plugins: [
        {
          name: 'test:scope',
          attach(ctx) {
            sawId = ctx.dm.resolve(Tokens.RunId);
            ctx.stop$.subscribe(() => (stopped = true));
          },
        },
      ],
    });
    const lrs: number[] = [];
    run.events$.pipe(ofType('step/completed')).subscribe((e) => lrs.push(e.payload.lr['model']!));
    await run.result;
    expect(sawId).toBe('r-1');
    expect(stopped).toBe(true);
    expect(lrs).toEqual([0.1, 0.1, 0.1, 0.1, 0.1]);
    expect(dm.disposed).toBe(false);
    net.dispose();
  });

  it('writes metrics.jsonl (one line per step) and a TensorBoard event file; prints plain progress lines', async () => {
    const out = outDir();
    const gan = tinyGan({ steps: 4, outDir: out });
    const lines: string[] = [];
    const stream = { write: (s: string) => lines.push(s), isTTY: false } as unknown as NodeJS.WritableStream;
    const ttyOut: string[] = [];
    const tty = { write: (s: string) => ttyOut.push(s), isTTY: true, columns: 200 } as unknown as NodeJS.WritableStream;
    await train({ ...gan.config, logger: new MemoryLogger(), plugins: [jsonlMetrics(), tensorboard(), progressBar({ stream, every: 2 }), progressBar({ stream: tty, minIntervalMs: 0 })] });
    const rows = (await fsp.readFile(nodePath.join(out, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(rows.map((r) => r['step'])).toEqual([1, 2, 3, 4]);
    expect(Object.keys(rows[1]!)).toEqual(
      expect.arrayContaining(['loss/generator', 'loss/generator/adversarial', 'loss/generator/score-regression', 'loss/discriminator/logistic', 'lr/generator', 'lr/fakeScore', 'seconds']),
    );
    const tbDir = nodePath.join(out, 'tensorboard');
    const [file] = await fsp.readdir(tbDir);
    expect(file).toMatch(/^events\.out\.tfevents\.\d+\./);
    const records = readRecords(new Uint8Array(await fsp.readFile(nodePath.join(tbDir, file!))));
    expect(records).toHaveLength(5);
    const ev = decodeEvent(records[2]!.data);
    expect(ev.step).toBe(2);
    expect(ev.scalars['loss/generator/adversarial']).toBe(Math.fround(rows[1]!['loss/generator/adversarial']!));
    expect(lines.map((l) => l.split('  ')[0])).toEqual(['[fewstep] step 2/4', '[fewstep] step 4/4']);
    expect(ttyOut[0]).toMatch(/^\r\x1b\[2K\[#+\.*\] 1\/4 +25\.0%/);
    expect(ttyOut.at(-1)).toBe('\n');
    gan.dispose();
  });

  it('calls the sample hook every N steps between steps and emits sample/written', async () => {
    const out = outDir();
    const gan = tinyGan({ steps: 5, outDir: out });
    const seen: number[] = [];
    const run = startRun({
      ...gan.config,
      logger: new MemoryLogger(),
      plugins: [
        sampleWriter({
          every: 2,
          async write({ step, networks, dir }) {
            seen.push(step);
            const x = tf.tidy(() => generate(networks['generatorEma']!, tf.ones([2, 4])));
            const file = nodePath.join(dir, 'x.json');
            await fsp.writeFile(file, JSON.stringify(Array.from(await x.data())));
            x.dispose();
            return [file];
          },
        }),
      ],
    });
    const written = firstValueFrom(run.events$.pipe(ofType('sample/written'), toArray()));
    await run.result;
    expect(seen).toEqual([2, 4, 5]);
    expect((await written).map((e) => e.payload.step)).toEqual([2, 4, 5]);
    expect(fs.existsSync(nodePath.join(out, 'samples', 'step-000004', 'x.json'))).toBe(true);
    gan.dispose();
  });

  it('P24: stop() finishes the current step, commits a checkpoint and resolves with status stopped', async () => {
    const out = outDir();
    const gan = tinyGan({ steps: 1000, outDir: out, checkpoint: { every: 100 } });
    const run = startRun({ ...gan.config, logger: new MemoryLogger() });
    const events: StampedTrainingEvent[] = [];
    run.events$.subscribe((e) => events.push(e));
    await firstValueFrom(run.events$.pipe(ofType('step/completed')));
    const stopping = run.stop('test');
    await stopping;
    const summary = await run.result;
    expect(summary.status).toBe('stopped');
    expect(summary.stopReason).toBe('test');
    expect(summary.step).toBeGreaterThanOrEqual(1);
    expect(summary.lastCheckpoint).toBe(nodePath.join(out, 'checkpoints', `step-${String(summary.step).padStart(6, '0')}`));
    expect((await readCheckpoint(summary.lastCheckpoint!)).step).toBe(summary.step);
    const types = events.map((e) => e.type);
    expect(types.indexOf('run/stopping')).toBeLessThan(types.indexOf('checkpoint/saved'));
    expect(types.at(-1)).toBe('run/completed');
    // No half-applied step: the last step/completed is the checkpoint's step.
    expect((events.filter((e) => e.type === 'step/completed').at(-1) as { payload: { step: number } }).payload.step).toBe(summary.step);
    gan.dispose();
  });

  it('fails with run/failed and a typed error when a loss is not a scalar or does not reach the role', async () => {
    const net = new Network('n', { seed: 1 });
    net.param('w', [3], constant(1));
    const base = { seed: 1, steps: 3, roles: { n: net }, logger: new MemoryLogger() };
    const run = startRun({ ...base, phases: [{ role: 'n', losses: [lossTerm('vec', (ctx) => tf.mul(ctx.network('n').variable('w'), 2) as unknown as tf.Scalar)] }] });
    const failed = firstValueFrom(run.events$.pipe(ofType('run/failed')));
    await expect(run.result).rejects.toThrow(ShapeError);
    expect((await failed).payload.error.message).toMatch(/loss term 'n\/vec' has shape \[3\], expected a scalar/);
    await expect(train({ ...base, phases: [{ role: 'n', losses: [lossTerm('const', () => tf.scalar(1))] }] })).rejects.toThrow(/phase 'n' \(role 'n'\) at step 1: computing the loss or its gradient failed/);
    net.dispose();
  });

  it('rejects invalid configs with a ConfigError naming the field', () => {
    const { net, config } = linear();
    const bad: [Partial<TrainingConfig> | ((c: TrainingConfig) => TrainingConfig), RegExp][] = [
      [{ seed: -1 }, /'seed'/],
      [{ steps: 1.5 }, /'steps'/],
      [{ roles: {} }, /'roles'/],
      [{ roles: { model: {} as Network } }, /'roles.model'.*Allowed: a Network/],
      [{ phases: [] }, /'phases'/],
      [(c) => ({ ...c, phases: [{ ...c.phases[0]!, role: 'nope' }] }), /'phases\[0\].role': "nope".*one of the roles: model/],
      [(c) => ({ ...c, phases: [{ ...c.phases[0]!, every: 0 }] }), /'phases\[0\].every': 0/],
      [(c) => ({ ...c, phases: [{ ...c.phases[0]!, every: 2, offset: 2 }] }), /'phases\[0\].offset': 2.*\[0, every = 2\)/],
      [(c) => ({ ...c, phases: [c.phases[0]!, c.phases[0]!] }), /'phases\[1\].name': "model".*unique/],
      [(c) => ({ ...c, phases: [{ ...c.phases[0]!, losses: [[c.phases[0]!.losses[0]![0], { weight: NaN }]] }] }), /'phases\[0\].losses\[0\]\[1\].weight'/],
      [(c) => ({ ...c, phases: [{ ...c.phases[0]!, optimizer: { betas: [1.5, 0.9] } }] }), /'phases\[0\].optimizer.betas\[0\]': 1.5/],
      [(c) => ({ ...c, phases: [{ ...c.phases[0]!, optimizer: { lr: { type: 'warmup-constant', lr: 1, warmupSteps: -1 } } }] }), /'phases\[0\].optimizer.lr.warmupSteps': -1/],
      [(c) => ({ ...c, phases: [{ ...c.phases[0]!, optimizer: { type: 'sgd' as 'adam' } }] }), /'phases\[0\].optimizer.type': "sgd"/],
      [{ ema: [{ role: 'modelEma', source: 'nope', decay: 0.9 }] }, /'ema\[0\].source': "nope"/],
      [{ ema: [{ role: 'modelEma', source: 'model', decay: 2 }] }, /'ema\[0\].decay': 2/],
      [{ checkpoint: { every: 0 } }, /'checkpoint.every'/],
      [{ checkpoint: { every: 5 } }, /'checkpoint.dir'.*set outDir/],
      [{ resume: 'sometimes' as 'auto' }, /'resume': "sometimes"/],
      [(c) => ({ ...c, phases: [{ ...c.phases[0]!, losses: [lossTerm('x', () => tf.scalar(0), { requires: ['teacher'] })] }] }), /'phases\[0\].losses\[0\]\[0\].requires': "teacher".*add it to roles/],
    ];
    for (const [patch, re] of bad) {
      const c = typeof patch === 'function' ? patch(config) : { ...config, ...patch };
      let err: unknown;
      try {
        startRun(c);
      } catch (e) {
        err = e;
      }
      expect(err, String(re)).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(re);
    }
    net.dispose();
  });

  it('P22: warns at resume time when the data source cannot restart at a cursor', async () => {
    const out = outDir();
    const gan = tinyGan({ steps: 2, outDir: out, checkpoint: { every: 2 } });
    await train({ ...gan.config, logger: new MemoryLogger() });
    const log = new MemoryLogger();
    const summary = await train({ ...gan.config, steps: 3, data: { ...gan.config.data!, resumable: false }, logger: log });
    expect(summary.startStep).toBe(2);
    expect(log.messages.map((m) => m.message)).toContainEqual(expect.stringMatching(/data source 'data:tiny-real' cannot resume at a cursor/));
    gan.dispose();
  });

  it('frees every tensor it created (optimizer slots, EMA copy, batches) when the run ends', async () => {
    const before = tf.memory().numTensors;
    const gan = tinyGan({ steps: 3 });
    const withNets = tf.memory().numTensors;
    await train({ ...gan.config, logger: new MemoryLogger() });
    expect(tf.memory().numTensors).toBe(withNets);
    gan.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
