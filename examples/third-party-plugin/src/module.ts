/**
 * @file The plugin's one entry into fewstep: a `FewstepModule` that registers its loss, its backbone
 * preset and its recipe in the container's registries. A host opts in with
 * `dm.registerModules(FeatureMatchingModule)` (next to fewstep's own modules).
 */
import { defineModule, Tokens, type BackboneDefinition, type FewstepModule, type LossDefinition } from '@fewstep/core';
import { microVideoDiTBackbone } from './backbone-presets.js';
import { featureMatchingLcm } from './feature-matching-lcm.recipe.js';
import { featureMatchingLoss } from './feature-matching-loss.js';

/** Registers `fm:feature-matching` (loss), `fm:micro-video-dit` (backbone) and `recipe:feature-matching-lcm`. */
export const FeatureMatchingModule: FewstepModule = defineModule({
  name: 'fm:module',
  register(dm) {
    dm.resolve(Tokens.LossRegistry).register(featureMatchingLoss as LossDefinition);
    dm.resolve(Tokens.BackboneRegistry).register(microVideoDiTBackbone as BackboneDefinition);
    dm.resolve(Tokens.RecipeRegistry).register(featureMatchingLcm);
  },
});
