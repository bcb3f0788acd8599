import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, FewstepError, ShapeError } from '@fewstep/core';
import { E_FFMPEG_MISSING, ffmpegBinary, hasFfmpeg, readMp4 } from './ffmpeg.js';
import { ShapesVideo } from './shapes-video.js';
import { PngError, crc32, decodePng, encodePng, readVideoFolder, writeVideoFolder, type RawImage } from './video-folder.js';

let dir: string;
const ffmpegHere = hasFfmpeg();

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'fewstep-video-folder-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Rounds [-1, 1] values to the 8-bit grid the folder stores (`v / 127.5 - 1` of the level v). */
function quantize(x: tf.Tensor): tf.Tensor {
  const q = Float32Array.from(x.dataSync(), (v) => Math.round((v + 1) * 127.5) / 127.5 - 1);
  return tf.tensor(q, x.shape);
}

// PNGs written by an independent encoder (Python zlib, rows filtered 0, 1, 2, 3, 4, 0 in turn,
// data split over two IDAT chunks): 5 x 6 RGB 8-bit, gray 16-bit and an 8-bit palette image.
const KNOWN = {
  rgb: 'iVBORw0KGgoAAAANSUhEUgAAAAUAAAAGCAIAAACEmcMcAAAAK0lEQVR42mNgSDxkOu171mmd+QyJV0ynMco3PLRBAkzy8vJqamq6uromJibW1tbM3QFIJQAAACtJREFUdvnyFhYWQJn99vbOzodZ4PKBIPlAhtl/Yj+HbPVew7uYJfV3zF4AZt0de7Nw6qoAAAAASUVORK5CYII=',
  gray16: 'iVBORw0KGgoAAAANSUhEUgAAAAUAAAAGEAAAAAB+ANfUAAAAGUlEQVR42mNgYBBgVmAz4HTgYWTmFGCGQCZmTjhkU6k+swAAABlJREFUE+Jig0AWIA8KGPh15Q30je3N/C0BXCwDw3Hga5UAAAAASUVORK5CYII=',
  palette: 'iVBORw0KGgoAAAANSUhEUgAAAAUAAAAGCAMAAAA8JaR5AAAACVBMVEUKFB7IZDIA/4Bs6rgwAAAAEElEQVR42mNgYGRiYASCf4yMTCDirhoOKwAAABFJREFUH/N/EIcFLMLABJIGAG2hBhfd2J+YAAAAAElFTkSuQmCC',
};

describe('PNG codec', () => {
  it('decodes PNGs from another encoder (all 5 row filters, 16-bit gray, palette)', () => {
    const rgb = decodePng(Buffer.from(KNOWN.rgb, 'base64'));
    expect([rgb.width, rgb.height, rgb.channels]).toEqual([5, 6, 3]);
    const want: number[] = [];
    for (let y = 0; y < 6; y++) for (let x = 0; x < 5; x++) for (let c = 0; c < 3; c++) want.push((x * 53 + y * 31 + c * 97 + x * y * 7) % 256);
    expect(Array.from(rgb.data)).toEqual(want);
    const g = decodePng(Buffer.from(KNOWN.gray16, 'base64'));
    expect(g.channels).toBe(1);
    const wantG: number[] = [];
    for (let y = 0; y < 6; y++) for (let x = 0; x < 5; x++) wantG.push(((x * 4099 + y * 777) % 65536) >> 8);
    expect(Array.from(g.data)).toEqual(wantG);
    const p = decodePng(Buffer.from(KNOWN.palette, 'base64'));
    const plte = [10, 20, 30, 200, 100, 50, 0, 255, 128];
    const wantP: number[] = [];
    for (let y = 0; y < 6; y++) for (let x = 0; x < 5; x++) for (let c = 0; c < 3; c++) wantP.push(plte[3 * ((x + y) % 3) + c]!);
    expect(p.channels).toBe(3);
    expect(Array.from(p.data)).toEqual(wantP);
  });

  it('round-trips 8-bit gray / gray+alpha / RGB / RGBA exactly with every filter type', () => {
    let s = 12345;
    const rand = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
    for (const channels of [1, 2, 3, 4] as const) {
      for (const filter of [0, 1, 2, 3, 4] as const) {
        const img: RawImage = { width: 7, height: 5, channels, data: Uint8Array.from({ length: 7 * 5 * channels }, rand) };
        const back = decodePng(encodePng(img, { filter }));
        expect(back).toEqual({ width: 7, height: 5, channels, data: img.data });
      }
    }
    // CRC-32 check value of the standard ("123456789" -> 0xCBF43926).
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('refuses corrupt files with a PngError', () => {
    const png = encodePng({ width: 4, height: 4, channels: 3, data: new Uint8Array(48).fill(7) });
    const bad = Buffer.from(png);
    bad[40] = bad[40]! ^ 0xff; // inside IDAT
    expect(() => decodePng(bad, 'bad.png')).toThrow(/CRC mismatch/);
    expect(() => decodePng(Buffer.from('not a png at all'))).toThrow(PngError);
    expect(() => encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(5) })).toThrow(ShapeError);
  });
});

describe('video folders', () => {
  it('round-trips videos and captions exactly through PNG frame folders', async () => {
    const ds = new ShapesVideo('shapes-video:frames=4,size=16,seed=2');
    const b = ds.batch(0, 3);
    const q = quantize(b.videos);
    const root = join(dir, 'roundtrip');
    const names = await writeVideoFolder(root, b.videos, b.captions);
    expect(names).toEqual(['video-0000', 'video-0001', 'video-0002']);
    expect((await readdir(join(root, 'video-0001'))).sort()).toEqual(['caption.txt', 'frame-0000.png', 'frame-0001.png', 'frame-0002.png', 'frame-0003.png']);
    const loaded = await readVideoFolder(root);
    expect(loaded.names).toEqual(names);
    expect(loaded.captions).toEqual(b.captions);
    expect(loaded.videos.shape).toEqual([3, 4, 16, 16, 3]);
    expect(loaded.videos.dtype).toBe('float32');
    expect(Array.from(loaded.videos.dataSync())).toEqual(Array.from(q.dataSync()));
    // Quantization moves values by at most half a level.
    const err = tf.tidy(() => tf.max(tf.abs(tf.sub(b.videos, loaded.videos))).dataSync()[0]!);
    expect(err).toBeLessThanOrEqual(1 / 255 + 1e-6);
    // Writing what was read gives the same files.
    await writeVideoFolder(join(dir, 'again'), loaded.videos, loaded.captions, { filter: 4 });
    const again = await readVideoFolder(join(dir, 'again'));
    expect(Array.from(again.videos.dataSync())).toEqual(Array.from(loaded.videos.dataSync()));
    tf.dispose([b.videos, b.labels, b.tokens, q, loaded.videos, again.videos]);
  });

  it('reads captions.json (object or array; caption.txt wins), picks frames and resizes', async () => {
    const ds = new ShapesVideo('shapes-video:frames=6,size=12,seed=3,channels=1');
    const b = ds.batch(0, 2);
    const root = join(dir, 'json');
    await writeVideoFolder(root, b.videos, ['first clip', 'second clip'], { names: ['clip-10', 'clip-9'], captionFile: 'json' });
    expect(JSON.parse(await readFile(join(root, 'captions.json'), 'utf8'))).toEqual({ 'clip-10': 'first clip', 'clip-9': 'second clip' });
    await mkdir(join(root, 'not-a-video'));
    const all = await readVideoFolder(root, { channels: 1 });
    expect(all.names).toEqual(['clip-9', 'clip-10']); // numeric-aware order; folders without PNGs skipped
    expect(all.captions).toEqual(['second clip', 'first clip']);
    await writeFile(join(root, 'clip-9', 'caption.txt'), 'from the txt file\n');
    await writeFile(join(root, 'captions.json'), JSON.stringify(['array nine', 'array ten']));
    const picked = await readVideoFolder(root, { frames: 3, channels: 1 });
    expect(picked.captions).toEqual(['from the txt file', 'array ten']);
    expect(picked.videos.shape).toEqual([2, 3, 12, 12, 1]);
    // frames 0, 2(.5 -> 3), 5 of clip-9 (= item 1)
    const want = tf.tidy(() => {
      const clip = b.videos.slice([1], [1]).reshape([6, 12, 12, 1]);
      return tf.gather(quantize(clip), tf.tensor1d([0, 3, 5], 'int32'));
    });
    const got = tf.tidy(() => picked.videos.slice([0], [1]).reshape([3, 12, 12, 1]));
    expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
    const rgb = await readVideoFolder(root, { size: [8, 10] });
    expect(rgb.videos.shape).toEqual([2, 6, 8, 10, 3]);
    const [lo, hi] = tf.tidy(() => [tf.min(rgb.videos).dataSync()[0]!, tf.max(rgb.videos).dataSync()[0]!]);
    expect(lo).toBeGreaterThanOrEqual(-1);
    expect(hi).toBeLessThanOrEqual(1);
    await expect(readVideoFolder(root, { frames: 7 })).rejects.toThrow(ConfigError);
    await rm(join(root, 'clip-10', 'frame-0005.png'));
    await expect(readVideoFolder(root)).rejects.toThrow(ShapeError);
    await expect(readVideoFolder(join(dir, 'missing'))).rejects.toThrow(ConfigError);
    tf.dispose([b.videos, b.labels, b.tokens, all.videos, picked.videos, want, got, rgb.videos]);
  });
});

describe('readMp4', () => {
  it('names the fix when ffmpeg cannot be run', async () => {
    const err = await readMp4(join(dir, 'x.mp4'), { size: 8, ffmpegPath: join(dir, 'no-such-ffmpeg') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FewstepError);
    expect((err as FewstepError).code).toBe(E_FFMPEG_MISSING);
    expect((err as Error).message).toContain('apt-get install ffmpeg');
  });

  it.skipIf(!ffmpegHere)('decodes an MP4 to [F, H, W, C] in [-1, 1]', async () => {
    const file = join(dir, 'test.mp4');
    const made = spawnSync(ffmpegBinary(), ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-frames:v', '12', '-pix_fmt', 'yuv420p', file]);
    expect(made.status).toBe(0);
    const v = await readMp4(file, { frames: 4, size: 16 });
    expect(v.shape).toEqual([4, 16, 16, 3]);
    const data = v.dataSync();
    expect(Math.min(...data)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...data)).toBeLessThanOrEqual(1);
    // testsrc moves over time: frames differ.
    const d = tf.tidy(() => tf.mean(tf.abs(tf.sub(v.slice([0], [1]), v.slice([3], [1])))).dataSync()[0]!);
    expect(d).toBeGreaterThan(0.01);
    const all = await readMp4(file, { size: [12, 20], channels: 1 });
    expect(all.shape).toEqual([12, 12, 20, 1]);
    await expect(readMp4(file, { frames: 13, size: 16 })).rejects.toThrow(ConfigError);
    tf.dispose([v, all]);
  });
});
