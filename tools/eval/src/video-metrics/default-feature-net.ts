/**
 * @file Where fewstep's committed feature network lives: `tools/eval/assets/video-features-v1/`
 * (`model.json`, `model.safetensors`, the `train-features.yaml` that made it, a README with the
 * command and its held-out accuracy), resolved relative to this file so it works from the
 * repository and from the installed `@fewstep/eval` package (which must ship `assets/`).
 */
import { fileURLToPath } from 'node:url';
import { VideoFeatureNet } from './video-feature-net.js';

/** The committed network's directory (version 1). */
export function defaultVideoFeatureNetDir(): string {
  return fileURLToPath(new URL('../../assets/video-features-v1', import.meta.url));
}

/** Loads the committed `fewstep-video-features` v1 network (or the one in `dir`). */
export function loadVideoFeatureNet(dir: string = defaultVideoFeatureNetDir()): Promise<VideoFeatureNet> {
  return VideoFeatureNet.load(dir);
}
