import { describe, expect, it } from 'vitest';
import { SafetensorsError } from './safetensors-error.js';
import { JsonFloat, JsonObject, parseStrictJson, type JsonValue } from './strict-json.js';

const parse = (s: string): JsonValue => parseStrictJson(s, { what: 'test' });
const rule = (s: string): string => {
  try {
    parse(s);
    return 'OK';
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    return (e as SafetensorsError).rule;
  }
};

describe('strict JSON (serde_json subset, P5/P6)', () => {
  it('parses objects in document order without prototypes, integers as bigint', () => {
    const v = parse(' {"b":[1,-2,3.5,true,false,null],"a":{"x":"y"},"__proto__":"p"} ');
    expect(v).toBeInstanceOf(JsonObject);
    const o = v as JsonObject;
    expect([...o].map(([k]) => k)).toEqual(['b', 'a', '__proto__']);
    const b = o.get('b') as JsonValue[];
    expect(b.slice(0, 2)).toEqual([1, -2]);
    expect(b[2]).toBeInstanceOf(JsonFloat);
    expect(b.slice(3)).toEqual([true, false, null]);
    expect(o.get('__proto__')).toBe('p');
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it('P5: floats, -0, exponents and >20-digit integers are not integers', () => {
    for (const s of ['2.0', '1e1', '1E+1', '-0', '1' + '0'.repeat(21)]) expect(parse(s)).toBeInstanceOf(JsonFloat);
    expect(parse('18446744073709551615')).toBe(18446744073709551615n);
    expect(parse('999999999999999')).toBe(999999999999999);
    expect(parse('1000000000000000')).toBe(1000000000000000n);
    expect(parse('-0') instanceof JsonFloat && (parse('-0') as JsonFloat).text).toBe('-0');
  });

  it('P5: rejects what serde_json rejects (BOM, NaN, trailing commas, comments, leading zeros, control chars, bad escapes, trailing text)', () => {
    for (const s of ['\ufeff{}', '[NaN]', '[Infinity]', '[1,]', '{"a":1,}', '{} //', '[01]', '[+1]', '[.5]', '[1.]', '["a\u0001"]', '["\\x"]', '["\\u12"]', '{}\u0000', '{}{}', '', '  ', "{'a':1}", '{a:1}', '[1 2]', 'nul', '[-]', '[1e]']) {
      expect([s, rule(s)]).toEqual([s, 'invalid-json']);
    }
  });

  it('P5: escaped surrogates must pair (lone leading or trailing surrogates rejected)', () => {
    expect(parse('"\\ud83d\\ude00"')).toBe('\u{1F600}');
    for (const s of ['"\\ud800"', '"\\udc00"', '"\\ud83dx"', '"\\ud83d\\u0041"', '"\\ud83d\\ud83d"']) expect(rule(s)).toBe('invalid-json');
  });

  it('P6: duplicate keys are rejected on decoded keys, at any depth', () => {
    expect(rule('{"a":1,"a":1}')).toBe('duplicate-key');
    expect(rule('{"a":1,"\\u0061":2}')).toBe('duplicate-key');
    expect(rule('{"m":{"k":"1","k":"2"}}')).toBe('duplicate-key');
    expect(rule('{"x":[{"d":1,"d":2}]}')).toBe('duplicate-key');
    expect(rule('{"a":1,"A":1,"a ":1}')).toBe('OK');
    try {
      parse('{"__metadata__":{"k":"1","k":"2"}}');
    } catch (e) {
      expect((e as Error).message).toContain('"__metadata__"');
      expect((e as Error).message).toContain('"k" twice');
    }
  });

  it("P13: nesting stops at serde_json's limit (127 levels) without touching the JS stack limit", () => {
    expect(rule('['.repeat(127) + ']'.repeat(127))).toBe('OK');
    expect(rule('['.repeat(128) + ']'.repeat(128))).toBe('invalid-json');
    expect(rule('['.repeat(1_000_000))).toBe('invalid-json');
  });

  it('P13: a 1 MB digit string and a 1 MB string parse in linear time', () => {
    const t0 = performance.now();
    expect(parse('9'.repeat(1_000_000))).toBeInstanceOf(JsonFloat);
    expect((parse(`"${'\\u00e9'.repeat(200_000)}"`) as string).length).toBe(200_000);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
