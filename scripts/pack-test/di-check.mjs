#!/usr/bin/env node
/**
 * Packaging test, project 1 (see ../pack-test.sh): @fewstep/core's dependency injection from the
 * published build. Classes are wired with explicit `@inject(token)` (no decorator metadata); this
 * applies the decorators as TypeScript's `experimentalDecorators` output does (`__param(0,
 * inject(...))`, then `injectable()`), then resolves a run-scoped service in two run scopes.
 */
import { DependencyManager, inject, injectable, MemoryLogger, Tokens } from '@fewstep/core';

class RunService {
  constructor(runId, log) {
    this.runId = runId;
    this.log = log;
  }
}
inject(Tokens.RunId)(RunService, undefined, 0);
inject(Tokens.Logger)(RunService, undefined, 1);
injectable()(RunService);

const logger = new MemoryLogger();
const dm = DependencyManager.createRoot({ logger });
const token = Symbol('RunService');
dm.registerScoped(token, RunService);
const a = dm.createRunScope('run-a');
const b = dm.createRunScope('run-b');
const checks = [
  [a.resolve(token).runId === 'run-a', "run scope 'run-a' injects its run id"],
  [b.resolve(token).runId === 'run-b', "run scope 'run-b' injects its run id"],
  [a.resolve(token) === a.resolve(token), 'a scoped service is one instance per run scope'],
  [a.resolve(token).log === logger, 'the root logger is injected'],
];
await a.dispose();
await b.dispose();
const failed = checks.filter(([ok]) => !ok).map(([, what]) => what);
if (failed.length > 0) {
  console.error(`di-check: FAILED: ${failed.join('; ')}`);
  process.exit(1);
}
console.log(`di-check: OK (${checks.length} checks: explicit @inject through the published @fewstep/core)`);
