import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, type Network } from '@fewstep/core';
import { perturbZeroInitialised } from '@fewstep/backbones';
import { TINY_BATCH, odePairSource, tinyMixture, tinyTeacher } from '../testing/tiny-world.test-util.js';
import { distill, stageSteps } from '../runtime/distill.js';
import { adp, adpOptions } from './adp.recipe.js';
import { admOptions } from './adm.recipe.js';
import { dmdx, dmdxRecipe } from './dmdx.recipe.js';

const shape = tinyMixture().shape;
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'fewstep-dmdx-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function weights(net: Network): Map<string, Float32Array> {
  return new Map([...net.variables()].map(([n, v]) => [n, v.dataSync().slice() as Float32Array]));
}

function maxDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let m = 0;
  for (const [n, v] of a) v.forEach((x, i) => (m = Math.max(m, Math.abs(x - b.get(n)![i]!))));
  return m;
}

describe('recipe:dmdx (ADP then ADM)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('is ADP then ADM on half of the steps each; the split is configurable and checked', () => {
    expect(dmdx.kind).toBe('stages');
    expect(dmdx.stages.map((s) => [s.recipe.name, s.fraction])).toEqual([
      ['recipe:adp', 0.5],
      ['recipe:adm', 0.5],
    ]);
    expect(stageSteps(dmdx, 10)).toEqual([5, 5]);
    expect(stageSteps(dmdxRecipe({ adpFraction: 0.25 }), 8)).toEqual([2, 6]);
    expect(() => dmdxRecipe({ adpFraction: 1 })).toThrow(ConfigError);
    // Shared keys mean the same in both stages.
    for (const key of ['steps', 'discriminatorTaps', 'headChannels', 'lrGenerator', 'lrDiscriminator']) {
      expect(Object.keys(adpOptions.shape)).toContain(key);
      expect(Object.keys(admOptions.shape)).toContain(key);
    }
  });

  it('distills in two stages: stage directories, the student enters ADM as ADP left it, options split by stage', async () => {
    const teacher = tinyTeacher();
    perturbZeroInitialised(teacher.backbone.net, 1, 0.2);
    const pairs = odePairSource();
    const common = { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 3, data: { 'ode-pairs': pairs.source } } as const;

    const stage1 = await distill({ ...common, recipe: adp, options: { steps: 2, lambda1: 0.5 }, steps: 2 });
    const adpResult = weights(stage1.student);
    stage1.student.dispose();

    const out = tmp();
    const entering: Map<string, Float32Array>[] = [];
    const result = await distill({
      ...common,
      recipe: dmdx,
      options: { steps: 2, lambda1: 0.5, ttur: 2 },
      steps: 4,
      outDir: out,
      checkpoint: { every: 2 },
      onRun: (run, stage) => {
        expect(stage.count).toBe(2);
        expect(stage.steps).toBe(2);
        entering[stage.index] = weights(run.networks.generator!);
      },
    });
    expect(result.recipe).toBe('recipe:dmdx');
    expect(result.summaries).toHaveLength(2);
    expect(result.summaries.map((s) => [s.status, s.step])).toEqual([
      ['completed', 2],
      ['completed', 2],
    ]);
    expect(existsSync(join(out, 'stage-1-adp'))).toBe(true);
    expect(existsSync(join(out, 'stage-2-adm'))).toBe(true);
    expect(result.summaries.map((s) => s.lastCheckpoint?.startsWith(join(out, `stage-${s === result.summaries[0] ? '1-adp' : '2-adm'}`)))).toEqual([true, true]);
    // Stage 1 starts from the teacher; stage 2 from exactly what stage 1 produced (= a lone ADP run).
    const teacherWeights = weights(teacher.backbone.net);
    expect(maxDiff(entering[0]!, teacherWeights)).toBe(0);
    expect(maxDiff(entering[1]!, adpResult)).toBe(0);
    expect(maxDiff(adpResult, teacherWeights)).toBeGreaterThan(0);
    // Options: `steps` reaches both stages; `lambda1` only ADP; `ttur` only ADM; each stage's own tiny preset.
    expect(result.options.map((o) => o.steps)).toEqual([2, 2]);
    expect(result.options[0]!.lambda1).toBe(0.5);
    expect(result.options[1]!.ttur).toBe(2);
    expect('ttur' in result.options[0]!).toBe(false);
    expect('lambda1' in result.options[1]!).toBe(false);
    expect(result.options.map((o) => o.lrGenerator)).toEqual([2e-4, 5e-5]);
    expect(result.spec).toEqual({ parameterization: 'x0', sampler: 'multistep', steps: 2 });
    const final = weights(result.student);
    expect(maxDiff(final, adpResult)).toBeGreaterThan(0);
    result.student.dispose();
    pairs.dispose();
    teacher.backbone.net.dispose();
  }, 60_000);
});
