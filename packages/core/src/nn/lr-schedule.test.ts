import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { constantLr, warmupConstant, warmupCosine } from './lr-schedule.js';

describe('learning-rate schedules', () => {
  it('constant and linear warm-up then constant (lr(0) = 0, as diffusers)', () => {
    expect(constantLr(0.1)(12345)).toBe(0.1);
    const s = warmupConstant({ lr: 1e-3, warmupSteps: 4 });
    expect([0, 1, 2, 3, 4, 100].map(s)).toEqual([0, 0.25e-3, 0.5e-3, 0.75e-3, 1e-3, 1e-3]);
  });

  it('warm-up then cosine to minLr, flat after totalSteps', () => {
    const s = warmupCosine({ lr: 1, warmupSteps: 10, totalSteps: 110, minLr: 0.1 });
    expect(s(5)).toBeCloseTo(0.5, 12);
    expect(s(10)).toBeCloseTo(1, 12);
    expect(s(60)).toBeCloseTo(0.1 + 0.9 * 0.5, 12); // halfway: cos(pi/2) = 0
    expect(s(110)).toBeCloseTo(0.1, 12);
    expect(s(500)).toBeCloseTo(0.1, 12);
    for (let t = 11; t < 110; t++) expect(s(t)).toBeLessThan(s(t - 1));
  });

  it('rejects invalid options with a ConfigError', () => {
    expect(() => warmupCosine({ lr: 1, warmupSteps: 10, totalSteps: 5 })).toThrow(ConfigError);
    expect(() => warmupCosine({ lr: 1, warmupSteps: 1, totalSteps: 5, minLr: 2 })).toThrow(ConfigError);
    expect(() => warmupConstant({ lr: -1, warmupSteps: 1 })).toThrow(ConfigError);
  });
});
