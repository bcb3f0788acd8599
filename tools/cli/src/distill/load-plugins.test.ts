import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@fewstep/core';
import { CLI_ROOT, fewstep, tempDirs } from '../testing/cli.test-util.js';
import { loadPlugins, resolvePluginSpecifier } from './load-plugins.js';
import { findRecipe } from './run-distill.js';

const tmp = tempDirs('fewstep-plugin-');
/** The out-of-tree example plugin (examples/third-party-plugin), loaded the way a user's would be. */
const EXAMPLE = resolve(CLI_ROOT, '../../examples/third-party-plugin/src/index.ts');
const TEACHER = join(CLI_ROOT, 'assets/demo-teacher');
const DATA = 'gmm-video:modes=16,frames=4,size=4,channels=3,std=0.25,seed=7,weights=unequal';

describe('--plugin: third-party FewstepModules on the command line', () => {
  it('registers the modules a plugin exports and makes its recipes selectable next to the built-in ones', async () => {
    const loaded = await loadPlugins([EXAMPLE]);
    expect(loaded.modules.map((m) => m.name)).toEqual(['fm:module']);
    expect(loaded.recipes.map((r) => r.name)).toEqual(['recipe:feature-matching-lcm']);
    expect(findRecipe('feature-matching-lcm', loaded.recipes).name).toBe('recipe:feature-matching-lcm');
    expect(findRecipe('recipe:feature-matching-lcm', loaded.recipes)).toBe(loaded.recipes[0]);
    expect(findRecipe('lcm', loaded.recipes).name).toBe('recipe:lcm');
    expect(() => findRecipe('feature-matching-lcm')).toThrow(/--plugin/);
  });

  it('bad plugin specs are typed errors naming the spec', async () => {
    const dir = tmp();
    expect(() => resolvePluginSpecifier('./nope.js', dir)).toThrow(ConfigError);
    expect(() => resolvePluginSpecifier('fewstep-plugin-that-is-not-installed', dir)).toThrow(/npm i fewstep-plugin-that-is-not-installed/);
    const empty = join(dir, 'empty.mjs');
    writeFileSync(empty, 'export const answer = 42;\n');
    await expect(loadPlugins([empty])).rejects.toThrow(/FewstepModule.*answer/s);
  });

  it('`fewstep distill --plugin PATH --recipe <its recipe>` trains it and writes a student', () => {
    const dir = tmp();
    const out = join(dir, 'run');
    const r = fewstep(['distill', '--plugin', EXAMPLE, '--recipe', 'feature-matching-lcm', '--teacher', TEACHER, '--data', DATA, '--steps', '2', '--batch', '4', '--out', out, '--json']);
    expect(r.stderr).not.toMatch(/Error:/);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ recipe: 'recipe:feature-matching-lcm', steps: 2 });
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(existsSync(join(out, 'student', 'model.json'))).toBe(true);
    const bad = fewstep(['distill', '--plugin', './does-not-exist.js', '--recipe', 'lcm', '--teacher', TEACHER, '--steps', '1', '--out', join(dir, 'bad')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--plugin/);
  });
});
