import * as tf from '@tensorflow/tfjs-core';

export interface CloseOptions {
  /** Relative tolerance on max |a - b| / max(|b|_inf, tiny). @default 1e-5 */
  rtol?: number;
  /** Absolute tolerance on max |a - b|. @default 0 (only rtol applies) */
  atol?: number;
  /** Name used in the failure message. */
  what?: string;
}

/**
 * Asserts that two tensors (or arrays) have the same shape and agree within tolerance:
 * `max|a-b| <= atol + rtol * max|b|`. Throws an Error naming the worst element.
 */
export function expectTensorsClose(
  actual: tf.Tensor | ArrayLike<number>,
  expected: tf.Tensor | ArrayLike<number>,
  options: CloseOptions = {},
): { maxAbsError: number; relError: number } {
  const { rtol = 1e-5, atol = 0, what = 'tensor' } = options;
  if (actual instanceof tf.Tensor && expected instanceof tf.Tensor) {
    if (actual.shape.join(',') !== expected.shape.join(',')) {
      throw new Error(`${what}: shape [${actual.shape.join(', ')}] differs from expected [${expected.shape.join(', ')}]`);
    }
  }
  const a = actual instanceof tf.Tensor ? actual.dataSync() : actual;
  const b = expected instanceof tf.Tensor ? expected.dataSync() : expected;
  if (a.length !== b.length) throw new Error(`${what}: length ${a.length} differs from expected ${b.length}`);
  let maxAbs = 0;
  let worst = -1;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (!(d <= maxAbs)) {
      maxAbs = Number.isNaN(d) ? Infinity : d;
      worst = i;
    }
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  const rel = maxAbs / Math.max(scale, 1e-30);
  if (!(maxAbs <= atol + rtol * scale)) {
    throw new Error(
      `${what}: max |actual - expected| = ${maxAbs.toExponential(3)} at index ${worst} ` +
        `(actual ${a[worst]}, expected ${b[worst]}); relative error ${rel.toExponential(3)} exceeds rtol ${rtol}` +
        (atol > 0 ? ` + atol ${atol}` : ''),
    );
  }
  return { maxAbsError: maxAbs, relError: rel };
}

/**
 * Runs `fn` and asserts it leaves `tf.memory().numTensors` unchanged (the result, if a tensor or
 * an array of tensors, is disposed before counting). Works for sync and async functions.
 */
export async function expectNoLeak<T>(fn: () => T | Promise<T>, what = 'function'): Promise<void> {
  const before = tf.memory().numTensors;
  const out = await fn();
  disposeAny(out);
  const after = tf.memory().numTensors;
  if (after !== before) throw new Error(`${what} leaked ${after - before} tensor(s): ${before} before, ${after} after`);
}

function disposeAny(x: unknown): void {
  if (x instanceof tf.Tensor) x.dispose();
  else if (Array.isArray(x)) x.forEach(disposeAny);
  else if (x && typeof x === 'object' && !(x instanceof tf.Variable)) Object.values(x).forEach((v) => v instanceof tf.Tensor && v.dispose());
}
