/**
 * @file Caption agreement: how often a classifier's reading of a video matches the video's caption.
 * Captions are shapes-video's `a <colour> <shape> moving <direction>` clauses joined by `and`
 * (`moving <direction>` optional: image captions). Per video, against the classifier's per-colour
 * predictions (attribute-heads.ts):
 *
 * - colour: the set of colours judged present equals the caption's colour set;
 * - shape: for every captioned object, the predicted shape of its colour is the caption's;
 * - direction: the same for directions (videos whose caption names no direction are left out);
 * - all: colour, shape and direction all agree.
 *
 * Each score is the fraction of (scored) videos that agree. Captions that do not parse (outside
 * the vocabulary) are skipped and counted; with none left the result is `null` with the reason.
 */
import { ConfigError } from '@fewstep/core';
import type { VideoAttributePredictions } from './feature-extractor.js';

/** One object of a parsed caption. */
export interface CaptionObject {
  readonly colour: string;
  readonly shape: string;
  /** `null` when the clause has no `moving <direction>`. */
  readonly direction: string | null;
}

/**
 * Parses a shapes-video caption into its objects using the vocabularies of `v`; `null` when the
 * caption is empty or any clause does not read `a <colour> <shape>[ moving <direction>]`.
 */
export function parseCaption(caption: string, v: Pick<VideoAttributePredictions, 'colours' | 'shapes' | 'directions'>): CaptionObject[] | null {
  const text = caption.trim().toLowerCase().replace(/\s+/g, ' ').replace(/\.$/, '');
  if (text === '') return null;
  const out: CaptionObject[] = [];
  for (const clause of text.split(' and ')) {
    const w = clause.trim().split(' ');
    const ok = (w.length === 3 || (w.length === 5 && w[3] === 'moving')) && (w[0] === 'a' || w[0] === 'an');
    if (!ok || !v.colours.includes(w[1]!) || !v.shapes.includes(w[2]!) || (w.length === 5 && !v.directions.includes(w[4]!))) return null;
    out.push({ colour: w[1]!, shape: w[2]!, direction: w.length === 5 ? w[4]! : null });
  }
  return out;
}

/** Agreement fractions (of the scored videos). */
export interface CaptionAgreement {
  /** Videos scored (captions that parsed). */
  readonly n: number;
  /** Captions that did not parse (left out). */
  readonly skipped: number;
  readonly colour: number;
  readonly shape: number;
  /** `null` when no scored caption names a direction. */
  readonly direction: number | null;
  readonly all: number;
}

/** Result of {@link captionAgreement}: the scores, or `null` with the reason. */
export type CaptionAgreementResult = { readonly score: CaptionAgreement; readonly reason: null } | { readonly score: null; readonly reason: string };

/** Caption agreement of predictions `[N]` with captions `[N]` (see the file comment). */
export function captionAgreement(predictions: VideoAttributePredictions, captions: readonly string[]): CaptionAgreementResult {
  const n = predictions.presence.length;
  if (captions.length !== n) throw new ConfigError('captions', captions.length, `${n} captions (one per video)`);
  if (captions.every((c) => c.trim() === '')) return { score: null, reason: 'the videos carry no captions' };
  let scored = 0;
  let skipped = 0;
  let colourOk = 0;
  let shapeOk = 0;
  let directionOk = 0;
  let directionScored = 0;
  let allOk = 0;
  const index = (list: readonly string[], name: string): number => list.indexOf(name);
  captions.forEach((caption, i) => {
    const objects = parseCaption(caption, predictions);
    if (objects === null) {
      skipped++;
      return;
    }
    scored++;
    const present = new Set(predictions.colours.filter((_, k) => predictions.presence[i]![k]! > 0.5));
    const wanted = new Set(objects.map((o) => o.colour));
    const colour = present.size === wanted.size && [...wanted].every((c) => present.has(c));
    const shape = objects.every((o) => predictions.shape[i]![index(predictions.colours, o.colour)] === index(predictions.shapes, o.shape));
    const hasDirection = objects.every((o) => o.direction !== null);
    const direction = hasDirection && objects.every((o) => predictions.direction[i]![index(predictions.colours, o.colour)] === index(predictions.directions, o.direction!));
    if (colour) colourOk++;
    if (shape) shapeOk++;
    if (hasDirection) {
      directionScored++;
      if (direction) directionOk++;
    }
    if (colour && shape && (direction || !hasDirection)) allOk++;
  });
  if (scored === 0) return { score: null, reason: `none of the ${n} captions reads 'a <colour> <shape> moving <direction> [and ...]' in the classifier's vocabulary (e.g. '${captions.find((c) => c.trim() !== '')}')` };
  return {
    score: { n: scored, skipped, colour: colourOk / scored, shape: shapeOk / scored, direction: directionScored > 0 ? directionOk / directionScored : null, all: allOk / scored },
    reason: null,
  };
}
