/**
 * @file Video folders: a directory of clips stored as PNG frame folders,
 * `<root>/<video>/frame-0000.png, frame-0001.png, ...`, with optional captions in
 * `<root>/<video>/caption.txt` or `<root>/captions.json` (`{ "<video>": "caption" }` or an array in
 * name order; `caption.txt` wins). {@link readVideoFolder} gives `[N, F, H, W, C]` in [-1, 1]
 * (`v / 127.5 - 1` of the 8-bit values), {@link writeVideoFolder} writes the inverse
 * (`round((x + 1) * 127.5)`, clamped), so 8-bit data round-trips exactly.
 *
 * Also a minimal PNG codec on `node:zlib` (no npm dependency): the encoder writes 8-bit gray /
 * gray+alpha / RGB / RGBA with one filter type for every row (0 by default); the decoder reads
 * 8- and 16-bit (high byte kept) gray, gray+alpha, RGB, RGBA and 8-bit palette images with any of
 * the 5 filter types per row, non-interlaced, and checks every chunk's CRC-32.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, FewstepError, ShapeError } from '@fewstep/core';
import { evenlySpaced } from './ffmpeg.js';

// ---------------------------------------------------------------------------------------------
// PNG
// ---------------------------------------------------------------------------------------------

/** An 8-bit image, row-major, channels interleaved. */
export interface RawImage {
  readonly width: number;
  readonly height: number;
  /** 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
  readonly channels: 1 | 2 | 3 | 4;
  readonly data: Uint8Array;
}

/** A malformed or unsupported PNG. */
export class PngError extends FewstepError {
  constructor(message: string) {
    super('E_PNG', message);
  }
}

const PNG_SIGNATURE = Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]);

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO-HDLC, as PNG uses) of `bytes`. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const COLOR_TYPE_OF_CHANNELS = { 1: 0, 2: 4, 3: 2, 4: 6 } as const;
const CHANNELS_OF_COLOR_TYPE: Record<number, 1 | 2 | 3 | 4> = { 0: 1, 4: 2, 2: 3, 6: 4, 3: 1 };

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out, 4, 8 + data.length), 8 + data.length);
  return out;
}

/** Options of {@link encodePng}. */
export interface EncodePngOptions {
  /** PNG filter type of every row (0 none, 1 sub, 2 up, 3 average, 4 Paeth). @default 0 */
  filter?: 0 | 1 | 2 | 3 | 4;
  /** zlib level. @default 6 */
  level?: number;
}

/** Encodes an 8-bit image as PNG. */
export function encodePng(image: RawImage, options: EncodePngOptions = {}): Buffer {
  const { width, height, channels, data } = image;
  const filter = options.filter ?? 0;
  if (!(channels in COLOR_TYPE_OF_CHANNELS)) throw new ConfigError('png.channels', channels, '1, 2, 3 or 4');
  if (![0, 1, 2, 3, 4].includes(filter)) throw new ConfigError('png.filter', filter, '0 (none), 1 (sub), 2 (up), 3 (average) or 4 (Paeth)');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new ConfigError('png.size', [width, height], 'positive integer width and height');
  if (data.length !== width * height * channels) throw new ShapeError('png data', [data.length], `${width * height * channels} bytes (${height} x ${width} x ${channels})`);
  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const o = y * (stride + 1);
    raw[o] = filter;
    for (let x = 0; x < stride; x++) {
      const v = data[y * stride + x]!;
      const a = x >= channels ? data[y * stride + x - channels]! : 0;
      const b = y > 0 ? data[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? data[(y - 1) * stride + x - channels]! : 0;
      const pred = filter === 0 ? 0 : filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : paeth(a, b, c);
      raw[o + 1 + x] = (v - pred) & 0xff;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = COLOR_TYPE_OF_CHANNELS[channels];
  ihdr[10] = 0;
  ihdr[11] = 0;
  ihdr[12] = 0;
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: options.level ?? 6 })), chunk('IEND', new Uint8Array(0))]);
}

/** Decodes a PNG to 8-bit samples (16-bit images keep the high byte; palette images become RGB). */
export function decodePng(bytes: Uint8Array, name = 'png'): RawImage {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 8 || !PNG_SIGNATURE.every((v, i) => buf[i] === v)) throw new PngError(`${name}: not a PNG file (bad signature).`);
  let pos = 8;
  let header: { width: number; height: number; depth: number; colorType: number; interlace: number } | undefined;
  let palette: Uint8Array | undefined;
  const idat: Buffer[] = [];
  let ended = false;
  while (pos + 12 <= buf.length && !ended) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    if (pos + 12 + len > buf.length) throw new PngError(`${name}: chunk '${type}' runs past the end of the file (truncated).`);
    const stored = buf.readUInt32BE(pos + 8 + len);
    if (crc32(buf, pos + 4, pos + 8 + len) !== stored) throw new PngError(`${name}: CRC mismatch in chunk '${type}' (corrupt file).`);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      header = { width: data.readUInt32BE(0), height: data.readUInt32BE(4), depth: data[8]!, colorType: data[9]!, interlace: data[12]! };
    } else if (type === 'PLTE') palette = new Uint8Array(data);
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') ended = true;
    pos += 12 + len;
  }
  if (!header) throw new PngError(`${name}: no IHDR chunk.`);
  const { width, height, depth, colorType, interlace } = header;
  const srcChannels = CHANNELS_OF_COLOR_TYPE[colorType];
  if (srcChannels === undefined) throw new PngError(`${name}: colour type ${colorType} is not a PNG colour type.`);
  if (colorType === 3 ? depth !== 8 : depth !== 8 && depth !== 16) {
    throw new PngError(`${name}: bit depth ${depth} with colour type ${colorType} is not supported (8-bit, 16-bit, or 8-bit palette). Fix: re-save the frames as 8-bit PNG.`);
  }
  if (interlace !== 0) throw new PngError(`${name}: interlaced (Adam7) PNGs are not supported. Fix: re-save the frames without interlacing.`);
  if (colorType === 3 && !palette) throw new PngError(`${name}: palette image without a PLTE chunk.`);
  const bytesPerSample = depth / 8;
  const bpp = srcChannels * bytesPerSample;
  const stride = width * bpp;
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch (e) {
    throw new PngError(`${name}: image data does not inflate (${e instanceof Error ? e.message : String(e)}).`);
  }
  if (raw.length < height * (stride + 1)) throw new PngError(`${name}: image data holds ${raw.length} bytes, expected ${height * (stride + 1)} (truncated).`);
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? px[row + x - bpp]! : 0;
      const b = y > 0 ? px[row - stride + x]! : 0;
      const c = x >= bpp && y > 0 ? px[row - stride + x - bpp]! : 0;
      let pred: number;
      switch (filter) {
        case 0:
          pred = 0;
          break;
        case 1:
          pred = a;
          break;
        case 2:
          pred = b;
          break;
        case 3:
          pred = (a + b) >> 1;
          break;
        case 4:
          pred = paeth(a, b, c);
          break;
        default:
          throw new PngError(`${name}: row ${y} has filter type ${filter} (allowed 0-4).`);
      }
      px[row + x] = (raw[src + x]! + pred) & 0xff;
    }
  }
  if (colorType === 3) {
    const out = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) {
      const k = px[i]! * 3;
      if (k + 2 >= palette!.length) throw new PngError(`${name}: palette index ${px[i]} out of range.`);
      out[3 * i] = palette![k]!;
      out[3 * i + 1] = palette![k + 1]!;
      out[3 * i + 2] = palette![k + 2]!;
    }
    return { width, height, channels: 3, data: out };
  }
  if (bytesPerSample === 2) {
    const out = new Uint8Array(width * height * srcChannels);
    for (let i = 0; i < out.length; i++) out[i] = px[2 * i]!;
    return { width, height, channels: srcChannels, data: out };
  }
  return { width, height, channels: srcChannels, data: px };
}

// ---------------------------------------------------------------------------------------------
// Video folders
// ---------------------------------------------------------------------------------------------

/** What {@link readVideoFolder} returns. The caller owns (disposes) `videos`. */
export interface LoadedVideoFolder {
  readonly root: string;
  /** `[N, F, H, W, C]` float32 in [-1, 1]. */
  readonly videos: tf.Tensor5D;
  /** One caption per video ('' where none was given). */
  readonly captions: string[];
  /** Video folder names, sorted (numeric-aware). */
  readonly names: string[];
}

/** Options of {@link readVideoFolder}. */
export interface ReadVideoFolderOptions {
  /** Resize every frame to `size` x `size` or `[height, width]` (bilinear); default: keep (all videos must agree). */
  size?: number | readonly [number, number];
  /** Frames per video, evenly spaced over each clip (first and last kept); default: all (all videos must agree). */
  frames?: number;
  /** Output channels: 3 (RGB; gray is replicated, alpha dropped) or 1 (luma, Rec. 601). @default 3 */
  channels?: 1 | 3;
}

const byName = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function readCaptionsJson(root: string, names: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let text: string;
  try {
    text = await readFile(join(root, 'captions.json'), 'utf8');
  } catch {
    return out;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${join(root, 'captions.json')}`, text.slice(0, 80), 'JSON: { "<video>": "caption" } or an array of captions in name order', e instanceof Error ? e.message : undefined);
  }
  if (Array.isArray(parsed)) {
    if (parsed.length !== names.length || parsed.some((c) => typeof c !== 'string')) {
      throw new ConfigError(join(root, 'captions.json'), `array of ${parsed.length}`, `an array of ${names.length} strings (one per video, in name order: ${names.slice(0, 3).join(', ')}...)`);
    }
    names.forEach((n, i) => out.set(n, parsed[i] as string));
  } else if (parsed !== null && typeof parsed === 'object') {
    for (const [k, v] of Object.entries(parsed)) {
      if (typeof v !== 'string') throw new ConfigError(`${join(root, 'captions.json')}.${k}`, v, 'a caption string');
      out.set(k, v);
    }
  } else throw new ConfigError(join(root, 'captions.json'), parsed, 'an object { "<video>": "caption" } or an array of strings');
  return out;
}

/** Copies 8-bit pixels of `img` into `out` at `offset` as floats in [-1, 1] with `channels` channels. */
function toFloat(img: RawImage, channels: 1 | 3, out: Float32Array, offset: number): void {
  const { data, channels: c } = img;
  const n = img.width * img.height;
  for (let p = 0; p < n; p++) {
    const s = p * c;
    const r = data[s]!;
    const g = c >= 3 ? data[s + 1]! : r;
    const b = c >= 3 ? data[s + 2]! : r;
    if (channels === 3) {
      out[offset + 3 * p] = r / 127.5 - 1;
      out[offset + 3 * p + 1] = g / 127.5 - 1;
      out[offset + 3 * p + 2] = b / 127.5 - 1;
    } else out[offset + p] = (c >= 3 ? 0.299 * r + 0.587 * g + 0.114 * b : r) / 127.5 - 1;
  }
}

/**
 * Reads `<root>/<video>/*.png` (frames in numeric-aware name order) into `[N, F, H, W, C]` in
 * [-1, 1], with captions from `caption.txt` / `captions.json`. Sub-folders without PNG files are
 * skipped.
 */
export async function readVideoFolder(root: string, options: ReadVideoFolderOptions = {}): Promise<LoadedVideoFolder> {
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new ConfigError('readVideoFolder.channels', channels, '1 or 3');
  if (options.frames !== undefined && (!Number.isInteger(options.frames) || options.frames < 1)) throw new ConfigError('readVideoFolder.frames', options.frames, 'a positive integer');
  let target: [number, number] | undefined;
  if (options.size !== undefined) {
    const [h, w] = typeof options.size === 'number' ? [options.size, options.size] : options.size;
    if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) throw new ConfigError('readVideoFolder.size', options.size, 'a positive integer or [height, width]');
    target = [h, w];
  }
  if (!(await isDir(root))) throw new ConfigError('readVideoFolder.root', root, 'an existing directory of video folders (<root>/<video>/frame-0000.png)');
  const entries = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort(byName);
  const videos: { name: string; frames: string[] }[] = [];
  for (const name of entries) {
    const files = (await readdir(join(root, name))).filter((f) => f.toLowerCase().endsWith('.png')).sort(byName);
    if (files.length > 0) videos.push({ name, frames: files });
  }
  if (videos.length === 0) throw new ConfigError('readVideoFolder.root', root, 'a directory holding at least one <video>/ folder of PNG frames', 'write frames as <root>/<video>/frame-0000.png, frame-0001.png, ...');
  const names = videos.map((v) => v.name);
  const counts = videos.map((v) => v.frames.length);
  const f = options.frames ?? counts[0]!;
  videos.forEach((v) => {
    if (options.frames === undefined && v.frames.length !== f) {
      throw new ShapeError(`video '${v.name}'`, [v.frames.length], `${f} frames (as '${names[0]}')`, 'pass { frames } to pick the same number of evenly spaced frames from each clip');
    }
    if (v.frames.length < f) throw new ConfigError('readVideoFolder.frames', f, `at most ${v.frames.length} (video '${v.name}' has ${v.frames.length} frames)`);
  });
  let h = 0;
  let w = 0;
  const parts: tf.Tensor4D[] = [];
  try {
    for (const v of videos) {
      const picks = f === v.frames.length ? v.frames : evenlySpaced(v.frames.length, f).map((i) => v.frames[i]!);
      let data: Float32Array | undefined;
      let vh = 0;
      let vw = 0;
      for (let t = 0; t < picks.length; t++) {
        const file = join(root, v.name, picks[t]!);
        const img = decodePng(await readFile(file), file);
        if (t === 0) {
          vh = img.height;
          vw = img.width;
          data = new Float32Array(f * vh * vw * channels);
        } else if (img.height !== vh || img.width !== vw) {
          throw new ShapeError(`frame '${file}'`, [img.height, img.width], `[${vh}, ${vw}] (the clip's first frame)`);
        }
        toFloat(img, channels, data!, t * vh * vw * channels);
      }
      let clip: tf.Tensor4D = tf.tensor4d(data!, [f, vh, vw, channels]);
      const [th, tw] = target ?? [h || vh, w || vw];
      if (vh !== th || vw !== tw) {
        if (!target) {
          clip.dispose();
          throw new ShapeError(`video '${v.name}'`, [vh, vw], `frames of [${th}, ${tw}] (as '${names[0]}')`, 'pass { size } to resize every clip');
        }
        const resized = tf.tidy(() => tf.clipByValue(tf.image.resizeBilinear(clip, [th, tw], false, true), -1, 1) as tf.Tensor4D);
        clip.dispose();
        clip = resized;
      }
      h = th;
      w = tw;
      parts.push(clip);
    }
    const fromJson = await readCaptionsJson(root, names);
    const captions: string[] = [];
    for (const name of names) {
      let text: string | undefined;
      try {
        text = (await readFile(join(root, name, 'caption.txt'), 'utf8')).trim();
      } catch {
        text = undefined;
      }
      captions.push(text ?? fromJson.get(name) ?? '');
    }
    return { root, videos: tf.stack(parts) as tf.Tensor5D, captions, names };
  } finally {
    tf.dispose(parts);
  }
}

/** Options of {@link writeVideoFolder}. */
export interface WriteVideoFolderOptions {
  /** Folder names. @default video-0000, video-0001, ... */
  names?: readonly string[];
  /** Where captions go: one `caption.txt` per video, or one `<root>/captions.json`. @default 'txt' */
  captionFile?: 'txt' | 'json';
  /** PNG row filter. @default 0 */
  filter?: EncodePngOptions['filter'];
}

/**
 * Writes videos `[N, F, H, W, C]` (C = 1, 3 or 4; values in [-1, 1], stored as
 * `round((x + 1) * 127.5)` clamped to 0..255) as `<root>/<name>/frame-0000.png ...`, plus
 * captions. @returns the folder names.
 */
export async function writeVideoFolder(root: string, videos: tf.Tensor, captions?: readonly string[], options: WriteVideoFolderOptions = {}): Promise<string[]> {
  if (videos.rank !== 5) throw new ShapeError('videos', videos.shape, '[N, F, H, W, C]');
  const [n, f, h, w, c] = videos.shape as [number, number, number, number, number];
  if (c !== 1 && c !== 3 && c !== 4) throw new ShapeError('videos', videos.shape, '[N, F, H, W, C] with C = 1, 3 or 4');
  const names = options.names ? [...options.names] : Array.from({ length: n }, (_, i) => `video-${String(i).padStart(4, '0')}`);
  if (names.length !== n || new Set(names).size !== n || names.some((x) => x === '' || /[/\\]|^\.\.?$/.test(x))) {
    throw new ConfigError('writeVideoFolder.names', names, `${n} distinct folder names without path separators`);
  }
  if (captions !== undefined && captions.length !== n) throw new ConfigError('writeVideoFolder.captions', captions.length, `${n} captions (one per video)`);
  const values = videos.dataSync();
  const per = h * w * c;
  await mkdir(root, { recursive: true });
  for (let i = 0; i < n; i++) {
    const dir = join(root, names[i]!);
    await mkdir(dir, { recursive: true });
    for (let t = 0; t < f; t++) {
      const base = (i * f + t) * per;
      const px = new Uint8Array(per);
      for (let k = 0; k < per; k++) px[k] = Math.min(255, Math.max(0, Math.round((values[base + k]! + 1) * 127.5)));
      await writeFile(join(dir, `frame-${String(t).padStart(4, '0')}.png`), encodePng({ width: w, height: h, channels: c, data: px }, { filter: options.filter ?? 0 }));
    }
    if (captions !== undefined && (options.captionFile ?? 'txt') === 'txt') await writeFile(join(dir, 'caption.txt'), `${captions[i]}\n`);
  }
  if (captions !== undefined && options.captionFile === 'json') {
    await writeFile(join(root, 'captions.json'), `${JSON.stringify(Object.fromEntries(names.map((x, i) => [x, captions[i]!])), null, 2)}\n`);
  }
  return names;
}
