#!/usr/bin/env node
// The `fewstep` command. Workspace packages ship TypeScript sources; tsx compiles them on the fly
// with the repository's compiler options (legacy decorators for tsyringe's explicit @inject).
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv);
