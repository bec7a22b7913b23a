import { describe, expect, it } from 'vitest';
import { parseJson, stringifyJson, wireId } from '../../../src/pan/json.js';
import { toFileId } from '../../../src/core/ids.js';

describe('lossless json', () => {
  it('keeps integers beyond 2^53 exact', () => {
    const v = parseJson('{"fileId": 9007199254740993, "size": 12, "neg": -9223372036854775808}') as Record<
      string,
      unknown
    >;
    expect(v.fileId).toBe(9007199254740993n);
    expect(toFileId(v.fileId)).toBe('9007199254740993');
    expect(v.size).toBe(12);
    expect(v.neg).toBe(-9223372036854775808n);
  });

  it('round-trips ids as raw JSON numbers', () => {
    const body = stringifyJson({ fileIDs: [wireId('9223372036854775807'), wireId('5')], name: 'a"b', skip: undefined });
    expect(body).toBe('{"fileIDs":[9223372036854775807,5],"name":"a\\"b"}');
    const back = parseJson(body) as { fileIDs: unknown[] };
    expect(back.fileIDs.map(toFileId)).toEqual(['9223372036854775807', '5']);
  });

  it('parses the usual JSON like JSON.parse', () => {
    const text = '{"a":[1,2.5,-3e2,true,false,null],"s":"\\u4e2d\\n文","o":{},"e":[]}';
    expect(parseJson(text)).toEqual(JSON.parse(text));
    expect(parseJson(' 1 ')).toBe(1);
  });

  it('rejects malformed input', () => {
    expect(() => parseJson('{"a":1')).toThrow(SyntaxError);
    expect(() => parseJson('{"a":1} x')).toThrow(SyntaxError);
    expect(() => parseJson('<html>')).toThrow(SyntaxError);
  });

  it('does not let __proto__ keys pollute', () => {
    const v = parseJson('{"__proto__": {"x": 1}}') as Record<string, unknown>;
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(Object.keys(v)).toEqual(['__proto__']);
  });
});
