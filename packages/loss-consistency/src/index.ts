/**
 * @fewstep/loss-consistency: Consistency distillation, multistep targets, motion representations, trajectory loss.
 * Its public surface is curated here; nothing is exported yet.
 */
export {};
