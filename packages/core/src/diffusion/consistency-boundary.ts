/**
 * @file Consistency-model boundary conditions `f(x, t) = cSkip(t) x + cOut(t) F(x, t)` with
 * `cSkip(0) = 1`, `cOut(0) = 0` (Song et al. 2023, Eq. 3).
 */

/** `cSkip`, `cOut` at model time `t`. */
export interface BoundaryCondition {
  readonly name: string;
  cSkip(t: number): number;
  cOut(t: number): number;
}

export interface LcmBoundaryOptions {
  /** @default 0.5 */
  sigmaData?: number;
  /** @default 10 */
  timestepScaling?: number;
  /**
   * Model time to training-timestep units (`NoiseSchedule.timestepScale`: 1 discrete, 1000
   * continuous), so the same formula serves flow-matching students. @default 1
   */
  timestepScale?: number;
}

/**
 * LCM's discrete boundary condition (Luo et al. 2023; diffusers
 * `LCMScheduler.get_scalings_for_boundary_condition_discrete`): with `tau = t * timestepScaling`
 * (t in training-timestep units), `cSkip = sigmaData^2 / (tau^2 + sigmaData^2)`,
 * `cOut = tau / sqrt(tau^2 + sigmaData^2)`. At t = 999: cSkip ~ 2.5e-8, cOut ~ 1.
 */
export function lcmBoundaryCondition(options: LcmBoundaryOptions = {}): BoundaryCondition {
  const sigmaData = options.sigmaData ?? 0.5;
  const scaling = options.timestepScaling ?? 10;
  const unit = options.timestepScale ?? 1;
  const tau = (t: number) => Math.max(0, t) * unit * scaling;
  return {
    name: 'lcm',
    cSkip: (t) => sigmaData ** 2 / (tau(t) ** 2 + sigmaData ** 2),
    cOut: (t) => tau(t) / Math.sqrt(tau(t) ** 2 + sigmaData ** 2),
  };
}
