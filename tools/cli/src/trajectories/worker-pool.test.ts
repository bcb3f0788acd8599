/**
 * @file `fewstep trajectories --workers N` end to end (the real bin, the shipped demo teacher,
 * 8 samples in 4 chunks of 2, 4 solver steps): the pool's chunk files, shard JSON and index are
 * byte-identical to the in-process path's; a parent killed after its first chunk leaves no worker
 * behind and a re-run completes the shard without duplicating or dropping a sample; a failing
 * worker fails the command with its own message. The last two use the worker's test-only hook
 * `FEWSTEP_TRAJECTORIES_TEST_FAULT` (`fail@<j>` / `hang@<j>`, see chunk-worker.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI_ROOT, fewstep, tempDirs } from '../testing/cli.test-util.js';

const teacher = join(CLI_ROOT, 'assets/demo-teacher');
const tmp = tempDirs('fewstep-traj-pool-');
const SHARD = 'shard-00000-of-00001';
const args = (out: string, workers: number): string[] => ['trajectories', '--teacher', teacher, '--n', '8', '--steps', '4', '--keep', 'key', '--chunk', '2', '--workers', String(workers), '--out', out, '--json'];
const CHUNKS = ['chunk-00000000-00000002.safetensors', 'chunk-00000002-00000004.safetensors', 'chunk-00000004-00000006.safetensors', 'chunk-00000006-00000008.safetensors'];

/** Every file of the run, by relative path: the chunk files, the shard JSON and index.json. */
function files(out: string): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const f of readdirSync(out).sort()) if (f.endsWith('.json')) m.set(f, readFileSync(join(out, f)));
  for (const f of readdirSync(join(out, SHARD)).sort()) m.set(`${SHARD}/${f}`, readFileSync(join(out, SHARD, f)));
  return m;
}

/** The worker pids the parent announces on stderr. */
function workerPids(stderr: string): number[] {
  const m = /trajectories: 2 workers \(pids (\d+), (\d+), backend wasm, 1 thread each\)/.exec(stderr);
  return m ? [Number(m[1]), Number(m[2])] : [];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let reference: Map<string, Buffer>;

describe('fewstep trajectories --workers', () => {
  beforeAll(() => {
    const out = tmp();
    const r = fewstep(args(out, 1));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ samples: [0, 8], written: 8, skipped: 0, workers: 1 });
    expect(r.stderr).not.toMatch(/workers \(pids/);
    reference = files(out);
  }, 120_000);

  it('2 workers write byte-identical chunk files, shard JSON and index to the in-process run', () => {
    const out = tmp();
    const r = fewstep(args(out, 2));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ samples: [0, 8], chunks: CHUNKS, written: 8, skipped: 0, workers: 2 });
    // Two worker processes on the parent's backend, one progress line per finished chunk up to 8/8.
    expect(workerPids(r.stderr)).toHaveLength(2);
    expect(r.stderr.match(/^trajectories: \d+\/8$/gm)).toEqual(['trajectories: 2/8', 'trajectories: 4/8', 'trajectories: 6/8', 'trajectories: 8/8']);
    const got = files(out);
    expect([...got.keys()]).toEqual([...reference.keys()]);
    expect([...got.keys()].filter((k) => k.endsWith('.safetensors'))).toEqual(CHUNKS.map((c) => `${SHARD}/${c}`));
    for (const [k, bytes] of reference) expect(Buffer.compare(got.get(k)!, bytes), k).toBe(0);
    const index = JSON.parse(got.get('index.json')!.toString('utf8'));
    expect(index).toMatchObject({ samples: 8, shards: [{ file: `${SHARD}.json`, samples: [0, 8], chunks: CHUNKS }] });
  }, 120_000);

  it('a parent killed after its first chunk stops its workers; a re-run completes the shard, no sample duplicated or dropped', async () => {
    const out = tmp();
    // The worker that takes samples 6..7 hangs, so the shard cannot finish before the kill.
    const child = spawn(process.execPath, [join(CLI_ROOT, 'bin/fewstep.js'), ...args(out, 2)], {
      env: { ...process.env, FEWSTEP_BACKEND: 'wasm', FEWSTEP_TRAJECTORIES_TEST_FAULT: 'hang@7' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    const shardDir = join(out, SHARD);
    const chunkFiles = (): string[] => (existsSync(shardDir) ? readdirSync(shardDir).filter((f) => f.endsWith('.safetensors')) : []);
    const deadline = Date.now() + 90_000;
    while (chunkFiles().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(chunkFiles().length).toBeGreaterThan(0);
    const pids = workerPids(stderr);
    expect(pids).toHaveLength(2);
    child.kill('SIGTERM');
    const { code } = await closed;
    expect(code).toBe(143);
    expect(stderr).toMatch(/interrupted by SIGTERM: stopped 2 trajectory workers/);
    // No orphans: the parent waited for both workers before exiting.
    expect(pids.filter(alive)).toEqual([]);
    const left = chunkFiles();
    expect(left.length).toBeLessThan(4);
    expect(left).not.toContain(CHUNKS[3]);
    expect(existsSync(join(out, `${SHARD}.json`))).toBe(false);

    const again = fewstep(args(out, 2));
    expect(again.code, again.stderr).toBe(0);
    const r = JSON.parse(again.stdout);
    expect(r.written + r.skipped).toBe(8);
    expect(r.skipped).toBe(2 * left.length);
    const got = files(out);
    // Exactly the reference's files (no temp file left by a killed worker), byte for byte.
    expect([...got.keys()]).toEqual([...reference.keys()]);
    for (const [k, bytes] of reference) expect(Buffer.compare(got.get(k)!, bytes), k).toBe(0);
    const ids = CHUNKS.flatMap((c) => {
      const header = got.get(`${SHARD}/${c}`)!;
      const n = Number(header.readBigUInt64LE(0));
      const meta = JSON.parse(header.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
      const [a, b] = meta['index']!.data_offsets;
      return Array.from(new Int32Array(header.buffer.slice(header.byteOffset + 8 + n + a, header.byteOffset + 8 + n + b)));
    });
    expect(ids).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  }, 180_000);

  it("a failing worker fails the command with the worker's message and stops the other worker", () => {
    const out = tmp();
    const r = fewstep(args(out, 2), { FEWSTEP_TRAJECTORIES_TEST_FAULT: 'fail@3' });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /fewstep: trajectory worker [01] \(pid \d+\) failed on chunk-00000002-00000004\.safetensors \(samples 2\.\.3\): injected test failure \(FEWSTEP_TRAJECTORIES_TEST_FAULT=fail@3\)/,
    );
    expect(workerPids(r.stderr).filter(alive)).toEqual([]);
    expect(existsSync(join(out, SHARD, CHUNKS[1]!))).toBe(false);
    expect(existsSync(join(out, `${SHARD}.json`))).toBe(false);
    expect(existsSync(join(out, 'index.json'))).toBe(false);
  }, 120_000);
});
