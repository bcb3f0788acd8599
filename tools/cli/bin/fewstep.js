#!/usr/bin/env node
// The `fewstep` command.
// - Installed from npm (no `src/` shipped): runs the compiled JavaScript in ../dist; no TypeScript tooling.
// - In a checkout (../src/main.ts exists): runs the TypeScript sources through tsx (a root dev
//   dependency) with the CLI's compiler options (legacy decorators for tsyringe's explicit @inject),
//   and resolves the workspace packages to their sources too (the `@fewstep/source` export
//   condition, ./source-condition.mjs), so nothing needs `npm run build` first.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const checkout = existsSync(fileURLToPath(new URL('../src/main.ts', import.meta.url)));
let main;
if (checkout) {
  const { register } = await import('node:module');
  const { register: registerTsx } = await import('tsx/esm/api');
  registerTsx({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
  register('./source-condition.mjs', import.meta.url);
  ({ main } = await import('../src/main.ts'));
} else {
  ({ main } = await import('../dist/main.js'));
}
process.exitCode = await main(process.argv);
