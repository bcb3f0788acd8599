import { readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI_ROOT, fewstep, tempDirs } from '../testing/cli.test-util.js';

const teacher = join(CLI_ROOT, 'assets/demo-teacher');
const tmp = tempDirs('fewstep-traj-');

describe('fewstep trajectories', () => {
  it('shards cover every sample exactly once; a re-run skips finished chunks; a lost chunk is remade bit for bit', () => {
    const out = tmp();
    // The in-process path (--workers 1); the worker pool has its own test (trajectories/worker-pool.test.ts).
    const args = ['trajectories', '--teacher', teacher, '--n', '10', '--steps', '6', '--keep', 'key', '--chunk', '3', '--workers', '1', '--out', out, '--json'];
    const a = fewstep([...args, '--shard', '0/2']);
    expect(a.code).toBe(0);
    const sa = JSON.parse(a.stdout);
    expect(sa).toMatchObject({ samples: [0, 5], written: 5, skipped: 0, workers: 1 });
    const b = fewstep([...args, '--shard', '1/2']);
    expect(b.code).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ samples: [5, 10], written: 5 });
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    expect(index.samples).toBe(10);
    expect(index.shards.map((s: { samples: number[] }) => s.samples)).toEqual([
      [0, 5],
      [5, 10],
    ]);
    const meta = JSON.parse(readFileSync(join(out, 'shard-00000-of-00002.json'), 'utf8'));
    expect(meta).toMatchObject({ keep: 'key', times: [1, 0.9651, 0.913, 0.8235, 0.6363, 0], solverSteps: 6, sampleShape: [4, 4, 4, 3], guidance: null });
    expect(meta.grid[0]).toBe(1);
    // Re-running shard 0 writes nothing; removing one chunk remakes exactly that chunk, byte-identical.
    const chunk = join(out, 'shard-00000-of-00002', meta.chunks[1]);
    const before = readFileSync(chunk);
    const mtime = statSync(join(out, 'shard-00000-of-00002', meta.chunks[0])).mtimeMs;
    const again = fewstep([...args, '--shard', '0/2']);
    expect(JSON.parse(again.stdout)).toMatchObject({ written: 0, skipped: 5 });
    expect(statSync(join(out, 'shard-00000-of-00002', meta.chunks[0])).mtimeMs).toBe(mtime);
    rmSync(chunk);
    const redo = fewstep([...args, '--shard', '0/2']);
    expect(JSON.parse(redo.stdout)).toMatchObject({ written: 2, skipped: 3 });
    expect(Buffer.compare(readFileSync(chunk), before)).toBe(0);
    const inspect = fewstep(['inspect', chunk]);
    expect(inspect.stdout).toMatch(/trajectory.*\[2, 6, 4, 4, 4, 3\]/);
  }, 300_000);

  it('documents --workers in its help and hides the internal --worker-ipc', () => {
    const r = fewstep(['trajectories', '--help']);
    expect(r.code).toBe(0);
    const help = r.stdout.replace(/\s+/g, ' ');
    expect(help).toMatch(/--workers <n> worker processes for this shard's pending chunks \(default: the CPU cores, here \d+, at most one per pending chunk; 1 = in this process\)/);
    expect(help).toMatch(/byte-identical whatever the number of workers/);
    expect(help).not.toMatch(/--worker-ipc/);
  }, 60_000);

  it('rejects a bad shard naming the allowed form', () => {
    const r = fewstep(['trajectories', '--teacher', teacher, '--n', '4', '--shard', '3/2', '--out', join(tmpdir(), 'x')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--shard.*3\/2.*0 <= I < N/s);
  }, 60_000);
});
