/**
 * @fewstep/loss-adversarial: GAN objectives, discriminator heads, ADM.
 * Its public surface is curated here; nothing is exported yet.
 */
export {};
