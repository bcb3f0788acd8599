import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import type { Network } from './network.js';

/**
 * `tf.variableGrads` over `net`'s trainable variables, with the gradients keyed by parameter name
 * (not by the tfjs variable name). Variables the loss does not reach have no entry. Frozen, EMA or
 * teacher weights get no gradient: this is tfjs's stop-gradient (STYLE.md G10). The caller owns
 * `value` and every gradient.
 */
export function valueAndGrads(net: Network, f: () => tf.Scalar): { value: tf.Scalar; grads: Map<string, tf.Tensor> } {
  const trainable = net.trainableVariables();
  if (trainable.size === 0) {
    throw new ConfigError(`trainable variables of '${net.name}'`, 0, 'at least one', 'unfreeze() the parameters to train');
  }
  const { value, grads } = tf.variableGrads(f, [...trainable.values()]);
  const out = new Map<string, tf.Tensor>();
  for (const [name, v] of trainable) {
    const g = grads[v.name];
    if (g) out.set(name, g);
  }
  return { value, grads: out };
}
