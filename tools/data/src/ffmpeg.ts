/**
 * @file MP4 (any container ffmpeg reads) to `[F, H, W, C]` tensors through the system `ffmpeg`
 * binary (Debian: `apt-get install ffmpeg`), spawned with `node:child_process`: frames come out of
 * a raw `rgb24` pipe, are picked evenly over the clip and mapped to [-1, 1] as `v / 127.5 - 1`.
 * No npm dependency; a missing binary is a `FewstepError` with code `E_FFMPEG_MISSING`.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, FewstepError } from '@fewstep/core';

/** The error code of a missing `ffmpeg` binary. */
export const E_FFMPEG_MISSING = 'E_FFMPEG_MISSING';

/** `ffmpeg` is not installed (or not at the given path). */
export class FfmpegMissingError extends FewstepError {
  constructor(
    readonly binary: string,
    cause?: unknown,
  ) {
    super(
      E_FFMPEG_MISSING,
      `Reading videos needs the 'ffmpeg' binary, but '${binary}' could not be run. ` +
        `Fix: install it (Debian / Ubuntu: 'apt-get install ffmpeg'; macOS: 'brew install ffmpeg'), or pass 'ffmpegPath' / set FEWSTEP_FFMPEG to its path, ` +
        `or convert the videos to PNG frame folders ('<root>/<video>/frame-0000.png') and use readVideoFolder.`,
      cause === undefined ? undefined : { cause },
    );
  }
}

/** The ffmpeg binary to run: `explicit`, else `$FEWSTEP_FFMPEG`, else `ffmpeg` on PATH. */
export function ffmpegBinary(explicit?: string): string {
  return explicit ?? process.env['FEWSTEP_FFMPEG'] ?? 'ffmpeg';
}

/** Whether `ffmpeg -version` runs. */
export function hasFfmpeg(binary?: string): boolean {
  const r = spawnSync(ffmpegBinary(binary), ['-version'], { stdio: 'ignore', timeout: 10_000 });
  return r.error === undefined && r.status === 0;
}

/** Options of {@link readMp4}. */
export interface ReadMp4Options {
  /** Frames to keep, evenly spaced over the clip (first and last included). @default all */
  frames?: number;
  /** Output `size` x `size`, or `[height, width]` (ffmpeg's bilinear scaler). */
  size: number | readonly [number, number];
  /** 3 (RGB) or 1 (luma, Rec. 601). @default 3 */
  channels?: 1 | 3;
  /** The ffmpeg binary. @default $FEWSTEP_FFMPEG or 'ffmpeg' */
  ffmpegPath?: string;
}

/** Indices of `count` frames evenly spaced over `total` (first and last included). */
export function evenlySpaced(total: number, count: number): number[] {
  if (count === 1) return [0];
  return Array.from({ length: count }, (_, i) => Math.round((i * (total - 1)) / (count - 1)));
}

function sizeOf(size: number | readonly [number, number]): [number, number] {
  const [h, w] = typeof size === 'number' ? [size, size] : size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) throw new ConfigError('readMp4.size', size, 'a positive integer or [height, width]');
  return [h, w];
}

/** Runs ffmpeg, returning its stdout; throws {@link FfmpegMissingError} when it cannot start. */
function runFfmpeg(binary: string, args: readonly string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      reject(new FfmpegMissingError(binary, e));
      return;
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' || e.code === 'EACCES' ? new FfmpegMissingError(binary, e) : e));
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new FewstepError('E_FFMPEG', `ffmpeg exited with code ${code}: ${Buffer.concat(err).toString('utf8').trim().slice(-2000)}`));
    });
  });
}

/**
 * Decodes a video file to `[F, H, W, C]` in [-1, 1]: `ffmpeg -i <path> -vf scale=W:H -f rawvideo
 * -pix_fmt rgb24 pipe:1`, then `frames` evenly spaced frames. The caller owns the tensor.
 */
export async function readMp4(path: string, options: ReadMp4Options): Promise<tf.Tensor4D> {
  const [h, w] = sizeOf(options.size);
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new ConfigError('readMp4.channels', channels, '1 or 3');
  const binary = ffmpegBinary(options.ffmpegPath);
  const raw = await runFfmpeg(binary, ['-v', 'error', '-nostdin', '-i', path, '-vf', `scale=${w}:${h}:flags=bilinear`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
  const per = h * w * 3;
  const total = Math.floor(raw.length / per);
  if (total < 1) throw new FewstepError('E_VIDEO_EMPTY', `'${path}' decoded to no frames. Fix: check the file plays (ffmpeg -i '${path}').`);
  const f = options.frames ?? total;
  if (!Number.isInteger(f) || f < 1 || f > total) throw new ConfigError('readMp4.frames', f, `an integer in [1, ${total}] (the clip '${path}' has ${total} frames)`);
  const picks = evenlySpaced(total, f);
  const out = new Float32Array(f * h * w * channels);
  picks.forEach((src, t) => {
    const base = src * per;
    const dst = t * h * w * channels;
    for (let p = 0; p < h * w; p++) {
      const r = raw[base + 3 * p]!;
      const g = raw[base + 3 * p + 1]!;
      const b = raw[base + 3 * p + 2]!;
      if (channels === 3) {
        out[dst + 3 * p] = r / 127.5 - 1;
        out[dst + 3 * p + 1] = g / 127.5 - 1;
        out[dst + 3 * p + 2] = b / 127.5 - 1;
      } else out[dst + p] = (0.299 * r + 0.587 * g + 0.114 * b) / 127.5 - 1;
    }
  });
  return tf.tensor4d(out, [f, h, w, channels]);
}
