/**
 * @file The built-in recipes, in the order the docs list them.
 */
import type { AnyRecipe } from './runtime/define-recipe.js';
import { lcm } from './recipes/lcm.recipe.js';

export const BUILTIN_RECIPES: readonly AnyRecipe[] = [lcm];

/** A built-in recipe by name (`lcm` or `recipe:lcm`). */
export function builtinRecipe(name: string): AnyRecipe | undefined {
  const full = name.startsWith('recipe:') ? name : `recipe:${name}`;
  return BUILTIN_RECIPES.find((r) => r.name === full);
}
