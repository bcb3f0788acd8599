import { DependencyManager, MemoryLogger, Tokens } from '@fewstep/core';
import { describe, expect, it } from 'vitest';
import { ADVERSARIAL_LOSSES, LossAdversarialModule } from './loss-adversarial.module.js';

describe('LossAdversarialModule', () => {
  it('registers every loss under its name', () => {
    const dm = DependencyManager.createRoot({ logger: new MemoryLogger() });
    dm.registerModules(LossAdversarialModule);
    const reg = dm.resolve(Tokens.LossRegistry);
    const names = [
      'adv:hinge-discriminator',
      'adv:hinge-generator',
      'adv:logistic-discriminator',
      'adv:logistic-generator',
      'adv:r1-penalty',
      'adv:adm-generator',
      'adv:adm-discriminator',
    ];
    expect(ADVERSARIAL_LOSSES.map((l) => l.name)).toEqual(names);
    for (const name of names) expect(reg.get(name).name).toBe(name);
  });
});
