/**
 * Generates fewstep's WebAssembly SIMD element-wise kernels at run time (see wasm-assembler.ts).
 * All pointers and strides are bytes on the tfjs wasm heap.
 *
 *  - `colSum(x, rows, n, rowStride, acc)`: `acc[j] += Σ_{r < rows} x[r*rowStride + 4j]` for
 *    `j < n`, with `acc` float64 (as the cpu backend's JS sums): blocks of 8 columns are summed
 *    in four `f64x2` registers over all rows, then added to `acc` (a remainder column scalar).
 *  - `binAdd|binSub|binMul|binDiv(rows, n, a, aRow, aInner, b, bRow, bInner, out)`:
 *    `out[r*n + j] = a[r*aRow + j*aInner] ∘ b[r*bRow + j*bInner]` with `aInner`, `bInner` each 0
 *    (broadcast) or 4, `out` contiguous. float32 arithmetic (correctly rounded, like the cpu
 *    backend's float64 computation rounded once, up to double-rounding ties).
 *  - `tanh(x, out, n)`: `out = tanh(x)`; `|x| < 0.25`: odd Taylor polynomial to `x^13`
 *    (truncation < 2e-10 relative); otherwise `sign(x)·(1 − 2/(e^{2|x|} + 1))` with `e^y` by
 *    range reduction `y = k·ln2 + r`, `|r| <= ln2/2`, a degree-7 Taylor polynomial in `r`
 *    (truncation < 3e-8 relative) and `2^k` built in the exponent bits; `|x| >= 10` gives ±1.
 *    Relative error < 5e-7 (measured against `Math.tanh` over [-12, 12]).
 *  - `softmax(x, out, rows, n)`: row-wise softmax (see {@link softmaxFunction}).
 */
import { buildModule, F32, F64, FunctionBuilder, I32, OP, SIMD, V128 } from './wasm-assembler.js';

/** Extra opcodes (after 0xfd) used here. */
const X = {
  i8x16Shuffle: 0x0d,
  /** `f32x4.pmin/pmax`: `b < a ? b : a` / `a < b ? b : a`, one minps/maxps on x64 (f32x4.min/max need ~8 for NaN and ±0 rules). */
  f32x4Pmin: 0xea,
  f32x4Pmax: 0xeb,
  f32x4Abs: 0xe0,
  f32x4Neg: 0xe1,
  f32x4Sub: 0xe5,
  f32x4Div: 0xe7,
  f32x4Nearest: 0x6a,
  i32x4TruncSatF32x4S: 0xf8,
  i32x4Shl: 0xab,
  i32x4Add: 0xae,
  i32x4Sub: 0xb1,
  f64x2PromoteLowF32x4: 0x5f,
  f64x2Add: 0xf0,
  f32x4Ne: 0x42,
  f32x4Lt: 0x43,
  f32x4Gt: 0x44,
  v128And: 0x4e,
  v128Or: 0x50,
  v128Bitselect: 0x52,
  i32x4Splat: 0x11,
} as const;

/** Scalar opcodes used here. */
const S = {
  f64Load: 0x2b,
  f64Store: 0x39,
  f64Add: 0xa0,
  f64PromoteF32: 0xbb,
  f32Sub: 0x93,
  f32Div: 0x95,
} as const;

/** Exports of the generated module. */
export interface ElementwiseExports {
  colSum(x: number, rows: number, n: number, rowStride: number, acc: number): void;
  binAdd(rows: number, n: number, a: number, aRow: number, aInner: number, b: number, bRow: number, bInner: number, out: number): void;
  binSub(rows: number, n: number, a: number, aRow: number, aInner: number, b: number, bRow: number, bInner: number, out: number): void;
  binMul(rows: number, n: number, a: number, aRow: number, aInner: number, b: number, bRow: number, bInner: number, out: number): void;
  binDiv(rows: number, n: number, a: number, aRow: number, aInner: number, b: number, bRow: number, bInner: number, out: number): void;
  tanh(x: number, out: number, n: number): void;
  softmax(x: number, out: number, rows: number, n: number): void;
}

function whileLt(f: FunctionBuilder, i: number, n: number, body: () => void): void {
  f.block(() =>
    f.loop(() => {
      f.get(i).get(n).emit(OP.i32GeS).brIf(1);
      body();
      f.br(0);
    }),
  );
}

/** `colSum`: see the module comment. */
function colSumFunction(): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32]);
  const [x, rows, n, rowStride, acc] = [0, 1, 2, 3, 4];
  const j = f.local(I32);
  const r = f.local(I32);
  const p = f.local(I32);
  const n8 = f.local(I32);
  const v = f.local(V128);
  const w = f.local(V128);
  const accs = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const s = f.local(F64);
  const HIGH_HALF = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
  const promoteHigh = (local: number): void => {
    f.get(local).get(local).emit(0xfd, X.i8x16Shuffle, ...HIGH_HALF).simd(X.f64x2PromoteLowF32x4);
  };
  f.get(n).i32(-8).emit(OP.i32And).set(n8);
  f.i32(0).set(j);
  whileLt(f, j, n8, () => {
    for (const a of accs) f.f32(0).simd(SIMD.f32x4Splat).simd(X.f64x2PromoteLowF32x4).set(a);
    f.get(x).get(j).i32(4).emit(OP.i32Mul, OP.i32Add).set(p);
    f.i32(0).set(r);
    whileLt(f, r, rows, () => {
      f.get(p).v128Load(0).set(v);
      f.get(p).v128Load(16).set(w);
      f.get(accs[0]!).get(v).simd(X.f64x2PromoteLowF32x4).simd(X.f64x2Add).set(accs[0]!);
      f.get(accs[1]!);
      promoteHigh(v);
      f.simd(X.f64x2Add).set(accs[1]!);
      f.get(accs[2]!).get(w).simd(X.f64x2PromoteLowF32x4).simd(X.f64x2Add).set(accs[2]!);
      f.get(accs[3]!);
      promoteHigh(w);
      f.simd(X.f64x2Add).set(accs[3]!);
      f.addLocal(p, rowStride).addTo(r, 1);
    });
    // acc[j..j+8) += registers (f64, 16 bytes per pair).
    f.get(acc).get(j).i32(8).emit(OP.i32Mul, OP.i32Add).set(p);
    accs.forEach((a, q) => {
      f.get(p).get(p).v128Load(16 * q).get(a).simd(X.f64x2Add).v128Store(16 * q);
    });
    f.addTo(j, 8);
  });
  whileLt(f, j, n, () => {
    f.emit(0x44, 0, 0, 0, 0, 0, 0, 0, 0).set(s); // f64.const 0
    f.get(x).get(j).i32(4).emit(OP.i32Mul, OP.i32Add).set(p);
    f.i32(0).set(r);
    whileLt(f, r, rows, () => {
      f.get(s).get(p).f32Load().emit(S.f64PromoteF32, S.f64Add).set(s);
      f.addLocal(p, rowStride).addTo(r, 1);
    });
    f.get(acc).get(j).i32(8).emit(OP.i32Mul, OP.i32Add).set(p);
    f.get(p).get(p).emit(S.f64Load, 3, 0).get(s).emit(S.f64Add).emit(S.f64Store, 3, 0);
    f.addTo(j, 1);
  });
  return f;
}

type BinOp = 'add' | 'sub' | 'mul' | 'div';
const VEC_OP: Record<BinOp, number> = { add: SIMD.f32x4Add, sub: X.f32x4Sub, mul: SIMD.f32x4Mul, div: X.f32x4Div };
const SCALAR_OP: Record<BinOp, number> = { add: OP.f32Add, sub: S.f32Sub, mul: OP.f32Mul, div: S.f32Div };

/** `binAdd` etc.: see the module comment. */
function binaryFunction(op: BinOp): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [rows, n, a, aRow, aInner, b, bRow, bInner, out] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const r = f.local(I32);
  const j = f.local(I32);
  const pa = f.local(I32);
  const pb = f.local(I32);
  const po = f.local(I32);
  const n4 = f.local(I32);
  const sa = f.local(V128);
  const sb = f.local(V128);
  f.get(n).i32(-4).emit(OP.i32And).set(n4);
  f.get(out).set(po);
  f.i32(0).set(r);
  whileLt(f, r, rows, () => {
    f.get(a).get(r).get(aRow).emit(OP.i32Mul, OP.i32Add).set(pa);
    f.get(b).get(r).get(bRow).emit(OP.i32Mul, OP.i32Add).set(pb);
    f.i32(0).set(j);
    // Vector part, one loop per broadcast pattern.
    const vecLoop = (aVec: boolean, bVec: boolean): void => {
      if (!aVec) f.get(pa).v128Load32Splat(0).set(sa);
      if (!bVec) f.get(pb).v128Load32Splat(0).set(sb);
      whileLt(f, j, n4, () => {
        f.get(po);
        if (aVec) f.get(pa).v128Load(0);
        else f.get(sa);
        if (bVec) f.get(pb).v128Load(0);
        else f.get(sb);
        f.simd(VEC_OP[op]).v128Store(0);
        if (aVec) f.addTo(pa, 16);
        if (bVec) f.addTo(pb, 16);
        f.addTo(po, 16).addTo(j, 4);
      });
    };
    f.get(aInner).get(bInner).emit(OP.i32And);
    f.if(
      () => vecLoop(true, true),
      () => {
        f.get(aInner);
        f.if(
          () => vecLoop(true, false),
          () => {
            f.get(bInner);
            f.if(() => vecLoop(false, true));
          },
        );
      },
    );
    // Scalar remainder (and the case where both are broadcast).
    whileLt(f, j, n, () => {
      f.get(po).get(pa).f32Load().get(pb).f32Load().emit(SCALAR_OP[op]).f32Store();
      f.addLocal(pa, aInner).addLocal(pb, bInner).addTo(po, 4).addTo(j, 1);
    });
    f.addTo(r, 1);
  });
  return f;
}

const LN2_HI = 0.693145751953125;
const LN2_LO = 1.428606765330187e-6;
/** 1.5·2^23: adding it rounds a float of magnitude < 2^22 to an integer (ties to even). */
const ROUND_MAGIC = 12582912;
const ROUND_MAGIC_BITS = 0x4b400000;

/** Small emitters for f32x4 arithmetic on a function. */
function vec(f: FunctionBuilder, fma: boolean): {
  splat: (c: number) => void;
  mul: () => void;
  add: () => void;
  horner: (t: number, coeffs: readonly number[]) => void;
  exp: (y: number, k: number, r: number) => void;
} {
  // v128.const (one load from V8's constant pool) rather than f32.const + f32x4.splat.
  const splat = (c: number): void => {
    f.emit(0xfd, 0x0c, ...new Uint8Array(new Float32Array([c, c, c, c]).buffer));
  };
  const mul = (): void => {
    f.simd(SIMD.f32x4Mul);
  };
  const add = (): void => {
    f.simd(SIMD.f32x4Add);
  };
  /** Horner: p = c[last]; p = p*t + c[i] (leaves p on the stack). */
  const horner = (t: number, coeffs: readonly number[]): void => {
    splat(coeffs[coeffs.length - 1] as number);
    for (let i = coeffs.length - 2; i >= 0; i--) {
      f.get(t);
      if (fma) {
        splat(coeffs[i] as number);
        f.simd(SIMD.f32x4RelaxedMadd);
      } else {
        mul();
        splat(coeffs[i] as number);
        add();
      }
    }
  };
  /**
   * Leaves `e^y` on the stack for the f32x4 local `y` (caller keeps `y` in [-80, 80] so the
   * result is a normal float): `y = k·ln2 + r` (`ln2` split in two for an exact `k·ln2_hi`),
   * `e^r` by its degree-7 Taylor polynomial (`|r| <= ln2/2`: truncation < 3e-8 relative), and
   * `2^k` added to the exponent bits. Uses the f32x4 locals `k`, `r`.
   */
  const exp = (y: number, k: number, r: number): void => {
    // t = y·log2(e) + 1.5·2^23 rounds to an integer in the low mantissa bits (|y·log2 e| < 2^22):
    // k = t − 1.5·2^23 as a float, and bits(t) − bits(1.5·2^23) = k as an i32. (V8 lowers
    // f32x4.nearest and i32x4.trunc_sat_f32x4_s to long sequences on x64; this is 3 instructions.)
    f.get(y);
    splat(Math.LOG2E);
    mul();
    splat(ROUND_MAGIC);
    add();
    f.set(k);
    f.get(y);
    f.get(k);
    splat(ROUND_MAGIC);
    f.simd(X.f32x4Sub).set(r); // r holds k (float) for a moment
    f.get(r);
    splat(LN2_HI);
    mul();
    f.simd(X.f32x4Sub);
    f.get(r);
    splat(LN2_LO);
    mul();
    f.simd(X.f32x4Sub).set(r);
    horner(r, [1, 1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040]);
    f.get(k);
    f.i32(ROUND_MAGIC_BITS).simd(X.i32x4Splat);
    f.simd(X.i32x4Sub);
    f.i32(23).simd(X.i32x4Shl).simd(X.i32x4Add);
  };
  return { splat, mul, add, horner, exp };
}

/** `tanh`: see the module comment. */
function tanhFunction(fma: boolean): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32]);
  const [x, out, n] = [0, 1, 2];
  const j = f.local(I32);
  const n4 = f.local(I32);
  const px = f.local(I32);
  const po = f.local(I32);
  const v = f.local(V128);
  const ax = f.local(V128);
  const y = f.local(V128);
  const k = f.local(V128);
  const r = f.local(V128);
  const p = f.local(V128);
  const small = f.local(V128);
  const x2 = f.local(V128);
  const { splat, mul, add, horner, exp } = vec(f, fma);
  /** One vector: reads `v`, leaves tanh(v) on the stack. */
  const body = (): void => {
    f.get(v).simd(X.f32x4Abs).set(ax);
    // Large |x|: y = min(2|x|, 20); e^y = 2^k e^r (tanh(10) rounds to 1 in float32).
    f.get(ax).get(ax).simd(SIMD.f32x4Add);
    splat(20);
    f.simd(X.f32x4Pmin).set(y);
    exp(y, k, r);
    f.set(p);
    // 1 - 2/(e^y + 1)
    splat(1);
    splat(2);
    f.get(p);
    splat(1);
    add();
    f.simd(X.f32x4Div).simd(X.f32x4Sub).set(p);
    // Small |x| < 0.25: x + x^3 * Q(x^2), Q from the Taylor series of tanh.
    f.get(v).get(v);
    mul();
    f.set(x2);
    f.get(v);
    f.get(v).get(x2);
    mul();
    horner(x2, [-1 / 3, 2 / 15, -17 / 315, 62 / 2835, -1382 / 155925, 21844 / 6081075]);
    mul();
    add();
    f.set(small);
    // Large result with the sign of x: copy the sign bit of v onto p (p >= 0).
    f.get(p);
    f.get(v);
    f.i32(0x80000000 | 0).simd(X.i32x4Splat);
    f.simd(X.v128And);
    f.simd(X.v128Or).set(p);
    // select: |x| < 0.25 ? small : p
    f.get(small).get(p);
    f.get(ax);
    splat(0.25);
    f.simd(X.f32x4Lt);
    f.simd(X.v128Bitselect);
  };
  f.get(n).i32(-4).emit(OP.i32And).set(n4);
  f.get(x).set(px);
  f.get(out).set(po);
  f.i32(0).set(j);
  whileLt(f, j, n4, () => {
    f.get(px).v128Load(0).set(v);
    f.get(po);
    body();
    f.v128Store(0);
    f.addTo(px, 16).addTo(po, 16).addTo(j, 4);
  });
  // Remainder: one lane at a time through the vector code (splatted input).
  whileLt(f, j, n, () => {
    f.get(px).v128Load32Splat(0).set(v);
    f.get(po);
    body();
    f.emit(0xfd, 0x1f, 0); // f32x4.extract_lane 0
    f.f32Store();
    f.addTo(px, 4).addTo(po, 4).addTo(j, 1);
  });
  return f;
}

/**
 * `softmax(x, out, rows, n)`: `out[r, :] = exp(x[r, :] − max) / Σ exp(x[r, :] − max)` per row of
 * `n` contiguous floats: a SIMD max, then `exp` (arguments below −87.34 give exactly 0, as
 * float32 `exp` underflows; masked logits stay masked) stored and summed in four float32 lanes,
 * then one scaling pass. Rows with a NaN give NaN, like the cpu backend.
 */
function softmaxFunction(fma: boolean): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32]);
  const [x, out, rows, n] = [0, 1, 2, 3];
  const { splat, mul, add, exp } = vec(f, fma);
  const row = f.local(I32);
  const j = f.local(I32);
  const n4 = f.local(I32);
  const px = f.local(I32);
  const po = f.local(I32);
  const m = f.local(V128);
  const sum = f.local(V128);
  const y = f.local(V128);
  const k = f.local(V128);
  const r = f.local(V128);
  const e = f.local(V128);
  const d = f.local(V128);
  const ms = f.local(F32);
  const ss = f.local(F32);
  const lane = (local: number, i: number): void => {
    f.get(local).emit(0xfd, 0x1f, i);
  };
  /** d = v − m and y = clamp(d, −80, 0) for the vector v on the stack. */
  const shifted = (): void => {
    f.get(m).simd(X.f32x4Sub).set(d);
    f.get(d);
    splat(-80);
    f.simd(X.f32x4Pmax);
    splat(0);
    f.simd(X.f32x4Pmin).set(y);
  };
  /**
   * e = exp(y), then exactly 0 where d < −87.34 (float32 exp underflows; masked logits of
   * −Infinity or −1e9 must give 0, not e^−80) and NaN where d is NaN.
   */
  const expMasked = (): void => {
    exp(y, k, r);
    f.get(d);
    splat(-87.33654);
    f.simd(X.f32x4Gt);
    f.simd(X.v128And);
    f.get(d).get(d).simd(X.f32x4Ne);
    splat(NaN);
    f.simd(X.v128And);
    f.simd(X.v128Or);
  };
  f.get(n).i32(-4).emit(OP.i32And).set(n4);
  f.i32(0).set(row);
  whileLt(f, row, rows, () => {
    f.get(x).get(row).get(n).emit(OP.i32Mul).i32(4).emit(OP.i32Mul, OP.i32Add).set(px);
    f.get(out).get(row).get(n).emit(OP.i32Mul).i32(4).emit(OP.i32Mul, OP.i32Add).set(po);
    // Max: 4 lanes, then across lanes and the scalar tail (NaN propagates through f32.max).
    f.get(px).v128Load32Splat(0).set(m);
    f.i32(0).set(j);
    whileLt(f, j, n4, () => {
      f.get(m).get(px).get(j).i32(4).emit(OP.i32Mul, OP.i32Add).v128Load(0).simd(X.f32x4Pmax).set(m);
      f.addTo(j, 4);
    });
    lane(m, 0);
    lane(m, 1);
    f.emit(0x97); // f32.max
    lane(m, 2);
    f.emit(0x97);
    lane(m, 3);
    f.emit(0x97).set(ms);
    whileLt(f, j, n, () => {
      f.get(ms).get(px).get(j).i32(4).emit(OP.i32Mul, OP.i32Add).f32Load().emit(0x97).set(ms);
      f.addTo(j, 1);
    });
    f.get(ms).simd(SIMD.f32x4Splat).set(m);
    // exp and sum.
    splat(0);
    f.set(sum);
    f.i32(0).set(j);
    whileLt(f, j, n4, () => {
      f.get(px).get(j).i32(4).emit(OP.i32Mul, OP.i32Add).v128Load(0);
      shifted();
      expMasked();
      f.set(e);
      f.get(po).get(j).i32(4).emit(OP.i32Mul, OP.i32Add).get(e).v128Store(0);
      f.get(sum).get(e);
      add();
      f.set(sum);
      f.addTo(j, 4);
    });
    whileLt(f, j, n, () => {
      f.get(px).get(j).i32(4).emit(OP.i32Mul, OP.i32Add).v128Load32Splat(0);
      shifted();
      expMasked();
      f.set(e);
      f.get(po).get(j).i32(4).emit(OP.i32Mul, OP.i32Add);
      lane(e, 0);
      f.f32Store();
      // Only lane 0 of the tail is real: add e·(1,0,0,0).
      f.get(sum).get(e);
      f.emit(0xfd, 0x0c, ...new Uint8Array(new Float32Array([1, 0, 0, 0]).buffer));
      mul();
      add();
      f.set(sum);
      f.addTo(j, 1);
    });
    lane(sum, 0);
    lane(sum, 1);
    f.emit(OP.f32Add);
    lane(sum, 2);
    lane(sum, 3);
    f.emit(OP.f32Add, OP.f32Add).set(ss);
    // Scale by 1 / sum.
    f.f32(1).get(ss).emit(S.f32Div).simd(SIMD.f32x4Splat).set(e);
    f.i32(0).set(j);
    whileLt(f, j, n4, () => {
      f.get(po).get(j).i32(4).emit(OP.i32Mul, OP.i32Add);
      f.get(po).get(j).i32(4).emit(OP.i32Mul, OP.i32Add).v128Load(0).get(e);
      mul();
      f.v128Store(0);
      f.addTo(j, 4);
    });
    whileLt(f, j, n, () => {
      f.get(po).get(j).i32(4).emit(OP.i32Mul, OP.i32Add);
      f.get(po).get(j).i32(4).emit(OP.i32Mul, OP.i32Add).f32Load();
      lane(e, 0);
      f.emit(OP.f32Mul).f32Store();
      f.addTo(j, 1);
    });
    f.addTo(row, 1);
  });
  return f;
}

/** The module's bytes, importing a memory that is `shared` (threaded build) or not. */
export function elementwiseModuleBytes(fma: boolean, memory: { shared: boolean; maximumPages: number }): Uint8Array {
  return buildModule(
    [
      { name: 'colSum', fn: colSumFunction() },
      { name: 'binAdd', fn: binaryFunction('add') },
      { name: 'binSub', fn: binaryFunction('sub') },
      { name: 'binMul', fn: binaryFunction('mul') },
      { name: 'binDiv', fn: binaryFunction('div') },
      { name: 'tanh', fn: tanhFunction(fma) },
      { name: 'softmax', fn: softmaxFunction(fma) },
    ],
    memory,
  );
}
