/**
 * @fewstep/loss-sdm: Score distribution matching losses: DMD / VSD, frame SDM, fake-score loss.
 * Its public surface is curated here; nothing is exported yet.
 */
export {};
