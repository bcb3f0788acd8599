/**
 * `fewstep distill --config` mirrors run-distill's `teacherFit` (init, overrides, condDropout,
 * imageNoise next to steps / lr / backbone / preset / batchSize): a YAML config with them runs
 * (the fit uses them, the log says so), the text table of an image-to-video run shows first-frame
 * RMSE and mode agreement (equal to the --json values), a t2v table does not, and a misspelt or
 * ill-typed key is refused naming its full path.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI_ROOT, fewstep, tempDirs } from '../testing/cli.test-util.js';
import { distillConfigSchema, metricsTable } from './distill.js';

const tmp = tempDirs('fewstep-distill-config-');
const SPEC = 'gmm-i2v:modes=4,frames=4,size=4,channels=3,std=0.2,seed=3';
const INIT = join(CLI_ROOT, 'assets/demo-teacher-i2v');

function config(dir: string, teacherFit: string[]): string {
  const path = join(dir, 'distill.yaml');
  writeFileSync(path, ['recipe: lcm', `teacher: "analytic:${SPEC}"`, 'preset: tiny', 'batch: 4', 'teacherFit:', ...teacherFit.map((l) => `  ${l}`), 'evalSteps: [1]', 'evalSamples: 8', 'options:', '  steps: 2', ''].join('\n'));
  return path;
}

describe('fewstep distill --config teacherFit', () => {
  it('accepts init / overrides / condDropout / imageNoise; the i2v table shows first-frame RMSE and mode agreement', () => {
    const dir = tmp();
    // init from the shipped I2V teacher with 2 of its 4 blocks (overrides): every variable of the smaller net is loaded.
    const cfg = config(dir, ['steps: 2', 'batchSize: 4', 'lr: 0.001', 'backbone: video-dit', 'preset: tiny', `init: "${INIT}"`, 'overrides:', '  depth: 2', 'condDropout: 0.2', 'imageNoise: 0.05']);
    const out = join(dir, 'run');
    const r = fewstep(['distill', '--config', cfg, '--steps', '1', '--out', out]);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/teacher initialised from .*demo-teacher-i2v \(\d+ variables; 0 new\)/);
    expect(r.stderr).toMatch(/condition dropout 0\.2, image noise 0\.05/);
    const fit = JSON.parse(readFileSync(join(out, 'teacher', 'model.json'), 'utf8'));
    expect(fit.backbone.config.depth).toBe(2);
    expect(fit.provenance.fit).toMatchObject({ init: INIT, overrides: { depth: 2 }, condDropout: 0.2, imageNoise: 0.05 });
    const lines = r.stdout.split('\n');
    const head = lines.findIndex((l) => l.startsWith('student steps'));
    expect(lines[head]).toMatch(/energy distance {2}first-frame RMSE {2}mode agreement {2}ms\/sample/);
    const cells = lines[head + 1]!.trim().split(/\s+/);
    expect(cells).toHaveLength(10);

    // The same run's --json metrics are what the table prints.
    const j = fewstep(['distill', '--config', cfg, '--steps', '1', '--out', join(dir, 'run-json'), '--json']);
    expect(j.code).toBe(0);
    const m = JSON.parse(j.stdout).metrics[0];
    expect(metricsTable([m])[1]!.trim().split(/\s+/).slice(7, 9)).toEqual([m.firstFrameRmse.toFixed(4), m.modeAgreement.toFixed(3)]);
    expect(Number(cells[7])).toBeGreaterThan(0);
    expect(Number(cells[8])).toBeGreaterThanOrEqual(0);
    expect(Number(cells[8])).toBeLessThanOrEqual(1);
  }, 120_000);

  it('a t2v table has no i2v columns', () => {
    const t2v = { steps: 1, nfe: 1, msPerSample: 1.5, modeCoverage: 0.5, precision: 0.25, totalVariation: 0.5, spreadRatio: 1, energyDistance: 0.125 };
    const table = metricsTable([t2v]);
    expect(table[0]).toBe('student steps  NFE  coverage  precision     TV  spread  energy distance  ms/sample');
    expect(table[1]!.trim().split(/\s+/)).toEqual(['1', '1', '0.50', '0.250', '0.500', '1.00', '0.1250', '1.50']);
    const i2v = metricsTable([{ ...t2v, firstFrameRmse: 0.0625, modeAgreement: 0.75 }]);
    expect(i2v[1]!.trim().split(/\s+/)).toEqual(['1', '1', '0.50', '0.250', '0.500', '1.00', '0.1250', '0.0625', '0.750', '1.50']);
  });

  it('refuses a misspelt teacherFit key naming its full path and the known keys, and an ill-typed value', () => {
    const dir = tmp();
    const r = fewstep(['distill', '--config', config(dir, ['steps: 2', 'condDropot: 0.2']), '--steps', '1', '--out', join(dir, 'a')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/teacherFit\.condDropot.*0\.2.*known keys of teacherFit: .*condDropout, imageNoise/s);
    const bad = fewstep(['distill', '--config', config(dir, ['imageNoise: gaussian']), '--steps', '1', '--out', join(dir, 'b')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/teacherFit\.imageNoise.*gaussian.*'lognormal'/s);
    // The schema mirrors run-distill's TeacherFitOptions (also checked at compile time in distill.ts).
    expect(distillConfigSchema.safeParse({ teacherFit: { imageNoise: 'lognormal', condDropout: 0, overrides: { hiddenDim: 16 }, init: 'x' } }).success).toBe(true);
    expect(distillConfigSchema.safeParse({ teacherFit: { condDropout: 1.5 } }).success).toBe(false);
  }, 60_000);
});
