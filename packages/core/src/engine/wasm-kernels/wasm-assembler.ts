/**
 * A minimal WebAssembly binary writer, enough to generate fewstep's SIMD kernels (wasm-gemm.ts)
 * at run time without a toolchain: one module importing a memory, with functions over `i32`,
 * `f32` and `v128` locals. Opcodes and encodings follow the WebAssembly core specification 2.0
 * (binary format, chapter 5) and the relaxed-SIMD proposal (`f32x4.relaxed_madd` = 0xfd 0x105).
 */

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 (32-bit). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, payload: number[]): number[] {
  return [id, ...uleb(payload.length), ...payload];
}

/** Builds one function body. Locals are declared up front: params first, then `local(type)`. */
export class FunctionBuilder {
  readonly code: number[] = [];
  private readonly localTypes: ValType[] = [];

  constructor(
    readonly params: readonly ValType[],
    readonly results: readonly ValType[] = [],
  ) {}

  /** Declares a new local and returns its index. */
  local(type: ValType): number {
    this.localTypes.push(type);
    return this.params.length + this.localTypes.length - 1;
  }

  emit(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }

  get(i: number): this {
    return this.emit(0x20, ...uleb(i));
  }
  set(i: number): this {
    return this.emit(0x21, ...uleb(i));
  }
  tee(i: number): this {
    return this.emit(0x22, ...uleb(i));
  }
  i32(n: number): this {
    return this.emit(0x41, ...sleb(n));
  }
  f32(x: number): this {
    const b = new Uint8Array(new Float32Array([x]).buffer);
    return this.emit(0x43, ...b);
  }
  /** `local[i] += n` (i32). */
  addTo(i: number, n: number): this {
    return n === 0 ? this : this.get(i).i32(n).emit(0x6a).set(i);
  }
  /** `local[i] += local[j]` (i32). */
  addLocal(i: number, j: number): this {
    return this.get(i).get(j).emit(0x6a).set(i);
  }
  /** Structured block with empty type; `body` emits its contents. */
  block(body: () => void): this {
    this.emit(0x02, 0x40);
    body();
    return this.emit(0x0b);
  }
  loop(body: () => void): this {
    this.emit(0x03, 0x40);
    body();
    return this.emit(0x0b);
  }
  /** `if` with empty type (condition on the stack). */
  if(then: () => void, otherwise?: () => void): this {
    this.emit(0x04, 0x40);
    then();
    if (otherwise) {
      this.emit(0x05);
      otherwise();
    }
    return this.emit(0x0b);
  }
  br(depth: number): this {
    return this.emit(0x0c, ...uleb(depth));
  }
  brIf(depth: number): this {
    return this.emit(0x0d, ...uleb(depth));
  }
  call(fn: number): this {
    return this.emit(0x10, ...uleb(fn));
  }
  // Memory access: alignment exponent and constant byte offset.
  f32Load(offset = 0): this {
    return this.emit(0x2a, 2, ...uleb(offset));
  }
  f32Store(offset = 0): this {
    return this.emit(0x38, 2, ...uleb(offset));
  }
  v128Load(offset = 0): this {
    return this.emit(0xfd, ...uleb(0x00), 4, ...uleb(offset));
  }
  v128Store(offset = 0): this {
    return this.emit(0xfd, ...uleb(0x0b), 4, ...uleb(offset));
  }
  v128Load32Splat(offset = 0): this {
    return this.emit(0xfd, ...uleb(0x09), 2, ...uleb(offset));
  }
  simd(op: number): this {
    return this.emit(0xfd, ...uleb(op));
  }

  /** The encoded body (locals run-length encoded, then code, then `end`). */
  encode(): number[] {
    const groups: Array<[number, ValType]> = [];
    for (const t of this.localTypes) {
      const last = groups[groups.length - 1];
      if (last !== undefined && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const body = [...uleb(groups.length), ...groups.flatMap(([n, t]) => [...uleb(n), t]), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/** SIMD opcodes (after the 0xfd prefix) used by fewstep. */
export const SIMD = {
  f32x4Splat: 0x13,
  f32x4Add: 0xe4,
  f32x4Mul: 0xe6,
  f32x4Min: 0xe8,
  f32x4Max: 0xe9,
  f32x4RelaxedMadd: 0x105,
} as const;

/** Integer opcodes used by fewstep. */
export const OP = {
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32GtS: 0x4a,
  i32LeS: 0x4c,
  i32GeS: 0x4e,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Shl: 0x74,
  f32Add: 0x92,
  f32Mul: 0x94,
  select: 0x1b,
  drop: 0x1a,
} as const;

/** An exported function of a {@link buildModule} module. */
export interface ModuleFunction {
  name: string;
  fn: FunctionBuilder;
}

/**
 * Encodes a module that imports `env.memory` (shared with `maximumPages` when `shared`) and
 * exports `functions` (index = position in the list, for `call`).
 */
export function buildModule(functions: readonly ModuleFunction[], memory: { shared: boolean; maximumPages: number }): Uint8Array {
  const types: string[] = [];
  const typeBytes: number[][] = [];
  const typeIndex = functions.map(({ fn }) => {
    const sig = [0x60, ...uleb(fn.params.length), ...fn.params, ...uleb(fn.results.length), ...fn.results];
    const key = sig.join(',');
    let i = types.indexOf(key);
    if (i < 0) {
      i = types.length;
      types.push(key);
      typeBytes.push(sig);
    }
    return i;
  });
  const limits = memory.shared ? [0x03, ...uleb(0), ...uleb(memory.maximumPages)] : [0x00, ...uleb(0)];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [...uleb(typeBytes.length), ...typeBytes.flat()]),
    ...section(2, [...uleb(1), ...name('env'), ...name('memory'), 0x02, ...limits]),
    ...section(3, [...uleb(functions.length), ...typeIndex.flatMap((i) => uleb(i))]),
    ...section(7, [...uleb(functions.length), ...functions.flatMap(({ name: n }, i) => [...name(n), 0x00, ...uleb(i)])]),
    ...section(10, [...uleb(functions.length), ...functions.flatMap(({ fn }) => fn.encode())]),
  ];
  return new Uint8Array(bytes);
}
