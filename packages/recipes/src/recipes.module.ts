/**
 * @file Registers fewstep's recipes in the recipe registry (`fewstep distill --recipe NAME` looks
 * names up there; third-party modules add theirs the same way).
 */
import { defineModule, Tokens, type FewstepModule } from '@fewstep/core';
import { BUILTIN_RECIPES } from './builtin-recipes.js';

/** Registers every built-in recipe under `recipe:<name>`. */
export const RecipesModule: FewstepModule = defineModule({
  name: 'recipes:module',
  register: (dm) => {
    const reg = dm.resolve(Tokens.RecipeRegistry);
    for (const recipe of BUILTIN_RECIPES) reg.register(recipe);
  },
});
