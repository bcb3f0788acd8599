import * as tf from '@tensorflow/tfjs-core';
import { adamwInit, adamwStep, type AdamWState } from './adamw.js';
import type { WorkloadModel } from './workload.js';

/**
 * Trains a {@link WorkloadModel} one step at a time: forward + loss + backward
 * (`tf.valueAndGrads`) + AdamW update, then an `await loss.data()` so the step's work has really
 * completed before the clock stops. Owns the model's tensors; call {@link dispose}.
 */
export class BenchTrainer {
  private params: tf.Tensor[];
  private state: AdamWState;
  private readonly names: string[];
  private readonly valueAndGrads: (args: tf.Tensor[]) => { value: tf.Scalar; grads: tf.Tensor[] };

  constructor(private readonly model: WorkloadModel) {
    this.names = model.params.map((p) => p.name);
    this.params = model.params.map((p) => p.value);
    this.state = adamwInit(this.params);
    const names = this.names;
    this.valueAndGrads = tf.valueAndGrads((...args: tf.Tensor[]) => {
      const byName: Record<string, tf.Tensor> = {};
      names.forEach((n, i) => {
        byName[n] = args[i] as tf.Tensor;
      });
      return model.loss(byName);
    }) as (args: tf.Tensor[]) => { value: tf.Scalar; grads: tf.Tensor[] };
  }

  /** Number of trainable scalars. */
  get parameterCount(): number {
    return this.params.reduce((a, p) => a + p.size, 0);
  }

  /** Runs one full training step; resolves to the loss before the update. */
  async step(): Promise<number> {
    const oldParams = this.params;
    const oldState = this.state;
    const out = tf.tidy(() => {
      const { value, grads } = this.valueAndGrads(oldParams);
      const next = adamwStep(oldParams, grads, oldState, this.model.optimizer);
      return { value, params: next.params, m: next.state.m, v: next.state.v };
    });
    this.params = out.params;
    this.state = { m: out.m, v: out.v, t: oldState.t + 1 };
    tf.dispose([oldParams, oldState.m, oldState.v]);
    const loss = (await out.value.data())[0] as number;
    out.value.dispose();
    return loss;
  }

  /** Frees parameters, optimizer moments and inputs. */
  dispose(): void {
    tf.dispose([this.params, this.state.m, this.state.v, this.model.inputs]);
    this.params = [];
    this.state = { m: [], v: [], t: this.state.t };
  }
}
