/**
 * Bad input on resume (issue item 7; RELIABILITY.md P19, P25): another architecture, a missing or
 * extra tensor, a dtype or shape mismatch, a damaged state; each a typed error naming the tensor
 * or field, found and expected, and the fix, with nothing partially loaded. Plus "coverage by
 * mutation": every component a checkpoint holds is restored by a load.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryLogger } from '../di/logger.js';
import { CheckpointError } from '../checkpoint/checkpoint-error.js';
import { readCheckpoint, type CheckpointContents } from '../checkpoint/read-checkpoint.js';
import { writeCheckpoint, type CheckpointFileContent } from '../checkpoint/write-checkpoint.js';
import type { TensorToWrite } from '../io/safetensors/encode.js';
import { ExponentialMovingAverage } from '../nn/exponential-moving-average.js';
import type { Network } from '../nn/network.js';
import { createOptimizer, resolveTrainingConfig } from './config.js';
import { ofType } from './events.js';
import { collectCheckpointFiles, restoreCheckpoint, type RunStateRefs, type TrainState } from './run-state.js';
import { startRun, train } from './trainer.js';
import { tinyGan, type TinyGanOptions } from './fixtures/tiny-gan.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});
const tmp = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'fewstep-resume-errors-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const dirOf = (name: string): string => nodePath.join(tmp, `${name}-${n++}`);

let base: { out: string; ckpt: string; contents: CheckpointContents };
beforeAll(async () => {
  const out = dirOf('base');
  const gan = tinyGan({ steps: 4, outDir: out, checkpoint: { every: 4 } });
  await train({ ...gan.config, logger: new MemoryLogger() });
  gan.dispose();
  const ckpt = nodePath.join(out, 'checkpoints', 'step-000004');
  base = { out, ckpt, contents: await readCheckpoint(ckpt) };
});

const snapshot = (roles: Record<string, Network>): Map<string, number[]> => {
  const m = new Map<string, number[]>();
  for (const [r, net] of Object.entries(roles)) for (const [name, v] of net.variables()) m.set(`${r}/${name}`, Array.from(v.dataSync()));
  return m;
};

async function expectRejected(options: Omit<TinyGanOptions, 'steps'>, steps = 6): Promise<{ error: CheckpointError; unchanged: boolean; log: MemoryLogger }> {
  const gan = tinyGan({ steps, ...options });
  const before = snapshot(gan.roles);
  const log = new MemoryLogger();
  const error = await train({ ...gan.config, logger: log }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(CheckpointError);
  const after = snapshot(gan.roles);
  const unchanged = [...before].every(([k, v]) => JSON.stringify(after.get(k)) === JSON.stringify(v));
  gan.dispose();
  return { error: error as CheckpointError, unchanged, log };
}

/** Copies the base checkpoint into a new root with some files changed (a consistent manifest: not corruption, wrong contents). */
async function variant(edit: (files: Map<string, CheckpointFileContent>) => void): Promise<string> {
  const files = new Map<string, CheckpointFileContent>();
  for (const [name, f] of base.contents.tensors) {
    const tensors = new Map<string, TensorToWrite>();
    for (const [t, v] of f.tensors) tensors.set(t, { dtype: v.dtype, shape: v.shape, data: v.data as Float32Array });
    files.set(name, { kind: 'safetensors', tensors, ...(f.metadata ? { metadata: Object.fromEntries(f.metadata) } : {}) });
  }
  for (const [name, v] of base.contents.json) files.set(name, { kind: 'json', value: structuredClone(v) });
  edit(files);
  const w = await writeCheckpoint({ root: dirOf('variant'), step: 4, configHash: base.contents.configHash, files });
  return w.path;
}
const tensorsOf = (files: Map<string, CheckpointFileContent>, name: string): Map<string, TensorToWrite> =>
  (files.get(name) as unknown as { tensors: Map<string, TensorToWrite> }).tensors;

describe('loading a checkpoint that does not fit', () => {
  it('another architecture: config-mismatch naming the tensor, found and expected; with allowConfigChange a state-mismatch; nothing loaded', async () => {
    const a = await expectRejected({ generatorHidden: 16, resume: { from: base.ckpt } });
    expect(a.error.problem).toBe('config-mismatch');
    expect(a.error.message).toMatch(/config differs at roles\.generator\["fc1\.bias"\]\.shape: found \[8\], expected \[16\]/);
    expect(a.error.message).toMatch(/Fix: resume with the config and architecture that wrote it/);
    expect(a.unchanged).toBe(true);
    const b = await expectRejected({ generatorHidden: 16, resume: { from: base.ckpt, allowConfigChange: true } });
    expect(b.error.problem).toBe('state-mismatch');
    expect(b.error.details).toEqual(
      expect.arrayContaining([
        { component: 'weights.generator', name: 'fc1.kernel', problem: 'shape', found: '[4, 8]', expected: '[4, 16]' },
        { component: 'weights.generatorEma', name: 'fc2.kernel', problem: 'shape', found: '[8, 16]', expected: '[16, 16]' },
        { component: 'optimizer.generator', name: 'fc1.bias.exp_avg', problem: 'shape', found: '[8]', expected: '[16]' },
      ]),
    );
    expect(b.error.message).toMatch(/nothing was loaded/);
    expect(b.unchanged).toBe(true);
  });

  it('a config that differs only in a hyper-parameter names the field', async () => {
    const { error } = await expectRejected({ discriminatorLr: 5e-3, resume: { from: base.ckpt } });
    expect(error.message).toMatch(/phases\[0\]\.optimizer\.lr: found 0\.002, expected 0\.005/);
  });

  it('auto-resume refuses a directory holding only checkpoints of another architecture, and says why', async () => {
    const out = dirOf('auto');
    await fsp.cp(nodePath.join(base.out, 'checkpoints'), nodePath.join(out, 'checkpoints'), { recursive: true });
    const { error, log } = await expectRejected({ generatorHidden: 16, outDir: out, checkpoint: { every: 2 } });
    expect(error.problem).toBe('config-mismatch');
    expect(error.message).toMatch(/holds 1 checkpoint\(s\) of another config or architecture.*Fix: use another outDir, or resume: 'never'/s);
    expect(log.messages.some((m) => m.level === 'warn' && /auto-resume skipped .*step-000004.*config differs at roles\.generator/s.test(m.message))).toBe(true);
  });

  it('missing, extra and wrong-dtype tensors, a bad optimizer slot and a bad cursor are all listed; nothing loaded', async () => {
    const path = await variant((files) => {
      const d = tensorsOf(files, 'weights.discriminator.safetensors');
      d.delete('head.bias');
      d.set('head.extra', { dtype: 'F32', shape: [2], data: new Float32Array(2) });
      const conv = d.get('conv.bias')!;
      d.set('conv.bias', { ...conv, dtype: 'F16' });
      tensorsOf(files, 'optimizer.fakeScore.safetensors').set('fc2.bias.exp_avg', { dtype: 'F32', shape: [3], data: new Float32Array(3) });
      const state = (files.get('state.json') as { value: TrainState }).value as { data: { cursor: unknown } };
      state.data.cursor = { epoch: -1, index: 0 };
    });
    const { error, unchanged } = await expectRejected({ resume: { from: path } });
    expect(error.problem).toBe('state-mismatch');
    expect(error.details).toEqual(
      expect.arrayContaining([
        { component: 'weights.discriminator', name: 'head.bias', problem: 'missing', found: '(absent)', expected: 'F32 [1]' },
        { component: 'weights.discriminator', name: 'head.extra', problem: 'unexpected', found: 'F32 [2]', expected: '(no such variable)' },
        { component: 'weights.discriminator', name: 'conv.bias', problem: 'dtype', found: 'F16', expected: 'F32' },
        { component: 'optimizer.fakeScore', name: 'fc2.bias.exp_avg', problem: 'shape', found: '[3]', expected: '[16]' },
        { component: 'data', name: 'cursor', problem: 'value', found: '{"epoch":-1,"index":0}', expected: '{ epoch, index } integers >= 0' },
      ]),
    );
    expect(error.message).toMatch(/weights\.discriminator: 'head\.bias' missing: found \(absent\), expected F32 \[1\]/);
    expect(error.message).toMatch(/Fix: resume with the architecture, phases and data source that wrote this checkpoint/);
    expect(unchanged).toBe(true);
  });

  it('a damaged checkpoint named explicitly is a typed error (hash mismatch)', async () => {
    const path = await variant(() => undefined);
    const f = nodePath.join(path, 'weights.generator.safetensors');
    const b = await fsp.readFile(f);
    b[b.length - 1]! ^= 0xff;
    await fsp.writeFile(f, b);
    const { error, unchanged } = await expectRejected({ resume: { from: path } });
    expect(error.problem).toBe('hash-mismatch');
    expect(unchanged).toBe(true);
  });

  it('P25 in the trainer: resumes from the newest valid checkpoint, logs and reports why newer ones were skipped', async () => {
    const out = dirOf('p25');
    const gan = tinyGan({ steps: 6, outDir: out, checkpoint: { every: 2 } });
    await train({ ...gan.config, logger: new MemoryLogger() });
    await fsp.unlink(nodePath.join(out, 'checkpoints', 'step-000006', 'manifest.json'));
    await fsp.truncate(nodePath.join(out, 'checkpoints', 'step-000004', 'state.json'), 10);
    const log = new MemoryLogger();
    const run = startRun({ ...gan.config, steps: 8, logger: log });
    const resumed = firstValueFrom(run.events$.pipe(ofType('checkpoint/resumed')));
    const summary = await run.result;
    expect(summary.startStep).toBe(2);
    expect((await resumed).payload.skipped.map((s) => s.step)).toEqual([6, 4]);
    const warnings = log.messages.filter((m) => m.level === 'warn').map((m) => m.message);
    expect(warnings[0]).toMatch(/auto-resume skipped .*step-000006: .*\[missing-manifest\]/);
    expect(warnings[1]).toMatch(/auto-resume skipped .*step-000004: .*\[size-mismatch\] 'state.json' has 10 bytes/);
    gan.dispose();
  });
});

describe('P19: every component of the state is saved and restored (coverage by mutation)', () => {
  it('perturbing any one component and loading the checkpoint restores it', async () => {
    const gan = tinyGan({ steps: 4, initSeed: 50 });
    const { phases, ema } = resolveTrainingConfig(gan.config);
    const networks: Record<string, Network> = { ...gan.config.roles, generatorEma: gan.roles.generator.clone('generatorEma') };
    const optimizers = new Map(phases.map((p) => [p.name, createOptimizer(p)]));
    const emas = new Map([[ema[0]!.role, { ema: new ExponentialMovingAverage(networks['generatorEma']!, networks['generator']!, ema[0]!), source: 'generator' }]]);
    const rt: RunStateRefs = {
      seed: 7,
      configHash: base.contents.configHash,
      config: base.contents.json.get('config.json'),
      networks,
      phases,
      optimizers,
      emas,
      dataSource: 'data:tiny-real',
      streams: new Set(),
      step: 0,
      cursor: { epoch: 0, index: 0 },
      skips: new Map(phases.map((p) => [p.name, { total: 0, consecutive: 0, loss: 0, gradient: 0 }])),
    };
    const fingerprint = async (): Promise<string> => {
      const w = await writeCheckpoint({ root: dirOf('fp'), step: rt.step, configHash: rt.configHash, files: await collectCheckpointFiles(rt) });
      return JSON.stringify(Object.entries(w.manifest.files).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, e]) => [k, e.sha256]));
    };
    const expected = JSON.stringify(Object.entries(base.contents.manifest.files).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, e]) => [k, e.sha256]));
    expect(await fingerprint()).not.toBe(expected); // fresh run: everything differs
    restoreCheckpoint(base.contents, rt);
    expect(await fingerprint()).toBe(expected);
    const noise = (net: Network): void => {
      const w = new Map([...net.variables()].map(([k, v]) => [k, tf.randomUniform(v.shape, -1, 1, 'float32', 3)]));
      net.setWeights(w);
      for (const t of w.values()) t.dispose();
    };
    const perturbations: [string, () => void][] = [
      ...Object.keys(networks).map((role): [string, () => void] => [`weights.${role}`, () => noise(networks[role]!)]),
      ...phases.map((p): [string, () => void] => [
        `optimizer.${p.name} moments`,
        () => {
          const s = optimizers.get(p.name)!.getState();
          const slots = new Map([...s.slots].map(([k, t]) => [k, tf.mul(t, 2)]));
          optimizers.get(p.name)!.setState({ ...s, slots }, networks[p.role]!);
          for (const t of [...s.slots.values(), ...slots.values()]) t.dispose();
        },
      ]),
      ...phases.map((p): [string, () => void] => [
        `optimizer.${p.name} counters`,
        () => {
          const s = optimizers.get(p.name)!.getState();
          optimizers.get(p.name)!.setState({ ...s, step: s.step + 3, skipped: 5, slotSteps: new Map([...s.slotSteps].map(([k, v]) => [k, v + 1])) }, networks[p.role]!);
          for (const t of s.slots.values()) t.dispose();
        },
      ]),
      ['ema step', () => emas.get('generatorEma')!.ema.update(40)],
      ['skip counters', () => rt.skips.set('fakeScore', { total: 3, consecutive: 1, loss: 2, gradient: 1 })],
      ['data cursor', () => (rt.cursor = { epoch: 3, index: 1 })],
      ['step', () => (rt.step = 17)],
      ['random streams', () => rt.streams.clear()],
    ];
    let covered = 0;
    for (const [name, perturb] of perturbations) {
      perturb();
      const changed = (await fingerprint()) !== expected;
      restoreCheckpoint(base.contents, rt);
      if (changed && (await fingerprint()) === expected) covered++;
      else throw new Error(`component '${name}' is ${changed ? 'not restored by a load' : 'not in the checkpoint'}`);
    }
    console.log(`[P19] components covered ${covered}/${perturbations.length}`);
    expect(covered).toBe(perturbations.length);
    for (const o of optimizers.values()) o.dispose();
    networks['generatorEma']!.dispose();
    gan.dispose();
  });
});
