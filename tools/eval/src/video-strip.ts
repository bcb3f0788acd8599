import { encodePng } from './png.js';

export interface VideoStripOptions {
  /** Videos to show (rows). @default all */
  rows?: number;
  /** Nearest-neighbour upscaling of each pixel. @default 8 */
  scale?: number;
  /** Pixels between frames and rows. @default 2 */
  gap?: number;
  /** Value range mapped to [0, 255]. @default [-1, 1] */
  range?: readonly [number, number];
}

/**
 * Lays videos out as a PNG grid: one row per video, one column per frame, values clamped from
 * `range` to 8 bits. `videos` is `[N, F, H, W, C]` float32 (C = 1 gray or 3 RGB).
 */
export function videoStripPng(videos: Float32Array, shape: readonly number[], options: VideoStripOptions = {}): Buffer {
  const [n, f, h, w, c] = shape as [number, number, number, number, number];
  if (shape.length !== 5 || (c !== 1 && c !== 3)) {
    throw new RangeError(`videoStripPng: shape [${shape.join(', ')}], expected [N, F, H, W, C] with C = 1 or 3.`);
  }
  const rows = Math.min(options.rows ?? n, n);
  const scale = options.scale ?? 8;
  const gap = options.gap ?? 2;
  const [lo, hi] = options.range ?? [-1, 1];
  const width = f * w * scale + (f - 1) * gap;
  const height = rows * h * scale + (rows - 1) * gap;
  const out = new Uint8Array(width * height * c).fill(255);
  for (let r = 0; r < rows; r++) {
    for (let fr = 0; fr < f; fr++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const src = ((((r * f + fr) * h + y) * w + x) * c) as number;
          for (let ch = 0; ch < c; ch++) {
            const v = Math.round((((videos[src + ch] as number) - lo) / (hi - lo)) * 255);
            const byte = Math.max(0, Math.min(255, Number.isFinite(v) ? v : 0));
            for (let dy = 0; dy < scale; dy++) {
              const py = r * (h * scale + gap) + y * scale + dy;
              for (let dx = 0; dx < scale; dx++) {
                const px = fr * (w * scale + gap) + x * scale + dx;
                out[(py * width + px) * c + ch] = byte;
              }
            }
          }
        }
      }
    }
  }
  return encodePng(out, width, height, c);
}
