import { describe, expect, it } from 'vitest';
import { ConfigError } from '@fewstep/core';
import { captionAgreement, parseCaption } from './caption-agreement.js';
import type { VideoAttributePredictions } from './feature-extractor.js';

const colours = ['red', 'green', 'blue', 'yellow', 'purple'];
const shapes = ['circle', 'square', 'triangle'];
const directions = ['left', 'right', 'up', 'down'];

/** Predictions that see exactly `objects` (colour, shape, direction names) in each video. */
function predictionsOf(videos: [string, string, string][][]): VideoAttributePredictions {
  const presence = videos.map((objs) => colours.map((c) => (objs.some((o) => o[0] === c) ? 0.9 : 0.1)));
  const shape = videos.map((objs) => colours.map((c) => shapes.indexOf(objs.find((o) => o[0] === c)?.[1] ?? 'circle')));
  const direction = videos.map((objs) => colours.map((c) => directions.indexOf(objs.find((o) => o[0] === c)?.[2] ?? 'left')));
  const objects = videos.map((objs) => objs.map(([colour, s, d]) => ({ colour, shape: s, direction: d, confidence: 0.9 })));
  return { colours, shapes, directions, presence, shape, direction, objects };
}

describe('parseCaption', () => {
  it('reads shapes-video captions, with or without motion words', () => {
    expect(parseCaption('a red circle moving left and a blue square moving down', { colours, shapes, directions })).toEqual([
      { colour: 'red', shape: 'circle', direction: 'left' },
      { colour: 'blue', shape: 'square', direction: 'down' },
    ]);
    expect(parseCaption('a green triangle', { colours, shapes, directions })).toEqual([{ colour: 'green', shape: 'triangle', direction: null }]);
  });

  it('returns null for empty captions and words outside the vocabulary', () => {
    for (const c of ['', 'a pink circle moving left', 'a red hexagon', 'two red circles', 'a red circle moving sideways']) expect(parseCaption(c, { colours, shapes, directions })).toBeNull();
  });
});

describe('captionAgreement', () => {
  const seen: [string, string, string][][] = [
    [['red', 'circle', 'left']],
    [
      ['blue', 'square', 'down'],
      ['green', 'triangle', 'up'],
    ],
    [['yellow', 'triangle', 'right']],
    [['purple', 'circle', 'up']],
  ];
  const preds = predictionsOf(seen);

  it('scores 1 when every caption matches what the classifier sees', () => {
    const captions = ['a red circle moving left', 'a green triangle moving up and a blue square moving down', 'a yellow triangle moving right', 'a purple circle moving up'];
    expect(captionAgreement(preds, captions)).toEqual({ score: { n: 4, skipped: 0, colour: 1, shape: 1, direction: 1, all: 1 }, reason: null });
  });

  it('scores each attribute separately (hand-counted)', () => {
    const captions = [
      'a red square moving left', // shape wrong
      'a blue square moving down', // colour set wrong (green missing)
      'a yellow triangle moving left', // direction wrong
      'a purple circle moving up', // right
    ];
    expect(captionAgreement(preds, captions).score).toEqual({ n: 4, skipped: 0, colour: 0.75, shape: 0.75, direction: 0.75, all: 0.25 });
  });

  it('skips captions that do not parse, and gives null with a reason when nothing is left', () => {
    expect(captionAgreement(preds, ['a red circle moving left', 'a blue blob', '', 'a purple circle moving up']).score).toMatchObject({ n: 2, skipped: 2, all: 1 });
    expect(captionAgreement(preds, ['', '', '', ''])).toEqual({ score: null, reason: 'the videos carry no captions' });
    expect(captionAgreement(preds, ['x', 'y', 'z', 'w']).reason).toMatch(/none of the 4 captions reads/);
    expect(() => captionAgreement(preds, ['a red circle'])).toThrow(ConfigError);
  });

  it('leaves direction out for captions without motion words', () => {
    expect(captionAgreement(predictionsOf([[['red', 'circle', 'left']], [['blue', 'square', 'up']]]), ['a red circle', 'a blue square']).score).toEqual({ n: 2, skipped: 0, colour: 1, shape: 1, direction: null, all: 1 });
  });
});
