import type * as tf from '@tensorflow/tfjs-core';
import type { GmmVideo, NoiseSchedule, Sampler, SamplingGridOptions } from '@fewstep/core';

type Core = typeof import('@fewstep/core');

/** Solvers `fewstep sample --solver` accepts, each built from core's samplers. */
export const SOLVERS = {
  ddim: (core: Core, o: SamplingGridOptions) => core.ddimSampler(o),
  euler: (core: Core, o: SamplingGridOptions) => core.eulerSampler(o),
  heun: (core: Core, o: SamplingGridOptions) => core.heunSampler(o),
  'dpm++2m': (core: Core, o: SamplingGridOptions) => core.dpmSolverPp2mSampler(o),
} as const satisfies Record<string, (core: Core, o: SamplingGridOptions) => Sampler>;
export type SolverName = keyof typeof SOLVERS;

/** Noise schedules the analytic teacher can be sampled under. */
export const SCHEDULES = {
  vp: (core: Core) => core.vpDiscreteSchedule({ betaSchedule: 'scaled_linear' }),
  'vp-linear': (core: Core) => core.vpDiscreteSchedule({ betaSchedule: 'linear' }),
  'vp-cosine': (core: Core) => core.vpDiscreteSchedule({ betaSchedule: 'squaredcos_cap_v2' }),
  'vp-continuous': (core: Core) => core.vpContinuousSchedule(),
  flow: (core: Core) => core.flowMatchingSchedule(),
} as const satisfies Record<string, (core: Core) => NoiseSchedule>;
export type ScheduleName = keyof typeof SCHEDULES;

function allowed(o: object): string {
  return Object.keys(o)
    .map((k) => `'${k}'`)
    .join(', ');
}

export function pickSolver(core: Core, name: string, grid: SamplingGridOptions): Sampler {
  const make = (SOLVERS as Record<string, (core: Core, o: SamplingGridOptions) => Sampler>)[name];
  if (!make) throw new core.ConfigError('--solver', name, allowed(SOLVERS));
  return make(core, grid);
}

export function pickSchedule(core: Core, name: string): NoiseSchedule {
  const make = (SCHEDULES as Record<string, (core: Core) => NoiseSchedule>)[name];
  if (!make) throw new core.ConfigError('--schedule', name, allowed(SCHEDULES));
  return make(core);
}

/**
 * Parses `analytic:gmm-video:...` into the exact mixture, or `analytic:gmm-i2v:...` into the
 * image-to-video one (sampled with `conditionalMixtureDenoiser` given `--image`). Model
 * directories (teachers, distilled students) are loaded by the recipes package.
 */
export function parseAnalyticModel(core: Core, model: string): GmmVideo {
  if (!model.startsWith('analytic:')) {
    throw new core.ConfigError(
      '--model',
      model,
      "'analytic:gmm-video:modes=K,frames=F,size=S,channels=C,std=s,seed=n' or 'analytic:gmm-i2v:...'",
      'sample the exact Gaussian-mixture teacher with --model analytic:<spec>',
    );
  }
  const spec = model.slice('analytic:'.length);
  return spec.startsWith(core.GMM_I2V_PREFIX) ? core.gmmI2v(spec) : core.gmmVideo(spec);
}

export type { tf };
