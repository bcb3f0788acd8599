import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from '@fewstep/core';
import { parseOptions } from './resolve-options.js';

const schema = z.strictObject({
  lr: z.number().positive().default(1e-4),
  critic: z.strictObject({ depth: z.number().int().default(2), width: z.number().int().default(8) }).default({ depth: 2, width: 8 }),
});

function errorOf(input: unknown): ConfigError {
  try {
    parseOptions(schema, input, 'recipe:x');
  } catch (e) {
    return e as ConfigError;
  }
  throw new Error('parseOptions accepted bad input');
}

describe('parseOptions', () => {
  it('fills defaults and accepts known nested keys', () => {
    expect(parseOptions(schema, { critic: { depth: 3 } }, 'recipe:x')).toEqual({ lr: 1e-4, critic: { depth: 3, width: 8 } });
  });

  it('an unknown top-level key names it and lists the top-level options', () => {
    const e = errorOf({ lrr: 1 });
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toContain('recipe:x options.lrr');
    expect(e.message).toContain('known options: lr, critic');
  });

  it('an unknown nested key names its full path, its value, and lists the nested object options', () => {
    const e = errorOf({ critic: { dept: 4 } });
    expect(e.message).toContain('recipe:x options.critic.dept');
    expect(e.message).toContain('4');
    expect(e.message).toContain('known options of critic: depth, width');
  });

  it('a bad value names its path', () => {
    expect(errorOf({ critic: { depth: 1.5 } }).message).toContain('options.critic.depth');
  });
});
