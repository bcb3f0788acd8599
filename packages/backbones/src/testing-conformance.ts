/**
 * @file Reusable conformance checks for fewstep backbones (STYLE.md G17): output shapes, gradient
 * flow to exactly the trainable variables, frozen forward passes, tensor leaks, config round
 * trips and feature taps. Each check throws an Error describing the first violation, so any test
 * runner can call them (this package's tests call them from vitest).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, valueAndGrads, type Network } from '@fewstep/core';
import type { BackboneOutput, ForwardOptions } from './backbone-types.js';

/** What the checks need from a backbone. */
export interface ConformanceSubject<I> {
  readonly net: Network;
  forward(inputs: I, options?: ForwardOptions): BackboneOutput;
  tapNames(): string[];
  toConfig(): unknown;
}

function fail(message: string): never {
  throw new Error(message);
}

function shapeStr(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

/** Disposes every tensor of a forward output (extra fields such as `pooled` included). */
function disposeOutput(o: BackboneOutput): void {
  for (const v of Object.values(o)) if (v instanceof tf.Tensor) v.dispose();
  tf.dispose(Object.values(o.taps));
}

/**
 * A fixed, non-degenerate linear read-out `sum(out * R)`, `R_i = sin(1 + i)`: its gradient does
 * not vanish at zero-initialised outputs (unlike `mean(out^2)`), so every upstream parameter is
 * reached.
 */
export function projectionLoss(out: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const r = new Float32Array(out.size);
    for (let i = 0; i < r.length; i++) r[i] = Math.sin(1 + i);
    return tf.sum(tf.mul(out, tf.tensor(r, out.shape))) as tf.Scalar;
  });
}

/**
 * Adds small deterministic noise to every variable that is all zeros (zero-initialised output
 * projections, adaLN-Zero modulations, biases). Zero initialisation makes a block start as the
 * identity, which also makes the gradient of every parameter upstream of it exactly zero at
 * initialisation; perturbing first lets the gradient check see every parameter. Test helper
 * (reads values back).
 */
export function perturbZeroInitialised(net: Network, seed = 1, std = 0.05): string[] {
  const changed: string[] = [];
  let k = seed;
  for (const [name, v] of net.variables()) {
    const values = v.dataSync();
    if (values.some((x) => x !== 0)) continue;
    const noise = new Float32Array(values.length);
    for (let i = 0; i < noise.length; i++) noise[i] = std * Math.sin(++k * 12.9898 + 78.233);
    tf.tidy(() => v.assign(tf.tensor(noise, v.shape)));
    changed.push(name);
  }
  return changed;
}

/** Forward passes for several inputs give the expected output (and tap) shapes. */
export function checkOutputShapes<I>(subject: ConformanceSubject<I>, cases: readonly { inputs: I; out: readonly number[]; taps?: Readonly<Record<string, readonly number[]>> }[]): void {
  for (const [i, c] of cases.entries()) {
    const r = subject.forward(c.inputs, { taps: c.taps ? Object.keys(c.taps) : 'none' });
    try {
      if (shapeStr(r.out.shape) !== shapeStr(c.out)) fail(`case ${i}: out has shape ${shapeStr(r.out.shape)}, expected ${shapeStr(c.out)}`);
      for (const [name, shape] of Object.entries(c.taps ?? {})) {
        const t = r.taps[name] ?? fail(`case ${i}: tap '${name}' missing`);
        if (shapeStr(t.shape) !== shapeStr(shape)) fail(`case ${i}: tap '${name}' has shape ${shapeStr(t.shape)}, expected ${shapeStr(shape)}`);
      }
      const data = r.out.dataSync();
      if (!data.every(Number.isFinite)) fail(`case ${i}: out has non-finite values`);
    } finally {
      disposeOutput(r);
    }
  }
}

/**
 * Gradients reach exactly the trainable variables: `valueAndGrads` (core) returns one non-zero
 * gradient per trainable parameter and none for a frozen one, and tfjs's default variable list
 * gives the frozen ones nothing either. Freeze what you want frozen before calling.
 * @returns the number of trainable variables checked
 */
export function checkGradientsReachTrainable<I>(subject: ConformanceSubject<I>, inputs: I): number {
  const trainable = subject.net.trainableVariables();
  const frozen = [...subject.net.variables()].filter(([n]) => !trainable.has(n));
  const { value, grads } = valueAndGrads(subject.net, () => projectionLoss(subject.forward(inputs).out));
  try {
    const zero: string[] = [];
    for (const name of trainable.keys()) {
      const g = grads.get(name) ?? fail(`trainable variable '${name}' got no gradient`);
      if (!g.dataSync().some((x) => x !== 0)) zero.push(name);
      if (!g.dataSync().every(Number.isFinite)) fail(`gradient of '${name}' is not finite`);
    }
    if (zero.length > 0) fail(`${zero.length} trainable variable(s) got an all-zero gradient: ${zero.slice(0, 10).join(', ')}`);
    for (const [name] of frozen) if (grads.has(name)) fail(`frozen variable '${name}' got a gradient`);
  } finally {
    value.dispose();
    tf.dispose([...grads.values()]);
  }
  if (frozen.length > 0) {
    const { value: v2, grads: g2 } = tf.variableGrads(() => projectionLoss(subject.forward(inputs).out));
    try {
      for (const [name, v] of frozen) if (g2[v.name]) fail(`frozen variable '${name}' got a gradient from tf.variableGrads' default list`);
    } finally {
      v2.dispose();
      tf.dispose(Object.values(g2));
    }
  }
  return trainable.size;
}

/**
 * A frozen network does no gradient work: with every variable frozen, (1) a forward pass outside
 * any gradient scope records no tape and leaves only its outputs alive, (2) core's
 * `valueAndGrads` refuses it (nothing to train), and (3) when the loss is differentiated with
 * respect to an input `x` through the frozen network (a discriminator on frozen teacher
 * features), `x` gets a non-zero gradient, no network variable does, and fewer kernels run than
 * with the network trainable (no weight-gradient kernels). Trainable flags are restored.
 */
export async function checkFrozenForward<I>(subject: ConformanceSubject<I>, inputs: I, differentiable?: { x: tf.Tensor; inject: (x: tf.Tensor) => I }): Promise<void> {
  const net = subject.net;
  const previous = new Map([...net.variables()].map(([n, v]) => [n, v.trainable]));
  net.freeze();
  try {
    if (tf.engine().isTapeOn()) fail('a gradient tape is already active; call checkFrozenForward outside any gradient scope');
    const before = tf.memory().numTensors;
    const r = subject.forward(inputs, { taps: 'all' });
    const outputs = Object.values(r).filter((v) => v instanceof tf.Tensor).length + Object.keys(r.taps).length;
    const alive = tf.memory().numTensors - before;
    disposeOutput(r);
    if (alive !== outputs) fail(`a frozen forward left ${alive} tensors alive for ${outputs} outputs`);
    let refused = false;
    try {
      valueAndGrads(net, () => projectionLoss(subject.forward(inputs).out)).value.dispose();
    } catch (err) {
      refused = err instanceof ConfigError;
    }
    if (!refused) fail('valueAndGrads accepted a fully frozen network (expected a ConfigError: nothing to train)');
    if (differentiable) {
      const x = tf.variable(differentiable.x, true);
      try {
        const loss = (): tf.Scalar => projectionLoss(subject.forward(differentiable.inject(x)).out);
        // tf.profile returns the engine's one profile object: copy what is needed before profiling again.
        const frozenKernels = (await tf.profile(() => {
          const { value, grads } = tf.variableGrads(loss, [x]);
          const gx = grads[x.name] ?? fail('the input got no gradient through the frozen network');
          if (!gx.dataSync().some((v) => v !== 0)) fail('the input got an all-zero gradient through the frozen network');
          tf.dispose([value, ...Object.values(grads)]);
        })).kernels.map((k) => k.name);
        net.unfreeze();
        const all = [...net.variables().values()].filter((v) => v.trainable);
        const trainKernels = (await tf.profile(() => {
          const { value, grads } = tf.variableGrads(loss, [x, ...all]);
          tf.dispose([value, ...Object.values(grads)]);
        })).kernels.map((k) => k.name);
        if (!(frozenKernels.length < trainKernels.length)) {
          fail(`backward through the frozen network ran ${frozenKernels.length} kernels, not fewer than the ${trainKernels.length} of a trainable one`);
        }
        const filterGrads = frozenKernels.filter((k) => k.endsWith('BackpropFilter')).length;
        if (filterGrads > 0) fail(`backward through the frozen network ran ${filterGrads} conv filter-gradient kernel(s)`);
      } finally {
        x.dispose();
      }
    }
  } finally {
    for (const [n, t] of previous) net.variable(n).trainable = t;
  }
}

/** A forward (all taps) and a forward + backward leave `tf.memory().numTensors` unchanged. */
export function checkNoLeak<I>(subject: ConformanceSubject<I>, inputs: I): void {
  const before = tf.memory().numTensors;
  disposeOutput(subject.forward(inputs, { taps: 'all' }));
  const afterForward = tf.memory().numTensors;
  if (afterForward !== before) fail(`forward leaked ${afterForward - before} tensor(s)`);
  if (subject.net.trainableVariables().size > 0) {
    const { value, grads } = valueAndGrads(subject.net, () => projectionLoss(subject.forward(inputs).out));
    value.dispose();
    tf.dispose([...grads.values()]);
    const after = tf.memory().numTensors;
    if (after !== before) fail(`forward + backward leaked ${after - before} tensor(s)`);
  }
}

/**
 * `fromConfig(JSON.parse(JSON.stringify(toConfig())))` gives the same config (JSON equality),
 * the same initial weights and the same outputs (and taps) as `subject`, which must be untrained.
 * Pass `prepare` to apply the same deterministic change to both first (e.g. `perturbZeroInitialised`).
 */
export function checkConfigRoundTrip<I, S extends ConformanceSubject<I> & { dispose(): void }>(
  subject: S,
  fromConfig: (config: never) => S,
  inputs: I,
  prepare?: (s: S) => void,
): void {
  const json = JSON.stringify(subject.toConfig());
  const rebuilt = fromConfig(JSON.parse(json) as never);
  try {
    const again = JSON.stringify(rebuilt.toConfig());
    if (again !== json) fail(`config round trip changed the config:\n  ${json}\n  ${again}`);
    const a = subject.net.getWeights();
    const b = rebuilt.net.getWeights();
    try {
      if ([...a.keys()].join() !== [...b.keys()].join()) fail('rebuilt network has different variable names');
      for (const [n, t] of a) {
        const u = b.get(n)!;
        const da = t.dataSync();
        const db = u.dataSync();
        if (da.length !== db.length || da.some((v, i) => v !== db[i])) fail(`initial value of '${n}' differs after the config round trip`);
      }
    } finally {
      tf.dispose([...a.values(), ...b.values()]);
    }
    if (prepare) {
      prepare(subject);
      prepare(rebuilt);
    }
    const r1 = subject.forward(inputs, { taps: 'all' });
    const r2 = rebuilt.forward(inputs, { taps: 'all' });
    try {
      const pairs: [string, tf.Tensor, tf.Tensor][] = [['out', r1.out, r2.out], ...Object.keys(r1.taps).map((k) => [k, r1.taps[k]!, r2.taps[k]!] as [string, tf.Tensor, tf.Tensor])];
      for (const [name, x, y] of pairs) {
        const dx = x.dataSync();
        const dy = y.dataSync();
        if (dx.length !== dy.length || dx.some((v, i) => v !== dy[i])) fail(`'${name}' differs between the original and the rebuilt backbone`);
      }
    } finally {
      disposeOutput(r1);
      disposeOutput(r2);
    }
  } finally {
    rebuilt.dispose();
  }
}

/**
 * Feature taps: 'all' returns exactly `tapNames()`, 'none' (the default) returns none, a subset
 * returns that subset with the same values as 'all', an unknown name throws a ConfigError, and
 * asking for taps does not change `out`.
 */
export function checkTaps<I>(subject: ConformanceSubject<I>, inputs: I): void {
  const names = subject.tapNames();
  if (names.length === 0) fail('tapNames() is empty');
  const all = subject.forward(inputs, { taps: 'all' });
  const none = subject.forward(inputs);
  const pick = [names[0]!, names[names.length - 1]!];
  const some = subject.forward(inputs, { taps: pick });
  try {
    if (Object.keys(all.taps).join() !== names.join()) fail(`taps 'all' returned [${Object.keys(all.taps).join(', ')}], expected tapNames() [${names.join(', ')}]`);
    if (Object.keys(none.taps).length !== 0) fail(`the default returned taps [${Object.keys(none.taps).join(', ')}]`);
    if (Object.keys(some.taps).sort().join() !== [...new Set(pick)].sort().join()) fail(`taps [${pick.join(', ')}] returned [${Object.keys(some.taps).join(', ')}]`);
    const same = (x: tf.Tensor, y: tf.Tensor): boolean => {
      const a = x.dataSync();
      const b = y.dataSync();
      return a.length === b.length && a.every((v, i) => v === b[i]);
    };
    for (const n of pick) if (!same(some.taps[n]!, all.taps[n]!)) fail(`tap '${n}' differs between a subset and 'all'`);
    if (!same(all.out, none.out)) fail("asking for taps changed 'out'");
    let threw = false;
    try {
      disposeOutput(subject.forward(inputs, { taps: ['no.such.tap'] }));
    } catch (err) {
      threw = err instanceof ConfigError;
    }
    if (!threw) fail("an unknown tap name did not throw a ConfigError");
  } finally {
    disposeOutput(all);
    disposeOutput(none);
    disposeOutput(some);
  }
}
