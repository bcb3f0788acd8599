import { DependencyManager, MemoryLogger, Tokens, UnknownPluginError } from '@fewstep/core';
import { describe, expect, it } from 'vitest';
import { ConsistencyLossesModule, consistencyLossDefinitions } from './loss-consistency.module.js';

describe('ConsistencyLossesModule', () => {
  it('registers every loss of the package; each resolves by name', () => {
    const dm = DependencyManager.createRoot({ logger: new MemoryLogger() });
    dm.registerModules(ConsistencyLossesModule);
    const registry = dm.resolve(Tokens.LossRegistry);
    const names = [
      'consistency:consistency-distillation',
      'consistency:motion-consistency',
      'consistency:mixed-trajectory',
      'consistency:trajectory',
      'consistency:ode-pair-regression',
    ];
    expect(consistencyLossDefinitions.map((l) => l.name)).toEqual(names);
    for (const name of names) expect(registry.get(name).name).toBe(name);
    expect(() => registry.get('consistency:pseudo-hubr')).toThrow(UnknownPluginError);
  });
});
