import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../errors.js';
import { formatGmmVideoSpec, parseGmmVideoSpec } from './gmm-video-spec.js';

describe('gmm-video spec', () => {
  it('parses every field, defaults weights to unequal, and round-trips through formatGmmVideoSpec', () => {
    const spec = parseGmmVideoSpec('gmm-video:modes=16,frames=8,size=8,channels=3,std=0.05,seed=7');
    expect(spec).toEqual({ modes: 16, frames: 8, size: 8, channels: 3, std: 0.05, seed: 7, weights: 'unequal' });
    expect(parseGmmVideoSpec(formatGmmVideoSpec(spec))).toEqual(spec);
    expect(parseGmmVideoSpec('gmm-video: seed=1, std=0.1,modes=2,frames=1,size=2,channels=1,weights=equal').weights).toBe('equal');
  });

  const bad: [string, RegExp][] = [
    ['shapes-video:frames=8', /'spec': "shapes-video:frames=8"\. Allowed: a string starting with 'gmm-video:'/],
    ['gmm-video:modes=4,frames=2,size=4,channels=1,std=0.1', /'gmm-video\.seed': undefined\. Allowed: a value \(required\)/],
    ['gmm-video:modes=4,frames=2,size=4,channels=1,std=0.1,seed=1,colour=red', /'gmm-video\.colour'.*Allowed: one of the keys modes, frames, size, channels, std, seed, weights/],
    ['gmm-video:modes=4.5,frames=2,size=4,channels=1,std=0.1,seed=1', /'gmm-video\.modes': "4\.5"\. Allowed: an integer in \[1, 4096\]/],
    ['gmm-video:modes=4,frames=0,size=4,channels=1,std=0.1,seed=1', /'gmm-video\.frames': "0"/],
    ['gmm-video:modes=4,frames=2,size=4,channels=1,std=-1,seed=1', /'gmm-video\.std': "-1"\. Allowed: a finite number > 0/],
    ['gmm-video:modes=4,frames=2,size=4,channels=1,std=0.1,seed=1,weights=zipf', /'gmm-video\.weights': "zipf"\. Allowed: 'unequal', 'equal'/],
    ['gmm-video:modes=4,modes=5,frames=2,size=4,channels=1,std=0.1,seed=1', /'gmm-video\.modes'.*each key once/],
    ['gmm-video:modes,frames=2', /'gmm-video\.modes'.*Allowed: key=value/],
  ];
  for (const [spec, message] of bad) {
    it(`rejects ${spec} with a ConfigError naming the field`, () => {
      expect(() => parseGmmVideoSpec(spec)).toThrow(ConfigError);
      expect(() => parseGmmVideoSpec(spec)).toThrow(message);
    });
  }
});
