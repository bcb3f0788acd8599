/**
 * Generates fewstep's WebAssembly GEMM kernels at run time (BLIS-style register tiling: Van Zee &
 * van de Geijn 2015, "BLIS: A Framework for Rapidly Instantiating BLAS Functionality", §2-3).
 * All pointers and strides are in bytes; every function works on the memory it imports (the
 * tfjs wasm backend's heap, so tensors are read and written in place).
 *
 *  - `packB(src, colStride, kStride, cols, kc, dst)`: copies `cols` columns of a `kc`-long
 *    block of B (element `(k, j)` at `src + k*kStride + j*colStride`) into panels of `NR`
 *    columns laid out `[k][NR]`, zero-filling the last panel.
 *  - `packA(src, rowStride, kStride, rows, kc, dst)`: the same with panels of `MR` rows
 *    (`[k][MR]`); used for the last, partial row panel of a column-major A.
 *  - `gemmRows(mc, nc, segments, segLen, segTable, a, rowStride, bPacked, c, ldc, acc, scratch)`:
 *    `C[mc, nc] (+)= A·B` where row `i` of A is contiguous: element `(i, k)` with
 *    `k = s*segLen + q` at `a + i*rowStride + segTable[s] + 4q`. One segment is a plain
 *    row-major A; several give the "implicit im2col" of a convolution (one per filter tap,
 *    `segTable[s]` = byte offset of the tap's shifted window).
 *  - `gemmCols(mc, nc, kc, a, kStride, panelStride, bPacked, c, ldc, acc, scratch)`:
 *    `C (+)= A·B` where A's rows are contiguous: element `(i, k)` at `a + 4i + k*kStride`
 *    within a row panel, panels `panelStride` apart (`MR*4` for a column-major A, or a packed
 *    A from `packA` with `kStride = MR*4`, `panelStride = kc*MR*4`). `mc` must be a multiple
 *    of `MR` (rows past `mc` would be read).
 *
 * Micro-kernel: an `MR × NR = 4 × 8` tile of C in 8 SIMD accumulators; per `k` two vector loads
 * of packed B, four broadcast loads of A and eight multiply-adds. 4 × 8 is the largest tile V8's
 * TurboFan (Node 20-22) keeps in registers: it hoists every load of an iteration, so 6 × 8 or a
 * k-unrolled loop spills accumulators (measured 23-26 vs 36-39 GFLOP/s on a Xeon, 1 thread).
 * Full tiles are stored straight into C; edge tiles go through `scratch` (`MR*NR` floats).
 *
 * The multiply-add is `f32x4.relaxed_madd` (relaxed SIMD; one FMA instruction on x86 with FMA3
 * and on ARM64) when the engine supports it, else `f32x4.mul` + `f32x4.add`. tfjs-backend-wasm
 * 4.22's XNNPACK is built without relaxed SIMD.
 */
import { buildModule, FunctionBuilder, I32, OP, SIMD, V128 } from './wasm-assembler.js';

/** Register tile rows. */
export const MR = 4;
/** Register tile columns. */
export const NR = 8;

/** Exports of the generated module. */
export interface GemmExports {
  packB(src: number, colStride: number, kStride: number, cols: number, kc: number, dst: number): void;
  packA(src: number, rowStride: number, kStride: number, rows: number, kc: number, dst: number): void;
  gemmRows(
    mc: number,
    nc: number,
    segments: number,
    segLen: number,
    segTable: number,
    a: number,
    rowStride: number,
    bPacked: number,
    c: number,
    ldc: number,
    accumulate: number,
    scratch: number,
  ): void;
  gemmBatch(
    batch: number,
    m: number,
    n: number,
    k: number,
    aList: number,
    aRowStride: number,
    aKStride: number,
    bList: number,
    bKStride: number,
    bColStride: number,
    c: number,
    accumulate: number,
    scratch: number,
    aPack: number,
    bPack: number,
  ): void;
  gemm(
    M: number,
    N: number,
    K: number,
    a: number,
    aRowStride: number,
    aKStride: number,
    b: number,
    bKStride: number,
    bColStride: number,
    c: number,
    ldc: number,
    accumulate: number,
    bPack: number,
    aPack: number,
    scratch: number,
    segZero: number,
  ): void;
  gemmList(
    count: number,
    list: number,
    M: number,
    N: number,
    K: number,
    aRowStride: number,
    aKStride: number,
    bKStride: number,
    bColStride: number,
    ldc: number,
    accumulate: number,
    bPack: number,
    aPack: number,
    scratch: number,
    segZero: number,
  ): void;
  convRows(
    nRows: number,
    aRows: number,
    cRows: number,
    M: number,
    N: number,
    segments: number,
    segLen: number,
    segTable: number,
    aRowStride: number,
    b: number,
    bKStride: number,
    bColStride: number,
    ldc: number,
    accumulate: number,
    bPack: number,
    scratch: number,
    perBlock: number,
  ): void;
  convFilter(
    nRows: number,
    xRows: number,
    dyRows: number,
    L: number,
    cIn: number,
    n0: number,
    n1: number,
    ldN: number,
    taps: number,
    offsets: number,
    xStep: number,
    dw: number,
    bPack: number,
    scratch: number,
  ): void;
  gemmCols(
    mc: number,
    nc: number,
    kc: number,
    a: number,
    kStride: number,
    panelStride: number,
    bPacked: number,
    c: number,
    ldc: number,
    accumulate: number,
    scratch: number,
  ): void;
}

const I32_OR = 0x72;

/** `for (i = 0; i < n; i++) body()` with `i`, `n` locals; `body` must leave the stack empty. */
function forLoop(f: FunctionBuilder, i: number, n: number, body: () => void, step = 1): void {
  f.i32(0).set(i);
  f.block(() =>
    f.loop(() => {
      f.get(i).get(n).emit(OP.i32GeS).brIf(1);
      body();
      f.addTo(i, step).br(0);
    }),
  );
}

/**
 * Packs `rows` "rows" of a `kc`-long block into panels of `r` (`[k][r]`, zero padded).
 * With `vectorised`, full panels whose rows are contiguous (`rowStride == 4`) are copied with
 * v128 loads (`r` must be a multiple of 4).
 */
function packFunction(r: number, vectorised: boolean): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32]);
  const [src, rowStride, kStride, rows, kc, dst] = [0, 1, 2, 3, 4, 5];
  const p0 = f.local(I32);
  const k = f.local(I32);
  const i = f.local(I32);
  const srcK = f.local(I32);
  const s = f.local(I32);
  const d = f.local(I32);
  const rLocal = f.local(I32);
  f.i32(r).set(rLocal);
  f.get(dst).set(d);
  forLoop(
    f,
    p0,
    rows,
    () => {
      f.get(src).get(p0).get(rowStride).emit(OP.i32Mul, OP.i32Add).set(srcK);
      const scalarPanel = (): void =>
        forLoop(f, k, kc, () => {
          f.get(srcK).set(s);
          forLoop(f, i, rLocal, () => {
            f.get(p0).get(i).emit(OP.i32Add).get(rows).emit(OP.i32LtS);
            f.if(
              () => f.get(d).get(s).f32Load().f32Store(),
              () => f.get(d).f32(0).f32Store(),
            );
            f.addTo(d, 4).addLocal(s, rowStride);
          });
          f.addLocal(srcK, kStride);
        });
      if (!vectorised) {
        scalarPanel();
        return;
      }
      f.get(rowStride).i32(4).emit(OP.i32Eq).get(p0).i32(r).emit(OP.i32Add).get(rows).emit(OP.i32LeS).emit(OP.i32And);
      f.if(
        () =>
          forLoop(f, k, kc, () => {
            for (let v = 0; v < r / 4; v++) f.get(d).get(srcK).v128Load(16 * v).v128Store(16 * v);
            f.addTo(d, 4 * r).addLocal(srcK, kStride);
          }),
        scalarPanel,
      );
    },
    r,
  );
  return f;
}

/**
 * Emits the tile loops shared by both GEMM functions: for each `NR` column panel (outer) and
 * `MR` row panel (inner), zero the accumulators, run `kLoop(bp)` (which must advance `bp`
 * through the panel), then store the tile.
 */
interface TileParams {
  mc: number;
  nc: number;
  kc: number; // local holding the packed panel depth (k count)
  bPacked: number;
  c: number;
  ldc: number;
  accumulate: number;
  scratch: number;
}

function tileLoops(
  f: FunctionBuilder,
  p: TileParams,
  fma: boolean,
  startRowPanel: (i0: number) => void,
  nextRowPanel: () => void,
  kLoop: (step: (aLoad: (r: number) => void) => void, bp: number) => void,
): void {
  const nv = NR / 4;
  const j0 = f.local(I32);
  const i0 = f.local(I32);
  const bPanel = f.local(I32);
  const bp = f.local(I32);
  const cTile = f.local(I32);
  const tileLd = f.local(I32);
  const row = f.local(I32);
  const mRem = f.local(I32);
  const nRem = f.local(I32);
  const ii = f.local(I32);
  const jj = f.local(I32);
  const cRow = f.local(I32);
  const sRow = f.local(I32);
  const acc: number[][] = Array.from({ length: MR }, () => Array.from({ length: nv }, () => f.local(V128)));
  const bReg: number[] = Array.from({ length: nv }, () => f.local(V128));
  const aReg = f.local(V128);

  const step = (aLoad: (r: number) => void): void => {
    for (let v = 0; v < nv; v++) f.get(bp).v128Load(16 * v).set(bReg[v]!);
    for (let r = 0; r < MR; r++) {
      aLoad(r);
      f.set(aReg);
      for (let v = 0; v < nv; v++) {
        const a = acc[r]![v]!;
        if (fma) f.get(aReg).get(bReg[v]!).get(a).simd(SIMD.f32x4RelaxedMadd).set(a);
        else f.get(aReg).get(bReg[v]!).simd(SIMD.f32x4Mul).get(a).simd(SIMD.f32x4Add).set(a);
      }
    }
    f.addTo(bp, NR * 4);
  };

  /** One MR × NR tile at (i0, j0): zero, k loop, store. */
  const tile = (): void => {
    for (const rowAcc of acc) for (const a of rowAcc) f.f32(0).simd(SIMD.f32x4Splat).set(a);
    startRowPanel(i0);
    f.get(bPanel).set(bp);
    kLoop(step, bp);
    f.get(p.mc).get(i0).emit(OP.i32Sub).set(mRem);
    f.get(p.nc).get(j0).emit(OP.i32Sub).set(nRem);
    f.get(mRem).i32(MR).emit(OP.i32GeS).get(nRem).i32(NR).emit(OP.i32GeS).emit(OP.i32And);
    f.if(
      () => {
        f.get(p.c).get(i0).get(p.ldc).emit(OP.i32Mul, OP.i32Add).get(j0).i32(4).emit(OP.i32Mul, OP.i32Add).set(cTile);
        f.get(p.ldc).set(tileLd);
        f.get(p.accumulate);
        f.if(() => {
          f.get(cTile).set(row);
          for (let r = 0; r < MR; r++) {
            for (let v = 0; v < nv; v++) {
              const a = acc[r]![v]!;
              f.get(a).get(row).v128Load(16 * v).simd(SIMD.f32x4Add).set(a);
            }
            if (r < MR - 1) f.addLocal(row, p.ldc);
          }
        });
      },
      () => {
        f.get(p.scratch).set(cTile);
        f.i32(NR * 4).set(tileLd);
      },
    );
    f.get(cTile).set(row);
    for (let r = 0; r < MR; r++) {
      for (let v = 0; v < nv; v++) f.get(row).get(acc[r]![v]!).v128Store(16 * v);
      if (r < MR - 1) f.addLocal(row, tileLd);
    }
    // Edge tile: copy its valid part from scratch into C.
    f.get(cTile).get(p.scratch).emit(OP.i32Eq);
    f.if(() => {
      f.get(p.c).get(i0).get(p.ldc).emit(OP.i32Mul, OP.i32Add).get(j0).i32(4).emit(OP.i32Mul, OP.i32Add).set(cRow);
      f.get(p.scratch).set(sRow);
      f.i32(0).set(ii);
      f.block(() =>
        f.loop(() => {
          f.get(ii).get(mRem).emit(OP.i32GeS).get(ii).i32(MR).emit(OP.i32GeS).emit(I32_OR).brIf(1);
          f.i32(0).set(jj);
          f.block(() =>
            f.loop(() => {
              f.get(jj).get(nRem).emit(OP.i32GeS).get(jj).i32(NR).emit(OP.i32GeS).emit(I32_OR).brIf(1);
              f.get(cRow).get(jj).i32(4).emit(OP.i32Mul, OP.i32Add);
              f.get(sRow).get(jj).i32(4).emit(OP.i32Mul, OP.i32Add).f32Load();
              f.get(cRow).get(jj).i32(4).emit(OP.i32Mul, OP.i32Add).f32Load();
              f.f32(0);
              f.get(p.accumulate);
              f.emit(OP.select);
              f.emit(OP.f32Add).f32Store();
              f.addTo(jj, 1).br(0);
            }),
          );
          f.addLocal(cRow, p.ldc).addTo(sRow, NR * 4).addTo(ii, 1).br(0);
        }),
      );
    });
  };
  const nextColumnPanel = (): void => {
    f.get(bPanel).get(p.kc).i32(NR * 4).emit(OP.i32Mul, OP.i32Add).set(bPanel);
  };
  f.get(p.bPacked).set(bPanel);
  forLoop(
    f,
    j0,
    p.nc,
    () => {
      startRowPanel(-1);
      forLoop(
        f,
        i0,
        p.mc,
        () => {
          tile();
          nextRowPanel();
        },
        MR,
      );
      nextColumnPanel();
    },
    NR,
  );
}

/** `gemmRows`: see the module comment. */
function gemmRowsFunction(fma: boolean): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [mc, nc, segments, segLen, segTable, a, rowStride, bPacked, c, ldc, acc, scratch] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const kc = f.local(I32);
  const s = f.local(I32);
  const q = f.local(I32);
  const off = f.local(I32);
  const lastRow = f.local(I32);
  const rowBase: number[] = Array.from({ length: MR }, () => f.local(I32));
  const ptr: number[] = Array.from({ length: MR }, () => f.local(I32));
  f.get(segments).get(segLen).emit(OP.i32Mul).set(kc);
  f.get(mc).i32(1).emit(OP.i32Sub).set(lastRow);
  tileLoops(
    f,
    { mc, nc, kc, bPacked, c, ldc, accumulate: acc, scratch },
    fma,
    (i0) => {
      if (i0 < 0) return;
      // rowBase[r] = a + min(i0 + r, mc - 1) * rowStride (rows past mc repeat the last one).
      for (let r = 0; r < MR; r++) {
        f.get(a);
        f.get(i0).i32(r).emit(OP.i32Add);
        f.get(lastRow);
        f.get(i0).i32(r).emit(OP.i32Add).get(lastRow).emit(OP.i32LtS);
        f.emit(OP.select);
        f.get(rowStride).emit(OP.i32Mul, OP.i32Add).set(rowBase[r]!);
      }
    },
    () => undefined,
    (step) => {
      forLoop(f, s, segments, () => {
        f.get(segTable).get(s).i32(4).emit(OP.i32Mul, OP.i32Add).emit(0x28, 2, 0).set(off);
        for (let r = 0; r < MR; r++) f.get(rowBase[r]!).get(off).emit(OP.i32Add).set(ptr[r]!);
        forLoop(f, q, segLen, () => {
          step((r) => f.get(ptr[r]!).v128Load32Splat(0));
          for (let r = 0; r < MR; r++) f.addTo(ptr[r]!, 4);
        });
      });
    },
  );
  return f;
}

/** `gemmCols`: see the module comment. */
function gemmColsFunction(fma: boolean): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [mc, nc, kc, a, kStride, panelStride, bPacked, c, ldc, acc, scratch] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const aPanel = f.local(I32);
  const ap = f.local(I32);
  const k = f.local(I32);
  tileLoops(
    f,
    { mc, nc, kc, bPacked, c, ldc, accumulate: acc, scratch },
    fma,
    (i0) => {
      if (i0 < 0) f.get(a).set(aPanel);
      else f.get(aPanel).set(ap);
    },
    () => f.addLocal(aPanel, panelStride),
    (step) => {
      forLoop(f, k, kc, () => {
        step((r) => f.get(ap).v128Load32Splat(4 * r));
        f.addLocal(ap, kStride);
      });
    },
  );
  return f;
}

/**
 * `gemmBatch(batch, M, N, K, aList, aRowStride, aKStride, bList, bKStride, bColStride, c, acc,
 * scratch, aPack, bPack)`: for each batch `i`, `C_i (+)= A_i · B_i` with `A_i` at
 * `aList[i]` and `B_i` at `bList[i]` (i32 byte addresses, so broadcasting is free), C batches
 * contiguous `[M, N]`. Packs both operands per batch (`K <= KC`, `N <= NC`, `M*K` within
 * `aPack`): for many small products, where a call from JS per batch would cost more than it.
 */
function gemmBatchFunction(): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [batch, m, n, kk, aList, aRow, aK, bList, bK, bCol, c, acc, scratch, aPack, bPack] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  const i = f.local(I32);
  const cOut = f.local(I32);
  const cStep = f.local(I32);
  f.get(m).get(n).emit(OP.i32Mul).i32(4).emit(OP.i32Mul).set(cStep);
  f.get(c).set(cOut);
  forLoop(f, i, batch, () => {
    f.get(bList).get(i).i32(4).emit(OP.i32Mul, OP.i32Add).emit(0x28, 2, 0);
    f.get(bCol).get(bK).get(n).get(kk).get(bPack).call(FN.packB);
    f.get(aList).get(i).i32(4).emit(OP.i32Mul, OP.i32Add).emit(0x28, 2, 0);
    f.get(aRow).get(aK).get(m).get(kk).get(aPack).call(FN.packA);
    f.get(m).get(n).get(kk).get(aPack).i32(MR * 4).get(kk).i32(MR * 4).emit(OP.i32Mul);
    f.get(bPack).get(cOut).get(n).i32(4).emit(OP.i32Mul).get(acc).get(scratch).call(FN.gemmCols);
    f.addLocal(cOut, cStep);
  });
  return f;
}

/** Function indices in the module (for `call`). */
const FN = { packB: 0, packA: 1, gemmRows: 2, gemmCols: 3, gemmBatch: 4, gemm: 5, convRows: 6, convFilter: 7, gemmList: 8 } as const;

/** Depth of a packed block of B in {@link gemmDriverFunction} (`KC × NR` floats = 8 KiB, L1). */
export const KC = 256;
/** Rows of A per block (`MC × KC` floats read from L2 for every micro-panel of B). */
export const MC = 128;
/** Columns of C per block (`KC × NC` packed floats, 1 MiB, L2). */
export const NC = 1024;

/** `local = min(a, b)` for i32 locals / values pushed by `pushA`, `pushB`. */
function setMin(f: FunctionBuilder, local: number, pushA: () => void, pushB: () => void): void {
  pushA();
  pushB();
  pushA();
  pushB();
  f.emit(OP.i32LtS, OP.select).set(local);
}

/** `for (i = start; i < end; i += step)` with `end` a local and `step` a constant. */
function forStep(f: FunctionBuilder, i: number, end: number, step: number, body: () => void): void {
  f.i32(0).set(i);
  f.block(() =>
    f.loop(() => {
      f.get(i).get(end).emit(OP.i32GeS).brIf(1);
      body();
      f.addTo(i, step).br(0);
    }),
  );
}

/**
 * `gemm(M, N, K, a, aRowStride, aKStride, b, bKStride, bColStride, c, ldc, acc, bPack, aPack,
 * scratch, segZero)`: `C[M, N] (+)= A·B` with the BLIS loops (columns in blocks of NC, k in
 * blocks of KC with B packed per block, rows in blocks of MC); A read in place when a row or a
 * column is contiguous (`gemmRows`/`gemmCols`), else packed per MC × KC block into MR-row
 * panels. `K >= 1`. `bPack` holds `KC × NC` floats, `aPack` `KC × MC`, `scratch` `MR × NR`,
 * `segZero` an i32 0.
 */
function gemmDriverFunction(): FunctionBuilder {
  const f = new FunctionBuilder(Array.from({ length: 16 }, () => I32));
  const [M, N, K, a, aRs, aKs, b, bKs, bCs, c, ldc, acc, bPack, aPack, scratch, segZero] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const jc = f.local(I32);
  const nc = f.local(I32);
  const pc = f.local(I32);
  const kc = f.local(I32);
  const ic = f.local(I32);
  const mc = f.local(I32);
  const accf = f.local(I32);
  const cBlock = f.local(I32);
  const aBlock = f.local(I32);
  const main = f.local(I32);
  const rem = f.local(I32);
  forStep(f, jc, N, NC, () => {
    f.get(N).get(jc).emit(OP.i32Sub).set(rem);
    setMin(f, nc, () => f.i32(NC), () => f.get(rem));
    forStep(f, pc, K, KC, () => {
      f.get(K).get(pc).emit(OP.i32Sub).set(rem);
      setMin(f, kc, () => f.i32(KC), () => f.get(rem));
      f.get(acc).get(pc).i32(0).emit(OP.i32GtS).emit(0x72).set(accf);
      f.get(b).get(pc).get(bKs).emit(OP.i32Mul, OP.i32Add).get(jc).get(bCs).emit(OP.i32Mul, OP.i32Add);
      f.get(bCs).get(bKs).get(nc).get(kc).get(bPack).call(FN.packB);
      forStep(f, ic, M, MC, () => {
        f.get(M).get(ic).emit(OP.i32Sub).set(rem);
        setMin(f, mc, () => f.i32(MC), () => f.get(rem));
        f.get(c).get(ic).get(ldc).emit(OP.i32Mul, OP.i32Add).get(jc).i32(4).emit(OP.i32Mul, OP.i32Add).set(cBlock);
        f.get(a).get(ic).get(aRs).emit(OP.i32Mul, OP.i32Add).get(pc).get(aKs).emit(OP.i32Mul, OP.i32Add).set(aBlock);
        f.get(aKs).i32(4).emit(OP.i32Eq);
        f.if(
          () => {
            f.get(mc).get(nc).i32(1).get(kc).get(segZero).get(aBlock).get(aRs).get(bPack).get(cBlock).get(ldc).get(accf).get(scratch).call(FN.gemmRows);
          },
          () => {
            f.get(aRs).i32(4).emit(OP.i32Eq);
            f.if(
              () => {
                // Column-major A (transposed): whole row panels in place (reading 16 bytes per
                // k is as fast as packing them first, measured), the last partial panel packed.
                f.get(mc).i32(-MR).emit(OP.i32And).set(main);
                f.get(main).i32(0).emit(OP.i32GtS);
                f.if(() => {
                  f.get(main).get(nc).get(kc).get(aBlock).get(aKs).i32(MR * 4).get(bPack).get(cBlock).get(ldc).get(accf).get(scratch).call(FN.gemmCols);
                });
                f.get(main).get(mc).emit(OP.i32LtS);
                f.if(() => {
                  f.get(aBlock).get(main).i32(4).emit(OP.i32Mul, OP.i32Add).i32(4).get(aKs).get(mc).get(main).emit(OP.i32Sub).get(kc).get(aPack).call(FN.packA);
                  f.get(mc).get(main).emit(OP.i32Sub).get(nc).get(kc).get(aPack).i32(MR * 4).get(kc).i32(MR * 4).emit(OP.i32Mul).get(bPack);
                  f.get(cBlock).get(main).get(ldc).emit(OP.i32Mul, OP.i32Add).get(ldc).get(accf).get(scratch).call(FN.gemmCols);
                });
              },
              () => {
                // Any other strides: pack the whole mc × kc block into MR-row panels.
                f.get(aBlock).get(aRs).get(aKs).get(mc).get(kc).get(aPack).call(FN.packA);
                f.get(mc).get(nc).get(kc).get(aPack).i32(MR * 4).get(kc).i32(MR * 4).emit(OP.i32Mul).get(bPack);
                f.get(cBlock).get(ldc).get(accf).get(scratch).call(FN.gemmCols);
              },
            );
          },
        );
      });
    });
  });
  return f;
}

/**
 * `gemmList(count, list, M, N, K, aRowStride, aKStride, bKStride, bColStride, ldc, acc, bPack,
 * aPack, scratch, segZero)`: `gemm` for each of `count` products whose A, B, C byte addresses
 * are the i32 triples `list[3i..3i+2]` (batched matmul; broadcasting is free).
 */
function gemmListFunction(): FunctionBuilder {
  const f = new FunctionBuilder(Array.from({ length: 15 }, () => I32));
  const [count, list, M, N, K, aRs, aKs, bKs, bCs, ldc, acc, bPack, aPack, scratch, segZero] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  const i = f.local(I32);
  const p = f.local(I32);
  f.get(list).set(p);
  forStep(f, i, count, 1, () => {
    f.get(M).get(N).get(K);
    f.get(p).emit(0x28, 2, 0).get(aRs).get(aKs);
    f.get(p).emit(0x28, 2, 4).get(bKs).get(bCs);
    f.get(p).emit(0x28, 2, 8).get(ldc).get(acc).get(bPack).get(aPack).get(scratch).get(segZero).call(FN.gemm);
    f.addTo(p, 12);
  });
  return f;
}

/**
 * `convRows(nRows, aRows, cRows, M, N, segments, segLen, segTable, aRowStride, b, bKStride,
 * bColStride, ldc, acc, bPack, scratch, perBlock)`: for each row `r < nRows`,
 * `C_r[M, N] (+)= Σ_s A_{r,s} · B_s` (see `gemmRows`) with `A_r = aRows[r]`, `C_r = cRows[r]`
 * (i32 byte addresses); B (`[segments·segLen, N]`) packed once per block of `perBlock`
 * segments and `NC` columns, shared by all rows.
 */
function convRowsFunction(): FunctionBuilder {
  const f = new FunctionBuilder(Array.from({ length: 17 }, () => I32));
  const [nRows, aRows, cRows, M, N, segments, segLen, segTable, aRs, b, bKs, bCs, ldc, acc, bPack, scratch, perBlock] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
  const jc = f.local(I32);
  const nc = f.local(I32);
  const s0 = f.local(I32);
  const segs = f.local(I32);
  const accf = f.local(I32);
  const r = f.local(I32);
  const rem = f.local(I32);
  forStep(f, jc, N, NC, () => {
    f.get(N).get(jc).emit(OP.i32Sub).set(rem);
    setMin(f, nc, () => f.i32(NC), () => f.get(rem));
    f.i32(0).set(s0);
    f.block(() =>
      f.loop(() => {
        f.get(s0).get(segments).emit(OP.i32GeS).brIf(1);
        f.get(segments).get(s0).emit(OP.i32Sub).set(rem);
        setMin(f, segs, () => f.get(perBlock), () => f.get(rem));
        f.get(acc).get(s0).i32(0).emit(OP.i32GtS).emit(0x72).set(accf);
        f.get(b).get(s0).get(segLen).emit(OP.i32Mul).get(bKs).emit(OP.i32Mul, OP.i32Add).get(jc).get(bCs).emit(OP.i32Mul, OP.i32Add);
        f.get(bCs).get(bKs).get(nc).get(segs).get(segLen).emit(OP.i32Mul).get(bPack).call(FN.packB);
        forStep(f, r, nRows, 1, () => {
          f.get(M).get(nc).get(segs).get(segLen);
          f.get(segTable).get(s0).i32(4).emit(OP.i32Mul, OP.i32Add);
          f.get(aRows).get(r).i32(4).emit(OP.i32Mul, OP.i32Add).emit(0x28, 2, 0);
          f.get(aRs).get(bPack);
          f.get(cRows).get(r).i32(4).emit(OP.i32Mul, OP.i32Add).emit(0x28, 2, 0).get(jc).i32(4).emit(OP.i32Mul, OP.i32Add);
          f.get(ldc).get(accf).get(scratch).call(FN.gemmRows);
        });
        f.get(s0).get(perBlock).emit(OP.i32Add).set(s0);
        f.br(0);
      }),
    );
  });
  return f;
}

/**
 * `convFilter(nRows, xRows, dyRows, L, cIn, n0, n1, ldN, taps, offsets, xStep, dw, bPack,
 * scratch)`: filter gradient columns `[n0, n1)`: for every row `r`, `dW_s[:, n0:n1] +=
 * X_{r,s}ᵀ · dY_r[:, n0:n1]` with `X_{r,s}(i, q)` at `xRows[r] + offsets[s] + 4i + q·xStep`,
 * `dY_r` row-major `[L, ldN]` at `dyRows[r]`, `dW_s` at `dw + s·cIn·ldN·4` (row stride
 * `ldN·4`). `cIn % MR == 0`. The `dY_r` block is packed once per row and shared by all taps.
 */
function convFilterFunction(): FunctionBuilder {
  const f = new FunctionBuilder(Array.from({ length: 14 }, () => I32));
  const [nRows, xRows, dyRows, L, cIn, n0, n1, ldN, taps, offsets, xStep, dw, bPack, scratch] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  const jc = f.local(I32);
  const nc = f.local(I32);
  const r = f.local(I32);
  const l0 = f.local(I32);
  const kc = f.local(I32);
  const s = f.local(I32);
  const x0 = f.local(I32);
  const rem = f.local(I32);
  const width = f.local(I32);
  f.get(n1).get(n0).emit(OP.i32Sub).set(width);
  forStep(f, jc, width, NC, () => {
    f.get(width).get(jc).emit(OP.i32Sub).set(rem);
    setMin(f, nc, () => f.i32(NC), () => f.get(rem));
    forStep(f, r, nRows, 1, () => {
      forStep(f, l0, L, KC, () => {
        f.get(L).get(l0).emit(OP.i32Sub).set(rem);
        setMin(f, kc, () => f.i32(KC), () => f.get(rem));
        // packB(dyRows[r] + (l0*ldN + n0 + jc)*4, 4, ldN*4, nc, kc, bPack)
        f.get(dyRows).get(r).i32(4).emit(OP.i32Mul, OP.i32Add).emit(0x28, 2, 0);
        f.get(l0).get(ldN).emit(OP.i32Mul).get(n0).emit(OP.i32Add).get(jc).emit(OP.i32Add).i32(4).emit(OP.i32Mul, OP.i32Add);
        f.i32(4).get(ldN).i32(4).emit(OP.i32Mul).get(nc).get(kc).get(bPack).call(FN.packB);
        f.get(xRows).get(r).i32(4).emit(OP.i32Mul, OP.i32Add).emit(0x28, 2, 0).get(l0).get(xStep).emit(OP.i32Mul, OP.i32Add).set(x0);
        forStep(f, s, taps, 1, () => {
          f.get(cIn).get(nc).get(kc);
          f.get(x0).get(offsets).get(s).i32(4).emit(OP.i32Mul, OP.i32Add).emit(0x28, 2, 0).emit(OP.i32Add);
          f.get(xStep).i32(MR * 4).get(bPack);
          // dw + (s*cIn*ldN + n0 + jc)*4
          f.get(dw).get(s).get(cIn).emit(OP.i32Mul).get(ldN).emit(OP.i32Mul).get(n0).emit(OP.i32Add).get(jc).emit(OP.i32Add).i32(4).emit(OP.i32Mul, OP.i32Add);
          f.get(ldN).i32(4).emit(OP.i32Mul).i32(1).get(scratch).call(FN.gemmCols);
        });
      });
    });
  });
  return f;
}

/** The module's bytes, importing a memory that is `shared` (threaded build) or not. */
export function gemmModuleBytes(fma: boolean, memory: { shared: boolean; maximumPages: number }): Uint8Array {
  return buildModule(
    [
      { name: 'packB', fn: packFunction(NR, true) },
      { name: 'packA', fn: packFunction(MR, true) },
      { name: 'gemmRows', fn: gemmRowsFunction(fma) },
      { name: 'gemmCols', fn: gemmColsFunction(fma) },
      { name: 'gemmBatch', fn: gemmBatchFunction() },
      { name: 'gemm', fn: gemmDriverFunction() },
      { name: 'convRows', fn: convRowsFunction() },
      { name: 'convFilter', fn: convFilterFunction() },
      { name: 'gemmList', fn: gemmListFunction() },
    ],
    memory,
  );
}
