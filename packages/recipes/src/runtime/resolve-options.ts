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
    // The unknown key may sit in a nested object (issue.path leads there): name its full path and
    // list the keys of that nested schema, not the top level's.
    let nested: unknown = schema;
    for (const k of issue.path) nested = nested instanceof z.ZodObject ? unwrap((nested.shape as Record<string, unknown>)[String(k)]) : undefined;
    const known = nested instanceof z.ZodObject ? Object.keys(nested.shape).join(', ') : '(see the recipe docs)';
    const field = [...issue.path.map(String), keys[0]!].join('.');
    throw new ConfigError(`${where} options.${field}`, (value as Record<string, unknown> | undefined)?.[keys[0]!], `known options${path ? ' of ' + path : ''}: ${known}`, 'check the spelling; run `fewstep distill --recipe NAME --help`');
  }
  throw new ConfigError(`${where} options${path ? '.' + path : ''}`, value, issue.message);
}

/** Strips optional / default / nullable wrappers to reach an object schema. */
function unwrap(t: unknown): unknown {
  let cur = t;
  for (let i = 0; i < 8 && cur && typeof (cur as { unwrap?: unknown }).unwrap === 'function' && !(cur instanceof z.ZodObject); i++) cur = (cur as { unwrap(): unknown }).unwrap();
  return cur;
}
