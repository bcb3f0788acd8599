import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@fewstep/core';
import { liveTeacher, maxDelta, tempDirs, weights, type Weights } from '../testing/recipe-harness.test-util.js';
import { TINY_BATCH, odePairSource, tinyMixture } from '../testing/tiny-world.test-util.js';
import { distill, stageSteps } from '../runtime/distill.js';
import { adp, adpOptions } from './adp.recipe.js';
import { admOptions } from './adm.recipe.js';
import { dmdx, dmdxRecipe } from './dmdx.recipe.js';

const shape = tinyMixture().shape;
const tmp = tempDirs('fewstep-dmdx-');

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
    const teacher = liveTeacher();
    const pairs = odePairSource();
    const common = { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 3, data: { 'ode-pairs': pairs.source } } as const;

    const stage1 = await distill({ ...common, recipe: adp, options: { steps: 2, lambda1: 0.5 }, steps: 2 });
    const adpResult = weights(stage1.student);
    stage1.student.dispose();

    const out = tmp();
    const entering: Weights[] = [];
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
    expect(maxDelta(entering[0]!, teacherWeights)).toBe(0);
    expect(maxDelta(entering[1]!, adpResult)).toBe(0);
    expect(maxDelta(adpResult, teacherWeights)).toBeGreaterThan(0);
    // Options: `steps` reaches both stages; `lambda1` only ADP; `ttur` only ADM; each stage's own tiny preset.
    expect(result.options.map((o) => o.steps)).toEqual([2, 2]);
    expect(result.options[0]!.lambda1).toBe(0.5);
    expect(result.options[1]!.ttur).toBe(2);
    expect('ttur' in result.options[0]!).toBe(false);
    expect('lambda1' in result.options[1]!).toBe(false);
    expect(result.options.map((o) => o.lrGenerator)).toEqual([2e-4, 5e-5]);
    expect(result.spec).toEqual({ parameterization: 'x0', sampler: 'multistep', steps: 2 });
    const final = weights(result.student);
    expect(maxDelta(final, adpResult)).toBeGreaterThan(0);
    result.student.dispose();
    pairs.dispose();
    teacher.backbone.net.dispose();
  }, 60_000);
});
