/**
 * Exact IEEE 754 binary16 (F16) and bfloat16 (BF16) ↔ binary32 bit conversions, written for
 * fewstep (tfjs has no 16-bit dtypes, RELIABILITY.md §1.7.9). Everything works on BIT PATTERNS
 * (`Uint32Array` views of `Float32Array`s), never on JS numbers, so NaN payloads survive.
 *
 * - Widening (F16/BF16 → F32) is exact for all 65 536 patterns; a NaN keeps its payload in the
 *   top mantissa bits.
 * - Narrowing (F32 → F16/BF16) rounds to nearest, ties to even; finite values beyond the 16-bit
 *   range become ±Inf (the writer refuses that unless non-finite values are allowed, P10); a NaN
 *   keeps its top payload bits and gets the quiet bit if those are all zero, so it stays a NaN.
 */

/** F16 bits → F32 bits (exact). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let man = h & 0x3ff;
  if (exp === 0) {
    if (man === 0) return sign >>> 0;
    // Subnormal 0.m × 2^-14: normalise into an F32 normal number.
    let e = 113; // 127 - 15 + 1
    while ((man & 0x400) === 0) {
      man <<= 1;
      e--;
    }
    return (sign | (e << 23) | ((man & 0x3ff) << 13)) >>> 0;
  }
  if (exp === 0x1f) return (sign | 0x7f800000 | (man << 13)) >>> 0;
  return (sign | ((exp + 112) << 23) | (man << 13)) >>> 0;
}

/** F32 bits → F16 bits, round to nearest even; overflow gives ±Inf. */
export function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const man = x & 0x7fffff;
  if (exp === 0xff) {
    if (man === 0) return sign | 0x7c00;
    const payload = man >>> 13;
    return sign | 0x7c00 | (payload === 0 ? 0x200 : payload);
  }
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Result is an F16 subnormal (or zero): keep the top bits of the 24-bit significand.
    const shift = 14 - e;
    if (shift > 24) return sign;
    const sig = man | 0x800000;
    let r = sig >>> shift;
    const rem = sig & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (r & 1) === 1)) r++;
    return sign | r;
  }
  let r = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1) === 1)) r++; // a carry may reach Inf: correct
  return sign | r;
}

/** BF16 bits → F32 bits (exact: BF16 is the top half of an F32). */
export function bf16BitsToF32Bits(h: number): number {
  return (h << 16) >>> 0;
}

/** F32 bits → BF16 bits, round to nearest even; overflow gives ±Inf. */
export function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) {
    const top = (x >>> 16) & 0xffff;
    return (top & 0x7f) === 0 ? top | 0x40 : top;
  }
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

let f16Table: Uint32Array | undefined;

/** Lazily built 65 536-entry F16 → F32 bit table (256 KiB). */
function table(): Uint32Array {
  if (!f16Table) {
    f16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32Bits(h);
  }
  return f16Table;
}

/** Widens `src` (F16 bits) into `dst` (F32 bits) at `dstOffset`. */
export function decodeF16(src: Uint16Array, dst: Uint32Array, dstOffset = 0): void {
  const t = table();
  for (let i = 0; i < src.length; i++) dst[dstOffset + i] = t[src[i] as number] as number;
}

/** Widens `src` (BF16 bits) into `dst` (F32 bits) at `dstOffset`. */
export function decodeBf16(src: Uint16Array, dst: Uint32Array, dstOffset = 0): void {
  for (let i = 0; i < src.length; i++) dst[dstOffset + i] = ((src[i] as number) << 16) >>> 0;
}

/** Narrows F32 bits to F16 bits, elementwise. */
export function encodeF16(src: Uint32Array, dst: Uint16Array): void {
  for (let i = 0; i < src.length; i++) dst[i] = f32BitsToF16Bits(src[i] as number);
}

/** Narrows F32 bits to BF16 bits, elementwise. */
export function encodeBf16(src: Uint32Array, dst: Uint16Array): void {
  for (let i = 0; i < src.length; i++) dst[i] = f32BitsToBf16Bits(src[i] as number);
}
