/**
 * @file AccVideo's timestep lists (Zhang et al. 2025, "AccVideo", Sec. 3.3 and Table 4), as
 * flow-matching model times in [0, 1], descending: `t'_5, ..., t'_0`.
 */
import { discreteListTimesteps, type DiscreteListSampler } from './timestep-samplers.js';

/** Key timesteps `t'_5..t'_0` = 1.0, 0.9651, 0.9130, 0.8235, 0.6363, 0 (Sec. 3.3, m = 5). */
export const ACCVIDEO_KEY_TIMESTEPS: readonly number[] = Object.freeze([1.0, 0.9651, 0.913, 0.8235, 0.6363, 0]);

/** The ablation's uniform grid, `t = {1000.0, 810.9, 605.7, 378.3, 225.8, 0.0}` / 1000 (Table 4). */
export const ACCVIDEO_UNIFORM_TIMESTEPS: readonly number[] = Object.freeze([1.0, 0.8109, 0.6057, 0.3783, 0.2258, 0]);

/**
 * The trajectory loss (Eq. 6) draws a segment k in {0, ..., m-1} uniformly and regresses the
 * student's velocity at `t'_{k+1}` towards `(l_{t'_k} - l_{t'_{k+1}}) / (t'_k - t'_{k+1})`.
 * This sampler draws the segment's start times `t'_{k+1}` (the list without its final 0).
 */
export function accVideoSegmentSampler(list: readonly number[] = ACCVIDEO_KEY_TIMESTEPS): DiscreteListSampler {
  return discreteListTimesteps(list.slice(0, -1), 'accvideo');
}
