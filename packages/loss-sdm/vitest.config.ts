import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'loss-sdm',
    include: ['src/**/*.test.ts'],
    setupFiles: ['reflect-metadata'],
    testTimeout: 120_000,
  },
});
