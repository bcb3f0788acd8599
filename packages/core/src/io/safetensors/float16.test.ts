import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@fewstep/testing';
import { bf16BitsToF32Bits, f16BitsToF32Bits, f32BitsToBf16Bits, f32BitsToF16Bits } from './float16.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsToNumber = (b: number): number => {
  u32[0] = b;
  return f32[0] as number;
};
const numberToBits = (v: number): number => {
  f32[0] = v;
  return u32[0] as number;
};

/** Independent F16 decode from the IEEE 754 formula, in float64. */
function f16Value(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m === 0 ? s * Infinity : NaN;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Independent round-to-nearest-even to F16 in float64: nearest of all finite F16 values. */
function nearestF16(v: number, finite: { value: number; bits: number }[]): number {
  if (Number.isNaN(v)) return -1;
  if (Math.abs(v) >= 65520) return v > 0 ? 0x7c00 : 0xfc00;
  let lo = 0;
  let hi = finite.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((finite[mid] as { value: number }).value <= v) lo = mid;
    else hi = mid;
  }
  const a = finite[lo] as { value: number; bits: number };
  const b = finite[hi] as { value: number; bits: number };
  const da = Math.abs(v - a.value);
  const db = Math.abs(b.value - v);
  let pick = da < db ? a : db < da ? b : (a.bits & 1) === 0 ? a : b;
  if (pick.value === 0) pick = { value: 0, bits: Object.is(v, -0) || v < 0 ? 0x8000 : 0 };
  return pick.bits;
}

describe('float16 / bfloat16 conversion (RELIABILITY.md §1.7.9)', () => {
  it('F16 → F32 is exact for all 65 536 patterns and F16 → F32 → F16 is the identity (NaN payloads kept)', () => {
    let mismatches = 0;
    for (let h = 0; h < 65536; h++) {
      const b = f16BitsToF32Bits(h);
      const v = bitsToNumber(b);
      const want = f16Value(h);
      if (Number.isNaN(want) ? !Number.isNaN(v) : !Object.is(v, want)) mismatches++;
      if (f32BitsToF16Bits(b) !== h) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('BF16 → F32 → BF16 is the identity for all 65 536 patterns', () => {
    let bad = 0;
    for (let h = 0; h < 65536; h++) if (f32BitsToBf16Bits(bf16BitsToF32Bits(h)) !== h) bad++;
    expect(bad).toBe(0);
  });

  it('F32 → F16 rounds to nearest even, overflows to ±Inf, flushes tiny values to ±0 (20 000 random + edge values)', () => {
    const finite: { value: number; bits: number }[] = [];
    for (let h = 0; h < 0x7c00; h++) {
      finite.push({ value: f16Value(h), bits: h });
      if (h !== 0) finite.push({ value: -f16Value(h), bits: h | 0x8000 });
    }
    finite.sort((x, y) => x.value - y.value);
    const rand = mulberry32(16);
    const values = [0, -0, 65504, 65519.99, 65520, -65520, 2 ** -24, 2 ** -25, 2 ** -25 * 1.0001, 3 * 2 ** -26, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 6.1e-5, 1e-8];
    for (let i = 0; i < 20000; i++) {
      const mag = 2 ** (rand() * 44 - 28);
      values.push((rand() < 0.5 ? -1 : 1) * mag);
    }
    let bad = 0;
    for (const v of values) {
      const x = bitsToNumber(numberToBits(v)); // the F32 value actually converted
      if (f32BitsToF16Bits(numberToBits(x)) !== nearestF16(x, finite)) bad++;
    }
    expect(bad).toBe(0);
  });

  it('F32 → BF16 rounds to nearest even and keeps NaN a NaN', () => {
    expect(f32BitsToBf16Bits(0x3f808000)).toBe(0x3f80); // tie, even stays
    expect(f32BitsToBf16Bits(0x3f818000)).toBe(0x3f82); // tie, odd rounds up
    expect(f32BitsToBf16Bits(0x3f808001)).toBe(0x3f81);
    expect(f32BitsToBf16Bits(0x7f7fffff)).toBe(0x7f80); // max float rounds to +Inf
    expect(f32BitsToBf16Bits(0x7f800001)).toBe(0x7fc0); // NaN whose payload is only in the low bits
    expect(f32BitsToF16Bits(0x7f800001)).toBe(0x7e00);
    expect(f32BitsToBf16Bits(0xffc00000)).toBe(0xffc0);
  });
});
