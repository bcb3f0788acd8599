import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, initEngine, valueAndGrads } from '@fewstep/core';
import { expectTensorsClose } from '@fewstep/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkConfigRoundTrip,
  checkFrozenForward,
  checkGradientsReachTrainable,
  checkNoLeak,
  checkOutputShapes,
  checkTaps,
} from '../testing-conformance.js';
import { ClassEmbedding } from './class-embedding.js';
import { emptyPromptConditioning, encodePrompts, TextEncoder } from './text-encoder.js';
import { BOS_ID, EOS_ID, PAD_ID, UNK_ID, WordTokenizer } from './word-tokenizer.js';

const CAPTIONS = ['A red ball bounces.', 'a blue cube spins', 'A red cube slides left', 'waves on a blue sea'];

let tok: WordTokenizer;
let enc: TextEncoder;

beforeAll(async () => {
  await initEngine({ backend: 'wasm', report: false });
  tok = WordTokenizer.fromCaptions(CAPTIONS, { maxLength: 8 });
  enc = TextEncoder.preset('tiny', { maxLength: 8, vocabSize: 64 });
});
afterAll(() => enc.dispose());

describe('WordTokenizer', () => {
  it('builds a deterministic vocabulary (count, then alphabetical) with fixed specials', () => {
    expect(tok.vocab.slice(0, 3)).toEqual(['a', 'blue', 'cube']);
    expect(tok.vocabSize).toBe(4 + tok.vocab.length);
    expect(WordTokenizer.fromCaptions([...CAPTIONS].reverse(), { maxLength: 8 }).vocab).toEqual(tok.vocab);
    const ids = tok.encode('A RED cat!');
    expect(ids).toEqual([BOS_ID, 4, tok.vocab.indexOf('red') + 4, UNK_ID, EOS_ID, PAD_ID, PAD_ID, PAD_ID]);
    expect(tok.decode(ids)).toBe('a red <unk>');
    expect(tok.encode('')).toEqual([BOS_ID, EOS_ID, 0, 0, 0, 0, 0, 0]);
    expect(tok.encode('a b c d e f g h i j')).toHaveLength(8);
    expect(WordTokenizer.fromConfig(JSON.parse(JSON.stringify(tok.toConfig()))).encode('blue sea')).toEqual(tok.encode('blue sea'));
    expect(() => new WordTokenizer({ vocab: ['a', 'a'], maxLength: 4 })).toThrow(ConfigError);
  });
});

describe('TextEncoder (tiny) conformance', () => {
  it('tokens [B, L, D], pooled [B, D], mask; taps; leaks; gradients; frozen forward; round trip', async () => {
    const ids = tok.encodeBatch(CAPTIONS.slice(0, 2));
    const inputs = { ids };
    checkOutputShapes(enc, [{ inputs, out: [2, 8, 32], taps: { 'block.0': [2, 8, 32], 'block.1': [2, 8, 32] } }]);
    const r = enc.forward(inputs);
    expect(r.pooled.shape).toEqual([2, 32]);
    expect(r.mask.arraySync()).toEqual([[1, 1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 0, 0]]);
    tf.dispose([r.out, r.pooled, r.mask]);
    checkTaps(enc, inputs);
    checkNoLeak(enc, inputs);
    const fresh = TextEncoder.preset('tiny', { maxLength: 8, vocabSize: 64, seed: 2 });
    try {
      checkConfigRoundTrip(fresh, (c) => TextEncoder.fromConfig(c), inputs);
      fresh.net.freeze('blocks.0.ff');
      checkGradientsReachTrainable(fresh, inputs);
    } finally {
      fresh.dispose();
    }
    await checkFrozenForward(enc, inputs);
    ids.dispose();
  });

  it('the token embedding gets a gradient through tf.gather (UnsortedSegmentSum) on the rows of the real tokens only', () => {
    const ids = tok.encodeBatch(['red ball']);
    // (Not sum(pooled): the sum of a LayerNorm output over its axis does not depend on the input.)
    const { value, grads } = valueAndGrads(enc.net, () => tf.sum(tf.mul(enc.forward({ ids }).pooled, tf.range(0, 32))) as tf.Scalar);
    const g = grads.get('token_embed.embedding')!.arraySync() as number[][];
    // PAD rows get nothing: PAD keys are masked out and PAD positions are left out of the pooled mean.
    const used = new Set(tok.encode('red ball').filter((i) => i !== PAD_ID));
    g.forEach((row, i) => expect(row.some((v) => v !== 0)).toBe(used.has(i)));
    tf.dispose([ids, value, ...grads.values()]);
  });

  it('padding is ignored: more PAD does not change the pooled vector or the real tokens', () => {
    const short = tf.tensor2d([tok.encode('a red ball').slice(0, 6)], [1, 6], 'int32');
    const long = tok.encodeBatch(['a red ball']);
    const a = enc.forward({ ids: short });
    const b = enc.forward({ ids: long });
    expectTensorsClose(b.pooled, a.pooled, { rtol: 1e-5 });
    expectTensorsClose(tf.slice(b.out, [0, 0, 0], [1, 5, 32]), tf.slice(a.out, [0, 0, 0], [1, 5, 32]), { rtol: 1e-5 });
    tf.dispose([short, long, a.out, a.pooled, a.mask, b.out, b.pooled, b.mask]);
  });

  it('encodePrompts and the empty-prompt embedding for CFG', () => {
    const cond = encodePrompts(enc, tok, ['a red ball', 'waves']);
    const empty = emptyPromptConditioning(enc, tok, 2);
    expect(cond.context.shape).toEqual([2, 8, 32]);
    expect(empty.context.shape).toEqual([2, 8, 32]);
    expectTensorsClose(tf.slice(empty.pooled, [1, 0], [1, 32]), tf.slice(empty.pooled, [0, 0], [1, 32]), { rtol: 0 });
    expect(empty.contextMask.arraySync()).toEqual([[1, 1, 0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0]]);
    tf.dispose([...Object.values(cond), ...Object.values(empty)]);
    const smallVocab = TextEncoder.preset('tiny', { maxLength: 8, vocabSize: 8 });
    expect(() => encodePrompts(smallVocab, tok, ['x'])).toThrow(/vocabSize/);
    smallVocab.dispose();
  });
});

describe('ClassEmbedding', () => {
  it('one token per label, a null class, gradients to the used rows, range checks', () => {
    const ce = new ClassEmbedding({ numClasses: 5, dim: 32, seed: 1 });
    const { context, pooled } = ce.conditioning([0, ce.nullClass]);
    expect(context.shape).toEqual([2, 1, 32]);
    expect(pooled.shape).toEqual([2, 32]);
    const { value, grads } = valueAndGrads(ce.net, () => tf.sum(ce.conditioning([2, 2, ce.nullClass]).pooled) as tf.Scalar);
    const g = grads.get('embedding')!.arraySync() as number[][];
    expect(g.map((row) => row[0])).toEqual([0, 0, 2, 0, 0, 1]);
    expect(() => ce.forward([6])).toThrow(ConfigError);
    expect(JSON.stringify(ClassEmbedding.fromConfig(ce.toConfig()).toConfig())).toBe(JSON.stringify(ce.toConfig()));
    tf.dispose([context, pooled, value, ...grads.values()]);
    ce.dispose();
  });
});
