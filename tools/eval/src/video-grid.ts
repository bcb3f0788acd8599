/**
 * @file Videos `[N, F, H, W, C]` as animation frames: a grid of the N videos per time step,
 * upscaled, as 8-bit RGB, and writers for animated GIF (hand-written GIF89a + LZW, a fixed
 * 6x6x6 colour cube plus 40 greys) and MP4 (Debian's ffmpeg over a raw-RGB pipe).
 */
import { spawnSync } from 'node:child_process';

export interface VideoGridOptions {
  /** Videos per grid row. @default ceil(sqrt(N)) */
  columns?: number;
  /** Nearest-neighbour upscaling. @default 8 */
  scale?: number;
  /** Pixels between videos. @default 2 */
  gap?: number;
  /** Value range mapped to [0, 255]. @default [-1, 1] */
  range?: readonly [number, number];
}

/** One RGB frame `[height, width, 3]` per time step with the N videos tiled. */
export function videoGridFrames(videos: Float32Array, shape: readonly number[], o: VideoGridOptions = {}): { frames: Uint8Array[]; width: number; height: number } {
  const [n, f, h, w, c] = shape as [number, number, number, number, number];
  if (shape.length !== 5 || (c !== 1 && c !== 3)) throw new RangeError(`videoGridFrames: shape [${shape.join(', ')}], expected [N, F, H, W, C] with C = 1 or 3.`);
  const cols = o.columns ?? Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const scale = o.scale ?? 8;
  const gap = o.gap ?? 2;
  const [lo, hi] = o.range ?? [-1, 1];
  const width = cols * w * scale + (cols - 1) * gap;
  const height = rows * h * scale + (rows - 1) * gap;
  const frames: Uint8Array[] = [];
  for (let t = 0; t < f; t++) {
    const out = new Uint8Array(width * height * 3).fill(255);
    for (let v = 0; v < n; v++) {
      const ox = (v % cols) * (w * scale + gap);
      const oy = Math.floor(v / cols) * (h * scale + gap);
      for (let y = 0; y < h * scale; y++) {
        for (let x = 0; x < w * scale; x++) {
          const src = (((v * f + t) * h + Math.floor(y / scale)) * w + Math.floor(x / scale)) * c;
          const dst = ((oy + y) * width + ox + x) * 3;
          for (let ch = 0; ch < 3; ch++) {
            const val = Math.round((((videos[src + (c === 1 ? 0 : ch)] as number) - lo) / (hi - lo)) * 255);
            out[dst + ch] = Math.max(0, Math.min(255, Number.isFinite(val) ? val : 0));
          }
        }
      }
    }
    frames.push(out);
  }
  return { frames, width, height };
}

/** The fixed palette: 216 colours of a 6x6x6 cube, then 40 greys. */
function palette(): Uint8Array {
  const p = new Uint8Array(256 * 3);
  let i = 0;
  for (let r = 0; r < 6; r++) for (let g = 0; g < 6; g++) for (let b = 0; b < 6; b++) p.set([r * 51, g * 51, b * 51], 3 * i++);
  for (let k = 0; k < 40; k++) {
    const v = Math.round((k * 255) / 39);
    p.set([v, v, v], 3 * i++);
  }
  return p;
}

function nearestIndex(r: number, g: number, b: number): number {
  const cube = 36 * Math.round(r / 51) + 6 * Math.round(g / 51) + Math.round(b / 51);
  const cr = Math.round(r / 51) * 51;
  const cg = Math.round(g / 51) * 51;
  const cb = Math.round(b / 51) * 51;
  const dCube = (r - cr) ** 2 + (g - cg) ** 2 + (b - cb) ** 2;
  const grey = (r + g + b) / 3;
  const k = Math.round((grey * 39) / 255);
  const gv = Math.round((k * 255) / 39);
  const dGrey = (r - gv) ** 2 + (g - gv) ** 2 + (b - gv) ** 2;
  return dGrey < dCube ? 216 + k : cube;
}

/** GIF LZW (8-bit minimum code size) of palette indices, as sub-blocks. */
function lzw(indices: Uint8Array): Uint8Array {
  const clear = 256;
  const end = 257;
  const out: number[] = [];
  let bitBuf = 0;
  let bitLen = 0;
  let codeSize = 9;
  const emit = (code: number): void => {
    bitBuf |= code << bitLen;
    bitLen += codeSize;
    while (bitLen >= 8) {
      out.push(bitBuf & 0xff);
      bitBuf >>>= 8;
      bitLen -= 8;
    }
  };
  let dict = new Map<number, number>();
  let next = 258;
  emit(clear);
  let prefix = indices[0]!;
  for (let i = 1; i < indices.length; i++) {
    const k = indices[i]!;
    const key = prefix * 256 + k;
    const found = dict.get(key);
    if (found !== undefined) {
      prefix = found;
      continue;
    }
    emit(prefix);
    if (next < 4096) {
      dict.set(key, next++);
      if (next - 1 === 1 << codeSize && codeSize < 12) codeSize++;
    } else {
      emit(clear);
      dict = new Map();
      next = 258;
      codeSize = 9;
    }
    prefix = k;
  }
  emit(prefix);
  emit(end);
  if (bitLen > 0) out.push(bitBuf & 0xff);
  const blocks: number[] = [];
  for (let i = 0; i < out.length; i += 255) {
    const chunk = out.slice(i, i + 255);
    blocks.push(chunk.length, ...chunk);
  }
  blocks.push(0);
  return Uint8Array.from(blocks);
}

/** An animated, looping GIF89a of RGB frames (`delay` in hundredths of a second). */
export function encodeGif(frames: readonly Uint8Array[], width: number, height: number, delay = 25): Buffer {
  const pal = palette();
  const parts: Uint8Array[] = [];
  const u16 = (v: number) => [v & 0xff, (v >> 8) & 0xff];
  parts.push(Uint8Array.from([...Buffer.from('GIF89a'), ...u16(width), ...u16(height), 0xf7, 0, 0]), pal);
  parts.push(Uint8Array.from([0x21, 0xff, 0x0b, ...Buffer.from('NETSCAPE2.0'), 0x03, 0x01, 0, 0, 0]));
  for (const rgb of frames) {
    const idx = new Uint8Array(width * height);
    for (let p = 0; p < idx.length; p++) idx[p] = nearestIndex(rgb[3 * p]!, rgb[3 * p + 1]!, rgb[3 * p + 2]!);
    parts.push(Uint8Array.from([0x21, 0xf9, 0x04, 0x00, ...u16(delay), 0, 0]));
    parts.push(Uint8Array.from([0x2c, 0, 0, 0, 0, ...u16(width), ...u16(height), 0, 8]));
    parts.push(lzw(idx));
  }
  parts.push(Uint8Array.from([0x3b]));
  return Buffer.concat(parts);
}

/** Writes an H.264 MP4 through `ffmpeg` (frames padded to even sizes); false when ffmpeg is missing. */
export function writeMp4(path: string, frames: readonly Uint8Array[], width: number, height: number, fps = 4): boolean {
  const probe = spawnSync('ffmpeg', ['-version'], { encoding: 'utf8' });
  if (probe.status !== 0) return false;
  const r = spawnSync(
    'ffmpeg',
    ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', '-', '-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', path],
    { input: Buffer.concat(frames.map((f) => Buffer.from(f))) },
  );
  if (r.status !== 0) throw new Error(`ffmpeg failed writing ${path}: ${r.stderr?.toString() ?? ''}`);
  return true;
}
