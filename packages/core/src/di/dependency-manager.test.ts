import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { DependencyManager } from './dependency-manager.js';
import { MemoryLogger } from './logger.js';
import { Tokens } from './tokens.js';
import { inject, injectable } from './index.js';
import { defineModule } from './module.js';
import { UnknownPluginError, ModuleLifecycleError } from '../errors.js';
import type { InjectionToken } from 'tsyringe';

await tf.setBackend('cpu');

describe('DependencyManager', () => {
  it('holds one registry per kind in the root scope; a run scope inherits them', () => {
    const dm = DependencyManager.createRoot({ logger: new MemoryLogger() });
    const reg = dm.resolve(Tokens.LossRegistry);
    expect(reg.kind).toBe('loss');
    const run = dm.createRunScope('run-1');
    expect(run.resolve(Tokens.LossRegistry)).toBe(reg);
    expect(run.resolve(Tokens.RunId)).toBe('run-1');
    // Two roots are independent (no module-global registry).
    expect(DependencyManager.createRoot({ logger: new MemoryLogger() }).resolve(Tokens.LossRegistry)).not.toBe(reg);
  });

  it('warns on re-register and throws on an unknown name, listing the known names', () => {
    const log = new MemoryLogger();
    const dm = DependencyManager.createRoot({ logger: log });
    const reg = dm.resolve(Tokens.BackboneRegistry);
    reg.register({ name: 'a:net', presets: {}, create: () => 1 });
    reg.register({ name: 'b:net', presets: {}, create: () => 2 });
    reg.register({ name: 'a:net', presets: {}, create: () => 3 });
    expect(log.messages).toEqual([{ level: 'warn', message: "backbone 'a:net' is already registered; overriding." }]);
    expect(reg.get('a:net').create({})).toBe(3);
    let err: unknown;
    try {
      reg.get('c:net');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnknownPluginError);
    expect((err as Error).message).toBe(
      "Unknown backbone 'c:net'. Known backbones: 'a:net', 'b:net'. Fix: check the spelling, or register it first (install the plugin package and add its module).",
    );
  });

  it('runs module lifecycles in order and names the module and hook on failure', async () => {
    const calls: string[] = [];
    const dm = DependencyManager.createRoot({ logger: new MemoryLogger() });
    const mod = (name: string) =>
      defineModule({
        name,
        register: () => void calls.push(`register ${name}`),
        initialize: async () => void calls.push(`initialize ${name}`),
        shutdown: async () => void calls.push(`shutdown ${name}`),
      });
    dm.registerModules(mod('m1'), mod('m2'));
    await dm.initializeModules();
    await dm.shutdownModules();
    expect(calls).toEqual(['register m1', 'register m2', 'initialize m1', 'initialize m2', 'shutdown m2', 'shutdown m1']);

    const bad = defineModule({ name: 'acme:broken', register: () => {}, initialize: () => { throw new Error('weights missing'); } });
    dm.registerModules(bad);
    await expect(dm.initializeModules()).rejects.toThrow(ModuleLifecycleError);
    await expect(dm.initializeModules()).rejects.toThrow("Error during call to 'initialize' in module 'acme:broken':\n  weights missing");
  });

  it('resolves classes through explicit @inject tokens; run-scoped services are per run', () => {
    const Counter = Symbol('Counter') as InjectionToken<{ n: number }>;
    @injectable()
    class RunService {
      constructor(@inject(Tokens.RunId) readonly runId: string, @inject(Tokens.Logger) readonly log: MemoryLogger) {}
    }
    const RunServiceToken = Symbol('RunService') as InjectionToken<RunService>;
    const dm = DependencyManager.createRoot({ logger: new MemoryLogger() });
    dm.registerScoped(RunServiceToken, RunService);
    dm.registerInstance(Counter, { n: 1 });
    const a = dm.createRunScope('a');
    const b = dm.createRunScope('b');
    expect(a.resolve(RunServiceToken).runId).toBe('a');
    expect(b.resolve(RunServiceToken).runId).toBe('b');
    expect(a.resolve(RunServiceToken)).toBe(a.resolve(RunServiceToken));
    expect(a.resolve(Counter)).toBe(b.resolve(Counter));
  });

  it('dispose() frees the tensors of the run, signals stop, and forbids further use', async () => {
    const dm = DependencyManager.createRoot({ logger: new MemoryLogger() });
    const before = tf.memory().numTensors;
    const run = dm.createRunScope('r');
    let stopSignals = 0;
    run.resolve(Tokens.RunStop$).subscribe(() => stopSignals++);
    const scope = run.resolve(Tokens.TensorScope);
    tf.tidy(() => {
      scope.keep(tf.ones([4, 4]));
      scope.keep(tf.variable(tf.zeros([3])));
    });
    expect(tf.memory().numTensors).toBe(before + 2);
    let disposedService = false;
    run.own({ dispose: () => void (disposedService = true) });
    await run.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(disposedService).toBe(true);
    expect(stopSignals).toBe(1);
    expect(() => run.resolve(Tokens.RunId)).toThrow(/has been disposed/);
    // The root is untouched.
    expect(dm.resolve(Tokens.LossRegistry).kind).toBe('loss');
  });

  it('stopRun() emits the per-run stop signal once, only for that run', async () => {
    const dm = DependencyManager.createRoot({ logger: new MemoryLogger() });
    const a = dm.createRunScope('a');
    const b = dm.createRunScope('b');
    const seen: string[] = [];
    a.resolve(Tokens.RunStop$).subscribe(() => seen.push('a'));
    b.resolve(Tokens.RunStop$).subscribe(() => seen.push('b'));
    a.stopRun();
    a.stopRun();
    expect(seen).toEqual(['a']);
    await a.dispose();
    await b.dispose();
    expect(seen).toEqual(['a', 'b']);
  });
});
