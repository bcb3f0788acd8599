import { ConfigError } from '../errors.js';
import { FlowMatchingSchedule } from './flow-matching-schedule.js';
import type { NoiseSchedule, NoiseScheduleConfig } from './noise-schedule.js';
import { VpContinuousSchedule } from './vp-continuous-schedule.js';
import { VpDiscreteSchedule } from './vp-discrete-schedule.js';

/** Rebuilds a schedule from `schedule.toConfig()` (lossless round trip). */
export function noiseScheduleFromConfig(config: NoiseScheduleConfig): NoiseSchedule {
  switch (config.type) {
    case 'vp-discrete':
      return new VpDiscreteSchedule(config);
    case 'flow-matching':
      return new FlowMatchingSchedule(config);
    case 'vp-continuous':
      return new VpContinuousSchedule(config);
    default:
      throw new ConfigError('schedule.type', (config as { type: unknown }).type, "'vp-discrete', 'flow-matching', 'vp-continuous'");
  }
}
