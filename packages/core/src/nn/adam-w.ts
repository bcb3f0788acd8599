import { Adam } from './adam.js';

/**
 * AdamW (Loshchilov & Hutter 2019, Alg. 2) exactly as torch.optim.AdamW orders it: first the
 * decoupled decay `theta <- theta * (1 - lr * lambda)`, then the Adam update of {@link Adam} on the
 * decayed `theta`. The decay uses the scheduled `lr` (torch's `p.mul_(1 - lr * weight_decay)`).
 * Default `weightDecay` 1e-2 as torch. Options: {@link AdamOptions}.
 */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;

  protected override defaultWeightDecay(): number {
    return 1e-2;
  }
}
