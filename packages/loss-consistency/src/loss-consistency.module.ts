import { defineModule, Tokens, type FewstepModule, type LossDefinition } from '@fewstep/core';
import { consistencyDistillationLoss } from './consistency-distillation-loss.js';
import { mixedTrajectoryLoss } from './mixed-trajectory.js';
import { motionConsistencyLoss } from './motion-consistency-loss.js';
import { odePairRegressionLoss } from './ode-pair-regression-loss.js';
import { trajectoryLoss } from './trajectory-loss.js';

/** Every loss of this package. */
export const consistencyLossDefinitions = [
  consistencyDistillationLoss,
  motionConsistencyLoss,
  mixedTrajectoryLoss,
  trajectoryLoss,
  odePairRegressionLoss,
] as const;

/**
 * Registers the losses of `@fewstep/loss-consistency` in the container's loss registry.
 * @example DependencyManager.createRoot().registerModules(ConsistencyLossesModule)
 */
export const ConsistencyLossesModule: FewstepModule = defineModule({
  name: 'consistency:module',
  register(dm) {
    const registry = dm.resolve(Tokens.LossRegistry);
    for (const loss of consistencyLossDefinitions) registry.register(loss as LossDefinition);
  },
});
