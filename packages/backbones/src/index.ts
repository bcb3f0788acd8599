/**
 * @fewstep/backbones: Video UNet, video DiT, image UNet, DINOv2 / SAM critics, weight import.
 * Its public surface is curated here; nothing is exported yet.
 */
export {};
