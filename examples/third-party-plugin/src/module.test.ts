import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { DependencyManager, MemoryLogger, Tokens } from '@fewstep/core';
import { BackbonesModule, VIDEO_DIT_PRESETS, VideoDiT } from '@fewstep/backbones';
import { ConsistencyLossesModule } from '@fewstep/loss-consistency';
import { LossSdmModule } from '@fewstep/loss-sdm';
import { RecipesModule, type DistillRecipe } from '@fewstep/recipes';
import { beforeAll, describe, expect, it } from 'vitest';
import { MICRO_VIDEO_DIT, microVideoDiTBackbone } from './backbone-presets.js';
import { featureMatchingLcm } from './feature-matching-lcm.recipe.js';
import { featureMatchingLoss } from './feature-matching-loss.js';
import { FeatureMatchingModule } from './module.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('FeatureMatchingModule', () => {
  it('registers the loss, the backbone and the recipe into a fresh container; each resolves by name', () => {
    const log = new MemoryLogger();
    const dm = DependencyManager.createRoot({ logger: log });
    dm.registerModules(FeatureMatchingModule);
    expect(dm.modules.map((m) => m.name)).toEqual(['fm:module']);
    expect(dm.resolve(Tokens.LossRegistry).names()).toEqual(['fm:feature-matching']);
    expect(dm.resolve(Tokens.BackboneRegistry).names()).toEqual(['fm:micro-video-dit']);
    expect(dm.resolve(Tokens.RecipeRegistry).names()).toEqual(['recipe:feature-matching-lcm']);
    expect(dm.resolve(Tokens.LossRegistry).get('fm:feature-matching')).toBe(featureMatchingLoss);
    expect(dm.resolve(Tokens.BackboneRegistry).get('fm:micro-video-dit')).toBe(microVideoDiTBackbone);
    expect(dm.resolve(Tokens.RecipeRegistry).get('recipe:feature-matching-lcm')).toBe(featureMatchingLcm);
    // A run scope sees the root's registries.
    const run = dm.createRunScope('fm-run');
    expect(run.resolve(Tokens.RecipeRegistry).get('recipe:feature-matching-lcm')).toBe(featureMatchingLcm);
    expect(() => run.resolve(Tokens.LossRegistry).get('fm:nope')).toThrow(/Unknown loss 'fm:nope'\. Known losses: 'fm:feature-matching'/);
    expect(log.messages).toEqual([]);
  });

  it("sits next to fewstep's own modules without overriding any of their names", () => {
    const log = new MemoryLogger();
    const dm = DependencyManager.createRoot({ logger: log });
    dm.registerModules(BackbonesModule, LossSdmModule, ConsistencyLossesModule, RecipesModule, FeatureMatchingModule);
    expect(log.messages.filter((m) => m.level === 'warn')).toEqual([]); // re-registration would warn
    expect(dm.resolve(Tokens.BackboneRegistry).has('backbones:video-dit')).toBe(true);
    expect(dm.resolve(Tokens.BackboneRegistry).has('fm:micro-video-dit')).toBe(true);
    expect(dm.resolve(Tokens.LossRegistry).has('consistency:consistency-distillation')).toBe(true);
    expect(dm.resolve(Tokens.RecipeRegistry).has('recipe:lcm')).toBe(true);
    const recipe = dm.resolve(Tokens.RecipeRegistry).get('recipe:feature-matching-lcm') as DistillRecipe;
    // The recipe mixes fewstep's loss with the plugin's, in one generator phase.
    expect(recipe.phases.map((p) => [p.role, p.terms.map((t) => t.loss.name)])).toEqual([['generator', ['consistency:consistency-distillation', 'fm:feature-matching']]]);
  });

  it("the registered backbone builds the `micro` preset: a VideoDiT with the preset's config, taps [B, F, H/2, W/2, 16], and fewer parameters than fewstep's tiny", () => {
    const dm = DependencyManager.createRoot({ logger: new MemoryLogger() }).registerModules(FeatureMatchingModule);
    const def = dm.resolve(Tokens.BackboneRegistry).get('fm:micro-video-dit');
    expect(Object.keys(def.presets)).toEqual(['micro']);
    const before = tf.memory().numTensors;
    const net = def.create(def.presets.micro) as VideoDiT;
    expect(net).toBeInstanceOf(VideoDiT);
    expect(net.toConfig()).toEqual({ ...MICRO_VIDEO_DIT, patchSize: [1, 2, 2] });
    expect(net.tapNames()).toEqual(['block.0', 'block.1']);
    expect(net.numParameters()).toBe(VideoDiT.numParametersOf(MICRO_VIDEO_DIT as never));
    expect(net.numParameters()).toBe(8988); // the README's figure
    expect(net.numParameters()).toBeLessThan(VideoDiT.numParametersOf(VIDEO_DIT_PRESETS.tiny));
    const out = tf.tidy(() => {
      const r = net.forward({ x: tf.ones([2, 2, 4, 4, 3]), t: tf.fill([2], 0.5) }, { taps: 'all' });
      return [r.out, r.taps['block.0']!, r.taps['block.1']!];
    });
    expect(out.map((t) => t.shape)).toEqual([[2, 2, 4, 4, 3], [2, 2, 2, 2, 16], [2, 2, 2, 2, 16]]);
    tf.dispose(out);
    net.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
