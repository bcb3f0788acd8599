/**
 * @file AccVideo's latent queues `Q_0, ..., Q_m` (AccVideo Algorithm 1, lines 3, 12 and 15-17):
 * FIFO queues of student-generated states `l^gen_{t'_k}` `[F, H, W, C]` per key timestep, so that
 * the adversarial loss sees the student's own states at `t'_k` without re-simulating the student
 * from noise at every step (Sec. 4.3).
 *
 * The queues live in buffer variables of a core `Network` (a recipe role, see
 * {@link latentQueuesRole}), so the trainer writes them into every checkpoint and restores them on
 * resume like any other role's weights: an exact resume keeps the queues' contents. Per queue `k`:
 * - `q<k>.latents` `[capacity, F, H, W, C]`: the states, oldest first (slots past the fill are 0);
 * - `q<k>.fill` `[1]`: the fill counter (how many of the slots hold states).
 *
 * Semantics (capacity in samples, not batches, so the checkpoint does not depend on the batch
 * size; the paper gives no capacity, the choice is ours): `push(k, x)` appends the `n` states of
 * `x` `[n, F, H, W, C]` (a constant copy) and, past the capacity, drops the oldest; `pop(k, n)`
 * removes and returns the oldest `n` states, or `undefined` when fewer than `n` are queued;
 * `newest(k, n)` returns the latest `n` states without removing them.
 *
 * Reading a fill counter is one host read of one number (free on cpu / wasm, a sync on GPUs, as
 * the runtime's `detach`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Network, ShapeError, zeros } from '@fewstep/core';
import type { RecipeOptions } from '../runtime/define-recipe.js';
import { customRole, type RoleSpec } from '../runtime/roles.js';

/** Options of {@link LatentQueues}. */
export interface LatentQueuesOptions {
  /** Number of queues (AccVideo: m + 1, one per key timestep `t'_0..t'_m`). */
  queues: number;
  /** Capacity of each queue, in samples. */
  capacity: number;
  /** Shape of one state `[F, H, W, C]`. */
  sampleShape: readonly number[];
}

function positiveInt(field: string, v: number, fix?: string): void {
  if (!(Number.isInteger(v) && v >= 1)) throw new ConfigError(field, v, 'an integer >= 1', fix);
}

/** FIFO queues of latents stored in buffer variables of a `Network` (see the file comment). */
export class LatentQueues {
  readonly queues: number;
  readonly capacity: number;
  readonly sampleShape: readonly number[];

  /**
   * Binds to `net`, creating the buffers `q<k>.latents` / `q<k>.fill` when `net` does not hold
   * them yet (a fresh role); an existing network (a clone, a restored role) is used as it is.
   */
  constructor(
    readonly net: Network,
    options: LatentQueuesOptions,
  ) {
    positiveInt('queues', options.queues, 'AccVideo uses m + 1 = 6 queues');
    positiveInt('capacity', options.capacity, 'use at least the batch size');
    if (options.sampleShape.length === 0) throw new ConfigError('sampleShape', options.sampleShape, 'the shape of one sample, e.g. [F, H, W, C]');
    options.sampleShape.forEach((d, i) => positiveInt(`sampleShape[${i}]`, d));
    this.queues = options.queues;
    this.capacity = options.capacity;
    this.sampleShape = [...options.sampleShape];
    for (let k = 0; k < this.queues; k++) {
      if (!net.has(LatentQueues.latentsName(k))) net.buffer(LatentQueues.latentsName(k), [this.capacity, ...this.sampleShape], zeros());
      if (!net.has(LatentQueues.fillName(k))) net.buffer(LatentQueues.fillName(k), [1], zeros());
      const shape = net.variable(LatentQueues.latentsName(k)).shape;
      if (shape.join(',') !== [this.capacity, ...this.sampleShape].join(',')) {
        throw new ShapeError(`network '${net.name}' ${LatentQueues.latentsName(k)}`, shape, `[${[this.capacity, ...this.sampleShape].join(', ')}]`);
      }
    }
  }

  /** Buffer name of queue k's states. */
  static latentsName(k: number): string {
    return `q${k}.latents`;
  }

  /** Buffer name of queue k's fill counter. */
  static fillName(k: number): string {
    return `q${k}.fill`;
  }

  #check(k: number): void {
    if (!(Number.isInteger(k) && k >= 0 && k < this.queues)) throw new ConfigError('queue', k, `an integer in [0, ${this.queues})`);
  }

  /** How many states queue k holds. */
  fill(k: number): number {
    this.#check(k);
    return Math.round(this.net.variable(LatentQueues.fillName(k)).dataSync()[0]!);
  }

  /** Fill counters of every queue. */
  fills(): number[] {
    return Array.from({ length: this.queues }, (_, k) => this.fill(k));
  }

  /**
   * Appends `x` `[n, F, H, W, C]` to queue k (its values: no gradient is kept); past the capacity
   * the oldest states are dropped (FIFO).
   */
  push(k: number, x: tf.Tensor): void {
    this.#check(k);
    const want = this.sampleShape.join(',');
    if (x.rank !== this.sampleShape.length + 1 || x.shape.slice(1).join(',') !== want) {
      throw new ShapeError(`LatentQueues.push(${k}) states`, x.shape, `[n, ${this.sampleShape.join(', ')}]`);
    }
    const fill = this.fill(k);
    // A constant copy: the queue never carries a gradient path to the network that produced x.
    const incoming = tf.tensor(x.dataSync() as Float32Array, x.shape, 'float32');
    tf.tidy(() => {
      const kept = fill === 0 ? incoming : tf.concat([tf.slice(this.#latents(k), 0, fill), incoming], 0);
      const total = kept.shape[0]!;
      const next = total > this.capacity ? tf.slice(kept, total - this.capacity, this.capacity) : kept;
      this.#write(k, next);
    });
    incoming.dispose();
  }

  /** Removes and returns the oldest `n` states of queue k `[n, F, H, W, C]` (the caller owns them), or `undefined` when fewer than `n` are queued. */
  pop(k: number, n: number): tf.Tensor | undefined {
    this.#check(k);
    positiveInt('n', n);
    const fill = this.fill(k);
    if (fill < n) return undefined;
    const out = tf.slice(this.#latents(k), 0, n);
    tf.tidy(() => this.#write(k, fill === n ? undefined : tf.slice(this.#latents(k), n, fill - n)));
    return out;
  }

  /** The newest `n` states of queue k `[n, F, H, W, C]` (not removed; the caller owns them), or `undefined` when fewer are queued. */
  newest(k: number, n: number): tf.Tensor | undefined {
    this.#check(k);
    positiveInt('n', n);
    const fill = this.fill(k);
    if (fill < n) return undefined;
    return tf.slice(this.#latents(k), fill - n, n);
  }

  /** Empties every queue. */
  clear(): void {
    for (let k = 0; k < this.queues; k++) tf.tidy(() => this.#write(k, undefined));
  }

  #latents(k: number): tf.Variable {
    return this.net.variable(LatentQueues.latentsName(k));
  }

  /** Stores `states` `[n <= capacity, ...]` (oldest first) as queue k's contents, zero-padded. */
  #write(k: number, states: tf.Tensor | undefined): void {
    const n = states?.shape[0] ?? 0;
    const pad = this.capacity - n;
    const padded = states === undefined ? tf.zeros([this.capacity, ...this.sampleShape]) : pad === 0 ? states : tf.concat([states, tf.zeros([pad, ...this.sampleShape])], 0);
    this.#latents(k).assign(padded);
    this.net.variable(LatentQueues.fillName(k)).assign(tf.tensor1d([n], 'float32'));
  }
}

/**
 * A recipe role holding {@link LatentQueues} (buffers only: no phase trains it; the trainer
 * checkpoints and restores it with every role). `rc.api<LatentQueues>(role)` returns the queues.
 */
export function latentQueuesRole<R extends RecipeOptions>(options: (o: R) => { queues: number; capacity: number }): RoleSpec<R> {
  return customRole<R, LatentQueues>((env) => {
    const net = new Network(env.role, { seed: env.seed });
    try {
      return { net, api: new LatentQueues(net, { ...options(env.options), sampleShape: env.sampleShape }) };
    } catch (e) {
      net.dispose();
      throw e;
    }
  });
}
