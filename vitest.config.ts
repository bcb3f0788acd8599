import { defineConfig } from 'vitest/config';

// One vitest project per package (each package's own vitest.config.ts), the example plugin included.
export default defineConfig({
  test: {
    projects: ['packages/*', 'tools/*', 'examples/*'],
    // Kernel and training tests are CPU heavy: two cores, two forks.
    pool: 'forks',
    maxWorkers: 2,
  },
});
