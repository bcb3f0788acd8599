import { defineModule, Tokens } from '@fewstep/core';
import { admDiscriminatorLoss, admGeneratorLoss } from './adm-loss.js';
import { hingeDiscriminatorLoss, hingeGeneratorLoss, logisticDiscriminatorLoss, logisticGeneratorLoss } from './gan-objectives.js';
import { r1Penalty } from './r1-penalty.js';

/** Every loss of this package, in registration order. */
export const ADVERSARIAL_LOSSES = [
  hingeDiscriminatorLoss,
  hingeGeneratorLoss,
  logisticDiscriminatorLoss,
  logisticGeneratorLoss,
  r1Penalty,
  admGeneratorLoss,
  admDiscriminatorLoss,
] as const;

/** Registers the adversarial losses in the container's loss registry. */
export const LossAdversarialModule = defineModule({
  name: 'adv:module',
  register: (dm) => {
    const reg = dm.resolve(Tokens.LossRegistry);
    for (const loss of ADVERSARIAL_LOSSES) reg.register(loss);
  },
});
