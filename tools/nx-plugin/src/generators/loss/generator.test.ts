import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logger, readJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import ts from 'typescript';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import lossGenerator from './generator.cjs';

/**
 * `npx nx g @fewstep/tools:loss <name>` on an in-memory nx workspace: the files it writes, their
 * key contents, that every generated TypeScript file parses, and that the generated package.json
 * stays the same shape as the repository's own loss packages (packages/loss-sdm).
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../..');
const readRepo = (file: string): string => readFileSync(join(repoRoot, file), 'utf8');

let tree: Tree;
const read = (file: string): string => tree.read(file, 'utf-8') ?? '';

beforeEach(() => {
  tree = createTreeWithEmptyWorkspace();
  tree.write('.changeset/config.json', JSON.stringify({ fixed: [['@fewstep/core', '@fewstep/loss-sdm']], linked: [] }));
  tree.write('tsconfig.build.json', JSON.stringify({ files: [], references: [{ path: './packages/core/tsconfig.build.json' }] }));
  tree.write('LICENSE', 'Apache License, Version 2.0 (test copy)\n');
});

/** TypeScript's syntactic diagnostics of a generated file (a quote or `*\/` in an option must not break it). */
function syntaxErrors(file: string): string[] {
  const out = ts.transpileModule(read(file), { fileName: file, reportDiagnostics: true, compilerOptions: { module: ts.ModuleKind.NodeNext, target: ts.ScriptTarget.ES2022 } });
  return (out.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe('@fewstep/tools:loss, a new family', () => {
  it('writes the package, the loss files and the changeset, and lists the package where the workspace lists packages', async () => {
    const before = new Set(tree.listChanges().map((c) => c.path));
    const callback = await lossGenerator(tree, { name: 'demo-l2', equation: 'Demo Eq. 1', description: 'A demo squared error.' });
    const created = tree
      .listChanges()
      .filter((c) => !before.has(c.path))
      .map((c) => c.path)
      .sort();
    expect(created).toEqual([
      '.changeset/demo-l2.md',
      'packages/loss-demo-l2/LICENSE',
      'packages/loss-demo-l2/README.md',
      'packages/loss-demo-l2/api-extractor.json',
      'packages/loss-demo-l2/package.json',
      'packages/loss-demo-l2/src/demo-l2-loss.test.ts',
      'packages/loss-demo-l2/src/demo-l2-loss.ts',
      'packages/loss-demo-l2/src/demo-l2-options.ts',
      'packages/loss-demo-l2/src/index.ts',
      'packages/loss-demo-l2/src/loss-demo-l2.module.test.ts',
      'packages/loss-demo-l2/src/loss-demo-l2.module.ts',
      'packages/loss-demo-l2/tsconfig.build.json',
      'packages/loss-demo-l2/vitest.config.ts',
    ]);
    const pkg = readJson(tree, 'packages/loss-demo-l2/package.json');
    expect(pkg.name).toBe('@fewstep/loss-demo-l2');
    expect(pkg.nx.tags).toEqual(['type:loss']);
    expect(Object.keys(pkg.peerDependencies)).toEqual(expect.arrayContaining(['@fewstep/core', '@tensorflow/tfjs-core']));
    expect(pkg.devDependencies['@fewstep/testing']).toBe('*');
    expect(read('packages/loss-demo-l2/LICENSE')).toBe(read('LICENSE'));

    const loss = read('packages/loss-demo-l2/src/demo-l2-loss.ts');
    expect(loss).toContain("export const demoL2Loss = defineLoss<DemoL2Options, DemoL2Inputs>({");
    expect(loss).toContain("name: 'demo-l2:demo-l2',");
    expect(loss).toContain("equation: 'Demo Eq. 1',");
    expect(loss).toContain(' * Equation: Demo Eq. 1');
    expect(loss).toContain("requires: ['generator', 'teacher'],");
    expect(loss).toContain("trains: 'generator',");
    expect(loss).toContain("from './demo-l2-options.js';");
    const options = read('packages/loss-demo-l2/src/demo-l2-options.ts');
    expect(options).toContain('export interface DemoL2Options {');
    expect(options).toContain("throw new ConfigError('reduction'");
    const test = read('packages/loss-demo-l2/src/demo-l2-loss.test.ts');
    expect(test).toContain("import { describeLossConformance, expectTensorsClose, finiteDifferenceCheck, seededNormal } from '@fewstep/testing';");
    expect(test).toContain('describeLossConformance<DemoL2Options, DemoL2Inputs>(demoL2Loss, {');
    const module = read('packages/loss-demo-l2/src/loss-demo-l2.module.ts');
    expect(module).toContain('export const LossDemoL2Module: FewstepModule = defineModule({');
    expect(module).toContain("name: 'demo-l2:module',");
    expect(module).toContain('dm.resolve(Tokens.LossRegistry)');
    const index = read('packages/loss-demo-l2/src/index.ts');
    for (const name of ['demoL2Loss', 'DEMO_L2_DEFAULTS', 'validateDemoL2Options', 'type DemoL2Options', 'type DemoL2Inputs', 'LossDemoL2Module']) expect(index).toContain(name);
    expect(index).not.toContain('export *');
    expect(read('packages/loss-demo-l2/vitest.config.ts')).toContain("fewstepProject('loss-demo-l2')");
    expect(read('packages/loss-demo-l2/README.md')).toContain('| `demo-l2:demo-l2` | Demo Eq. 1 | generator |');
    expect(read('.changeset/demo-l2.md')).toBe('---\n"@fewstep/loss-demo-l2": minor\n---\n\nNew package @fewstep/loss-demo-l2 with the demo-l2:demo-l2 loss: A demo squared error.\n');

    expect(readJson(tree, '.changeset/config.json').fixed).toEqual([['@fewstep/core', '@fewstep/loss-sdm', '@fewstep/loss-demo-l2']]);
    expect(readJson(tree, 'tsconfig.build.json').references).toEqual([{ path: './packages/core/tsconfig.build.json' }, { path: './packages/loss-demo-l2/tsconfig.build.json' }]);

    const info = vi.spyOn(logger, 'info').mockImplementation(() => undefined);
    await callback();
    expect(info.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(/npm install[\s\S]*npx vitest run --project loss-demo-l2/);
    info.mockRestore();
  });

  it('every generated TypeScript file parses, even with quotes, backslashes and comment ends in the free-text options', async () => {
    await lossGenerator(tree, { name: 'tricky', equation: "Eq. 3 (x's \\ \"y\" */ | z)", description: "It's a */ test." });
    const files = tree
      .listChanges()
      .map((c) => c.path)
      .filter((p) => p.startsWith('packages/') && p.endsWith('.ts'));
    expect(files.length).toBe(7); // index, module, module test, options, loss, loss test, vitest.config.ts
    for (const file of files) expect(syntaxErrors(file), file).toEqual([]);
    expect(read('packages/loss-tricky/src/tricky-loss.ts')).toContain("equation: 'Eq. 3 (x\\'s \\\\ \"y\" */ | z)',");
    expect(readJson(tree, 'packages/loss-tricky/package.json').description).toBe('The tricky losses for fewstep (tricky:tricky).');
  });

  it("the generated package.json, tsconfig.build.json, api-extractor.json and vitest.config.ts have the shape of the repository's packages/loss-sdm", async () => {
    await lossGenerator(tree, { name: 'demo-l2' });
    const generated = readJson(tree, 'packages/loss-demo-l2/package.json');
    const lossSdm = JSON.parse(readRepo('packages/loss-sdm/package.json'));
    const packageSpecific = (p: Record<string, unknown>) => ({ ...p, name: '<name>', description: '<description>', repository: { ...(p.repository as object), directory: '<dir>' } });
    expect(packageSpecific(generated)).toEqual(packageSpecific(lossSdm));
    expect(Object.keys(generated)).toEqual(Object.keys(lossSdm)); // same key order too
    expect(JSON.parse(read('packages/loss-demo-l2/tsconfig.build.json'))).toEqual(JSON.parse(readRepo('packages/loss-sdm/tsconfig.build.json')));
    expect(JSON.parse(read('packages/loss-demo-l2/api-extractor.json'))).toEqual(JSON.parse(readRepo('packages/loss-sdm/api-extractor.json')));
    expect(read('packages/loss-demo-l2/vitest.config.ts').replace('loss-demo-l2', 'loss-sdm')).toBe(readRepo('packages/loss-sdm/vitest.config.ts'));
  });
});

describe('@fewstep/tools:loss, an existing family', () => {
  it('adds the loss files and a changeset to packages/loss-<family>/ and leaves the package files alone', async () => {
    tree.write('packages/loss-acme/package.json', JSON.stringify({ name: '@fewstep/loss-acme', version: '0.3.0' }));
    tree.write('packages/loss-acme/src/index.ts', "export { a } from './a.js';\n");
    const snapshot = new Map(tree.listChanges().map((c) => [c.path, c.content?.toString('utf-8')]));
    const callback = await lossGenerator(tree, { name: 'hinge-l1', family: 'acme', trains: 'discriminator', equation: 'ADM Eq. 8' });
    const changed = tree
      .listChanges()
      .filter((c) => snapshot.get(c.path) !== c.content?.toString('utf-8'))
      .map((c) => c.path)
      .sort();
    expect(changed).toEqual(['.changeset/hinge-l1.md', 'packages/loss-acme/src/hinge-l1-loss.test.ts', 'packages/loss-acme/src/hinge-l1-loss.ts', 'packages/loss-acme/src/hinge-l1-options.ts']);
    expect(read('packages/loss-acme/src/index.ts')).toBe("export { a } from './a.js';\n");
    expect(readJson(tree, 'packages/loss-acme/package.json')).toEqual({ name: '@fewstep/loss-acme', version: '0.3.0' });
    const loss = read('packages/loss-acme/src/hinge-l1-loss.ts');
    expect(loss).toContain("name: 'acme:hinge-l1',");
    expect(loss).toContain("requires: ['discriminator', 'teacher'],");
    expect(loss).toContain("trains: 'discriminator',");
    expect(loss).toContain('export const hingeL1Loss =');
    expect(read('.changeset/hinge-l1.md')).toContain('"@fewstep/loss-acme": minor\n---\n\nNew loss acme:hinge-l1:');
    const info = vi.spyOn(logger, 'info').mockImplementation(() => undefined);
    await callback();
    const log = info.mock.calls.map((c) => String(c[0])).join('\n');
    expect(log).toContain("export { hingeL1Loss, type HingeL1Inputs } from './hinge-l1-loss.js';");
    expect(log).toContain('register hingeL1Loss');
    info.mockRestore();
  });

  it('skipChangeset writes no changeset', async () => {
    await lossGenerator(tree, { name: 'demo-l2', skipChangeset: true });
    expect(tree.exists('.changeset/demo-l2.md')).toBe(false);
    expect(tree.exists('packages/loss-demo-l2/src/demo-l2-loss.ts')).toBe(true);
  });
});

describe('@fewstep/tools:loss, bad input', () => {
  it('names the field, the value, what is allowed and the fix', async () => {
    await expect(lossGenerator(tree, { name: 'Demo_L2' })).rejects.toThrow(/^Invalid name: "Demo_L2"\. Expected a kebab-case name/);
    await expect(lossGenerator(tree, { name: 'loss-demo' })).rejects.toThrow(/Use demo: the package becomes packages\/loss-demo\//);
    await expect(lossGenerator(tree, { name: 'ok', family: 'Bad Family' })).rejects.toThrow(/^Invalid family: "Bad Family"/);
    await expect(lossGenerator(tree, { name: 'ok', trains: 'fake-score' })).rejects.toThrow(/^Invalid trains: "fake-score"\. Expected a camelCase role/);
    await lossGenerator(tree, { name: 'twice' });
    await expect(lossGenerator(tree, { name: 'twice' })).rejects.toThrow(/packages\/loss-twice\/src\/twice-loss\.ts exists: pick another name/);
  });

  it('normalizeOptions derives the names the templates use', () => {
    expect(lossGenerator.normalizeOptions(tree, { name: 'frame-sdm', family: 'sdm' })).toMatchObject({
      lossName: 'sdm:frame-sdm',
      packageName: '@fewstep/loss-sdm',
      packageRoot: 'packages/loss-sdm',
      className: 'FrameSdm',
      propertyName: 'frameSdm',
      constantName: 'FRAME_SDM',
      moduleName: 'LossSdmModule',
      trains: 'generator',
      requires: ['generator', 'teacher'],
      newPackage: true,
    });
  });
});
