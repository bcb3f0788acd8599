import * as tf from '@tensorflow/tfjs-core';

export interface GradCheckOptions {
  /** Central-difference step. @default 1e-2 (float32: larger steps, looser tolerances) */
  eps?: number;
  /** Number of randomly chosen coordinates checked per input. @default 12 */
  samples?: number;
  /** Seed for the choice of coordinates. @default 1 */
  seed?: number;
}

/**
 * Compares the analytic gradient of a scalar function with central finite differences at a few
 * seeded coordinates of each input. Returns the worst relative error
 * `|g_analytic - g_fd| / max(|g_fd|, |g_analytic|, 1e-3)` per input. The function should be smooth
 * near the inputs; evaluate in float32, so use `eps` around 1e-2 and compare with ~1e-2 tolerance.
 */
export function finiteDifferenceCheck(
  f: (...xs: tf.Tensor[]) => tf.Scalar,
  inputs: tf.Tensor[],
  options: GradCheckOptions = {},
): number[] {
  const { eps = 1e-2, samples = 12, seed = 1 } = options;
  const grads = tf.grads(f)(inputs);
  const worst: number[] = [];
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  inputs.forEach((x, i) => {
    const g = grads[i]!.dataSync();
    const base = x.dataSync().slice();
    let w = 0;
    for (let k = 0; k < Math.min(samples, base.length); k++) {
      const j = Math.floor(next() * base.length);
      const eval1 = (delta: number) => {
        const v = base.slice();
        v[j] = (v[j] as number) + delta;
        const xs = inputs.map((t, m) => (m === i ? tf.tensor(v, x.shape, 'float32') : t));
        const out = f(...xs);
        const val = out.dataSync()[0] as number;
        out.dispose();
        xs[i]!.dispose();
        return val;
      };
      const fd = (eval1(eps) - eval1(-eps)) / (2 * eps);
      const ga = g[j] as number;
      w = Math.max(w, Math.abs(ga - fd) / Math.max(Math.abs(fd), Math.abs(ga), 1e-3));
    }
    worst.push(w);
  });
  grads.forEach((g) => g.dispose());
  return worst;
}
