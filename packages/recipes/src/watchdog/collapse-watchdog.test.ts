import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  FewstepError,
  MemoryLogger,
  Network,
  ShapeError,
  constant,
  gmmVideo,
  lossTerm,
  ofType,
  readCheckpoint,
  seededRng,
  startRun,
  zeros,
  type StampedTrainingEvent,
  type TrainingConfig,
} from '@fewstep/core';
import { COLLAPSE_CHECKS, DEFAULT_COLLAPSE_THRESHOLDS, collapseChecks, collapseStatistics, resolveCollapseThresholds, type CollapseStatistics } from './collapse-statistics.js';
import { CollapseError, collapseWatchdog, resumeFromRollback, type CollapseReport } from './collapse-watchdog.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'fewstep-watchdog-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// The benchmark's video mixture: 16 modes of moving blobs / stripes, [4, 4, 4, 3], noise std 0.1.
const gmm = gmmVideo('gmm-video:modes=16,frames=4,size=4,channels=3,std=0.1,seed=3');
const healthy = (n = 16, seed = 1): tf.Tensor => gmm.sample(n, seededRng(seed)).x0;
/** Every frame replaced by the first one. */
const freeze = (x: tf.Tensor): tf.Tensor => tf.tidy(() => tf.tile(tf.slice(x, [0, 0, 0, 0, 0], [x.shape[0]!, 1, -1, -1, -1]), [1, x.shape[1]!, 1, 1, 1]));
async function statsOf(make: () => tf.Tensor): Promise<CollapseStatistics> {
  const x = make();
  try {
    return await collapseStatistics(x);
  } finally {
    x.dispose();
  }
}

/** The definitions of collapse-statistics.ts, as plain loops. */
function naiveStatistics(v: Float32Array, [N, F, H, W, C]: [number, number, number, number, number]): { scale: number; temporalStd: number; spatialStd: number; flicker: number; diversity: number } {
  const at = (n: number, f: number, h: number, w: number, c: number) => v[(((n * F + f) * H + h) * W + w) * C + c]!;
  const std = (xs: number[]) => {
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
  };
  const scale = std(Array.from(v));
  let t = 0;
  for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) t += std(Array.from({ length: F }, (_, f) => at(n, f, h, w, c)));
  const temporalStd = t / (N * H * W * C);
  let s = 0;
  const mean: number[][][] = [];
  for (let n = 0; n < N; n++) {
    mean.push([]);
    for (let f = 0; f < F; f++) {
      mean[n]!.push([]);
      for (let c = 0; c < C; c++) {
        const px: number[] = [];
        for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) px.push(at(n, f, h, w, c));
        s += std(px);
        mean[n]![f]!.push(px.reduce((a, b) => a + b, 0) / px.length);
      }
    }
  }
  const spatialStd = s / (N * F * C);
  let jump = 0;
  for (let n = 0; n < N; n++) for (let f = 0; f + 1 < F; f++) for (let c = 0; c < C; c++) jump += Math.abs(mean[n]![f + 1]![c]! - mean[n]![f]![c]!);
  const flicker = jump / (N * (F - 1) * C) / Math.max(spatialStd, 0.5 * scale, 1e-8);
  const D = F * H * W * C;
  let d = 0;
  for (let i = 0; i < N; i++)
    for (let j = 0; j < N; j++) {
      if (i === j) continue;
      let q = 0;
      for (let k = 0; k < D; k++) q += (v[i * D + k]! - v[j * D + k]!) ** 2;
      d += Math.sqrt(q / D);
    }
  return { scale, temporalStd, spatialStd, flicker, diversity: d / (N * (N - 1)) };
}

describe('collapseStatistics', () => {
  it('matches the definitions computed with plain loops, and leaks no tensor', async () => {
    const shape: [number, number, number, number, number] = [3, 4, 3, 2, 2];
    const x = tf.randomNormal(shape, 0.3, 0.7, 'float32', 5);
    const expected = naiveStatistics((await x.data()) as Float32Array, shape);
    const before = tf.memory().numTensors;
    const s = await collapseStatistics(x);
    expect(tf.memory().numTensors).toBe(before);
    for (const k of ['scale', 'temporalStd', 'spatialStd', 'flicker', 'diversity'] as const) expect(s[k]).toBeCloseTo(expected[k], 4);
    expect(s.temporalRatio).toBeCloseTo(expected.temporalStd / expected.scale, 4);
    expect(s.diversityRatio).toBeCloseTo(expected.diversity / expected.scale, 4);
    expect(s).toMatchObject({ samples: 3, frames: 4, nonFinite: 0 });
    x.dispose();
  });

  it('healthy mixture samples and diverse random videos fire no check, with wide margins to the thresholds', async () => {
    for (const seed of [1, 2, 3]) {
      const s = await statsOf(() => healthy(16, seed));
      expect(collapseChecks(s)).toEqual([]);
      expect(s.temporalRatio).toBeGreaterThan(4 * DEFAULT_COLLAPSE_THRESHOLDS.staticBelow);
      expect(s.spatialRatio).toBeGreaterThan(4 * DEFAULT_COLLAPSE_THRESHOLDS.solidBelow);
      expect(s.flicker).toBeLessThan(DEFAULT_COLLAPSE_THRESHOLDS.flickerAbove / 2);
      expect(s.diversityRatio).toBeGreaterThan(10 * DEFAULT_COLLAPSE_THRESHOLDS.diversityBelow);
      // A batch as diverse as its reference does not drop.
      expect(collapseChecks(s, DEFAULT_COLLAPSE_THRESHOLDS, s.diversity)).toEqual([]);
    }
    const random = await statsOf(() => tf.randomNormal([8, 4, 8, 8, 3], 0, 1, 'float32', 2));
    expect(collapseChecks(random)).toEqual([]);
  });

  it('static videos fire `static` only; their temporal std is 0', async () => {
    const s = await statsOf(() => tf.tidy(() => freeze(healthy())));
    expect(s.temporalStd).toBeLessThan(1e-6);
    expect(collapseChecks(s)).toEqual(['static']);
  });

  it('solid-colour videos fire `solid-colour` (static ones also `static`; all-black ones also `low-diversity`)', async () => {
    // A different constant colour per sample and channel, the same in every frame.
    const solid = await statsOf(() => tf.tidy(() => tf.tile(tf.randomUniform([16, 1, 1, 1, 3], -0.8, 0.8, 'float32', 4), [1, 4, 4, 4, 1])));
    expect(solid.spatialStd).toBeLessThan(1e-6);
    expect(collapseChecks(solid)).toEqual(['static', 'solid-colour']);
    // Solid colour per frame on top of a slow drift of the colour over time: not static, not flashing.
    const drifting = await statsOf(() =>
      tf.tidy(() => {
        const colour = tf.randomUniform([16, 1, 1, 1, 3], -0.8, 0.8, 'float32', 4);
        const drift = tf.reshape(tf.mul(tf.range(0, 4), 0.04), [1, 4, 1, 1, 1]);
        return tf.tile(tf.add(colour, drift), [1, 1, 4, 4, 1]);
      }),
    );
    expect(collapseChecks(drifting)).toEqual(['solid-colour']);
    expect(drifting.flicker).toBeLessThan(DEFAULT_COLLAPSE_THRESHOLDS.flickerAbove / 2);
    const black = await statsOf(() => tf.zeros([8, 4, 4, 4, 3]));
    expect(collapseChecks(black)).toEqual(['static', 'solid-colour', 'low-diversity']);
  });

  it('flashing videos (alternating frame brightness) fire `flashing`; flashing solid frames also `solid-colour`', async () => {
    const sign = tf.tensor([1, -1, 1, -1], [1, 4, 1, 1, 1]);
    const flashing = await statsOf(() => tf.tidy(() => tf.add(healthy(), tf.mul(sign, 0.6))));
    expect(flashing.flicker).toBeGreaterThan(2 * DEFAULT_COLLAPSE_THRESHOLDS.flickerAbove);
    expect(collapseChecks(flashing)).toEqual(['flashing']);
    const strobe = await statsOf(() => tf.tidy(() => tf.tile(tf.mul(sign, 0.9), [8, 1, 4, 4, 3])));
    // Closed form: frames of +-0.9 everywhere: jumps of 1.8, scale 0.9, spatial std 0 -> 1.8 / (0.9 / 2) = 4.
    expect(strobe.flicker).toBeCloseTo(4, 4);
    expect(collapseChecks(strobe)).toEqual(['solid-colour', 'flashing', 'low-diversity']);
    sign.dispose();
  });

  it('identical samples fire `low-diversity`; samples of a single mode fire `diversity-drop` against a healthy reference', async () => {
    const identical = await statsOf(() => tf.tidy(() => tf.tile(healthy(1), [16, 1, 1, 1, 1])));
    expect(identical.diversity).toBeLessThan(1e-3);
    expect(collapseChecks(identical)).toEqual(['low-diversity']);
    const reference = (await statsOf(() => healthy(16, 1))).diversity;
    // Mode collapse: every sample from mode 0 (mean + fresh noise).
    const oneMode = await statsOf(() =>
      tf.tidy(() => tf.add(tf.tile(tf.slice(gmm.meansTensor(), [0, 0, 0, 0, 0], [1, -1, -1, -1, -1]), [16, 1, 1, 1, 1]), tf.randomNormal([16, 4, 4, 4, 3], 0, gmm.std, 'float32', 9))),
    );
    expect(collapseChecks(oneMode)).toEqual([]); // each sample still looks like a video
    expect(collapseChecks(oneMode, DEFAULT_COLLAPSE_THRESHOLDS, reference)).toEqual(['diversity-drop']);
    expect(oneMode.diversity).toBeLessThan(0.5 * reference);
  });

  it('NaN samples fire `non-finite` only; F = 1 and N = 1 leave the temporal and diversity checks out', async () => {
    const nan = await statsOf(() => tf.tidy(() => tf.where(tf.equal(tf.reshape(tf.range(0, 16 * 192), [16, 4, 4, 4, 3]), 7), tf.fill([16, 4, 4, 4, 3], NaN), healthy())));
    expect(nan.nonFinite).toBe(1);
    expect(collapseChecks(nan)).toEqual(['non-finite']);
    const images = await statsOf(() => tf.tidy(() => tf.slice(healthy(), [0, 0, 0, 0, 0], [-1, 1, -1, -1, -1])));
    expect(images.temporalStd).toBeNaN();
    expect(images.flicker).toBeNaN();
    expect(collapseChecks(images)).toEqual([]);
    const one = await statsOf(() => healthy(1));
    expect(one.diversity).toBeNaN();
    expect(collapseChecks(one, DEFAULT_COLLAPSE_THRESHOLDS, 1)).toEqual([]);
  });

  it('rejects tensors that are not [N, F, H, W, C] and bad thresholds', async () => {
    const x = tf.zeros([2, 4, 4, 3]);
    await expect(collapseStatistics(x)).rejects.toThrow(ShapeError);
    x.dispose();
    expect(() => resolveCollapseThresholds({ staticBelow: -1 })).toThrow(/thresholds\.staticBelow/);
    expect(() => resolveCollapseThresholds({ diversityDrop: 2 })).toThrow(ConfigError);
    expect(() => resolveCollapseThresholds({ typo: 1 } as never)).toThrow(/thresholds\.typo/);
    expect(COLLAPSE_CHECKS).toContain('diversity-drop');
  });
});

/** A tiny regression run (as core's trainer tests): `w, b -> (w + b) ~ [3, -1]`. */
function linearRun(steps: number, extra: Partial<TrainingConfig> = {}): { net: Network; config: TrainingConfig } {
  const net = new Network('lin', { seed: 3 });
  net.param('w', [2], constant(0));
  net.param('b', [1], zeros());
  const loss = lossTerm('mse', (ctx) => tf.mean(tf.squaredDifference(tf.add(ctx.network('model').variable('w'), ctx.network('model').variable('b')), tf.tensor1d([3, -1]))) as tf.Scalar);
  return { net, config: { seed: 0, steps, roles: { model: net }, phases: [{ role: 'model', losses: [loss], optimizer: { lr: 0.05 } }], logger: new MemoryLogger(), ...extra } };
}

/** Healthy mixture samples up to `healthyUntil` (inclusive), then static copies of them. */
function collapsingSampler(healthyUntil: number, calls: number[] = []) {
  return (_nets: Readonly<Record<string, Network>>, step: number): tf.Tensor => {
    calls.push(step);
    const x = healthy(8, 1);
    if (step <= healthyUntil) return x;
    const y = freeze(x);
    x.dispose();
    return y;
  };
}

const weightsOf = (net: Network): number[] => [...net.variable('w').dataSync(), ...net.variable('b').dataSync()];

describe('collapseWatchdog in a training run', () => {
  it('validates its options', () => {
    const sample = () => tf.zeros([2, 2, 2, 2, 1]);
    expect(() => collapseWatchdog({ every: 0, sample, action: 'stop' })).toThrow(/collapseWatchdog\.every/);
    expect(() => collapseWatchdog({ every: 1, sample, action: 'restart' as never })).toThrow(/collapseWatchdog\.action/);
    expect(() => collapseWatchdog({ every: 1, sample, action: 'stop', patience: 0 })).toThrow(/collapseWatchdog\.patience/);
    expect(() => collapseWatchdog({ every: 1, sample, action: 'stop', thresholds: { flickerAbove: NaN } })).toThrow(/thresholds\.flickerAbove/);
  });

  it('stop: samples every `every` steps and ends the run with status stopped and a reason naming the check', async () => {
    const { net, config } = linearRun(12);
    const reports: CollapseReport[] = [];
    const calls: number[] = [];
    const before = tf.memory().numTensors;
    const run = startRun({ ...config, plugins: [collapseWatchdog({ every: 2, action: 'stop', patience: 1, sample: collapsingSampler(4, calls), onCheck: (r) => reports.push(r) })] });
    const stopping: string[] = [];
    run.events$.pipe(ofType('run/stopping')).subscribe((e) => stopping.push(e.payload.reason));
    const summary = await run.result;
    expect(summary.status).toBe('stopped');
    expect(summary.step).toBe(6);
    expect(summary.stopReason).toMatch(/collapse watchdog: static at step 6/);
    expect(summary.stopReason).toMatch(/last healthy step 4/);
    expect(stopping).toEqual([summary.stopReason]);
    expect(calls).toEqual([2, 4, 6]);
    expect(reports.map((r) => [r.step, r.checks, r.healthy, r.action, r.lastGoodStep])).toEqual([
      [2, [], true, 'none', 2],
      [4, [], true, 'none', 4],
      [6, ['static'], false, 'stop', 4],
    ]);
    expect(reports[1]!.diversityReference).toBeCloseTo(reports[0]!.statistics.diversity, 6);
    for (const r of reports) expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
  });

  it('warn: logs within and after patience and lets the run complete', async () => {
    const logger = new MemoryLogger();
    const { net, config } = linearRun(10, { logger });
    const reports: CollapseReport[] = [];
    const summary = await startRun({ ...config, plugins: [collapseWatchdog({ every: 2, action: 'warn', sample: collapsingSampler(4), onCheck: (r) => reports.push(r) })] }).result;
    expect(summary.status).toBe('completed');
    expect(reports.map((r) => [r.step, r.streak, r.action])).toEqual([
      [2, 0, 'none'],
      [4, 0, 'none'],
      [6, 1, 'none'],
      [8, 2, 'warn'],
      [10, 3, 'warn'],
    ]);
    const warnings = logger.messages.filter((m) => m.level === 'warn').map((m) => m.message);
    expect(warnings.filter((m) => m.includes('collapse suspected: static at step 6'))).toHaveLength(1);
    expect(warnings.filter((m) => m.includes('sample collapse: static at step'))).toHaveLength(2);
    net.dispose();
  });

  it('rollback: aborts with CollapseError pointing at the checkpoint of the last good step (pinned against keepLast), and resuming from it works', async () => {
    const steps = 12;
    // The uninterrupted reference run.
    const ref = linearRun(steps);
    await startRun(ref.config).result;
    const expected = weightsOf(ref.net);
    ref.net.dispose();

    const out = tmp();
    const { net, config } = linearRun(steps, { outDir: out, checkpoint: { every: 2, keepLast: 2 } });
    let atStep4: number[] = [];
    const sample = collapsingSampler(4);
    const watchdog = collapseWatchdog({
      every: 2,
      action: 'rollback',
      sample: (nets, step) => {
        if (step === 4) atStep4 = weightsOf(nets['model']!);
        return sample(nets, step);
      },
    });
    const run = startRun({ ...config, plugins: [watchdog] });
    const events: StampedTrainingEvent[] = [];
    run.events$.subscribe((e) => events.push(e));
    const error = await run.result.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CollapseError);
    expect(error).toBeInstanceOf(FewstepError);
    const err = error as CollapseError;
    // Patience 2: suspected at 6, acted at 8; the last healthy samples were at step 4.
    expect(err).toMatchObject({ code: 'E_COLLAPSE', step: 8, checks: ['static'], streak: 2, lastGoodStep: 4, rollbackStep: 4, checkpointRoot: join(out, 'checkpoints') });
    expect(err.rollbackTo).toBe(join(out, 'checkpoints', 'rollback', 'step-000004'));
    expect(err.message).toMatch(/Sample collapse at step 8: static/);
    const failed = events.at(-1)!;
    expect(failed.type).toBe('run/failed');
    expect(failed.type === 'run/failed' && failed.payload.error.code).toBe('E_COLLAPSE');
    // keepLast 2 deleted step 4 when step 8 was saved; the pinned copy still verifies, with the step-4 weights.
    expect(readdirSync(join(out, 'checkpoints')).filter((n) => n.startsWith('step-')).sort()).toEqual(['step-000006', 'step-000008']);
    const pinned = await readCheckpoint(err.rollbackTo!);
    expect(pinned.step).toBe(4);
    expect(Array.from(pinned.tensors.get('weights.model.safetensors')!.tensors.get('w')!.data as Float32Array)).toEqual(atStep4.slice(0, 2));

    const resume = await resumeFromRollback(err);
    expect(resume).toEqual({ from: err.rollbackTo });
    // The collapsed checkpoints were moved aside: auto-resume can no longer pick them.
    expect(readdirSync(join(out, 'checkpoints')).filter((n) => n.startsWith('step-'))).toEqual([]);
    expect(readdirSync(join(out, 'checkpoints', 'collapsed')).sort()).toEqual(['step-000006', 'step-000008']);

    const reports: CollapseReport[] = [];
    const summary = await startRun({ ...config, resume, plugins: [collapseWatchdog({ every: 2, action: 'rollback', sample: collapsingSampler(steps), onCheck: (r) => reports.push(r) })] }).result;
    expect(summary).toMatchObject({ status: 'completed', step: steps, startStep: 4, resumedFrom: err.rollbackTo });
    expect(reports.map((r) => r.step)).toEqual([6, 8, 10, 12]);
    expect(reports.every((r) => r.healthy)).toBe(true);
    // Exact resume: the same weights as the uninterrupted run.
    expect(weightsOf(net)).toEqual(expected);
    net.dispose();
  });

  it('rollback without any healthy check: CollapseError with no checkpoint, which resumeFromRollback re-throws', async () => {
    const out = tmp();
    const { net, config } = linearRun(8, { outDir: out, checkpoint: { every: 2 } });
    const error = await startRun({ ...config, plugins: [collapseWatchdog({ every: 2, action: 'rollback', patience: 1, sample: collapsingSampler(0) })] }).result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CollapseError);
    expect(error).toMatchObject({ step: 2, lastGoodStep: null, rollbackTo: null });
    expect((error as Error).message).toMatch(/No check was healthy/);
    await expect(resumeFromRollback(error)).rejects.toBe(error);
    const other = new Error('disk full');
    await expect(resumeFromRollback(other)).rejects.toBe(other);
    expect(existsSync(join(out, 'checkpoints', 'rollback'))).toBe(false);
    net.dispose();
  });
});
