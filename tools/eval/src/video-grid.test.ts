import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeGif, videoGridFrames, writeMp4 } from './video-grid.js';

const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;

/** 3 videos, 4 frames of 5 x 6 RGB: a moving bright square on a colour ramp (exactly representable colours). */
function videos(): { data: Float32Array; shape: number[] } {
  const [n, f, h, w] = [3, 4, 5, 6];
  const data = new Float32Array(n * f * h * w * 3);
  const levels = [-1, -0.6, -0.2, 0.2, 0.6, 1]; // 0, 51, 102, 153, 204, 255 after mapping
  let i = 0;
  for (let v = 0; v < n; v++)
    for (let t = 0; t < f; t++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const on = x === t + v % 2 && y === 2;
          data[i++] = on ? 1 : levels[x]!;
          data[i++] = on ? 1 : levels[y]!;
          data[i++] = on ? 1 : levels[(v + t) % 6]!;
        }
  return { data, shape: [n, f, h, w, 3] };
}

describe('video grids, GIF and MP4', () => {
  it('tiles N videos per frame with upscaling and gaps', () => {
    const { data, shape } = videos();
    const g = videoGridFrames(data, shape, { columns: 2, scale: 2, gap: 1 });
    expect(g.frames).toHaveLength(4);
    expect([g.width, g.height]).toEqual([2 * 6 * 2 + 1, 2 * 5 * 2 + 1]);
    // Video 0, frame 1, pixel (y=2, x=1) is the bright square; (0, 0) is the ramp start (0, 0, level).
    const px = (fr: Uint8Array, x: number, y: number) => Array.from(fr.slice((y * g.width + x) * 3, (y * g.width + x) * 3 + 3));
    expect(px(g.frames[1]!, 2, 4)).toEqual([255, 255, 255]);
    expect(px(g.frames[1]!, 0, 0)).toEqual([0, 0, 51]);
    expect(px(g.frames[0]!, 12, 0)).toEqual([255, 255, 255]); // the gap
  });

  it('a GIF89a with one image per frame, looping', () => {
    const { data, shape } = videos();
    const g = videoGridFrames(data, shape, { columns: 3, scale: 3 });
    const gif = encodeGif(g.frames, g.width, g.height, 20);
    expect(gif.subarray(0, 6).toString('latin1')).toBe('GIF89a');
    expect(gif.includes(Buffer.from('NETSCAPE2.0'))).toBe(true);
    expect(gif[gif.length - 1]).toBe(0x3b);
    expect(gif.subarray(0, 13).readUInt16LE(6)).toBe(g.width);
    // One graphic control extension (0x21 0xf9 0x04) per frame.
    let controls = 0;
    for (let i = 0; i + 2 < gif.length; i++) if (gif[i] === 0x21 && gif[i + 1] === 0xf9 && gif[i + 2] === 0x04) controls++;
    expect(controls).toBeGreaterThanOrEqual(4);
  });

  it.skipIf(!hasFfmpeg)('ffmpeg decodes the GIF to the exact colours of every frame', () => {
    const { data, shape } = videos();
    const g = videoGridFrames(data, shape, { columns: 3, scale: 3 });
    const gif = encodeGif(g.frames, g.width, g.height, 20);
    const dir = mkdtempSync(join(tmpdir(), 'fewstep-gif-'));
    try {
      writeFileSync(join(dir, 'a.gif'), gif);
      const r = spawnSync('ffmpeg', ['-v', 'error', '-i', join(dir, 'a.gif'), '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 26 });
      expect(r.status).toBe(0);
      const decoded = r.stdout as Buffer;
      expect(decoded.length).toBe(4 * g.width * g.height * 3);
      // Every colour is on the 6x6x6 cube, so decoding is lossless.
      for (let t = 0; t < 4; t++) expect(Buffer.compare(decoded.subarray(t * g.width * g.height * 3, (t + 1) * g.width * g.height * 3), Buffer.from(g.frames[t]!))).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!hasFfmpeg)('long runs (LZW table resets past 4096 codes) still decode exactly', () => {
    const w = 200;
    const h = 120;
    const frame = new Uint8Array(w * h * 3);
    let s = 7;
    for (let i = 0; i < frame.length; i += 3) {
      s = (s * 1103515245 + 12345) >>> 0;
      const c = [0, 51, 102, 153, 204, 255];
      frame[i] = c[s % 6]!;
      frame[i + 1] = c[(s >>> 8) % 6]!;
      frame[i + 2] = c[(s >>> 16) % 6]!;
    }
    const dir = mkdtempSync(join(tmpdir(), 'fewstep-gif-'));
    try {
      writeFileSync(join(dir, 'b.gif'), encodeGif([frame], w, h));
      const r = spawnSync('ffmpeg', ['-v', 'error', '-i', join(dir, 'b.gif'), '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 26 });
      expect(Buffer.compare(r.stdout as Buffer, Buffer.from(frame))).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!hasFfmpeg)('writes an MP4 ffmpeg reads back with the frame count and (even-padded) size', () => {
    const { data, shape } = videos();
    const g = videoGridFrames(data, shape, { scale: 3 });
    const dir = mkdtempSync(join(tmpdir(), 'fewstep-mp4-'));
    try {
      expect(writeMp4(join(dir, 'a.mp4'), g.frames, g.width, g.height)).toBe(true);
      const r = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,nb_read_frames', '-of', 'csv=p=0', join(dir, 'a.mp4')], { encoding: 'utf8' });
      expect(r.stdout.trim()).toBe(`${g.width + (g.width % 2)},${g.height + (g.height % 2)},4`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
