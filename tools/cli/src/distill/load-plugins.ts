/**
 * @file `fewstep distill --plugin <module>`: third-party plugins on the command line. Each module
 * is imported (a package name resolved from the working directory, or a file path), every
 * exported `FewstepModule` (`{ name, register(dm) }`, from `defineModule`) is registered into a
 * fresh container, and the recipes they put in its `RecipeRegistry` become selectable with
 * `--recipe` next to the built-in ones. Losses and backbones the modules register are available to
 * those recipes the same way they are in code.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, DependencyManager, Tokens, type FewstepModule } from '@fewstep/core';
import type { AnyRecipe } from '@fewstep/recipes';

/** What `--plugin` modules contributed. */
export interface LoadedPlugins {
  /** The modules found, in load order. */
  readonly modules: readonly FewstepModule[];
  /** The recipes the modules registered (full names, e.g. `recipe:feature-matching-lcm`). */
  readonly recipes: readonly AnyRecipe[];
  /** The container the modules were registered into (its registries hold their losses and backbones). */
  readonly dm: DependencyManager;
}

function isFewstepModule(value: unknown): value is FewstepModule {
  return typeof value === 'object' && value !== null && typeof (value as { name?: unknown }).name === 'string' && typeof (value as { register?: unknown }).register === 'function';
}

function isRecipe(value: unknown): value is AnyRecipe {
  const kind = (value as { kind?: unknown } | null)?.kind;
  return typeof value === 'object' && value !== null && (kind === 'recipe' || kind === 'stages');
}

/** Resolves a `--plugin` spec to an importable URL: a file path (relative to `cwd`) or a package name. */
export function resolvePluginSpecifier(spec: string, cwd: string = process.cwd()): string {
  const looksLikePath = spec.startsWith('.') || isAbsolute(spec);
  if (looksLikePath) {
    const file = resolve(cwd, spec);
    if (!existsSync(file)) throw new ConfigError('--plugin', spec, 'an existing module file or an installed package name', `no file at ${file}`);
    return pathToFileURL(file).href;
  }
  try {
    return pathToFileURL(createRequire(join(cwd, 'package.json')).resolve(spec)).href;
  } catch {
    throw new ConfigError('--plugin', spec, 'a package installed where fewstep runs, or a path to a module file', `npm i ${spec} (in ${cwd}), or pass ./path/to/plugin.js`);
  }
}

/** Imports every `--plugin` module and registers the `FewstepModule`s it exports into a fresh container. */
export async function loadPlugins(specs: readonly string[], cwd: string = process.cwd()): Promise<LoadedPlugins> {
  const dm = DependencyManager.createRoot();
  const modules: FewstepModule[] = [];
  for (const spec of specs) {
    const url = resolvePluginSpecifier(spec, cwd);
    let exports: Record<string, unknown>;
    try {
      exports = (await import(url)) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError('--plugin', spec, 'an importable ES module', `importing it failed: ${(e as Error).message.split('\n')[0]}`);
    }
    const found = Object.values(exports).filter(isFewstepModule);
    if (found.length === 0) {
      throw new ConfigError('--plugin', spec, 'a module exporting at least one FewstepModule (defineModule({ name, register }))', `its exports are: ${Object.keys(exports).join(', ') || '(none)'}`);
    }
    modules.push(...found);
  }
  dm.registerModules(...modules);
  const recipes = dm.resolve(Tokens.RecipeRegistry).list().filter(isRecipe);
  return { modules, recipes, dm };
}
