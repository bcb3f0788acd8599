/**
 * The parts of the JavaScript WebAssembly API fewstep's generated kernels use, typed locally:
 * the repository compiles against `lib: ES2023` + `@types/node`, neither of which declares the
 * `WebAssembly` namespace (it lives in TypeScript's DOM lib).
 */

/** A `WebAssembly.Memory`. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}

/** A compiled `WebAssembly.Module` (opaque). */
export type WasmCompiledModule = object;

interface WebAssemblyNamespace {
  Module: new (bytes: Uint8Array) => WasmCompiledModule;
  Instance: new (module: WasmCompiledModule, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
  Memory: abstract new (...args: never[]) => WasmMemory;
  validate(bytes: Uint8Array): boolean;
}

/** The global `WebAssembly` object (Node >= 20 always has one). */
export const webAssembly: WebAssemblyNamespace = (globalThis as unknown as { WebAssembly: WebAssemblyNamespace }).WebAssembly;

/** True when `m` is a `WebAssembly.Memory`. */
export function isWasmMemory(m: unknown): m is WasmMemory {
  return m instanceof webAssembly.Memory;
}
