/**
 * @file Seeded smooth moving patterns: the means of the analytic mixture. Each mean is a video
 * `[F, H, W, C]` (row-major, NHWC per frame) with values in [-0.9, 0.9], one of:
 * - a blob: `bg + (fg - bg) exp(-d^2 / (2 r^2))`, d the distance on the unit torus to a centre
 *   moving with a constant velocity (speed 0.1-0.3 frame widths per frame, random direction),
 *   radius r in [0.15, 0.35], per-channel colours bg in [-0.6, 0.6], fg in [-0.9, 0.9];
 * - stripes: `mid + amp sin(2 pi (fx x + fy y) + phase + omega f)`, integer frequencies
 *   fx, fy in {-2..2} (not both 0), omega in +-[0.4, 1.2] rad/frame, mid in [-0.3, 0.3],
 *   |amp| in [0.3, 0.6] per channel.
 * Pixel centres are at `x = (j + 0.5) / W`, `y = (i + 0.5) / H`.
 */
import type { Rng } from '../rng.js';

export type PatternKind = 'blob' | 'stripes';

/** Draws one pattern from `rng` and renders it into a new `Float32Array` of `F*S*S*C` values. */
export function randomVideoPattern(rng: Rng, frames: number, size: number, channels: number): { kind: PatternKind; values: Float32Array } {
  const out = new Float32Array(frames * size * size * channels);
  const uni = (lo: number, hi: number) => lo + (hi - lo) * rng();
  const kind: PatternKind = rng() < 0.5 ? 'blob' : 'stripes';
  const perChannel = (lo: number, hi: number) => Array.from({ length: channels }, () => uni(lo, hi));
  let value: (f: number, x: number, y: number, c: number) => number;
  if (kind === 'blob') {
    const cx = rng();
    const cy = rng();
    const speed = uni(0.1, 0.3);
    const angle = uni(0, 2 * Math.PI);
    const r = uni(0.15, 0.35);
    const bg = perChannel(-0.6, 0.6);
    const fg = perChannel(-0.9, 0.9);
    const wrap = (d: number) => d - Math.round(d);
    value = (f, x, y, c) => {
      const dx = wrap(x - (cx + speed * Math.cos(angle) * f));
      const dy = wrap(y - (cy + speed * Math.sin(angle) * f));
      const bump = Math.exp(-(dx * dx + dy * dy) / (2 * r * r));
      return (bg[c] as number) + ((fg[c] as number) - (bg[c] as number)) * bump;
    };
  } else {
    let fx = 0;
    let fy = 0;
    while (fx === 0 && fy === 0) {
      fx = Math.floor(rng() * 5) - 2;
      fy = Math.floor(rng() * 5) - 2;
    }
    const phase = uni(0, 2 * Math.PI);
    const omega = uni(0.4, 1.2) * (rng() < 0.5 ? -1 : 1);
    const mid = perChannel(-0.3, 0.3);
    const amp = Array.from({ length: channels }, () => uni(0.3, 0.6) * (rng() < 0.5 ? -1 : 1));
    value = (f, x, y, c) => (mid[c] as number) + (amp[c] as number) * Math.sin(2 * Math.PI * (fx * x + fy * y) + phase + omega * f);
  }
  let k = 0;
  for (let f = 0; f < frames; f++)
    for (let i = 0; i < size; i++)
      for (let j = 0; j < size; j++)
        for (let c = 0; c < channels; c++) out[k++] = value(f, (j + 0.5) / size, (i + 0.5) / size, c);
  return { kind, values: out };
}
