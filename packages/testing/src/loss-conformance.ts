import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

/** The structural shape of core's `LossDefinition` (testing depends on no fewstep package). */
export interface ConformingLoss<O, I> {
  readonly name: string;
  readonly equation?: string;
  readonly defaults: Readonly<O>;
  readonly requires: readonly string[];
  readonly trains: string;
  validate?(options: O): void;
  compute(inputs: I, options: O): { loss: tf.Scalar; metrics?: Record<string, tf.Scalar> };
}

export interface LossConformanceCase<O, I> {
  /** Builds fresh inputs (tensors may close over `trainable`). Called inside the checks. */
  inputs: () => I;
  /** Variables of the trained role: each must get a non-zero gradient. */
  trainable: () => tf.Variable[];
  valid: ReadonlyArray<Partial<O>>;
  invalid?: ReadonlyArray<{ options: Partial<O>; error: RegExp }>;
}

/**
 * The checks every loss plugin passes (STYLE.md G17): a namespaced name and an equation
 * reference; a finite scalar for every valid option set; gradients reach every variable of the
 * trained role (other roles are stop-gradient targets: not in the variable list); no tensor leaks;
 * typed errors for invalid options.
 */
export function describeLossConformance<O, I>(loss: ConformingLoss<O, I>, c: LossConformanceCase<O, I>): void {
  describe(`${loss.name}: loss conformance`, () => {
    it('has a namespaced name and cites its equation', () => {
      expect(loss.name).toMatch(/^[a-z0-9-]+:[a-z0-9-]+$/);
      expect(loss.equation ?? '').not.toBe('');
      expect(loss.requires).toContain(loss.trains);
    });

    it.each(c.valid.map((o, i) => [i, o] as const))('valid options #%i give a finite scalar, without leaking', async (_i, o) => {
      const options = { ...loss.defaults, ...o } as O;
      loss.validate?.(options);
      const before = tf.memory().numTensors;
      const inputs = c.inputs();
      const made = tf.memory().numTensors;
      const { loss: value, metrics } = loss.compute(inputs, options);
      expect(value.rank).toBe(0);
      expect(Number.isFinite((await value.data())[0])).toBe(true);
      const outputs = 1 + Object.keys(metrics ?? {}).length;
      expect(tf.memory().numTensors - made).toBe(outputs);
      value.dispose();
      for (const m of Object.values(metrics ?? {})) m.dispose();
      disposeInputs(inputs);
      expect(tf.memory().numTensors).toBe(before);
    });

    it('gradients reach every variable of the trained role', () => {
      const options = { ...loss.defaults, ...c.valid[0] } as O;
      const trainable = c.trainable();
      const inputs = c.inputs();
      const { value, grads } = tf.variableGrads(() => loss.compute(inputs, options).loss, trainable);
      for (const v of trainable) {
        const g = grads[v.name];
        expect(g, `gradient of ${v.name}`).toBeDefined();
        expect(tf.max(tf.abs(g!)).dataSync()[0], `|grad| of ${v.name}`).toBeGreaterThan(0);
      }
      value.dispose();
      Object.values(grads).forEach((g) => g.dispose());
      disposeInputs(inputs);
    });

    for (const bad of c.invalid ?? []) {
      it(`rejects ${JSON.stringify(bad.options)} with a typed error`, () => {
        expect(() => loss.validate?.({ ...loss.defaults, ...bad.options } as O)).toThrow(bad.error);
      });
    }
  });
}

function disposeInputs(x: unknown): void {
  if (x instanceof tf.Variable) return;
  if (x instanceof tf.Tensor) x.dispose();
  else if (Array.isArray(x)) x.forEach(disposeInputs);
  else if (x && typeof x === 'object') Object.values(x).forEach(disposeInputs);
}
