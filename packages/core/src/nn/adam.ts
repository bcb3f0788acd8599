import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, StateMismatchError, type ShapeMismatch } from '../errors.js';
import { clipCoefficient, globalNormParts, readGlobalNorm, scaleGradient } from './clip-grad-norm.js';
import { constantLr, type LrSchedule } from './lr-schedule.js';
import { Network } from './network.js';
import {
  bindGradients,
  updatableVariables,
  type GradientMap,
  type Optimizer,
  type OptimizerState,
  type StepResult,
  type VariableSet,
} from './optimizer.js';

/** Options of {@link Adam} and {@link AdamW}. */
export interface AdamOptions {
  /** Learning rate, or a schedule of the step (see {@link LrSchedule}). @default 1e-3 */
  lr?: number | LrSchedule;
  /** `(beta1, beta2)`. DMD2 uses (0.9, 0.999); GAN-style critics often (0, 0.99). @default [0.9, 0.999] */
  betas?: readonly [number, number];
  /** Added to `sqrt(v_hat)` in the denominator. @default 1e-8 */
  eps?: number;
  /**
   * Weight decay `lambda`. Adam: L2, `g <- g + lambda * theta` (torch.optim.Adam).
   * AdamW: decoupled, `theta <- theta * (1 - lr * lambda)` before the Adam update (torch.optim.AdamW).
   * @default 0 for Adam, 1e-2 for AdamW (torch's defaults)
   */
  weightDecay?: number;
  /** Clip by global L2 norm to this value (torch `clip_grad_norm_`); `undefined`: no clipping. */
  maxGradNorm?: number;
}

const EXP_AVG = 'exp_avg';
const EXP_AVG_SQ = 'exp_avg_sq';

interface Slots {
  m: tf.Tensor;
  v: tf.Tensor;
  t: number;
}

/**
 * Adam (Kingma & Ba 2015, Alg. 1) with torch.optim.Adam's arithmetic and bias correction, state
 * keyed by variable name (P20). For one variable with gradient `g` at its update number `t`:
 *
 * 1. `g <- g * c` with the global-norm clip coefficient `c` (when `maxGradNorm` is set)
 * 2. Adam: `g <- g + lambda * theta`; AdamW: `theta <- theta * (1 - lr * lambda)`
 * 3. `m <- beta1 * m + (1 - beta1) * g`,  `v <- beta2 * v + (1 - beta2) * g^2`
 * 4. `theta <- theta - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)`
 *
 * Before any update the gradients' global norm is read back (one async read, the step's sync
 * point): a non-finite gradient skips the whole step, leaving weights, moments and counters
 * bitwise unchanged (P27, P29). Variables without a gradient are left untouched (as torch does).
 *
 * @example
 * const opt = new AdamW({ lr: warmupCosine({ lr: 1e-4, warmupSteps: 100, totalSteps: 10_000 }), maxGradNorm: 10 });
 * const { value, grads } = valueAndGrads(net, () => loss());
 * const r = await opt.step(grads, net); // r.skipped, r.gradNorm
 * value.dispose(); for (const g of grads.values()) g.dispose();
 */
export class Adam implements Optimizer {
  readonly lr: LrSchedule;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number | undefined;
  /** True for AdamW (decoupled weight decay). */
  protected readonly decoupled: boolean = false;
  readonly #slots = new Map<string, Slots>();
  #step = 0;
  #skipped = 0;

  constructor(options: AdamOptions = {}) {
    const { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = this.defaultWeightDecay(), maxGradNorm } = options;
    this.lr = typeof lr === 'number' ? constantLr(lr) : lr;
    const [beta1, beta2] = betas;
    if (!(beta1 >= 0 && beta1 < 1)) throw new ConfigError('betas[0]', beta1, 'a number in [0, 1)');
    if (!(beta2 >= 0 && beta2 < 1)) throw new ConfigError('betas[1]', beta2, 'a number in [0, 1)');
    if (!(eps >= 0) || !Number.isFinite(eps)) throw new ConfigError('eps', eps, 'a finite number >= 0');
    if (!(weightDecay >= 0) || !Number.isFinite(weightDecay)) throw new ConfigError('weightDecay', weightDecay, 'a finite number >= 0');
    if (maxGradNorm !== undefined && (!(maxGradNorm > 0) || !Number.isFinite(maxGradNorm))) {
      throw new ConfigError('maxGradNorm', maxGradNorm, 'a finite number > 0, or undefined for no clipping');
    }
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
    this.maxGradNorm = maxGradNorm;
  }

  protected defaultWeightDecay(): number {
    return 0;
  }

  get iterations(): number {
    return this.#step;
  }

  /** Steps skipped because of non-finite gradients. */
  get skippedSteps(): number {
    return this.#skipped;
  }

  async step(grads: GradientMap, vars: VariableSet): Promise<StepResult> {
    const bound = bindGradients(grads, vars);
    if (bound.length === 0) {
      throw new ConfigError('optimizer.step(grads)', 'no gradient for any updatable variable', 'at least one gradient', 'check that the loss depends on the trainable variables');
    }
    // The one sync point: the global norm (and with it the finiteness of every gradient).
    const gn = await readGlobalNorm(globalNormParts(bound.map((b) => b.grad)));
    if (!gn.finite) {
      this.#skipped++;
      return { skipped: true, gradNorm: gn.norm, clipped: false, lr: this.lr(this.#step), step: this.#step };
    }
    const coef = this.maxGradNorm === undefined ? 1 : clipCoefficient(gn.norm, this.maxGradNorm);
    const lr = this.lr(this.#step);
    for (const [name, variable] of updatableVariables(vars)) this.#ensureSlots(name, variable);
    for (const { name, variable, grad } of bound) this.#update(name, variable, grad, coef, gn.s, lr);
    this.#step++;
    return { skipped: false, gradNorm: gn.norm, clipped: coef < 1, lr, step: this.#step };
  }

  getState(): OptimizerState {
    const slots = new Map<string, tf.Tensor>();
    const slotSteps = new Map<string, number>();
    for (const [name, s] of this.#slots) {
      slots.set(`${name}.${EXP_AVG}`, tf.clone(s.m));
      slots.set(`${name}.${EXP_AVG_SQ}`, tf.clone(s.v));
      slotSteps.set(name, s.t);
    }
    return { step: this.#step, skipped: this.#skipped, slots, slotSteps };
  }

  /**
   * Restores `state` for `vars`. Every updatable variable needs both slots and a slot step, and
   * every slot must name a variable of `vars` with the same shape (an empty state at step 0 is a
   * fresh optimizer). Validates everything before changing anything.
   * @throws StateMismatchError naming each missing, unexpected or mis-shaped slot.
   */
  setState(state: OptimizerState, vars: VariableSet): void {
    const updatable = updatableVariables(vars);
    const all = vars instanceof Network ? vars.variables() : vars;
    const fresh = state.slots.size === 0 && state.slotSteps.size === 0;
    const missing: string[] = [];
    const unexpected: string[] = [];
    const shapes: ShapeMismatch[] = [];
    const names = new Set<string>();
    for (const key of state.slots.keys()) {
      const name = key.endsWith(`.${EXP_AVG_SQ}`) ? key.slice(0, -EXP_AVG_SQ.length - 1) : key.endsWith(`.${EXP_AVG}`) ? key.slice(0, -EXP_AVG.length - 1) : undefined;
      const variable = name === undefined ? undefined : all.get(name);
      if (name === undefined || !variable) {
        unexpected.push(key);
        continue;
      }
      names.add(name);
      const t = state.slots.get(key)!;
      if (t.shape.length !== variable.shape.length || t.shape.some((d, i) => d !== variable.shape[i])) {
        shapes.push({ name: key, found: t.shape, expected: variable.shape });
      }
    }
    for (const name of state.slotSteps.keys()) if (!all.has(name)) unexpected.push(`${name} (slot step)`);
    const required = fresh ? names : new Set([...updatable.keys(), ...names]);
    for (const name of required) {
      if (!state.slots.has(`${name}.${EXP_AVG}`)) missing.push(`${name}.${EXP_AVG}`);
      if (!state.slots.has(`${name}.${EXP_AVG_SQ}`)) missing.push(`${name}.${EXP_AVG_SQ}`);
      if (!state.slotSteps.has(name)) missing.push(`${name} (slot step)`);
    }
    if (!Number.isInteger(state.step) || state.step < 0) throw new ConfigError('OptimizerState.step', state.step, 'an integer >= 0');
    if (missing.length > 0 || unexpected.length > 0 || shapes.length > 0) {
      throw new StateMismatchError(
        `${this.constructor.name}.setState`,
        missing,
        unexpected,
        shapes,
        'restore the optimizer state saved with the same network architecture and the same trainable set (names must match; order does not matter)',
      );
    }
    this.#disposeSlots();
    for (const name of names) {
      const copy = (t: tf.Tensor): tf.Tensor => tf.tidy(() => (t.dtype === 'float32' ? tf.clone(t) : tf.cast(t, 'float32')));
      this.#slots.set(name, {
        m: copy(state.slots.get(`${name}.${EXP_AVG}`)!),
        v: copy(state.slots.get(`${name}.${EXP_AVG_SQ}`)!),
        t: state.slotSteps.get(name)!,
      });
    }
    this.#step = state.step;
    this.#skipped = state.skipped;
  }

  dispose(): void {
    this.#disposeSlots();
  }

  #disposeSlots(): void {
    for (const s of this.#slots.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.#slots.clear();
  }

  #ensureSlots(name: string, variable: tf.Variable): void {
    if (this.#slots.has(name)) return;
    this.#slots.set(name, { m: tf.zeros(variable.shape), v: tf.zeros(variable.shape), t: 0 });
  }

  #update(name: string, variable: tf.Variable, grad: tf.Tensor, coef: number, s: number, lr: number): void {
    const slot = this.#slots.get(name)!;
    const t = slot.t + 1;
    const { beta1, beta2, eps, weightDecay: wd } = this;
    const [m, v] = tf.tidy(() => {
      // 1. clip
      let g = scaleGradient(grad.dtype === 'float32' ? grad : tf.cast(grad, 'float32'), coef, s);
      // 2. weight decay (torch order: AdamW decays theta before the moments; Adam adds L2 to g)
      let theta: tf.Tensor = variable;
      if (wd !== 0 && this.decoupled) theta = tf.mul(theta, 1 - lr * wd);
      else if (wd !== 0) g = tf.add(g, tf.mul(theta, wd));
      // 3. moments
      const mNew = tf.add(tf.mul(slot.m, beta1), tf.mul(g, 1 - beta1));
      const vNew = tf.add(tf.mul(slot.v, beta2), tf.mul(tf.mul(g, 1 - beta2), g));
      // 4. bias-corrected step (torch: addcdiv(theta, m, denom, value = -lr / bc1))
      const stepSize = lr / (1 - beta1 ** t);
      const denom = tf.add(tf.div(tf.sqrt(vNew), Math.sqrt(1 - beta2 ** t)), eps);
      variable.assign(tf.add(theta, tf.div(tf.mul(mNew, -stepSize), denom)));
      return [mNew, vNew];
    });
    slot.m.dispose();
    slot.v.dispose();
    slot.m = m!;
    slot.v = v!;
    slot.t = t;
  }
}
