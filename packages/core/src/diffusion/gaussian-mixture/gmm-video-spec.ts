/**
 * @file The `gmm-video:` dataset spec string, e.g.
 * `gmm-video:modes=16,frames=8,size=8,channels=3,std=0.05,seed=7[,weights=unequal|equal]`.
 */
import { ConfigError } from '../../errors.js';

export type MixtureWeights = 'unequal' | 'equal';

export interface GmmVideoSpec {
  /** K, number of mixture components (videos). */
  readonly modes: number;
  /** F, frames per video. */
  readonly frames: number;
  /** H = W, frame side in pixels/latent cells. */
  readonly size: number;
  /** C, channels. */
  readonly channels: number;
  /** s, the isotropic standard deviation of every component. */
  readonly std: number;
  /** Seed of the means and weights. */
  readonly seed: number;
  /** @default 'unequal' */
  readonly weights: MixtureWeights;
}

export const GMM_VIDEO_PREFIX = 'gmm-video:';
const REQUIRED = ['modes', 'frames', 'size', 'channels', 'std', 'seed'] as const;
const KEYS = [...REQUIRED, 'weights'] as const;
const LIMITS: Record<'modes' | 'frames' | 'size' | 'channels', [number, number]> = {
  modes: [1, 4096],
  frames: [1, 1024],
  size: [1, 1024],
  channels: [1, 64],
};
const EXAMPLE = 'gmm-video:modes=16,frames=8,size=8,channels=3,std=0.05,seed=7';

/** Parses a `gmm-video:` spec; every problem is a {@link ConfigError} naming the field. */
export function parseGmmVideoSpec(spec: string): GmmVideoSpec {
  if (typeof spec !== 'string' || !spec.startsWith(GMM_VIDEO_PREFIX)) {
    throw new ConfigError('spec', spec, `a string starting with '${GMM_VIDEO_PREFIX}'`, `e.g. '${EXAMPLE}'`);
  }
  const body = spec.slice(GMM_VIDEO_PREFIX.length).trim();
  const fields = new Map<string, string>();
  for (const part of body.length === 0 ? [] : body.split(',')) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (eq < 0) throw new ConfigError(`gmm-video.${key}`, part, 'key=value', `e.g. '${EXAMPLE}'`);
    if (!(KEYS as readonly string[]).includes(key)) {
      throw new ConfigError(`gmm-video.${key}`, part, `one of the keys ${KEYS.join(', ')}`, 'remove or correct the key');
    }
    if (fields.has(key)) throw new ConfigError(`gmm-video.${key}`, part, 'each key once', 'remove the duplicate');
    fields.set(key, part.slice(eq + 1).trim());
  }
  for (const key of REQUIRED) {
    if (!fields.has(key)) throw new ConfigError(`gmm-video.${key}`, undefined, 'a value (required)', `add '${key}=...', e.g. '${EXAMPLE}'`);
  }
  const int = (key: keyof typeof LIMITS) => {
    const raw = fields.get(key) as string;
    const v = Number(raw);
    const [lo, hi] = LIMITS[key];
    if (raw === '' || !Number.isInteger(v) || v < lo || v > hi) throw new ConfigError(`gmm-video.${key}`, raw, `an integer in [${lo}, ${hi}]`);
    return v;
  };
  const stdRaw = fields.get('std') as string;
  const std = Number(stdRaw);
  if (stdRaw === '' || !Number.isFinite(std) || !(std > 0)) throw new ConfigError('gmm-video.std', stdRaw, 'a finite number > 0', 'e.g. std=0.05');
  const seedRaw = fields.get('seed') as string;
  const seed = Number(seedRaw);
  if (seedRaw === '' || !Number.isSafeInteger(seed) || seed < 0) throw new ConfigError('gmm-video.seed', seedRaw, 'an integer >= 0');
  const weights = fields.get('weights') ?? 'unequal';
  if (weights !== 'unequal' && weights !== 'equal') throw new ConfigError('gmm-video.weights', weights, "'unequal', 'equal'");
  return { modes: int('modes'), frames: int('frames'), size: int('size'), channels: int('channels'), std, seed, weights };
}

/** The canonical spec string (inverse of {@link parseGmmVideoSpec}). */
export function formatGmmVideoSpec(spec: GmmVideoSpec): string {
  return (
    `${GMM_VIDEO_PREFIX}modes=${spec.modes},frames=${spec.frames},size=${spec.size},channels=${spec.channels},` +
    `std=${spec.std},seed=${spec.seed},weights=${spec.weights}`
  );
}
