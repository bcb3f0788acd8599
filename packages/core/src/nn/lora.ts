import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import { uniform, zeros } from './initializers.js';
import type { Network } from './network.js';
import { deriveSeed } from './seeded-random.js';

/** Options of {@link applyLora}. */
export interface LoraOptions {
  /** Rank `r` of the update `A · B`. */
  rank: number;
  /** `alpha`; the update is scaled by `alpha / r` (Hu et al. 2021, Sec. 4.1). @default rank (scale 1) */
  alpha?: number;
  /** Which variables get an adapter (by name, e.g. `(n) => n.endsWith('.kernel')`); each must have rank >= 2. */
  targets: (name: string) => boolean;
  /** Seed of the `A` initialisation. @default the network's seed */
  seed?: number;
  /** What to freeze: the whole base network (as peft does) or only the targeted kernels. @default 'all' */
  freeze?: 'all' | 'targets';
}

const A = 'lora_A';
const B = 'lora_B';

/**
 * LoRA adapters (Hu et al. 2021, Eq. 3: `h = W0 x + (alpha / r) * B A x`) on dense and conv
 * kernels. A kernel of any rank >= 2 is viewed as the matrix `[fanIn, out]` =
 * `[prod(shape[0..-1]), shape[-1]]` (dense `[in, out]`; conv `[kh, kw, cin, cout]` ->
 * `[kh*kw*cin, cout]`), and `W_eff = W + (alpha / r) * reshape(A · B, shape(W))` with
 * `A` `[fanIn, r]`, `B` `[r, out]`. For a conv this is exactly a k x k conv `cin -> r` followed by
 * a 1 x 1 conv `r -> cout` (peft's Conv2d LoRA), folded into one kernel. `B` starts at zero, so the
 * adapted network initially equals the base; `A ~ U(-1/sqrt(fanIn), 1/sqrt(fanIn))` (peft's
 * `kaiming_uniform_(a=sqrt(5))`), seeded by `(seed, name)`.
 *
 * The adapters are ordinary trainable parameters of the network, named `<kernel>.lora_A` and
 * `<kernel>.lora_B`; the base is frozen. Layers read `net.kernel(name)`, which applies the delta.
 *
 * @example
 * const lora = applyLora(unet, { rank: 4, alpha: 4, targets: (n) => /attn.*\.kernel$/.test(n), seed: 3 });
 * // train unet.trainableVariables() (only the adapters) ... then save lora.loraWeights(), or lora.merge().
 */
export function applyLora(net: Network, options: LoraOptions): LoraAdapter {
  const { rank, alpha = rank, targets, seed = net.seed, freeze = 'all' } = options;
  if (!Number.isInteger(rank) || rank < 1) throw new ConfigError('rank', rank, 'an integer >= 1');
  if (!Number.isFinite(alpha)) throw new ConfigError('alpha', alpha, 'a finite number');
  if (freeze !== 'all' && freeze !== 'targets') throw new ConfigError('freeze', freeze, "'all' or 'targets'");
  const vars = net.variables();
  const names = [...vars.keys()].filter((n) => targets(n) && !net.isBuffer(n));
  if (names.length === 0) {
    throw new ConfigError('targets', `matched none of ${vars.size} variables`, 'a predicate selecting at least one kernel', 'check the names with net.variables().keys()');
  }
  for (const n of names) {
    const v = vars.get(n)!;
    if (v.rank < 2) throw new ConfigError(`targets: '${n}'`, v.shape, 'a kernel of rank >= 2 (biases and norms cannot take LoRA)');
    if (net.lowRankDelta(n)) throw new ConfigError(`targets: '${n}'`, 'already adapted', 'a kernel without an adapter', 'merge or dispose the existing adapter first');
  }
  const previous = new Map([...vars].map(([n, v]) => [n, v.trainable]));
  const scale = alpha / rank;
  for (const n of names) {
    const shape = vars.get(n)!.shape;
    const out = shape[shape.length - 1]!;
    const fanIn = vars.get(n)!.size / out;
    const bound = 1 / Math.sqrt(fanIn);
    net.param(`${n}.${A}`, [fanIn, rank], uniform(-bound, bound), { seed: deriveSeed(seed, `${n}.${A}`) });
    net.param(`${n}.${B}`, [rank, out], zeros());
    net.setLowRankDelta(n, { a: `${n}.${A}`, b: `${n}.${B}`, scale });
  }
  for (const n of freeze === 'all' ? vars.keys() : names) net.variable(n).trainable = false;
  return new LoraAdapter(net, names, rank, alpha, previous);
}

/** The handle returned by {@link applyLora}: merge / unmerge / save / remove. */
export class LoraAdapter {
  /** `alpha / rank`. */
  readonly scale: number;
  #merged = false;
  /** A and B while merged (detached from the network, owned here). */
  readonly #held = new Map<string, tf.Variable>();
  #disposed = false;

  constructor(
    readonly network: Network,
    /** The adapted kernels' names. */
    readonly targets: readonly string[],
    readonly rank: number,
    readonly alpha: number,
    readonly previousTrainable: ReadonlyMap<string, boolean>,
  ) {
    this.scale = alpha / rank;
  }

  get merged(): boolean {
    return this.#merged;
  }

  /** The effective kernel `W + scale * reshape(A · B)` (just `W` while merged); see `Network.kernel`. */
  kernel(name: string): tf.Tensor {
    return this.network.kernel(name);
  }

  /**
   * Folds the adapters into the base kernels (`W <- W + scale * A · B`) and removes them from the
   * network (kept here for {@link unmerge}): the network is then a plain network, as fast as the base.
   */
  merge(): void {
    this.#live();
    if (this.#merged) throw new ConfigError('LoraAdapter.merge()', 'already merged', 'an unmerged adapter');
    const net = this.network;
    tf.tidy(() => {
      for (const n of this.targets) net.variable(n).assign(tf.add(net.variable(n), net.lowRankDeltaValue(n)));
    });
    for (const n of this.targets) {
      net.setLowRankDelta(n, undefined);
      for (const s of [A, B]) this.#held.set(`${n}.${s}`, net.detach(`${n}.${s}`));
    }
    this.#merged = true;
  }

  /** Subtracts the adapters back out (`W <- W - scale * A · B`; exact to float32 rounding) and re-attaches them. */
  unmerge(): void {
    this.#live();
    if (!this.#merged) throw new ConfigError('LoraAdapter.unmerge()', 'not merged', 'a merged adapter');
    const net = this.network;
    for (const n of this.targets) {
      for (const s of [A, B]) net.adopt(`${n}.${s}`, this.#held.get(`${n}.${s}`)!);
      net.setLowRankDelta(n, { a: `${n}.${A}`, b: `${n}.${B}`, scale: this.scale });
    }
    this.#held.clear();
    tf.tidy(() => {
      for (const n of this.targets) net.variable(n).assign(tf.sub(net.variable(n), net.lowRankDeltaValue(n)));
    });
    this.#merged = false;
  }

  /** The adapter weights only (`<kernel>.lora_A`, `<kernel>.lora_B`), as copies the caller owns. */
  loraWeights(): Map<string, tf.Tensor> {
    this.#live();
    const out = new Map<string, tf.Tensor>();
    for (const n of this.targets) {
      for (const s of [A, B]) {
        const key = `${n}.${s}`;
        out.set(key, tf.clone(this.#merged ? this.#held.get(key)! : this.network.variable(key)));
      }
    }
    return out;
  }

  /**
   * Removes the adapters without merging (unless already merged: then the merged base stays),
   * disposes them and restores the trainable flags the network had before {@link applyLora}.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const net = this.network;
    if (this.#merged) {
      for (const v of this.#held.values()) v.dispose();
      this.#held.clear();
    } else if (!net.disposed) {
      for (const n of this.targets) {
        net.setLowRankDelta(n, undefined);
        for (const s of [A, B]) net.detach(`${n}.${s}`).dispose();
      }
    }
    if (!net.disposed) {
      for (const [n, trainable] of this.previousTrainable) if (net.has(n)) net.variable(n).trainable = trainable;
    }
  }

  #live(): void {
    if (this.#disposed) throw new ConfigError('LoraAdapter', 'disposed', 'a live adapter', 'call applyLora again');
  }
}
