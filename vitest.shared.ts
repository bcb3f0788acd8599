import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

/**
 * tfjs packages have no `exports` map: Node (and so the `fewstep` CLI) loads their CommonJS
 * `main` bundle, which registers every gradient and chained op, while vite would pick the ESM
 * `module` build, which registers neither. Tests must run what users run, so point vitest at the
 * same files Node loads.
 */
const tfjsAliases = ['@tensorflow/tfjs', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm'].map((name) => ({
  find: new RegExp(`^${name.replace('/', '\\/')}$`),
  replacement: require.resolve(name),
}));

/** The vitest project config every package uses. */
export function fewstepProject(name: string, overrides: UserWorkspaceConfig['test'] = {}): UserWorkspaceConfig {
  return defineProject({
    resolve: { alias: tfjsAliases },
    test: {
      name,
      include: ['src/**/*.test.ts'],
      setupFiles: [fileURLToPath(new URL('./vitest.setup.ts', import.meta.url))],
      testTimeout: 120_000,
      hookTimeout: 120_000,
      ...overrides,
    },
  });
}
