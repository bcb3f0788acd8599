/**
 * @fewstep/eval: Metrics and reports.
 * Its public surface is curated here; nothing is exported yet.
 */
export {};
