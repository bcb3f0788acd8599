/**
 * Relaxed SIMD (`f32x4.relaxed_madd`, one fused multiply-add on x86 with FMA3 and on ARM64) for
 * fewstep's generated wasm kernels. V8 ships it from 11.4 (Node 22); Node 20 (V8 11.3) has it
 * behind `--experimental-wasm-relaxed-simd`, which {@link enableRelaxedSimd} sets at run time
 * (the flag only gates validation of the relaxed opcodes, so it is safe to set before a module
 * is compiled). `FEWSTEP_WASM_RELAXED_SIMD=0` keeps it off; the kernels then use mul + add.
 */
import v8 from 'node:v8';
import { buildModule, FunctionBuilder, SIMD, V128 } from './wasm-assembler.js';
import { webAssembly } from './webassembly-api.js';

/** True when this engine validates `f32x4.relaxed_madd`. */
export function relaxedSimdSupported(): boolean {
  const f = new FunctionBuilder([V128, V128, V128], [V128]);
  f.get(0).get(1).get(2).simd(SIMD.f32x4RelaxedMadd);
  return webAssembly.validate(buildModule([{ name: 'f', fn: f }], { shared: false, maximumPages: 0 }));
}

let available: boolean | undefined;

/** Turns relaxed SIMD on where possible (once); returns whether the kernels may use it. */
export function enableRelaxedSimd(): boolean {
  if (available !== undefined) return available;
  available = relaxedSimdSupported();
  if (!available && process.env['FEWSTEP_WASM_RELAXED_SIMD'] !== '0') {
    try {
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
      available = relaxedSimdSupported();
    } catch {
      available = false;
    }
  }
  return available;
}
