/**
 * @file The built-in recipes, in the order the docs list them.
 */
import type { AnyRecipe } from './runtime/define-recipe.js';
import { accVideo } from './recipes/accvideo.recipe.js';
import { adm } from './recipes/adm.recipe.js';
import { adp } from './recipes/adp.recipe.js';
import { dmdx } from './recipes/dmdx.recipe.js';
import { avdm2 } from './recipes/avdm2.recipe.js';
import { dmd2 } from './recipes/dmd2.recipe.js';
import { accVideoAdm } from './recipes/hybrid-accvideo-adm.recipe.js';
import { lcm } from './recipes/lcm.recipe.js';
import { mcm } from './recipes/mcm.recipe.js';
import { osv, osvStage1, osvStage2 } from './recipes/osv.recipe.js';

export const BUILTIN_RECIPES: readonly AnyRecipe[] = [avdm2, accVideo, adp, adm, dmdx, osvStage1, osvStage2, osv, mcm, dmd2, lcm, accVideoAdm];

/** A built-in recipe by name (`lcm` or `recipe:lcm`). */
export function builtinRecipe(name: string): AnyRecipe | undefined {
  const full = name.startsWith('recipe:') ? name : `recipe:${name}`;
  return BUILTIN_RECIPES.find((r) => r.name === full);
}
