import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// The one-way package graph (ARCHITECTURE.md, STYLE.md G1):
//   core <- backbones, loss-* <- recipes <- tools; testing is private and may be used by anyone's tests.
const noTsyringe = { name: 'tsyringe', message: "Only @fewstep/core imports tsyringe: use inject / injectable / DependencyManager from '@fewstep/core'." };
const noTestingInLibrary = { name: '@fewstep/testing', message: '@fewstep/testing is private and for *.test.ts files only.' };

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', '**/.nx/**', 'examples/**/node_modules/**'] },
  {
    files: ['**/*.ts', '**/*.mts', '**/*.cts'],
    languageOptions: { parser: tseslint.parser, parserOptions: { ecmaVersion: 2022, sourceType: 'module' } },
  },
  {
    // Package sources (configs such as vitest.config.ts may import the shared root config).
    files: ['packages/*/src/**/*.ts', 'tools/*/src/**/*.ts'],
    languageOptions: { parser: tseslint.parser, parserOptions: { ecmaVersion: 2022, sourceType: 'module' } },
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          // The CLI loads packages lazily (`fewstep --help` stays instant) and statically in modules
          // that are themselves lazily loaded: that mix is intended.
          checkDynamicDependenciesExceptions: ['@fewstep/*'],
          depConstraints: [
            { sourceTag: 'type:core', onlyDependOnLibsWithTags: ['type:testing'] },
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'type:backbone', onlyDependOnLibsWithTags: ['type:core', 'type:testing'] },
            { sourceTag: 'type:loss', onlyDependOnLibsWithTags: ['type:core', 'type:testing'] },
            { sourceTag: 'type:recipe', onlyDependOnLibsWithTags: ['type:core', 'type:backbone', 'type:loss', 'type:testing'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:core', 'type:backbone', 'type:loss', 'type:recipe', 'type:tool', 'type:testing'] },
          ],
        },
      ],
    },
  },
  {
    // Only core touches the DI library (STYLE.md G6): plugins use core's re-exported inject/injectable.
    // The private testing package is for tests only: library code never imports it.
    files: ['packages/*/src/**/*.ts', 'tools/*/src/**/*.ts'],
    ignores: ['packages/testing/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [noTsyringe, noTestingInLibrary] }] },
  },
  { files: ['packages/core/src/**/*.ts'], rules: { 'no-restricted-imports': ['error', { paths: [noTestingInLibrary] }] } },
  { files: ['packages/*/src/**/*.test.ts', 'tools/*/src/**/*.test.ts'], ignores: ['packages/core/**'], rules: { 'no-restricted-imports': ['error', { paths: [noTsyringe] }] } },
  { files: ['packages/core/src/**/*.test.ts'], rules: { 'no-restricted-imports': 'off' } },
  {
    // Out-of-tree plugins (examples/) meet fewstep the way a user does: entry points only, no private testing kit.
    files: ['examples/*/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [noTsyringe, { name: '@fewstep/testing', message: '@fewstep/testing is private to the fewstep repository: a plugin outside it cannot install it.' }],
          patterns: [{ group: ['@fewstep/*/src', '@fewstep/*/src/*', '**/packages/*/src/*', '**/tools/*/src/*'], message: 'Import fewstep packages through their entry points (@fewstep/core, ...).' }],
        },
      ],
    },
  },
  {
    // The nx generator is plain CommonJS (nx 23 on Node 20 loads no TypeScript generator without swc / ts-node).
    files: ['tools/nx-plugin/**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', console: 'readonly', process: 'readonly' } },
    rules: { 'no-undef': 'error', 'no-unused-vars': 'error' },
  },
];
