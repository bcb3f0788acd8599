/**
 * @file `fewstep train-features`: trains the `fewstep-video-features` network (@fewstep/eval) on
 * freshly generated shapes-video clips with the core trainer (checkpoints every N steps, exact
 * resume with `resume: 'auto'`, metrics.jsonl, progress lines), then measures its held-out
 * accuracy and writes `<out>/model.json` + `<out>/model.safetensors`.
 *
 * Objective (attribute-heads.ts in @fewstep/eval): per colour of the palette, binary cross-entropy
 * on "an object of this colour is in the clip" plus softmax cross-entropy on its shape and
 * direction where it is. Optimiser (our choice): AdamW (weight decay 1e-4), linear warm-up over
 * 5% of the steps then cosine decay to lr / 20, gradients clipped at global norm 1.
 *
 * Held-out clips are items `n .. n + heldOut - 1` of the data spec: the data source draws items
 * `0 .. n - 1` only (each at most once when `steps * batchSize <= n`), so they are never trained on.
 */
import * as tf from '@tensorflow/tfjs-core';
import { jsonlMetrics, lossTerm, progressBar, startRun, type TrainingPlugin, type TrainingRun } from '@fewstep/core';
import { formatShapesVideoSpec, parseShapesVideoSpec, shapesVideoSource, ShapesVideo } from '@fewstep/data';
import { captionAgreement, VideoFeatureNet, type CaptionAgreement } from '@fewstep/eval';

export interface TrainFeaturesOptions {
  /** `shapes-video:...` spec of the training clips. */
  data: string;
  steps: number;
  out: string;
  batchSize: number;
  lr: number;
  seed: number;
  /** @default ceil(steps / 4) */
  checkpointEvery?: number;
  /** Held-out clips scored at the end. @default 512 */
  heldOut?: number;
  quietBar?: boolean;
  plugins?: TrainingPlugin[];
  onRun?: (run: TrainingRun) => void;
}

/** Held-out accuracies: per decision and per caption. */
export interface HeldOutAccuracy {
  /** Clips scored. */
  n: number;
  /** Fraction of (clip, colour) presence decisions that are right. */
  presence: number;
  /** Fraction of objects whose shape / direction is right. */
  shape: number;
  direction: number;
  /** Caption agreement with the clips' true captions (colour set, shapes, directions, all). */
  caption: CaptionAgreement;
}

export interface TrainFeaturesResult {
  dir: string;
  data: string;
  parameters: number;
  steps: number;
  seconds: number;
  heldOut: HeldOutAccuracy;
}

/** Scores a network on clips `start .. start + n - 1` of `spec` (batches of 64). */
export function heldOutAccuracy(net: VideoFeatureNet, spec: string, start: number, n: number): HeldOutAccuracy {
  const ds = new ShapesVideo(spec);
  const colours = net.config.attributes.colours;
  let presenceOk = 0;
  let decisions = 0;
  let objects = 0;
  let shapeOk = 0;
  let directionOk = 0;
  const captions: string[] = [];
  const preds: ReturnType<VideoFeatureNet['classify']>[] = [];
  for (let i = 0; i < n; i += 64) {
    const b = ds.batch(start + i, Math.min(64, n - i));
    try {
      const p = net.classify(b.videos);
      preds.push(p);
      captions.push(...b.captions);
      const labels = b.labels.arraySync();
      labels.forEach((rows, v) => {
        const present = new Set<number>();
        for (const [s, c, d] of rows as [number, number, number][]) {
          if (c < 0) continue;
          present.add(c);
          objects++;
          if (p.shape[v]![c] === s) shapeOk++;
          if (p.direction[v]![c] === d) directionOk++;
        }
        for (let k = 0; k < colours.length; k++) {
          decisions++;
          if (p.presence[v]![k]! > 0.5 === present.has(k)) presenceOk++;
        }
      });
    } finally {
      tf.dispose([b.videos, b.labels, b.tokens]);
    }
  }
  const all = {
    colours: preds[0]!.colours,
    shapes: preds[0]!.shapes,
    directions: preds[0]!.directions,
    presence: preds.flatMap((p) => p.presence),
    shape: preds.flatMap((p) => p.shape),
    direction: preds.flatMap((p) => p.direction),
    objects: preds.flatMap((p) => p.objects),
  };
  const caption = captionAgreement(all, captions).score!;
  return { n, presence: presenceOk / decisions, shape: shapeOk / objects, direction: directionOk / objects, caption };
}

/** Trains (or resumes) the feature network and writes the model directory. */
export async function trainFeatures(o: TrainFeaturesOptions): Promise<TrainFeaturesResult> {
  const started = performance.now();
  const spec = parseShapesVideoSpec(o.data);
  const data = formatShapesVideoSpec(spec);
  const heldOut = o.heldOut ?? 512;
  const net = VideoFeatureNet.create({ data }, { seed: o.seed });
  try {
    const plugins = [jsonlMetrics(), ...(o.quietBar ? [] : [progressBar()]), ...(o.plugins ?? [])];
    const run = startRun({
      seed: o.seed,
      steps: o.steps,
      roles: { features: net.net },
      data: shapesVideoSource(data, { batchSize: o.batchSize, labels: true }),
      phases: [
        {
          role: 'features',
          losses: [
            lossTerm('attributes', (ctx) => {
              const l = net.loss(ctx.batch['x0']!, ctx.batch['labels']!);
              return {
                loss: l.loss,
                metrics: { presenceBce: l.presenceBce, shapeCe: l.shapeCe, directionCe: l.directionCe, presenceAcc: l.presenceAccuracy, shapeAcc: l.shapeAccuracy, directionAcc: l.directionAccuracy },
              };
            }),
          ],
          optimizer: {
            type: 'adamw',
            lr: { type: 'warmup-cosine', lr: o.lr, warmupSteps: Math.max(1, Math.floor(o.steps / 20)), totalSteps: o.steps, minLr: o.lr / 20 },
            weightDecay: 1e-4,
            maxGradNorm: 1,
          },
        },
      ],
      outDir: o.out,
      checkpoint: { every: o.checkpointEvery ?? Math.max(1, Math.ceil(o.steps / 4)), keepLast: 2 },
      resume: 'auto',
      plugins,
      hashExtra: { kind: 'train-features', config: net.config, batchSize: o.batchSize, lr: o.lr },
    });
    o.onRun?.(run);
    await run.result;
    net.net.freeze();
    const accuracy = heldOutAccuracy(net, data, spec.n, heldOut);
    const seconds = (performance.now() - started) / 1000;
    await net.save(o.out, { data, steps: o.steps, batchSize: o.batchSize, lr: o.lr, seed: o.seed, heldOut: accuracy, backend: tf.getBackend(), seconds: Math.round(seconds) });
    return { dir: o.out, data, parameters: net.numParameters(), steps: o.steps, seconds, heldOut: accuracy };
  } finally {
    net.dispose();
  }
}
