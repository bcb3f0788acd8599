/**
 * @file The pure parts of the trajectory writer that the worker pool relies on: the chunk plan of
 * every shard covers each sample exactly once (so N workers, or N shards, can neither duplicate nor
 * drop one), and the shard folder's preparation removes only the temp files of dead writers.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDirs } from '../testing/cli.test-util.js';
import { planShard, prepareShardDir } from './write-trajectories.js';

const tmp = tempDirs('fewstep-traj-plan-');

describe('planShard', () => {
  it('the chunks of all shards cover 0..n-1 exactly once, in order, at most `chunk` samples each', () => {
    for (const n of [1, 7, 10, 64, 129]) {
      for (const count of [1, 2, 3, 8]) {
        for (const chunk of [1, 3, 64]) {
          const seen: number[] = [];
          for (let index = 0; index < count; index++) {
            const p = planShard({ n, shard: { index, count }, chunk, out: '/x' });
            expect(p.lo).toBe(Math.floor((n * index) / count));
            expect(p.hi).toBe(Math.floor((n * (index + 1)) / count));
            expect(p.name).toBe(`shard-${String(index).padStart(5, '0')}-of-${String(count).padStart(5, '0')}`);
            for (const c of p.chunks) {
              expect(c.end - c.start).toBeGreaterThan(0);
              expect(c.end - c.start).toBeLessThanOrEqual(chunk);
              expect(c.file).toBe(`chunk-${String(c.start).padStart(8, '0')}-${String(c.end).padStart(8, '0')}.safetensors`);
              for (let j = c.start; j < c.end; j++) seen.push(j);
            }
          }
          expect(seen).toEqual(Array.from({ length: n }, (_, j) => j));
        }
      }
    }
  });
});

describe('prepareShardDir', () => {
  it("creates the folder and removes dead writers' temp files only", async () => {
    const out = tmp();
    const plan = planShard({ n: 4, shard: { index: 0, count: 1 }, chunk: 2, out });
    expect(await prepareShardDir(plan)).toBe(0);
    expect(existsSync(plan.dir)).toBe(true);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const stale = `${plan.chunks[0]!.file}.tmp-${dead}-0a1b2c`;
    const live = `${plan.chunks[1]!.file}.tmp-${process.ppid}-0a1b2c`;
    mkdirSync(plan.dir, { recursive: true });
    for (const f of [stale, live, plan.chunks[0]!.file, 'notes.tmp-1-ab']) writeFileSync(join(plan.dir, f), 'x');
    expect(await prepareShardDir(plan)).toBe(1);
    expect(existsSync(join(plan.dir, stale))).toBe(false);
    expect(existsSync(join(plan.dir, live))).toBe(true);
    expect(existsSync(join(plan.dir, plan.chunks[0]!.file))).toBe(true);
    expect(existsSync(join(plan.dir, 'notes.tmp-1-ab'))).toBe(true);
  });
});
