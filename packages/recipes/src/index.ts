/**
 * @fewstep/recipes: AVDM2, AccVideo, DMDX, OSV, MCM, DMD2, LCM; defineRecipe.
 * Its public surface is curated here; nothing is exported yet.
 */
export {};
