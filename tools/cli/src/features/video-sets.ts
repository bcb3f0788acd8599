/**
 * @file The video sets `fewstep eval` reads: a directory written by `fewstep sample`
 * (`samples.safetensors` with a `samples` tensor `[N, F, H, W, C]`, and `sample-info.json` with
 * nfe / msPerSample; optional `captions.json`, an array with one caption per sample), a bare
 * `.safetensors` file, a PNG frame folder as `writeVideoFolder` writes it
 * (`<dir>/<video>/frame-0000.png ...`, captions in `caption.txt` / `captions.json`), or clips drawn
 * from a `shapes-video:` spec (items `0 .. n-1` of the spec, whose `seed` picks the content).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, readSafetensors } from '@fewstep/core';
import { ShapesVideo, formatShapesVideoSpec, parseShapesVideoSpec, readVideoFolder } from '@fewstep/data';

/** What `fewstep sample` records next to its samples (the fields eval reads). */
export interface SampleInfoLike {
  nfe?: number;
  msPerSample?: number;
  solver?: string;
  steps?: number;
  model?: string;
}

/** A loaded set. The caller disposes `videos`. */
export interface VideoSetData {
  /** `[N, F, H, W, C]` in [-1, 1]. */
  readonly videos: tf.Tensor5D;
  /** One per video, or undefined when the set carries none. */
  readonly captions: string[] | undefined;
  readonly info: SampleInfoLike | undefined;
  /** What was read: a path or a canonical spec. */
  readonly source: string;
  readonly kind: 'samples' | 'png-folder' | 'shapes-video';
}

/** Whether `--reference` names a video reference (a shapes-video spec or an existing directory / safetensors file). */
export function isVideoReference(reference: string): boolean {
  return reference.startsWith('shapes-video') || (existsSync(reference) && (statSync(reference).isDirectory() || reference.endsWith('.safetensors')));
}

async function readSamplesFile(file: string, flag: string): Promise<tf.Tensor5D> {
  const { tensors } = await readSafetensors(file);
  const t = tensors.get('samples') ?? (tensors.size === 1 ? [...tensors.values()][0] : undefined);
  if (!t) throw new ConfigError(flag, file, "a safetensors file with a tensor named 'samples' [N, F, H, W, C]", 'write one with `fewstep sample --out DIR`');
  if (t.shape.length !== 5) throw new ShapeError(`samples in ${file}`, t.shape, '[N, F, H, W, C] videos');
  return tf.tensor5d(Float32Array.from(t.data as ArrayLike<number>), t.shape as [number, number, number, number, number], 'float32');
}

function readCaptionArray(file: string, n: number): string[] | undefined {
  if (!existsSync(file)) return undefined;
  const raw: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(raw) || raw.length !== n || raw.some((c) => typeof c !== 'string')) throw new ConfigError(file, Array.isArray(raw) ? `array of ${raw.length}` : typeof raw, `an array of ${n} caption strings (one per sample, in order)`);
  return raw as string[];
}

/**
 * Loads `--samples` / a `--reference` DIR. With `like` `[F, H, W, C]`, a PNG folder is read at
 * that frame size and frame count (bilinear resize, evenly spaced frames); other sources must
 * already match it.
 */
export async function loadVideoSet(path: string, flag: string, like?: readonly number[]): Promise<VideoSetData> {
  if (!existsSync(path)) throw new ConfigError(flag, path, 'an existing directory (fewstep sample output or PNG frame folders) or a .safetensors file');
  const isFile = statSync(path).isFile();
  const file = isFile ? path : join(path, 'samples.safetensors');
  let out: VideoSetData;
  if (isFile || existsSync(file)) {
    const videos = await readSamplesFile(file, flag);
    const infoFile = join(isFile ? join(path, '..') : path, 'sample-info.json');
    const info = !isFile && existsSync(infoFile) ? (JSON.parse(readFileSync(infoFile, 'utf8')) as SampleInfoLike) : undefined;
    let captions: string[] | undefined;
    try {
      captions = isFile ? undefined : readCaptionArray(join(path, 'captions.json'), videos.shape[0]);
    } catch (e) {
      videos.dispose();
      throw e;
    }
    out = { videos, captions, info, source: file, kind: 'samples' };
  } else {
    const opts = like ? { size: [like[1]!, like[2]!] as [number, number], frames: like[0]!, channels: like[3] as 1 | 3 } : {};
    const loaded = await readVideoFolder(path, opts);
    const captions = loaded.captions.some((c) => c.trim() !== '') ? loaded.captions : undefined;
    out = { videos: loaded.videos, captions, info: undefined, source: path, kind: 'png-folder' };
  }
  if (like && out.videos.shape.slice(1).join(',') !== like.join(',')) {
    const shape = out.videos.shape;
    out.videos.dispose();
    throw new ShapeError(`${flag} videos in ${out.source}`, shape, `[N, ${like.join(', ')}] (the samples' clip shape)`, 'compare sets of the same frames, size and channels');
  }
  return out;
}

/** Draws `n` clips (items 0 .. n-1) of a shapes-video spec, with their captions; checks their shape against `like`. */
export function shapesVideoSet(spec: string, n: number, like?: readonly number[]): VideoSetData {
  const ds = new ShapesVideo(parseShapesVideoSpec(spec));
  if (like && ds.videoShape.join(',') !== like.join(',')) {
    throw new ShapeError(`clips of ${formatShapesVideoSpec(ds.spec)}`, [n, ...ds.videoShape], `[N, ${like.join(', ')}] (the samples' clip shape)`, `evaluate against the spec the samples' model was trained on (frames=${like[0]},size=${like[1]},channels=${like[3]})`);
  }
  const b = ds.batch(0, n);
  tf.dispose([b.labels, b.tokens]);
  return { videos: b.videos, captions: b.captions, info: undefined, source: formatShapesVideoSpec(ds.spec), kind: 'shapes-video' };
}
