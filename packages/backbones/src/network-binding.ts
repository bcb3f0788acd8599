import { Network, StateMismatchError, type Initializer, type ParamOptions, type ShapeMismatch } from '@fewstep/core';
import type * as tf from '@tensorflow/tfjs-core';

/** A Network that records the names and shapes a builder would create, without allocating anything. */
class ShapeRecorder extends Network {
  readonly shapes = new Map<string, readonly number[]>();
  override param(name: string, shape: readonly number[], _init: Initializer, _options?: ParamOptions): tf.Variable {
    this.shapes.set(name, [...shape]);
    return undefined as unknown as tf.Variable;
  }
  override buffer(name: string, shape: readonly number[], init: Initializer): tf.Variable {
    return this.param(name, shape, init);
  }
}

/** Name → shape of every variable `build` creates (nothing is allocated). */
export function parameterShapes(build: (net: Network) => void): Map<string, readonly number[]> {
  const recorder = new ShapeRecorder('shape-recorder');
  build(recorder);
  return recorder.shapes;
}

/**
 * Checks that `net` holds every variable `build` would create, with the same shapes, so a
 * backbone can run on it (a `clone()`, an EMA copy, a network with LoRA adapters: extra names
 * such as `*.lora_A` are allowed).
 * @throws StateMismatchError listing every missing or mis-shaped name
 */
export function checkNetworkMatches(what: string, net: Network, build: (net: Network) => void): void {
  const missing: string[] = [];
  const shapes: ShapeMismatch[] = [];
  const vars = net.variables();
  for (const [name, shape] of parameterShapes(build)) {
    const v = vars.get(name);
    if (!v) missing.push(name);
    else if (v.shape.length !== shape.length || v.shape.some((d, i) => d !== shape[i])) shapes.push({ name, found: v.shape, expected: shape });
  }
  if (missing.length > 0 || shapes.length > 0) {
    throw new StateMismatchError(`${what}: network '${net.name}' does not fit the config`, missing, [], shapes, 'bind the backbone to a network built from the same config (net.clone() of one)');
  }
}

/** Number of scalar parameters `build` would create (nothing is allocated). */
export function countParameters(build: (net: Network) => void): number {
  let n = 0;
  for (const shape of parameterShapes(build).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}
