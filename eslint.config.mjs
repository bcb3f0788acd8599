import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// The one-way package graph (ARCHITECTURE.md, STYLE.md G1):
//   core <- backbones, loss-* <- recipes <- tools; testing is private and may be used by anyone's tests.
export default [
  { ignores: ['**/node_modules/**', '**/dist/**', '**/.nx/**', 'examples/**/node_modules/**'] },
  {
    files: ['**/*.ts', '**/*.mts'],
    languageOptions: { parser: tseslint.parser, parserOptions: { ecmaVersion: 2022, sourceType: 'module' } },
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: 'type:core', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:core'] },
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
    files: ['**/*.ts', '**/*.mts'],
    ignores: ['packages/core/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'tsyringe', message: "Only @fewstep/core imports tsyringe: use inject / injectable / DependencyManager from '@fewstep/core'." }] },
      ],
    },
  },
];
