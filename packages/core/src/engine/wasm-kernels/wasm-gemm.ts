/**
 * fewstep's single-precision GEMM on the tfjs wasm backend's heap: the generated kernels and
 * cache-blocked drivers of wasm-gemm-module.ts, called on byte offsets of tensors, and split
 * over threads when the backend runs the threaded build (gemm-thread-pool.ts).
 *
 * Why not XNNPACK: tfjs-backend-wasm 4.22's XNNPACK is built without relaxed SIMD (no FMA) and is
 * reachable only for batch-1, non-transposed products (its other BatchMatMul paths are a scalar
 * loop). Measured on one thread of a Xeon (Sapphire Rapids, Node 20, interleaved, min of 21):
 * `[1024,192]·[192,768]` 20.5 → 38.7 GFLOP/s, `[512,512]²` 23.2 → 38.6, attention `q·kᵀ`
 * `[512,32]·[32,512]` 6.9 → 29 (XNNPACK needs a physical transpose and a fresh operator there).
 * Peak of the 128-bit FMA on that core: ~42 GFLOP/s.
 *
 * Threads: with `enableWasmThreads(n)` (threaded build, shared heap) a job is split n ways:
 * products by columns (or rows when narrow), batches by batch, convolution rows by output row,
 * filter gradients by output channel. Below {@link PARALLEL_MIN_FLOPS} a job stays on the calling
 * thread (waking a worker costs ~20-50 µs).
 */
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { GemmThreadPool, type PoolCall } from './gemm-thread-pool.js';
import { enableRelaxedSimd } from './relaxed-simd.js';
import { gemmModuleBytes, KC, MC, MR, NC, NR, type GemmExports } from './wasm-gemm-module.js';
import { heapMemory, type WasmBackend } from './wasm-internals.js';
import { webAssembly } from './webassembly-api.js';

/** Depth of a packed filter block of the convolution rows (all 9 taps of 64 channels). */
const KC_CONV = 640;
/** Above this M·N·K per product, one wasm call per product is cheap; below, batch them. */
const SMALL_PRODUCT = 1 << 16;
/** Jobs below this many multiply-adds run on one thread. */
const PARALLEL_MIN_FLOPS = 1 << 22;

/** Per-thread working memory on the heap. */
interface ThreadBuffers {
  bPack: number;
  aPack: number;
  scratch: number;
}

const EXPORT_NAMES = ['packB', 'packA', 'gemmRows', 'gemmCols', 'gemmBatch', 'gemm', 'convRows', 'convFilter', 'gemmList'];

/** Splits `[0, n)` into at most `parts` ranges whose starts are multiples of `align`. */
function ranges(n: number, parts: number, align: number): Array<[number, number]> {
  const chunk = Math.ceil(n / parts / align) * align;
  const out: Array<[number, number]> = [];
  for (let s = 0; s < n; s += chunk) out.push([s, Math.min(n, s + chunk)]);
  return out;
}

/** The GEMM engine bound to one wasm backend instance (its heap, allocator and threads). */
export class WasmGemm {
  readonly fma: boolean;
  /** Threads a job may be split over (1 without the threaded build). */
  readonly threads: number;
  private readonly k: GemmExports;
  private readonly backend: WasmBackend;
  private readonly pool: GemmThreadPool | undefined;
  private readonly buffers: ThreadBuffers[] = [];
  private readonly segZero: number;
  /** A growable i32 table on the heap (segment offsets, row addresses, product lists). */
  private table = 0;
  private tableRaw = 0;
  private tableInts = 0;

  constructor(backend: WasmBackend) {
    this.backend = backend;
    this.fma = enableRelaxedSimd();
    const memory = heapMemory(backend);
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const module = new webAssembly.Module(gemmModuleBytes(this.fma, { shared, maximumPages: 65536 }));
    this.k = new webAssembly.Instance(module, { env: { memory } }).exports as unknown as GemmExports;
    const wanted = shared ? Math.max(1, getThreadsCount()) : 1;
    this.pool = wanted > 1 ? new GemmThreadPool(module, memory, wanted - 1, EXPORT_NAMES) : undefined;
    this.threads = this.pool?.size ?? 1;
    for (let t = 0; t < this.threads; t++) {
      this.buffers.push({
        bPack: this.malloc(KC * NC * 4),
        aPack: this.malloc(Math.max(KC * MR, KC * MC) * 4),
        scratch: this.malloc(MR * NR * 4),
      });
    }
    this.segZero = this.malloc(4);
    this.i32(this.segZero, 1)[0] = 0;
  }

  /** A 16-byte aligned block that lives as long as the backend. */
  private malloc(bytes: number): number {
    return alignUp(this.mallocRaw(bytes + 16), 16);
  }

  private mallocRaw(bytes: number): number {
    // wasm returns an i32: above 2 GiB it arrives negative in JS; addresses are unsigned.
    const ptr = (this.backend.wasm as unknown as { _malloc(n: number): number })._malloc(bytes) >>> 0;
    if (!ptr) throw new Error(`fewstep wasm GEMM: malloc of ${bytes} bytes failed (wasm heap exhausted).`);
    return ptr;
  }

  private i32(offset: number, length: number): Int32Array {
    return new Int32Array(heapMemory(this.backend).buffer, offset, length);
  }

  /** The shared i32 table, holding at least `n` entries (its contents are not kept). */
  private tableOf(n: number): number {
    if (n > this.tableInts) {
      if (this.tableRaw !== 0) (this.backend.wasm as unknown as { _free(p: number): void })._free(this.tableRaw);
      this.tableInts = Math.max(1024, n);
      this.tableRaw = this.mallocRaw(4 * this.tableInts + 16);
      this.table = alignUp(this.tableRaw, 16);
    }
    return this.table;
  }

  /** Runs one call per thread part (part 0 here); a single part runs without the pool. */
  private run(calls: PoolCall[]): void {
    const local = (call: PoolCall): void => {
      (this.k as unknown as Record<string, (...args: number[]) => void>)[call.fn]!(...call.args);
    };
    if (calls.length === 1 || this.pool === undefined) {
      for (const c of calls) local(c);
      return;
    }
    this.pool.run(calls, local);
  }

  private parts(flops: number): number {
    return flops >= PARALLEL_MIN_FLOPS ? this.threads : 1;
  }

  /**
   * `C[M, N] (+)= A[M, K] · B[K, N]` on heap byte offsets. A's element `(i, k)` is at
   * `a + i*aRowStride + k*aKStride`, B's `(k, j)` at `b + k*bKStride + j*bColStride`, C is
   * row-major with row stride `ldc` (bytes). `accumulate` adds to C instead of overwriting it.
   */
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
    accumulate: boolean,
  ): void {
    if (M === 0 || N === 0) return;
    if (K === 0) {
      if (!accumulate) for (let i = 0; i < M; i++) new Float32Array(heapMemory(this.backend).buffer, c + i * ldc, N).fill(0);
      return;
    }
    const parts = this.parts(M * N * K);
    const byColumns = N >= parts * 4 * NR;
    const split = parts === 1 ? [[0, byColumns ? N : M] as [number, number]] : ranges(byColumns ? N : M, parts, byColumns ? NR : MR);
    this.run(
      split.map(([s, e], t) => {
        const buf = this.buffers[t] as ThreadBuffers;
        const [m, n, aOff, bOff, cOff] = byColumns ? [M, e - s, a, b + s * bColStride, c + s * 4] : [e - s, N, a + s * aRowStride, b, c + s * ldc];
        return {
          fn: 'gemm',
          args: [m, n, K, aOff, aRowStride, aKStride, bOff, bKStride, bColStride, cOff, ldc, accumulate ? 1 : 0, buf.bPack, buf.aPack, buf.scratch, this.segZero],
        };
      }),
    );
  }

  /**
   * `C_i (+)= A_i · B_i` for `i < batch` products of the same shape, A_i at `aAddr[i]`, B_i at
   * `bAddr[i]`, C_i at `c + i*M*N*4` (strides as in {@link gemm}). Small products run all in one
   * wasm call (both operands packed per product); threads split the batch.
   */
  gemmBatch(
    batch: number,
    M: number,
    N: number,
    K: number,
    aAddr: Int32Array,
    aRowStride: number,
    aKStride: number,
    bAddr: Int32Array,
    bKStride: number,
    bColStride: number,
    c: number,
    accumulate: boolean,
  ): void {
    if (batch === 0 || M === 0 || N === 0) return;
    if (K === 0) {
      if (!accumulate) new Float32Array(heapMemory(this.backend).buffer, c, batch * M * N).fill(0);
      return;
    }
    const product = M * N * K;
    const parts = Math.min(batch, this.parts(batch * product));
    if (parts < this.threads && product >= PARALLEL_MIN_FLOPS) {
      // Few large products: split each one instead.
      for (let i = 0; i < batch; i++) {
        this.gemm(M, N, K, aAddr[i] as number, aRowStride, aKStride, bAddr[i] as number, bKStride, bColStride, c + i * M * N * 4, N * 4, accumulate);
      }
      return;
    }
    const small = K <= KC && N <= NC && Math.ceil(M / MR) * MR <= MC && product <= SMALL_PRODUCT;
    const table = this.tableOf(3 * batch);
    const list = this.i32(table, 3 * batch);
    if (small) {
      list.set(aAddr.subarray(0, batch), 0);
      list.set(bAddr.subarray(0, batch), batch);
    } else {
      for (let i = 0; i < batch; i++) {
        list[3 * i] = aAddr[i] as number;
        list[3 * i + 1] = bAddr[i] as number;
        list[3 * i + 2] = c + i * M * N * 4;
      }
    }
    const acc = accumulate ? 1 : 0;
    this.run(
      ranges(batch, parts, 1).map(([s, e], t) => {
        const buf = this.buffers[t] as ThreadBuffers;
        if (small) {
          return {
            fn: 'gemmBatch',
            args: [e - s, M, N, K, table + 4 * s, aRowStride, aKStride, table + 4 * (batch + s), bKStride, bColStride, c + s * M * N * 4, acc, buf.scratch, buf.aPack, buf.bPack],
          };
        }
        return {
          fn: 'gemmList',
          args: [e - s, table + 12 * s, M, N, K, aRowStride, aKStride, bKStride, bColStride, N * 4, acc, buf.bPack, buf.aPack, buf.scratch, this.segZero],
        };
      }),
    );
  }

  /**
   * The rows of a convolution, one GEMM per output row: for each `r`, `C_r[M, N] (+)=
   * Σ_s A_{r,s}[M, segLen] · B[s*segLen.., N]` with `A_{r,s}(i, q)` at
   * `aRows[r] + i*aRowStride + offsets[s] + 4q` and `C_r` at `cRows[r]` (row stride `ldc`).
   * B (`[segments*segLen, N]`, element `(k, j)` at `b + k*bKStride + j*bColStride`) is packed
   * once per block and shared by all rows. Used by the implicit-im2col convolution (conv-gemm.ts):
   * `aRows[r]` is the padded input row an output row reads, `offsets[s]` a filter tap.
   */
  gemmConvRows(
    aRows: Int32Array,
    cRows: Int32Array,
    M: number,
    N: number,
    offsets: readonly number[],
    segLen: number,
    aRowStride: number,
    b: number,
    bKStride: number,
    bColStride: number,
    ldc: number,
    accumulate: boolean,
  ): void {
    const rows = aRows.length;
    if (M === 0 || N === 0 || rows === 0) return;
    if (segLen > KC) {
      // Split every segment into equal pieces of at most KC (piece p of segment s starts at
      // offsets[s] + 4*p*piece and multiplies B rows s*segLen + p*piece.., which stay in order).
      let piece = KC;
      while (segLen % piece !== 0) piece--;
      const pieces: number[] = [];
      for (const off of offsets) for (let q = 0; q < segLen; q += piece) pieces.push(off + 4 * q);
      this.gemmConvRows(aRows, cRows, M, N, pieces, piece, aRowStride, b, bKStride, bColStride, ldc, accumulate);
      return;
    }
    const nSeg = offsets.length;
    // As many taps per packed block as fit KC_CONV (and the KC × NC pack buffer), in equal groups.
    const ncMax = Math.ceil(Math.min(N, NC) / NR) * NR;
    const fit = Math.max(1, Math.floor(Math.min(KC_CONV, (KC * NC) / ncMax) / segLen));
    const perBlock = Math.ceil(nSeg / Math.ceil(nSeg / fit));
    const table = this.tableOf(nSeg + 2 * rows);
    const t32 = this.i32(table, nSeg + 2 * rows);
    t32.set(offsets, 0);
    t32.set(aRows, nSeg);
    t32.set(cRows, nSeg + rows);
    const parts = Math.min(rows, this.parts(rows * M * N * nSeg * segLen));
    this.run(
      ranges(rows, parts, 1).map(([s, e], t) => {
        const buf = this.buffers[t] as ThreadBuffers;
        return {
          fn: 'convRows',
          args: [e - s, table + 4 * (nSeg + s), table + 4 * (nSeg + rows + s), M, N, nSeg, segLen, table, aRowStride, b, bKStride, bColStride, ldc, accumulate ? 1 : 0, buf.bPack, buf.scratch, perBlock],
        };
      }),
    );
  }

  /**
   * Filter gradient of a convolution, one GEMM per (output row, filter tap):
   * `dW_s[C_in, N] += Σ_r X_{r,s}[C_in, L]·dY_r[L, N]` with `X_{r,s}(i, q)` at
   * `xRows[r] + offsets[s] + 4i + q*xStep` (channels contiguous, `L` pixels `xStep` bytes apart)
   * and `dY_r` row-major at `dyRows[r]` (`L × N`, packed once per row and shared by all taps).
   * `dW_s` is at `dw + s*cIn*N*4`; it is accumulated into (zero it first). `cIn % MR == 0`.
   * Threads split the output channels.
   */
  gemmConvFilterRows(xRows: Int32Array, dyRows: Int32Array, L: number, cIn: number, N: number, offsets: readonly number[], xStep: number, dw: number): void {
    const rows = xRows.length;
    if (L === 0 || N === 0 || cIn === 0 || rows === 0) return;
    if (cIn % MR !== 0) throw new Error(`gemmConvFilterRows: C_in = ${cIn} is not a multiple of ${MR}.`);
    const nTaps = offsets.length;
    const table = this.tableOf(nTaps + 2 * rows);
    const t32 = this.i32(table, nTaps + 2 * rows);
    t32.set(offsets, 0);
    t32.set(xRows, nTaps);
    t32.set(dyRows, nTaps + rows);
    const flops = rows * L * cIn * N * nTaps;
    const parts = N >= 2 * NR ? this.parts(flops) : 1;
    this.run(
      ranges(N, parts, NR).map(([s, e], t) => {
        const buf = this.buffers[t] as ThreadBuffers;
        return {
          fn: 'convFilter',
          args: [rows, table + 4 * nTaps, table + 4 * (nTaps + rows), L, cIn, s, e, N, nTaps, table, xStep, dw, buf.bPack, buf.scratch],
        };
      }),
    );
  }
}

const engines = new WeakMap<object, WasmGemm>();

/** The {@link WasmGemm} of `backend` (created on first use). */
export function wasmGemm(backend: WasmBackend): WasmGemm {
  let g = engines.get(backend.wasm);
  if (g === undefined) {
    g = new WasmGemm(backend);
    engines.set(backend.wasm, g);
  }
  return g;
}

/** `x` rounded up to a multiple of `m` (a power of two), without int32 wrap-around above 2 GiB. */
export function alignUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}
