import { describe, expect, it } from 'vitest';
import { hashUniformValues, nameSeed } from './hash-init.js';

describe('hash initialiser (shared bit-for-bit with python/engine_bench.py)', () => {
  it('reproduces values computed by the Python twin', () => {
    // From: python3 -c "import engine_bench as e; print(e.name_seed('conv0.w'), list(e.hash_uniform_values(4, e.name_seed('conv0.w'), 0.5)))"
    expect(nameSeed('conv0.w')).toBe(GOLDEN_SEED);
    expect(Array.from(hashUniformValues(4, GOLDEN_SEED, 0.5))).toEqual(GOLDEN_VALUES);
  });

  it('stays inside [-bound, bound) with about zero mean', () => {
    const v = hashUniformValues(10000, 123, 2);
    let [lo, hi, sum] = [Infinity, -Infinity, 0];
    for (const x of v) {
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
      sum += x;
    }
    expect(lo).toBeGreaterThanOrEqual(-2);
    expect(hi).toBeLessThan(2);
    expect(Math.abs(sum / v.length)).toBeLessThan(0.05);
  });
});

const GOLDEN_SEED = 184826786;
const GOLDEN_VALUES = [0.18944412469863892, 0.39274364709854126, 0.029500722885131836, 0.22401243448257446];
