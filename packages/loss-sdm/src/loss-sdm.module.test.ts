import { DependencyManager, MemoryLogger, Tokens } from '@fewstep/core';
import { describe, expect, it } from 'vitest';
import { LossSdmModule, sdmLosses } from './loss-sdm.module.js';

describe('LossSdmModule', () => {
  it('registers every loss; each resolves by name', () => {
    const dm = DependencyManager.createRoot({ logger: new MemoryLogger() });
    dm.registerModules(LossSdmModule);
    const reg = dm.resolve(Tokens.LossRegistry);
    for (const name of ['sdm:dmd', 'sdm:score-distribution-matching', 'sdm:frame-sdm', 'sdm:fake-score-denoising']) {
      expect(reg.get(name).name).toBe(name);
    }
    expect(sdmLosses.map((l) => reg.get(l.name))).toEqual([...sdmLosses]);
  });
});
