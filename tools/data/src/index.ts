/**
 * @fewstep/data: Synthetic datasets, trajectory datasets, video/image readers.
 * Its public surface is curated here; nothing is exported yet.
 */
export {};
