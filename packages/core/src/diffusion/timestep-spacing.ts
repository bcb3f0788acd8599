/**
 * @file Sampling grids: the model times a sampler visits, with diffusers-compatible spacings.
 *
 * Discrete schedules follow diffusers' `set_timesteps` (spacings "linspace", "leading",
 * "trailing" are Table 2 of Lin et al. 2024, "Common Diffusion Noise Schedules and Sample Steps
 * are Flawed"); the three families differ slightly and are reproduced by `style`:
 * - `'ddim'` (DDIMScheduler, also DDPM/PNDM): linspace `round(linspace(0, T-1, n))[::-1]`;
 *   leading `arange(n) * (T // n) + steps_offset`, reversed; trailing `round(arange(T, 0, -T/n)) - 1`.
 * - `'euler'` (EulerDiscreteScheduler, HeunDiscreteScheduler): as `'ddim'` but linspace is NOT
 *   rounded (fractional timesteps, float32).
 * - `'dpmsolver'` (DPMSolverMultistepScheduler): linspace `round(linspace(0, T-1, n+1))[::-1][:-1]`;
 *   leading `arange(n+1) * (T // (n+1))`, reversed, last dropped, `+ steps_offset`; trailing as `'ddim'`.
 * Rounding is numpy's (half to even).
 *
 * Continuous schedules: `'uniform'` is `t_i = 1 - i/n` (HunyuanVideo's / AccVideo's
 * `linspace(1, 0, n + 1)`), then the flow schedule's shift; `'diffusers-flow'` reproduces
 * FlowMatchEulerDiscreteScheduler: `u = linspace(1, shift(1/T), n)`, `t = shift(u)`, then 0.
 */
import { ConfigError } from '../errors.js';
import { FlowMatchingSchedule } from './flow-matching-schedule.js';
import type { NoiseSchedule } from './noise-schedule.js';

export type DiscreteSpacing = 'leading' | 'trailing' | 'linspace';
export type DiffusersSpacingStyle = 'ddim' | 'euler' | 'dpmsolver';
export type ContinuousSpacing = 'uniform' | 'diffusers-flow';
export type TimestepSpacing = DiscreteSpacing | ContinuousSpacing;

const DISCRETE_SPACINGS: readonly DiscreteSpacing[] = ['leading', 'trailing', 'linspace'];
const CONTINUOUS_SPACINGS: readonly ContinuousSpacing[] = ['uniform', 'diffusers-flow'];
const STYLES: readonly DiffusersSpacingStyle[] = ['ddim', 'euler', 'dpmsolver'];
const quote = (xs: readonly string[]) => xs.map((x) => `'${x}'`).join(', ');

/** numpy's `round` (half to even). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function checkSteps(steps: number, max: number, field = 'steps'): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > max) {
    throw new ConfigError(field, steps, `an integer in [1, ${max}]`);
  }
}

/** `np.arange(start, stop, step)` for a negative step: `start + i * step` while `> stop`. */
function arangeDown(start: number, stop: number, step: number): number[] {
  const n = Math.ceil((stop - start) / step);
  return Array.from({ length: Math.max(0, n) }, (_, i) => start + i * step);
}

function linspace(a: number, b: number, n: number): number[] {
  if (n === 1) return [a];
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? b : a + ((b - a) * i) / (n - 1)));
}

export interface DiscreteTimestepsOptions {
  numInferenceSteps: number;
  /** @default 1000 */
  numTrainTimesteps?: number;
  /** @default 'leading' (DDIMScheduler's default) */
  spacing?: DiscreteSpacing;
  /** Added to leading timesteps (Stable Diffusion configs use 1). @default 0 */
  stepsOffset?: number;
  /** Which diffusers scheduler's `set_timesteps` to reproduce (see the file comment). @default 'ddim' */
  style?: DiffusersSpacingStyle;
}

/** Descending discrete timesteps exactly as diffusers' `set_timesteps` computes them. */
export function discreteTimesteps(options: DiscreteTimestepsOptions): number[] {
  const T = options.numTrainTimesteps ?? 1000;
  const n = options.numInferenceSteps;
  const spacing = options.spacing ?? 'leading';
  const offset = options.stepsOffset ?? 0;
  const style = options.style ?? 'ddim';
  checkSteps(n, T, 'numInferenceSteps');
  if (!DISCRETE_SPACINGS.includes(spacing)) throw new ConfigError('spacing', spacing, quote(DISCRETE_SPACINGS));
  if (!STYLES.includes(style)) throw new ConfigError('style', style, quote(STYLES));
  if (!Number.isInteger(offset) || offset < 0) throw new ConfigError('stepsOffset', offset, 'an integer >= 0');
  if (spacing === 'trailing') return arangeDown(T, 0, -T / n).map((t) => roundHalfEven(t) - 1);
  if (style === 'dpmsolver') {
    if (spacing === 'linspace') return linspace(0, T - 1, n + 1).map(roundHalfEven).reverse().slice(0, n);
    const ratio = Math.floor(T / (n + 1));
    return Array.from({ length: n + 1 }, (_, i) => i * ratio).reverse().slice(0, n).map((t) => t + offset);
  }
  if (spacing === 'linspace') {
    const ts = linspace(0, T - 1, n).reverse();
    return style === 'euler' ? ts.map(Math.fround) : ts.map(roundHalfEven);
  }
  const ratio = Math.floor(T / n);
  return Array.from({ length: n }, (_, i) => i * ratio + offset).reverse();
}

/**
 * LCMScheduler's timesteps (Luo et al. 2023; diffusers `LCMScheduler.set_timesteps`): the
 * `originalSteps`-step skipping grid `c = T / originalSteps`, `[c-1, 2c-1, ..., T-1]`, reversed, then
 * `n` entries at `floor(linspace(0, originalSteps, n, endpoint=False))`. 4 steps: 999, 759, 499, 259.
 */
export function lcmTimesteps(options: { numInferenceSteps: number; originalSteps?: number; numTrainTimesteps?: number }): number[] {
  const T = options.numTrainTimesteps ?? 1000;
  const orig = options.originalSteps ?? 50;
  const n = options.numInferenceSteps;
  checkSteps(orig, T, 'originalSteps');
  checkSteps(n, orig, 'numInferenceSteps');
  const c = Math.floor(T / orig);
  const origin = Array.from({ length: orig }, (_, i) => (i + 1) * c - 1).reverse();
  return Array.from({ length: n }, (_, i) => origin[Math.floor((i * orig) / n)] as number);
}

/**
 * Descending continuous times and the end time.
 * @param shift applied after spacing (flow matching); 1 = none
 */
export function continuousTimes(options: {
  steps: number;
  spacing?: ContinuousSpacing;
  shift?: number;
  /** End time of the grid. @default 0 */
  tEnd?: number;
  /** Used by 'diffusers-flow' (its sigma_min = 1/T). @default 1000 */
  numTrainTimesteps?: number;
}): { times: number[]; tEnd: number } {
  const n = options.steps;
  const spacing = options.spacing ?? 'uniform';
  const shift = options.shift ?? 1;
  const tEnd = options.tEnd ?? 0;
  checkSteps(n, 100_000);
  if (!CONTINUOUS_SPACINGS.includes(spacing)) throw new ConfigError('spacing', spacing, quote(CONTINUOUS_SPACINGS));
  if (!(tEnd >= 0 && tEnd < 1)) throw new ConfigError('tEnd', tEnd, 'a time in [0, 1)');
  const sh = (u: number) => (shift * u) / (1 + (shift - 1) * u);
  if (spacing === 'uniform') {
    return { times: Array.from({ length: n }, (_, i) => sh(1 - ((1 - tEnd) * i) / n)), tEnd: sh(tEnd) };
  }
  const T = options.numTrainTimesteps ?? 1000;
  return { times: linspace(1, sh(1 / T), n).map(sh), tEnd: 0 };
}

/** The times a sampler visits: the denoiser is called at `timesteps`; the grid ends at index `n`. */
export interface SamplingGrid {
  /** `n` model times, descending. */
  readonly timesteps: readonly number[];
  /** `n + 1` alphas: at each timestep, then at the end point. */
  readonly alphas: readonly number[];
  /** `n + 1` sigmas: at each timestep, then at the end point. */
  readonly sigmas: readonly number[];
  /** Model time of the end point; -1 is the virtual clean end of a discrete schedule (alpha 1, sigma 0). */
  readonly tEnd: number;
}

export interface SamplingGridOptions {
  steps: number;
  /** Discrete: 'leading' | 'trailing' | 'linspace'; continuous: 'uniform' | 'diffusers-flow'. */
  spacing?: TimestepSpacing;
  /** Discrete only. @default 0 */
  stepsOffset?: number;
  /** Discrete only: which diffusers scheduler's spacing. @default 'ddim' */
  style?: DiffusersSpacingStyle;
  /**
   * Discrete only: end at alpha = 1, sigma = 0 (diffusers `set_alpha_to_one = True`, Euler/DPM
   * `final_sigmas_type = "zero"`), or at `alphas_cumprod[0]` (`False`, `"sigma_min"`). @default true
   */
  setAlphaToOne?: boolean;
  /** Continuous only: end time. @default 0 */
  tEnd?: number;
  /** Explicit descending model times; overrides `spacing` and `steps`. */
  timesteps?: readonly number[];
}

/**
 * Builds the {@link SamplingGrid} of `schedule`. The flow-matching schedule's `shift` is applied to
 * continuous spacings. Defaults: discrete 'leading' (DDIM), continuous 'uniform'.
 */
export function samplingGrid(schedule: NoiseSchedule, options: SamplingGridOptions): SamplingGrid {
  const discrete = schedule.time.kind === 'discrete';
  let timesteps: number[];
  let tEnd: number;
  if (options.timesteps !== undefined) {
    timesteps = [...options.timesteps];
    if (timesteps.length === 0) throw new ConfigError('timesteps', timesteps, 'a non-empty descending list');
    tEnd = discrete ? -1 : (options.tEnd ?? 0);
  } else if (discrete) {
    const spacing = options.spacing ?? 'leading';
    if (!(DISCRETE_SPACINGS as readonly string[]).includes(spacing)) {
      throw new ConfigError('spacing', spacing, `${quote(DISCRETE_SPACINGS)} for a discrete schedule`);
    }
    timesteps = discreteTimesteps({
      numInferenceSteps: options.steps,
      numTrainTimesteps: schedule.time.kind === 'discrete' ? schedule.time.numTrainTimesteps : 1000,
      spacing: spacing as DiscreteSpacing,
      stepsOffset: options.stepsOffset ?? 0,
      style: options.style ?? 'ddim',
    });
    tEnd = -1;
  } else {
    const spacing = options.spacing ?? 'uniform';
    if (!(CONTINUOUS_SPACINGS as readonly string[]).includes(spacing)) {
      throw new ConfigError('spacing', spacing, `${quote(CONTINUOUS_SPACINGS)} for a continuous schedule`);
    }
    const shift = schedule instanceof FlowMatchingSchedule ? schedule.shift : 1;
    const grid = continuousTimes({ steps: options.steps, spacing: spacing as ContinuousSpacing, shift, tEnd: options.tEnd ?? 0 });
    timesteps = grid.times;
    tEnd = grid.tEnd;
  }
  for (let i = 1; i < timesteps.length; i++) {
    if (!((timesteps[i] as number) < (timesteps[i - 1] as number))) {
      throw new ConfigError(
        options.timesteps !== undefined ? 'timesteps' : 'steps',
        options.timesteps !== undefined ? timesteps : options.steps,
        options.timesteps !== undefined ? 'a strictly descending list of model times' : 'a step count whose grid has no repeated timesteps',
        options.timesteps !== undefined ? undefined : 'use fewer steps or another spacing',
      );
    }
  }
  const alphas = timesteps.map((t) => schedule.alpha(t));
  const sigmas = timesteps.map((t) => schedule.sigma(t));
  if (discrete && tEnd === -1) {
    const toOne = options.setAlphaToOne ?? true;
    alphas.push(toOne ? 1 : schedule.alpha(0));
    sigmas.push(toOne ? 0 : schedule.sigma(0));
    if (!toOne) tEnd = 0;
  } else {
    alphas.push(schedule.alpha(tEnd));
    sigmas.push(schedule.sigma(tEnd));
  }
  return { timesteps, alphas, sigmas, tEnd };
}
