import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fewstep, tempDirs } from '../testing/cli.test-util.js';

const tmp = tempDirs('fewstep-demo-i2v-');

describe('fewstep demo --task i2v', () => {
  it('distills the shipped image-to-video teacher and reports the conditioning frame beside teacher and student, with the conditional metrics', () => {
    const dir = tmp();
    const r = fewstep(['demo', '--task', 'i2v', '--quick', '--steps', '3', '--samples', '64', '--out', dir, '--json']);
    expect(r.stderr).not.toMatch(/Error:/);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ task: 'i2v', recipe: 'recipe:lcm', spec: expect.stringMatching(/^gmm-i2v:modes=16,frames=4/) });
    expect(out.rows.map((x: { model: string; sampler: string; nfe: number }) => `${x.model} / ${x.sampler} / ${x.nfe}`)).toEqual([
      'teacher (video DiT, I2V) / DDIM 25 / 25',
      'teacher (video DiT, I2V) / DDIM 4 / 4',
      'teacher (video DiT, I2V) / DDIM 1 / 1',
      'student (lcm) / 4 steps / 4',
      'student (lcm) / 1 step / 1',
    ]);
    // The shipped teacher follows its condition: frame 0 on the condition, frames 1.. in the modes it allows.
    expect(out.rows[0].firstFrameRmse).toBeLessThan(0.05);
    expect(out.rows[0].precision).toBeGreaterThan(0.9);
    expect(out.rows[0].modeAgreement).toBeGreaterThan(0.9);
    for (const row of out.rows) expect(Number.isFinite(row.energyDistance)).toBe(true);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).toContain('first-frame RMSE');
    // GIFs and strips: the conditioning frame, teacher DDIM 25, student 4 and 1 steps, in that order.
    expect(html.match(/data:image\/gif;base64,R0lGODlh/g)?.length).toBe(4);
    expect(html.match(/data:image\/png;base64,/g)?.length).toBe(4);
    const labels = [...html.matchAll(/<figcaption>([^<]+)<\/figcaption><img/g)].map((m) => m[1]);
    expect(labels).toEqual(['conditioning frame', 'teacher, DDIM 25', 'student (lcm), 4 steps', 'student (lcm), 1 step', 'conditioning frame', 'teacher, DDIM 25', 'student (lcm), 4 steps', 'student (lcm), 1 step']);
    expect(JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'))).toMatchObject({ task: 'i2v' });
    const bad = fewstep(['demo', '--task', 'v2v', '--out', join(dir, 'x')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--task.*v2v.*'t2v' or 'i2v'/s);
  }, 300_000);
});
