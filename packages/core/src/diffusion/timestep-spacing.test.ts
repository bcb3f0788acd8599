import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { flowMatchingSchedule } from './flow-matching-schedule.js';
import { continuousTimes, discreteTimesteps, lcmTimesteps, roundHalfEven, samplingGrid } from './timestep-spacing.js';
import { vpContinuousSchedule } from './vp-continuous-schedule.js';
import { vpDiscreteSchedule } from './vp-discrete-schedule.js';

const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

// Expected lists follow the formulas of diffusers' set_timesteps (scheduling_ddim.py,
// scheduling_euler_discrete.py, scheduling_dpmsolver_multistep.py, scheduling_lcm.py) and were
// cross-checked with numpy 2.4 (np.linspace(...).round(), np.arange(1000, 0, -1000/n)).
describe('diffusers timestep spacings', () => {
  it('DDIM leading, 50 steps, steps_offset 1: 981, 961, ..., 1 (SD 1.5 config)', () => {
    expect(discreteTimesteps({ numInferenceSteps: 50, spacing: 'leading', stepsOffset: 1 })).toEqual(range(50, (i) => 981 - 20 * i));
    expect(discreteTimesteps({ numInferenceSteps: 50, spacing: 'leading' })).toEqual(range(50, (i) => 980 - 20 * i));
  });

  it('DDIM trailing: 999, 979, ..., 19 for 50 steps; 999, 666, 332 for 3; 999, 856, ..., 142 for 7', () => {
    expect(discreteTimesteps({ numInferenceSteps: 50, spacing: 'trailing' })).toEqual(range(50, (i) => 999 - 20 * i));
    expect(discreteTimesteps({ numInferenceSteps: 3, spacing: 'trailing' })).toEqual([999, 666, 332]);
    expect(discreteTimesteps({ numInferenceSteps: 7, spacing: 'trailing' })).toEqual([999, 856, 713, 570, 428, 285, 142]);
    expect(discreteTimesteps({ numInferenceSteps: 1, spacing: 'trailing' })).toEqual([999]);
  });

  it('DDIM linspace: round(linspace(0, 999, 50))[::-1] = 999, 979, 958, 938, 917, 897, ..., 61, 41, 20, 0', () => {
    const ts = discreteTimesteps({ numInferenceSteps: 50, spacing: 'linspace' });
    expect(ts).toEqual(range(50, (i) => roundHalfEven((999 * (49 - i)) / 49)));
    expect(ts.slice(0, 6)).toEqual([999, 979, 958, 938, 917, 897]);
    expect(ts.slice(-4)).toEqual([61, 41, 20, 0]);
  });

  it("Euler/Heun 'linspace' keeps fractional float32 timesteps: 999, 832.5, 666, 499.5, 333, 166.5, 0 for 7", () => {
    expect(discreteTimesteps({ numInferenceSteps: 7, spacing: 'linspace', style: 'euler' })).toEqual([999, 832.5, 666, 499.5, 333, 166.5, 0]);
  });

  it('DPM-Solver multistep uses n + 1 points: linspace 999, 899, ..., 100; leading (offset 1) 901, 811, ..., 91', () => {
    expect(discreteTimesteps({ numInferenceSteps: 10, spacing: 'linspace', style: 'dpmsolver' })).toEqual([999, 899, 799, 699, 599, 500, 400, 300, 200, 100]);
    expect(discreteTimesteps({ numInferenceSteps: 10, spacing: 'leading', stepsOffset: 1, style: 'dpmsolver' })).toEqual(
      range(10, (i) => 901 - 90 * i),
    );
  });

  it('numpy rounding is half-to-even', () => {
    expect([0.5, 1.5, 2.5, -0.5, 832.5, 499.5].map(roundHalfEven)).toEqual([0, 2, 2, -0, 832, 500]);
  });

  it('LCM: skipping grid 19, 39, ..., 999 (original 50 steps), 4 steps = 999, 759, 499, 259; 1 step = 999', () => {
    expect(lcmTimesteps({ numInferenceSteps: 4 })).toEqual([999, 759, 499, 259]);
    expect(lcmTimesteps({ numInferenceSteps: 1 })).toEqual([999]);
    expect(lcmTimesteps({ numInferenceSteps: 50 })).toEqual(range(50, (i) => 999 - 20 * i));
  });

  it('invalid step counts and spacings are ConfigErrors', () => {
    expect(() => discreteTimesteps({ numInferenceSteps: 0 })).toThrow(ConfigError);
    expect(() => discreteTimesteps({ numInferenceSteps: 1001 })).toThrow(/Allowed: an integer in \[1, 1000\]/);
    expect(() => discreteTimesteps({ numInferenceSteps: 4, spacing: 'karras' as never })).toThrow(/'leading', 'trailing', 'linspace'/);
    expect(() => samplingGrid(flowMatchingSchedule(), { steps: 4, spacing: 'leading' })).toThrow(/for a continuous schedule/);
    expect(() => samplingGrid(vpDiscreteSchedule(), { steps: 4, spacing: 'uniform' })).toThrow(/for a discrete schedule/);
    expect(() => samplingGrid(vpDiscreteSchedule(), { steps: 2, timesteps: [10, 500] })).toThrow(/strictly descending/);
    expect(() => samplingGrid(vpDiscreteSchedule(), { steps: 1000, spacing: 'leading', style: 'dpmsolver' })).toThrow(/no repeated timesteps/);
  });
});

describe('continuous grids and the final alpha', () => {
  it("flow 'uniform' = linspace(1, 0, n + 1) then SD3 shift; 'diffusers-flow' = shift(linspace(1, shift(1/T), n)) + [0]", () => {
    expect(continuousTimes({ steps: 4 }).times).toEqual([1, 0.75, 0.5, 0.25]);
    const sh = (u: number) => (3 * u) / (1 + 2 * u);
    const g = continuousTimes({ steps: 4, shift: 3 });
    g.times.forEach((t, i) => expect(t).toBeCloseTo(sh(1 - i / 4), 15));
    const d = continuousTimes({ steps: 3, spacing: 'diffusers-flow', shift: 3 });
    const lo = sh(1 / 1000);
    [1, (1 + lo) / 2, lo].forEach((u, i) => expect(d.times[i]).toBeCloseTo(sh(u), 12));
    expect(d.tEnd).toBe(0);
  });

  it('a grid carries alpha/sigma at every timestep and at the end (set_alpha_to_one true -> 1, false -> abar_0)', () => {
    const s = vpDiscreteSchedule();
    const one = samplingGrid(s, { steps: 4, spacing: 'trailing' });
    expect(one.timesteps).toEqual([999, 749, 499, 249]);
    expect(one.alphas[4]).toBe(1);
    expect(one.sigmas[4]).toBe(0);
    expect(one.tEnd).toBe(-1);
    const notOne = samplingGrid(s, { steps: 4, spacing: 'trailing', setAlphaToOne: false });
    expect(notOne.alphas[4]! ** 2).toBeCloseTo(1 - 0.00085, 7);
    expect(notOne.tEnd).toBe(0);
    const f = samplingGrid(flowMatchingSchedule({ shift: 2 }), { steps: 2 });
    expect(f.timesteps).toEqual([1, (2 * 0.5) / (1 + 0.5)]);
    expect(f.alphas).toEqual([0, 1 - 2 / 3, 1]);
    const v = samplingGrid(vpContinuousSchedule(), { steps: 2, tEnd: 1e-3 });
    expect(v.timesteps[1]).toBeCloseTo(1 - 0.999 / 2, 15);
    expect(v.tEnd).toBe(1e-3);
  });
});
