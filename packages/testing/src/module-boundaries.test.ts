import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

/**
 * The one-way package graph (ARCHITECTURE.md: core <- backbones, loss-* <- recipes <- tools) is
 * enforced by `npm run lint` through @nx/enforce-module-boundaries. These tests lint imports that
 * break it and check that the rule reports them (so the lint target really fails on a violation).
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
let eslint: ESLint;

beforeAll(() => {
  // The rule reads nx's cached project graph and silently skips without it: compute it first,
  // exactly as `nx run-many -t lint` does.
  execFileSync(process.execPath, [join(repoRoot, 'node_modules/nx/dist/bin/nx.js'), 'show', 'projects'], {
    cwd: repoRoot,
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' },
    stdio: 'ignore',
  });
  eslint = new ESLint({ cwd: repoRoot });
}, 60_000);

async function lint(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(repoRoot, file) });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('module boundaries', () => {
  it('library code may not import the private testing package; tests may', async () => {
    const msgs = await lint('packages/loss-sdm/src/thing.ts', "import { seededNormal } from '@fewstep/testing';\nexport { seededNormal };\n");
    expect(msgs).toEqual([expect.stringMatching(/^no-restricted-imports: .*for \*\.test\.ts files only/)]);
    expect(await lint('packages/core/src/thing.test.ts', "import { seededNormal } from '@fewstep/testing';\nexport { seededNormal };\n")).toEqual([]);
  });

  it('core may not import any sibling', async () => {
    const msgs = await lint('packages/core/src/violation.ts', "import { x } from '@fewstep/backbones';\nexport { x };\n");
    // Reported as a tag violation or, since backbones depends on core, as a cycle: either fails lint.
    expect(msgs).toEqual([expect.stringMatching(/^@nx\/enforce-module-boundaries: (A project tagged with "type:core" can only depend on|Circular dependency between "@fewstep\/core" and "@fewstep\/backbones")/)]);
  });

  it('a backbone may not import a loss package', async () => {
    const msgs = await lint('packages/backbones/src/violation.ts', "import { x } from '@fewstep/loss-sdm';\nexport { x };\n");
    expect(msgs).toEqual([expect.stringMatching(/A project tagged with "type:backbone" can only depend on libs tagged with "type:core", "type:testing"/)]);
  });

  it('a loss may not import recipes or tools', async () => {
    const msgs = await lint('packages/loss-adversarial/src/violation.ts', "import { a } from '@fewstep/data';\nexport { a };\n");
    expect(msgs).toEqual([expect.stringMatching(/A project tagged with "type:loss" can only depend on libs tagged with "type:core", "type:testing"/)]);
  });

  it("imports of another package's files by relative path are rejected", async () => {
    // (Deep imports through the package name fail typecheck: every package's exports map has only '.'.)
    const msgs = await lint('packages/recipes/src/violation.ts', "import { x } from '../../core/src/errors.js';\nexport { x };\n");
    expect(msgs.length).toBeGreaterThan(0);
    expect(msgs[0]).toMatch(/@nx\/enforce-module-boundaries/);
  });

  it('only core imports tsyringe', async () => {
    const msgs = await lint('packages/loss-sdm/src/violation.ts', "import { container } from 'tsyringe';\nexport { container };\n");
    expect(msgs).toEqual([expect.stringMatching(/^no-restricted-imports: .*Only @fewstep\/core imports tsyringe/)]);
    expect(await lint('packages/core/src/ok.ts', "import { container } from 'tsyringe';\nexport { container };\n")).toEqual([]);
  });

  it('allowed directions lint clean', async () => {
    expect(await lint('packages/recipes/src/ok.ts', "import { Tokens } from '@fewstep/core';\nimport { x } from '@fewstep/loss-sdm';\nexport { Tokens, x };\n")).toEqual([]);
    expect(await lint('tools/cli/src/ok.ts', "import { y } from '@fewstep/recipes';\nexport { y };\n")).toEqual([]);
  });
});
