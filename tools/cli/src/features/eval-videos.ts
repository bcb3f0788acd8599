/**
 * @file The video path of `fewstep eval`: loads the samples and the reference (video-sets.ts), the
 * feature network (`--features DIR`, default the committed `fewstep-video-features` v1), runs
 * `videoMetrics` (@fewstep/eval) and reports one object: every metric, the feature network's name
 * and version, and the speed recorded by `fewstep sample` (NFE, ms per sample; null when unknown).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@fewstep/core';
import { defaultVideoFeatureNetDir, VideoFeatureNet, videoMetrics, type VideoMetrics } from '@fewstep/eval';
import type { Output } from '../output.js';
import { loadVideoSet, shapesVideoSet, type VideoSetData } from './video-sets.js';

export interface EvalVideosOptions {
  samples: string;
  reference: string;
  /** Clips drawn from a shapes-video reference, or the first clips of a reference DIR. @default N of the samples */
  nReference?: number;
  /** Feature network directory. @default the committed one */
  features?: string;
}

/** The `--json` object of a video evaluation. */
export type EvalVideosResult = VideoMetrics & {
  samples: string;
  reference: string;
  features: string;
  shape: number[];
  nfe: number | null;
  msPerSample: number | null;
  solver: string | null;
  steps: number | null;
};

const fmt = (x: number | null, digits = 4): string => (x === null ? '-' : Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toFixed(digits));

/** The text table of a result. */
export function formatVideoMetrics(r: EvalVideosResult): string {
  const rows: [string, string, string, string][] = [
    ['Frechet distance', fmt(r.frechetDistance), '', ''],
    ['sharpness', fmt(r.sharpness), fmt(r.sharpnessRef), fmt(r.sharpnessRatio, 3)],
    ['temporal change', fmt(r.temporalChange), fmt(r.temporalChangeRef), fmt(r.temporalChangeRatio, 3)],
    ['diversity', fmt(r.diversity), fmt(r.diversityRef), fmt(r.diversityRatio, 3)],
  ];
  const ca = r.captionAgreement;
  const car = r.captionAgreementRef;
  rows.push(['caption agreement', ca ? fmt(ca.all, 3) : 'n/a', car ? fmt(car.all, 3) : '', '']);
  const w = [18, 12, 12, 8];
  const line = (c: readonly string[]): string => c.map((x, i) => (i === 0 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join(' ').trimEnd();
  const speed = r.nfe === null ? '' : `; ${r.solver ?? 'sampler'}${r.steps === null ? '' : ` ${r.steps} steps`}, NFE ${r.nfe}${r.msPerSample === null ? '' : `, ${r.msPerSample.toFixed(2)} ms/sample`}`;
  return [
    `samples   ${r.samples} (${r.n} videos [${r.shape.join(', ')}]${speed})`,
    `reference ${r.reference} (${r.nReference} videos)`,
    `features  ${r.featureNet.name} v${r.featureNet.version} (${r.featureNet.featureDim}-d)`,
    line(['metric', 'samples', 'reference', 'ratio']),
    ...rows.map(line),
    ...(ca ? [`  caption agreement: colour ${fmt(ca.colour, 3)}, shape ${fmt(ca.shape, 3)}, direction ${fmt(ca.direction, 3)}, all ${fmt(ca.all, 3)} (${ca.n} captions)`] : [`  caption agreement: n/a (${r.captionAgreementReason})`]),
  ].join('\n');
}

/** Scores the samples against the reference (see the file comment) and prints the result. */
export async function evalVideos(o: EvalVideosOptions, out: Output): Promise<EvalVideosResult> {
  const sets: VideoSetData[] = [];
  let net: VideoFeatureNet | undefined;
  try {
    const samples = await loadVideoSet(o.samples, '--samples');
    sets.push(samples);
    const n = samples.videos.shape[0];
    const like = samples.videos.shape.slice(1);
    const nRef = o.nReference ?? n;
    let reference: VideoSetData;
    if (o.reference.startsWith('shapes-video')) {
      reference = shapesVideoSet(o.reference, nRef, like);
    } else {
      reference = await loadVideoSet(o.reference, '--reference', like);
      if (o.nReference !== undefined) {
        const m = reference.videos.shape[0];
        if (o.nReference > m) {
          reference.videos.dispose();
          throw new ConfigError('--n-reference', o.nReference, `at most ${m} (the reference holds ${m} videos)`);
        }
        const head = tf.slice(reference.videos, 0, o.nReference) as tf.Tensor5D;
        reference.videos.dispose();
        reference = { ...reference, videos: head, captions: reference.captions?.slice(0, o.nReference) };
      }
    }
    sets.push(reference);
    const featuresDir = o.features ?? defaultVideoFeatureNetDir();
    net = await VideoFeatureNet.load(featuresDir);
    out.progress(`eval: ${n} samples vs ${reference.videos.shape[0]} reference videos, features ${net.name} v${net.version} (${featuresDir})`);
    const metrics = videoMetrics({
      samples: samples.videos,
      reference: reference.videos,
      extractor: net,
      ...(samples.captions ? { captions: samples.captions } : {}),
      ...(reference.captions ? { referenceCaptions: reference.captions } : {}),
    });
    const info = samples.info;
    const result: EvalVideosResult = {
      samples: samples.source,
      reference: reference.source,
      features: featuresDir,
      shape: samples.videos.shape.slice(1),
      ...metrics,
      nfe: info?.nfe ?? null,
      msPerSample: info?.msPerSample ?? null,
      solver: info?.solver ?? null,
      steps: info?.steps ?? null,
    };
    out.result(result);
    out.text(formatVideoMetrics(result));
    return result;
  } finally {
    for (const s of sets) s.videos.dispose();
    net?.dispose();
  }
}
