import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, FewstepError, StateMismatchError, type ShapeMismatch } from '../errors.js';
import type { Initializer } from './initializers.js';
import { deriveSeed } from './seeded-random.js';

/** Options of {@link Network.param}. */
export interface ParamOptions {
  /** Whether optimizers update it (`tf.Variable.trainable`). @default true */
  trainable?: boolean;
  /** Seed of the initialiser. @default deriveSeed(network.seed, name): depends on the name only, never on creation order */
  seed?: number;
}

/** Options of {@link Network.setWeights}. */
export interface SetWeightsOptions {
  /**
   * Strict: a missing or an unexpected name is an error (as `load_state_dict(strict=True)`).
   * A shape mismatch is an error in both modes. @default true
   */
  strict?: boolean;
}

/**
 * A low-rank additive delta on a kernel: `W_eff = W + scale * reshape(A · B, shape(W))`, with
 * `A = variable(a)` `[fanIn, r]` and `B = variable(b)` `[r, out]`. Registered by `applyLora`.
 */
export interface LowRankDelta {
  readonly a: string;
  readonly b: string;
  readonly scale: number;
}

type Kind = 'parameter' | 'buffer';

interface Entry {
  readonly variable: tf.Variable;
  readonly kind: Kind;
}

const NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
// tfjs registers variables in one global table keyed by name: make every name unique.
let nextVariableId = 0;

/** True when `name` is `prefix` or lies under it (`down.0` matches `down.0.conv.kernel`, not `down.01.x`). */
export function isUnderPrefix(name: string, prefix: string): boolean {
  return prefix === '' || name === prefix || name.startsWith(prefix + '.');
}

/** Levenshtein distance (error messages only). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

function shapeEquals(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * A set of named `tf.Variable`s with stable hierarchical names (`down.0.res.conv1.kernel`): the
 * weights of one model (generator, fake score, teacher, discriminator, an EMA copy). Layers create
 * their weights through {@link Network.param} / {@link Network.scope} and read kernels through
 * {@link Network.kernel}. Insertion order is the stable order of {@link Network.variables};
 * everything else (weights, optimizer state, EMA) is keyed by name.
 *
 * @example
 * const net = new Network('student', { seed: 7 });
 * const block = net.scope('down.0.res');
 * block.param('conv1.kernel', [3, 3, 4, 8], heUniform());
 * block.param('conv1.bias', [8], zeros());
 * const y = tf.tidy(() => tf.conv2d(x, block.kernel('conv1.kernel') as tf.Tensor4D, 1, 'same'));
 */
export class Network {
  readonly name: string;
  /** Base seed; a parameter's default seed is `deriveSeed(seed, name)`. */
  readonly seed: number;
  readonly #entries = new Map<string, Entry>();
  readonly #deltas = new Map<string, LowRankDelta>();
  #disposed = false;

  constructor(name = 'network', options: { seed?: number } = {}) {
    const { seed = 1 } = options;
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new ConfigError('Network.seed', seed, 'an integer in [0, 2^32) (0 is a valid, deterministic seed)');
    }
    this.name = name;
    this.seed = seed;
  }

  /**
   * Creates a parameter `name` of `shape`, initialised by `init` with a seed derived from the name.
   * @throws ConfigError on an invalid or duplicate name.
   */
  param(name: string, shape: readonly number[], init: Initializer, options: ParamOptions = {}): tf.Variable {
    return this.#create(name, shape, init, options.trainable ?? true, 'parameter', options.seed);
  }

  /** Creates a non-trainable buffer (running statistics, fixed embeddings): never unfrozen, copied (not averaged) by the EMA. */
  buffer(name: string, shape: readonly number[], init: Initializer, options: { seed?: number } = {}): tf.Variable {
    return this.#create(name, shape, init, false, 'buffer', options.seed);
  }

  /** A builder whose names are prefixed by `prefix.` (`net.scope('down.0').param('conv.kernel', ...)`). */
  scope(prefix: string): ParamScope {
    this.#checkName(prefix, 'Network.scope(prefix)');
    return new ParamScope(this, prefix);
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** The variable `name`. @throws ConfigError naming the closest existing names. */
  variable(name: string): tf.Variable {
    return this.#entry(name).variable;
  }

  /** Whether `name` is a buffer (see {@link Network.buffer}). */
  isBuffer(name: string): boolean {
    return this.#entry(name).kind === 'buffer';
  }

  /**
   * The effective kernel that layers use: the variable itself, or `W + scale * reshape(A · B)`
   * when a low-rank delta (LoRA) is attached. The result belongs to the caller's `tf.tidy`
   * (never dispose it directly: without an adapter it IS the variable).
   */
  kernel(name: string): tf.Tensor {
    const base = this.variable(name);
    return this.#deltas.has(name) ? tf.tidy(() => tf.add(base, this.lowRankDeltaValue(name))) : base;
  }

  /** Name → variable, in insertion order (parameters and buffers). A fresh Map: mutating it changes nothing. */
  variables(): Map<string, tf.Variable> {
    this.#live();
    return new Map([...this.#entries].map(([n, e]) => [n, e.variable]));
  }

  /** Name → variable of the trainable parameters only, in insertion order. */
  trainableVariables(): Map<string, tf.Variable> {
    this.#live();
    return new Map([...this.#entries].filter(([, e]) => e.variable.trainable).map(([n, e]) => [n, e.variable]));
  }

  isTrainable(name: string): boolean {
    return this.#entry(name).variable.trainable;
  }

  /** Freezes every parameter, or those under `prefix`. @throws ConfigError when `prefix` matches nothing */
  freeze(prefix = ''): void {
    for (const e of this.#matching(prefix, 'Network.freeze(prefix)')) e.variable.trainable = false;
  }

  /** Unfreezes every parameter (never a buffer), or those under `prefix`. */
  unfreeze(prefix = ''): void {
    for (const e of this.#matching(prefix, 'Network.unfreeze(prefix)')) if (e.kind === 'parameter') e.variable.trainable = true;
  }

  /**
   * A deep copy (values, trainable flags, buffers, low-rank deltas) under a new name: an EMA copy,
   * or a fake score initialised from the teacher. The copies are independent: assigning one never
   * changes the other (tfjs tensor data is immutable; the copy shares it until either is assigned).
   */
  clone(name = `${this.name}.clone`): Network {
    this.#live();
    const copy = new Network(name, { seed: this.seed });
    for (const [n, e] of this.#entries) {
      copy.adopt(n, tf.variable(e.variable, e.variable.trainable, copy.#tfName(n)), e.kind);
    }
    for (const [n, d] of this.#deltas) copy.#deltas.set(n, d);
    return copy;
  }

  /**
   * Copies every value of `from` into this network (same names and shapes required, order free).
   * @throws StateMismatchError listing every difference; nothing is assigned.
   */
  assign(from: Network): void {
    this.#live();
    const incoming = from.variables();
    this.#validate(`Network.assign: '${from.name}' into '${this.name}'`, incoming, true, 'build both networks from the same architecture and config');
    for (const [n, e] of this.#entries) e.variable.assign(incoming.get(n)!);
  }

  /** Name → a copy of each value (parameters and buffers). The caller owns (and must dispose) the tensors. */
  getWeights(): Map<string, tf.Tensor> {
    this.#live();
    return new Map([...this.#entries].map(([n, e]) => [n, tf.clone(e.variable)]));
  }

  /**
   * Assigns named values (a safetensors file, `getWeights()` of a twin). Everything is validated
   * before anything is assigned. The input tensors stay owned by the caller.
   * @throws StateMismatchError (missing / unexpected in strict mode, shape mismatch always).
   */
  setWeights(weights: ReadonlyMap<string, tf.Tensor> | tf.NamedTensorMap, options: SetWeightsOptions = {}): void {
    this.#live();
    const { strict = true } = options;
    const map = weights instanceof Map ? weights : new Map(Object.entries(weights));
    this.#validate(
      `Network.setWeights into '${this.name}'`,
      map,
      strict,
      strict
        ? 'load weights saved from the same architecture and config, or pass { strict: false } to load a subset (shapes must still match)'
        : 'load weights saved from the same architecture and config',
    );
    tf.tidy(() => {
      for (const [n, e] of this.#entries) {
        const t = map.get(n);
        if (t) e.variable.assign(t.dtype === e.variable.dtype ? t : tf.cast(t, e.variable.dtype));
      }
    });
  }

  /** Number of scalar parameters (buffers excluded). */
  numParameters(options: { trainableOnly?: boolean } = {}): number {
    this.#live();
    let n = 0;
    for (const e of this.#entries.values()) {
      if (e.kind === 'parameter' && (!options.trainableOnly || e.variable.trainable)) n += e.variable.size;
    }
    return n;
  }

  /** Disposes every variable still attached. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const e of this.#entries.values()) e.variable.dispose();
    this.#entries.clear();
    this.#deltas.clear();
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  // ---- Adapter support (used by applyLora; also usable by other parameter-efficient adapters). ----

  /** Attaches an existing variable under `name` (the network now owns it). */
  adopt(name: string, variable: tf.Variable, kind: Kind = 'parameter'): void {
    this.#live();
    this.#checkName(name, 'Network.adopt(name)');
    if (this.#entries.has(name)) throw new ConfigError('name', name, `a name not yet used in network '${this.name}'`);
    this.#entries.set(name, { variable, kind });
  }

  /** Detaches `name` without disposing it (the caller now owns it). */
  detach(name: string): tf.Variable {
    const { variable } = this.#entry(name);
    for (const [k, d] of this.#deltas) {
      if (d.a === name || d.b === name) {
        throw new ConfigError('Network.detach(name)', name, 'a variable no low-rank delta refers to', `remove the delta on '${k}' first`);
      }
    }
    this.#entries.delete(name);
    return variable;
  }

  /** Attaches (or, with `undefined`, removes) a low-rank delta on kernel `name`. */
  setLowRankDelta(name: string, delta: LowRankDelta | undefined): void {
    const base = this.variable(name);
    if (delta === undefined) {
      this.#deltas.delete(name);
      return;
    }
    const a = this.variable(delta.a);
    const b = this.variable(delta.b);
    const fanIn = base.size / base.shape[base.shape.length - 1]!;
    if (a.rank !== 2 || b.rank !== 2 || a.shape[0] !== fanIn || a.shape[1] !== b.shape[0] || b.shape[1] !== base.shape[base.shape.length - 1]) {
      throw new ConfigError(
        'LowRankDelta',
        { base: base.shape, a: a.shape, b: b.shape },
        `A [${fanIn}, r] and B [r, ${base.shape[base.shape.length - 1]}] for kernel '${name}'`,
      );
    }
    this.#deltas.set(name, delta);
  }

  lowRankDelta(name: string): LowRankDelta | undefined {
    return this.#deltas.get(name);
  }

  /** `scale * reshape(A · B, shape(W))` for kernel `name` (in the caller's tidy). */
  lowRankDeltaValue(name: string): tf.Tensor {
    const d = this.#deltas.get(name);
    if (!d) throw new ConfigError('Network.lowRankDeltaValue(name)', name, 'a kernel with a low-rank delta (see applyLora)');
    const base = this.variable(name);
    const a = this.variable(d.a) as tf.Tensor2D;
    const b = this.variable(d.b) as tf.Tensor2D;
    return tf.tidy(() => tf.reshape(tf.mul(tf.matMul(a, b), d.scale), base.shape));
  }

  // ---- internals ----

  #create(name: string, shape: readonly number[], init: Initializer, trainable: boolean, kind: Kind, seed?: number): tf.Variable {
    this.#live();
    this.#checkName(name, kind === 'buffer' ? 'Network.buffer(name)' : 'Network.param(name)');
    if (this.#entries.has(name)) {
      throw new ConfigError('name', name, `a name not yet used in network '${this.name}'`, 'give every parameter a unique hierarchical name');
    }
    if (!shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new ConfigError(`shape of '${name}'`, shape, 'positive integers');
    }
    const values = init.sample(shape, seed ?? deriveSeed(this.seed, name));
    const variable = tf.tidy(() => tf.variable(tf.tensor(values, [...shape], 'float32'), trainable, this.#tfName(name)));
    this.#entries.set(name, { variable, kind });
    return variable;
  }

  #tfName(name: string): string {
    return `${this.name}/${name}/${nextVariableId++}`;
  }

  #checkName(name: string, field: string): void {
    if (!NAME.test(name)) {
      throw new ConfigError(field, name, 'dot-separated segments of letters, digits, _ and - (e.g. down.0.res.conv1.kernel)');
    }
  }

  #live(): void {
    if (this.#disposed) {
      throw new FewstepError('E_DISPOSED', `Network '${this.name}' was disposed. Fix: do not use a network after dispose(); clone() it first if a copy must outlive it.`);
    }
  }

  #entry(name: string): Entry {
    this.#live();
    const e = this.#entries.get(name);
    if (e) return e;
    const close = [...this.#entries.keys()]
      .map((n) => [n, editDistance(n, name)] as const)
      .sort((x, y) => x[1] - y[1])
      .slice(0, 3)
      .map(([n]) => `'${n}'`);
    throw new ConfigError(
      'variable name',
      name,
      `one of the ${this.#entries.size} variables of network '${this.name}'` + (close.length ? ` (closest: ${close.join(', ')})` : ''),
    );
  }

  #matching(prefix: string, field: string): Entry[] {
    this.#live();
    const found = [...this.#entries].filter(([n]) => isUnderPrefix(n, prefix)).map(([, e]) => e);
    if (found.length === 0 && this.#entries.size > 0) {
      throw new ConfigError(field, prefix, `a name prefix of network '${this.name}' (on a '.' boundary)`);
    }
    return found;
  }

  #validate(what: string, incoming: ReadonlyMap<string, tf.Tensor>, strict: boolean, fix: string): void {
    const missing: string[] = [];
    const unexpected: string[] = [];
    const shapes: ShapeMismatch[] = [];
    for (const [n, e] of this.#entries) {
      const t = incoming.get(n);
      if (!t) missing.push(n);
      else if (!shapeEquals(t.shape, e.variable.shape)) shapes.push({ name: n, found: t.shape, expected: e.variable.shape });
    }
    for (const n of incoming.keys()) if (!this.#entries.has(n)) unexpected.push(n);
    if ((strict && (missing.length > 0 || unexpected.length > 0)) || shapes.length > 0) {
      throw new StateMismatchError(what, strict ? missing : [], strict ? unexpected : [], shapes, fix);
    }
  }
}

/** A name-prefixing view of a {@link Network} for building one block (`down.0.res`). */
export class ParamScope {
  constructor(
    readonly network: Network,
    readonly prefix: string,
  ) {}

  #full(name: string): string {
    return `${this.prefix}.${name}`;
  }

  param(name: string, shape: readonly number[], init: Initializer, options?: ParamOptions): tf.Variable {
    return this.network.param(this.#full(name), shape, init, options);
  }

  buffer(name: string, shape: readonly number[], init: Initializer, options?: { seed?: number }): tf.Variable {
    return this.network.buffer(this.#full(name), shape, init, options);
  }

  scope(prefix: string): ParamScope {
    return this.network.scope(this.#full(prefix));
  }

  variable(name: string): tf.Variable {
    return this.network.variable(this.#full(name));
  }

  kernel(name: string): tf.Tensor {
    return this.network.kernel(this.#full(name));
  }
}
