/**
 * P15, P16, P38: a training child is SIGKILLed at random moments (about half of them inside a
 * checkpoint save), restarted with auto-resume, and must end with exactly the weights of the
 * uninterrupted run; no kill may leave zero valid checkpoints (keepLast 1) or a checkpoint that
 * loads as valid but differs from the reference; at most one checkpoint interval of work is lost.
 * P24: SIGTERM finishes the step, commits a checkpoint, exits with PREEMPTED_EXIT_CODE.
 *
 * FEWSTEP_KILL_TESTS=500 (default 50) and FEWSTEP_SIGNAL_TESTS=100 (default 8) for longer runs.
 * To stay fast, children are pre-started (modules loaded) and released with their output
 * directory when needed, so a restart does not wait for Node and tfjs to load.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryLogger } from '../di/logger.js';
import { findLatestCheckpoint } from '../checkpoint/find-latest-checkpoint.js';
import { readCheckpoint } from '../checkpoint/read-checkpoint.js';
import { listStepDirs, stepDirName } from '../checkpoint/step-dir.js';
import { ofType } from './events.js';
import { startRun } from './trainer.js';
import { PREEMPTED_EXIT_CODE } from './plugins/graceful-shutdown.js';
import { spawnTrainChild, type TrainChild } from './fixtures/child-process.js';
import { tinyGan } from './fixtures/tiny-gan.js';
import type { ChildArgs } from './fixtures/train-child.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});
const tmp = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'fewstep-kill-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const S = 12;
const EVERY = 2;
const KILLS = Number(process.env['FEWSTEP_KILL_TESTS'] ?? 50);
const SIGNALS = Number(process.env['FEWSTEP_SIGNAL_TESTS'] ?? 8);

let seed = 2024;
const rand = (): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Children started ahead of time, waiting for "go". */
class Pool {
  readonly #ready: Promise<TrainChild>[] = [];
  readonly #all: TrainChild[] = [];
  constructor(
    readonly args: ChildArgs,
    readonly size: number,
  ) {
    for (let i = 0; i < size; i++) this.#refill();
  }
  #refill(): void {
    this.#ready.push(
      spawnTrainChild(this.args).then(async (c) => {
        this.#all.push(c);
        await c.ready;
        return c;
      }),
    );
  }
  async take(): Promise<TrainChild> {
    const c = await this.#ready.shift()!;
    this.#refill();
    return c;
  }
  close(): void {
    for (const c of this.#all) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    for (const p of this.#ready) void p.then((c) => c.proc.kill('SIGKILL'));
  }
}

/** Waits until `pred(line)` holds for a line of the child (or it exits). */
function waitLine(child: TrainChild, pred: (line: string) => boolean): Promise<string | undefined> {
  const seen = child.lines.find(pred);
  if (seen !== undefined) return Promise.resolve(seen);
  return new Promise((resolve) => {
    child.onLine((l) => pred(l) && resolve(l));
    void child.exited.then(() => resolve(undefined));
  });
}

const filesOf = (files: Record<string, { sha256: string }>): string =>
  JSON.stringify(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, e]) => [n, e.sha256]));

describe('P15/P16/P38: SIGKILL at random moments, restart, resume', () => {
  it(`${KILLS} kills: no unloadable or valid-but-wrong resume, at most one interval lost, final weights identical`, async () => {
    // 1. Reference: the uninterrupted run, every checkpoint kept.
    const refDir = nodePath.join(tmp, 'ref');
    const gan = tinyGan({ steps: S, outDir: refDir, checkpoint: { every: EVERY } });
    const run = startRun({ ...gan.config, logger: new MemoryLogger() });
    let configHash = '';
    run.events$.pipe(ofType('run/started')).subscribe((e) => (configHash = e.payload.configHash));
    await run.result;
    gan.dispose();
    const ref = new Map<number, string>();
    for (const d of await listStepDirs(nodePath.join(refDir, 'checkpoints'))) ref.set(d.step, filesOf((await readCheckpoint(d.path)).manifest.files));
    const refFinal = ref.get(S)!;

    // 2. Kill loop.
    const pool = new Pool({ backend: 'cpu', outDir: '', steps: S, every: EVERY, keepLast: 1, waitForGo: true }, 2);
    const started = Date.now();
    let kills = 0;
    let killsInSave = 0;
    let unloadable = 0;
    let wrong = 0;
    let zeroValid = 0;
    let lostCommitted = 0;
    let episodes = 0;
    let finalsEqual = 0;
    const lost: number[] = [];
    const problems: string[] = [];
    try {
      while (kills < KILLS && problems.length === 0) {
        const dir = nodePath.join(tmp, `episode-${episodes++}`);
        let lastS = 0;
        let lastC = 0;
        let killed = false;
        for (;;) {
          const child = await pool.take();
          child.go({ outDir: dir });
          const r = await waitLine(child, (l) => l.startsWith('R ') || l.startsWith('E '));
          if (r === undefined || r.startsWith('E ')) {
            unloadable++;
            problems.push(`resume failed: ${r ?? child.lines.join(' | ')} ${child.stderr.slice(-500)}`);
            child.proc.kill('SIGKILL');
            break;
          }
          const resumedAt = Number(r.slice(2));
          if (killed) {
            lost.push(lastS - resumedAt);
            if (resumedAt < lastC) lostCommitted++;
          }
          if (kills >= KILLS) {
            await child.exited;
            if (child.lines.includes('D completed')) {
              const fin = await readCheckpoint(nodePath.join(dir, 'checkpoints', stepDirName(S)));
              if (filesOf(fin.manifest.files) === refFinal) finalsEqual++;
              else problems.push(`episode ${episodes - 1}: final weights differ`);
            } else problems.push(`final child did not complete: ${child.lines.join(' | ')}`);
            break;
          }
          // Half the kills land inside a save window (right after a step that triggers a save).
          let inSave = false;
          if (rand() < 0.5) {
            const target = (Math.floor(resumedAt / EVERY) + 1) * EVERY;
            const s = await waitLine(child, (l) => l === `S ${target}`);
            if (s !== undefined) {
              await sleep(rand() * 60);
              inSave = !child.lines.includes(`C ${target}`);
            }
          } else await Promise.race([sleep(rand() * 700), child.exited]);
          if (child.proc.exitCode !== null) {
            // Finished before the kill: compare with the reference.
            if (child.lines.includes('D completed')) {
              const fin = await readCheckpoint(nodePath.join(dir, 'checkpoints', stepDirName(S)));
              if (filesOf(fin.manifest.files) === refFinal) finalsEqual++;
              else problems.push(`episode ${episodes - 1}: final weights differ`);
            } else problems.push(`child exited early: ${child.lines.join(' | ')} ${child.stderr.slice(-500)}`);
            break;
          }
          child.proc.kill('SIGKILL');
          await child.exited;
          kills++;
          if (inSave) killsInSave++;
          killed = true;
          const ss = child.numbers('S');
          const cs = child.numbers('C');
          lastS = ss.length > 0 ? ss.at(-1)! : resumedAt;
          lastC = cs.length > 0 ? cs.at(-1)! : Math.max(lastC, resumedAt);
          // P16 / P15: at least one valid checkpoint once one was committed; equal to the reference at its step.
          const latest = await findLatestCheckpoint(nodePath.join(dir, 'checkpoints'), { configHash });
          if (!latest.checkpoint) {
            if (lastC > 0) zeroValid++;
          } else if (filesOf(latest.checkpoint.manifest.files) !== ref.get(latest.checkpoint.step)) {
            wrong++;
            problems.push(`valid-but-wrong checkpoint at step ${latest.checkpoint.step}`);
          }
          for (const s of latest.skipped) if (s.problem !== 'missing-manifest') problems.push(`skipped ${s.path}: ${s.reason}`);
        }
      }
    } finally {
      pool.close();
    }
    const seconds = (Date.now() - started) / 1000;
    const hist = lost.reduce<Record<number, number>>((h, x) => ((h[x] = (h[x] ?? 0) + 1), h), {});
    console.log(
      `[P15] kills ${kills} (${killsInSave} inside a save) over ${episodes} restarted runs in ${seconds.toFixed(1)} s; ` +
        `unloadable resumes ${unloadable}; valid-but-wrong ${wrong}; zero-valid-checkpoint states ${zeroValid}; ` +
        `lost committed steps ${lostCommitted}; lost steps per kill ${JSON.stringify(hist)}; final weights identical ${finalsEqual}/${episodes}`,
    );
    expect(problems).toEqual([]);
    expect(kills).toBeGreaterThanOrEqual(KILLS);
    expect(unloadable).toBe(0);
    expect(wrong).toBe(0);
    expect(zeroValid).toBe(0);
    expect(lostCommitted).toBe(0);
    expect(Math.max(...lost)).toBeLessThanOrEqual(EVERY);
    expect(finalsEqual).toBe(episodes);
  }, Math.max(120_000, KILLS * 4_000));
});

describe('P24: SIGTERM is graceful', () => {
  it(`${SIGNALS} signals: finish the step, commit a checkpoint of it, exit ${PREEMPTED_EXIT_CODE}; a second signal exits at once`, async () => {
    const pool = new Pool({ backend: 'cpu', outDir: '', steps: 100000, every: 100000, waitForGo: true, signals: true }, 2);
    const times: number[] = [];
    const problems: string[] = [];
    let clean = 0;
    try {
      for (let i = 0; i < SIGNALS; i++) {
        const dir = nodePath.join(tmp, `sig-${i}`);
        const child = await pool.take();
        child.go({ outDir: dir });
        await waitLine(child, (l) => l.startsWith('S '));
        await sleep(rand() * 300);
        const t0 = Date.now();
        child.proc.kill('SIGTERM');
        const exit = await child.exited;
        times.push(Date.now() - t0);
        const lastS = child.numbers('S').at(-1)!;
        const latest = await findLatestCheckpoint(nodePath.join(dir, 'checkpoints'));
        if (exit.code === PREEMPTED_EXIT_CODE && child.numbers('C').at(-1) === lastS && latest.checkpoint?.step === lastS && child.lines.at(-1) === 'D stopped' && child.lines.includes('T SIGTERM')) clean++;
        else problems.push(`signal ${i}: exit ${exit.code}, last step ${lastS}, checkpoints ${child.numbers('C')}, latest ${latest.checkpoint?.step}, lines ${child.lines.slice(-3).join(' | ')}`);
      }
      // A second signal exits immediately (128 + 15); the committed checkpoints stay valid.
      const dir = nodePath.join(tmp, 'sig-twice');
      const child = await pool.take();
      child.go({ outDir: dir, every: 1 });
      await waitLine(child, (l) => l === 'C 2');
      child.proc.kill('SIGTERM');
      await waitLine(child, (l) => l.startsWith('T '));
      child.proc.kill('SIGTERM');
      const exit = await child.exited;
      expect(exit.code).toBe(128 + 15);
      const latest = await findLatestCheckpoint(nodePath.join(dir, 'checkpoints'));
      expect(latest.checkpoint?.step).toBeGreaterThanOrEqual(2);
      expect(latest.skipped.filter((s) => s.problem !== 'missing-manifest')).toEqual([]);
    } finally {
      pool.close();
    }
    times.sort((a, b) => a - b);
    const pct = (p: number): number => times[Math.min(times.length - 1, Math.floor(p * times.length))]!;
    console.log(`[P24] signals ${SIGNALS}, clean checkpoints ${clean}; signal-to-exit ms p50 ${pct(0.5)}, p99 ${pct(0.99)}`);
    expect(problems).toEqual([]);
    expect(clean).toBe(SIGNALS);
  }, Math.max(120_000, SIGNALS * 4_000));
});
