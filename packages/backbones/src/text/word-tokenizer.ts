import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@fewstep/core';
import { checkInt, checkKnownKeys } from '../config-checks.js';

/** Special tokens and their fixed ids (0-3); words follow from id 4. */
export const SPECIAL_TOKENS = Object.freeze({ pad: '<pad>', bos: '<bos>', eos: '<eos>', unk: '<unk>' });
export const PAD_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
export const UNK_ID = 3;
const NUM_SPECIAL = 4;

/** Serializable tokenizer state. */
export interface WordTokenizerConfig {
  /** Words in id order (ids 4, 5, ...); specials excluded. */
  vocab: string[];
  /** Sequence length L of `encode`: BOS + up to L-2 words + EOS, then PAD. */
  maxLength: number;
}

/** Options of {@link WordTokenizer.fromCaptions}. */
export interface VocabOptions {
  maxLength: number;
  /** Keep at most this many words (most frequent first). @default unlimited */
  maxVocab?: number;
  /** Drop words seen fewer times. @default 1 */
  minCount?: number;
}

/**
 * A deterministic word-level tokenizer with a fixed vocabulary built from a list of captions
 * (enough for synthetic caption sets; real text models bring their own tokenizer). Text is
 * lower-cased and split into runs of letters and digits (Unicode-aware); unknown words map to
 * `<unk>`. The vocabulary is ordered by count (descending), then alphabetically, so the same
 * captions always give the same ids.
 *
 * @example
 * const tok = WordTokenizer.fromCaptions(['a red ball bounces', 'a blue cube spins'], { maxLength: 8 });
 * tok.encode('a red cube'); // [1, 4, ?, ?, 2, 0, 0, 0]
 */
export class WordTokenizer {
  readonly vocab: readonly string[];
  readonly maxLength: number;
  readonly #ids: Map<string, number>;

  constructor(config: WordTokenizerConfig) {
    checkKnownKeys('WordTokenizerConfig', config, ['vocab', 'maxLength']);
    this.maxLength = checkInt('WordTokenizerConfig.maxLength', config.maxLength, 2);
    if (!Array.isArray(config.vocab) || !config.vocab.every((w) => typeof w === 'string' && w.length > 0)) {
      throw new ConfigError('WordTokenizerConfig.vocab', config.vocab, 'an array of non-empty strings');
    }
    this.vocab = [...config.vocab];
    this.#ids = new Map();
    this.vocab.forEach((w, i) => {
      if (this.#ids.has(w)) throw new ConfigError('WordTokenizerConfig.vocab', w, 'unique words', 'remove the duplicate');
      this.#ids.set(w, NUM_SPECIAL + i);
    });
  }

  /** Builds the vocabulary from `captions`. */
  static fromCaptions(captions: readonly string[], options: VocabOptions): WordTokenizer {
    const { maxLength, maxVocab = Infinity, minCount = 1 } = options;
    const counts = new Map<string, number>();
    for (const c of captions) for (const w of WordTokenizer.words(c)) counts.set(w, (counts.get(w) ?? 0) + 1);
    const vocab = [...counts]
      .filter(([, n]) => n >= minCount)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, maxVocab)
      .map(([w]) => w);
    return new WordTokenizer({ vocab, maxLength });
  }

  /** Lower-cased runs of letters / digits. */
  static words(text: string): string[] {
    return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  }

  /** Specials plus words: the text encoder's `vocabSize` must be at least this. */
  get vocabSize(): number {
    return NUM_SPECIAL + this.vocab.length;
  }

  /** `[BOS, ids..., EOS, PAD...]` of length `maxLength` (words past `maxLength - 2` are dropped). */
  encode(text: string): number[] {
    const ids = WordTokenizer.words(text)
      .slice(0, this.maxLength - 2)
      .map((w) => this.#ids.get(w) ?? UNK_ID);
    const out = [BOS_ID, ...ids, EOS_ID];
    while (out.length < this.maxLength) out.push(PAD_ID);
    return out;
  }

  /** Encodes a batch: int32 `[B, maxLength]`. */
  encodeBatch(texts: readonly string[]): tf.Tensor2D {
    return tf.tensor2d(texts.map((t) => this.encode(t)), [texts.length, this.maxLength], 'int32');
  }

  /** The words of `ids`, without specials (unknown words as `<unk>`). */
  decode(ids: readonly number[]): string {
    const words: string[] = [];
    for (const id of ids) {
      if (id === PAD_ID || id === BOS_ID) continue;
      if (id === EOS_ID) break;
      words.push(id === UNK_ID ? SPECIAL_TOKENS.unk : (this.vocab[id - NUM_SPECIAL] ?? SPECIAL_TOKENS.unk));
    }
    return words.join(' ');
  }

  toConfig(): WordTokenizerConfig {
    return { vocab: [...this.vocab], maxLength: this.maxLength };
  }

  static fromConfig(config: WordTokenizerConfig): WordTokenizer {
    return new WordTokenizer(config);
  }
}
