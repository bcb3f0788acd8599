import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, type Network } from '@fewstep/core';
import type { Conditioning } from './backbone-types.js';
import { embeddingMlp, initEmbeddingMlp, sinusoidalEmbedding } from './layers/timestep-embedding.js';

/** The conditioning-vector part of a denoiser config (UNet and DiT share it). */
export interface EmbeddingSpec {
  freqDim: number;
  timestepScale: number;
  contextDim: number | null;
  pooledDim: number | null;
  guidanceEmbedding: boolean;
}

/** Guidance scales are embedded as `sinusoid(1000 w)`, as LCM's `w` embedding does. */
export const GUIDANCE_EMBED_SCALE = 1000;

/**
 * Creates `time_embed` (sinusoid + MLP), `pooled_embed` (MLP of the pooled conditioning) and
 * `guidance_embed` (sinusoid of `w` + MLP) at the network root, each producing `[B, embedDim]`.
 */
export function initConditioningEmbedding(net: Network, spec: EmbeddingSpec, embedDim: number): void {
  initEmbeddingMlp(net.scope('time_embed'), spec.freqDim, embedDim);
  if (spec.pooledDim !== null) initEmbeddingMlp(net.scope('pooled_embed'), spec.pooledDim, embedDim);
  if (spec.guidanceEmbedding) initEmbeddingMlp(net.scope('guidance_embed'), spec.freqDim, embedDim);
}

/** `t` as `[B]` float32; a scalar or a `[1]` tensor is broadcast. @throws ShapeError otherwise */
export function resolveTime(what: string, t: tf.Tensor, batch: number): tf.Tensor {
  if (t.size !== batch && t.size !== 1) throw new ShapeError(what, t.shape, `[${batch}] (one value per sample) or a scalar`);
  return tf.tidy(() => tf.broadcastTo(tf.reshape(tf.cast(t, 'float32'), [-1]), [batch]));
}

/**
 * Checks that the conditioning matches what the config expects (given when configured, absent
 * otherwise, right shapes). @throws ConfigError / ShapeError naming the input
 */
export function checkConditioning(what: string, spec: EmbeddingSpec, cond: Conditioning, batch: number): void {
  const need = (name: keyof Conditioning, field: string, configured: boolean): void => {
    if (configured && cond[name] === undefined) {
      throw new ConfigError(`${what} input '${name}'`, 'missing', `a tensor (the config sets ${field})`, name === 'context' ? 'pass the text tokens, or the empty-prompt embedding for the unconditional branch' : `pass ${name}`);
    }
    if (!configured && cond[name] !== undefined) {
      throw new ConfigError(`${what} input '${name}'`, 'given', `undefined (the config sets no ${field})`, `drop ${name} or rebuild the backbone with ${field}`);
    }
  };
  need('context', 'contextDim', spec.contextDim !== null);
  need('pooled', 'pooledDim', spec.pooledDim !== null);
  need('guidanceScale', 'guidanceEmbedding', spec.guidanceEmbedding);
  if (cond.contextMask !== undefined && cond.context === undefined) {
    throw new ConfigError(`${what} input 'contextMask'`, 'given without context', 'a mask together with its context');
  }
  const { context, contextMask, pooled } = cond;
  if (context && (context.rank !== 3 || context.shape[0] !== batch || context.shape[2] !== spec.contextDim)) {
    throw new ShapeError(`${what} context`, context.shape, `[${batch}, L, ${spec.contextDim}]`);
  }
  if (context && contextMask && (contextMask.rank !== 2 || contextMask.shape[0] !== batch || contextMask.shape[1] !== context.shape[1])) {
    throw new ShapeError(`${what} contextMask`, contextMask.shape, `[${batch}, ${context.shape[1]}]`);
  }
  if (pooled && (pooled.rank !== 2 || pooled.shape[0] !== batch || pooled.shape[1] !== spec.pooledDim)) {
    throw new ShapeError(`${what} pooled`, pooled.shape, `[${batch}, ${spec.pooledDim}]`);
  }
}

/**
 * The conditioning vector `e = MLP(sin(t)) [+ MLP(pooled)] [+ MLP(sin(1000 w))]`, `[B, embedDim]`.
 * Call {@link checkConditioning} first.
 */
export function conditioningEmbedding(net: Network, spec: EmbeddingSpec, t: tf.Tensor, cond: Conditioning): tf.Tensor {
  return tf.tidy(() => {
    let e = embeddingMlp(net.scope('time_embed'), sinusoidalEmbedding(t, spec.freqDim, spec.timestepScale));
    if (spec.pooledDim !== null) e = tf.add(e, embeddingMlp(net.scope('pooled_embed'), cond.pooled!));
    if (spec.guidanceEmbedding) {
      const w = resolveTime("input 'guidanceScale'", cond.guidanceScale!, t.shape[0]!);
      e = tf.add(e, embeddingMlp(net.scope('guidance_embed'), sinusoidalEmbedding(w, spec.freqDim, GUIDANCE_EMBED_SCALE)));
    }
    return e;
  });
}
