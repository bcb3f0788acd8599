/**
 * @file Recipe options from a preset and user overrides, validated by the recipe's zod schema;
 * a bad value is a ConfigError naming the field, the value and what is allowed.
 */
import { z } from 'zod';
import { ConfigError } from '@fewstep/core';
import type { AnyRecipe, DistillRecipe, RecipeOptions } from './define-recipe.js';

/** `preset` options, then `overrides`, validated (defaults are the paper's). */
export function resolveRecipeOptions<R extends RecipeOptions>(recipe: DistillRecipe<R>, preset: string | undefined, overrides: Record<string, unknown> = {}): R {
  const base = preset === undefined ? {} : presetOf(recipe, preset);
  return parseOptions(recipe.schema, { ...base, ...overrides }, recipe.name);
}

/** The named preset of a recipe (staged recipes: their own presets, then each stage's). */
export function presetOf(recipe: AnyRecipe, preset: string): Record<string, unknown> {
  const own = recipe.presets[preset];
  if (recipe.kind === 'stages') {
    const merged: Record<string, unknown> = {};
    for (const s of recipe.stages) if (s.recipe.presets[preset]) Object.assign(merged, s.recipe.presets[preset]);
    if (own === undefined && Object.keys(merged).length === 0) throw unknownPreset(recipe, preset);
    return { ...merged, ...(own ?? {}) };
  }
  if (own === undefined) throw unknownPreset(recipe, preset);
  return { ...own };
}

function unknownPreset(recipe: AnyRecipe, preset: string): ConfigError {
  const names = recipe.kind === 'stages' ? [...new Set(recipe.stages.flatMap((s) => Object.keys(s.recipe.presets)))] : Object.keys(recipe.presets);
  return new ConfigError('preset', preset, names.join(', ') || '(none)', `pick a preset of ${recipe.name}`);
}

/** Parses with a zod schema; the first issue becomes a ConfigError `field` / value / expected. */
export function parseOptions<R>(schema: z.ZodType<R>, input: unknown, where: string): R {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.map(String).join('.');
  let value: unknown = input;
  for (const k of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[k as PropertyKey];
  if (issue.code === 'unrecognized_keys') {
    const keys = (issue as { keys: string[] }).keys;
    const known = schema instanceof z.ZodObject ? Object.keys(schema.shape).join(', ') : '(see the recipe docs)';
    throw new ConfigError(`${where} options.${keys[0]}`, (input as Record<string, unknown>)[keys[0]!], `known options: ${known}`, 'check the spelling; run `fewstep distill --recipe NAME --help`');
  }
  throw new ConfigError(`${where} options${path ? '.' + path : ''}`, value, issue.message);
}
