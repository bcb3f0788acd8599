import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defaultServerConditions } from 'vite';
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

/**
 * Workspace packages export `./dist` to users and `./src/index.ts` under this condition (see each
 * package.json's `exports`): tests, the typecheck, the dev `fewstep` bin and `npm run results` all
 * run the TypeScript sources, so nothing needs a build first. Vite resolves node-side (SSR) imports
 * with `ssr.resolve.conditions` and browser-side ones with `resolve.conditions`; both get it.
 */
export const SOURCE_CONDITION = '@fewstep/source';

/**
 * Guard: a test that loaded a workspace package's build output (`packages/x/dist/...`) would test
 * stale JavaScript; fail loudly instead (e.g. if the condition above stopped being applied).
 */
const sourcesOnly = {
  name: 'fewstep:sources-only',
  load(id: string): null {
    if (/[\\/](?:packages|tools|examples)[\\/][^\\/]+[\\/]dist[\\/]/.test(id) && !/[\\/]node_modules[\\/]/.test(id)) {
      throw new Error(`${id}: tests run the workspace packages' TypeScript sources, but this import resolved to a build output; check the '${SOURCE_CONDITION}' export condition in vitest.shared.ts and the package's exports map.`);
    }
    return null;
  },
};

/** The vitest project config every package uses. */
export function fewstepProject(name: string, overrides: UserWorkspaceConfig['test'] = {}): UserWorkspaceConfig {
  return defineProject({
    plugins: [sourcesOnly],
    resolve: { alias: tfjsAliases, conditions: [SOURCE_CONDITION, ...defaultClientConditions] },
    ssr: { resolve: { conditions: [SOURCE_CONDITION, ...defaultServerConditions] } },
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
