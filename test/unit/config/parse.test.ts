// Value parsers and the option table itself.
import { describe, expect, it } from 'vitest';
import { OPTIONS, optionByKey } from '../../../src/config/options.js';
import { ConfigError, parseDuration, parseSize, parseValue } from '../../../src/config/parse.js';

describe('parseDuration (milliseconds)', () => {
  it.each([
    ['5m', 300_000],
    ['2s', 2000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['100ms', 100],
    ['30', 30_000],
    ['0', 0],
    ['1.5s', 1500],
    ['1.5m', 90_000],
    [' 10 s ', 10_000],
    ['2H', 7_200_000],
    ['250MS', 250],
  ])('%j → %d', (v, ms) => {
    expect(parseDuration(v)).toBe(ms);
  });

  it.each(['', 'abc', '5x', '-1s', '1h30m', 's', '1e3s'])('refuses %j', (v) => {
    expect(() => parseDuration(v)).toThrow(/not a duration/);
  });
});

describe('parseSize (bytes, binary units)', () => {
  it.each([
    ['10G', 10 * 1024 ** 3],
    ['128M', 128 * 1024 ** 2],
    ['64m', 64 * 1024 ** 2],
    ['4k', 4096],
    ['1T', 1024 ** 4],
    ['512', 512],
    ['0', 0],
    ['1.5K', 1536],
    ['10GiB', 10 * 1024 ** 3],
    ['10GB', 10 * 1024 ** 3],
    ['7B', 7],
    [' 2 M ', 2 * 1024 ** 2],
  ])('%j → %d', (v, n) => {
    expect(parseSize(v)).toBe(n);
  });

  it.each(['', 'big', '-5', '10X', '10 GiBs', 'M'])('refuses %j', (v) => {
    expect(() => parseSize(v)).toThrow(/not a size/);
  });
});

describe('parseValue', () => {
  const spec = (key: string) => optionByKey(key);

  it('bool accepts the usual spellings, case-insensitively, and real booleans', () => {
    for (const t of ['1', 'true', 'TRUE', 'yes', 'on', true]) expect(parseValue(spec('readOnly'), t)).toBe(true);
    for (const f of ['0', 'false', 'No', 'off', '', false]) expect(parseValue(spec('readOnly'), f)).toBe(false);
    expect(() => parseValue(spec('readOnly'), 'maybe')).toThrow(ConfigError);
    expect(() => parseValue(spec('readOnly'), 'maybe')).toThrow(/--read-only/);
  });

  it('octal umask: 022, 0022, 77 and 0777 parse as octal; 8/9 and 5 digits are refused', () => {
    expect(parseValue(spec('umask'), '022')).toBe(0o022);
    expect(parseValue(spec('umask'), '0022')).toBe(0o022);
    expect(parseValue(spec('umask'), '77')).toBe(0o077);
    expect(parseValue(spec('umask'), '0777')).toBe(0o777);
    expect(parseValue(spec('umask'), 22)).toBe(0o022); // a JSON number is read as its octal digits
    for (const bad of ['8', '029', '12345', 'abc', '', '0x12']) {
      expect(() => parseValue(spec('umask'), bad), bad).toThrow(/--umask: not an octal mode/);
    }
  });

  it('int refuses fractions and words; number refuses negatives', () => {
    expect(parseValue(spec('uploadConcurrency'), '4')).toBe(4);
    expect(parseValue(spec('uploadConcurrency'), 4)).toBe(4);
    expect(() => parseValue(spec('uploadConcurrency'), '2.5')).toThrow(/--upload-concurrency: not an integer/);
    expect(() => parseValue(spec('uid'), 'root')).toThrow(/--uid/);
    expect(parseValue(spec('rateLimitScale'), '0.5')).toBe(0.5);
    expect(parseValue(spec('rateLimitScale'), 0)).toBe(0);
    expect(() => parseValue(spec('rateLimitScale'), '-1')).toThrow(/--rate-limit-scale/);
    expect(() => parseValue(spec('rateLimitScale'), 'Infinity')).toThrow(ConfigError);
  });

  it('duration and size: strings are parsed, JSON numbers are seconds / bytes', () => {
    expect(parseValue(spec('dirCacheTime'), '10m')).toBe(600_000);
    expect(parseValue(spec('dirCacheTime'), 90)).toBe(90_000);
    expect(parseValue(spec('cacheMaxSize'), '1G')).toBe(1024 ** 3);
    expect(parseValue(spec('cacheMaxSize'), 4096)).toBe(4096);
    expect(() => parseValue(spec('dirCacheTime'), 'soon')).toThrow(/--dir-cache-time: not a duration/);
    expect(() => parseValue(spec('memCacheSize'), 'lots')).toThrow(/--mem-cache-size: not a size/);
  });
});

describe('the option table', () => {
  it('has unique keys, flags and environment variables (all PAN123_*)', () => {
    const keys = OPTIONS.map((o) => o.key);
    const flags = OPTIONS.map((o) => o.flag);
    const envs = OPTIONS.flatMap((o) => (o.env ? [o.env] : []));
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(flags).size).toBe(flags.length);
    expect(new Set(envs).size).toBe(envs.length);
    for (const e of envs) expect(e).toMatch(/^PAN123_[A-Z0-9_]+$/);
    for (const f of flags) expect(f).toMatch(/^[a-z][a-z0-9-]*$/);
  });

  it('every default parses with its own type', () => {
    for (const o of OPTIONS) {
      if (o.default === undefined) continue;
      expect(() => parseValue(o, o.default), o.key).not.toThrow();
    }
  });

  it('the defaults mean what the help says', () => {
    expect(parseValue(optionByKey('dirCacheTime'), optionByKey('dirCacheTime').default)).toBe(5 * 60_000);
    expect(parseValue(optionByKey('umask'), optionByKey('umask').default)).toBe(0o022);
    expect(parseValue(optionByKey('cacheMaxSize'), optionByKey('cacheMaxSize').default)).toBe(10 * 1024 ** 3);
    expect(optionByKey('rootFolderId').default).toBe('0');
    expect(optionByKey('readOnly').default).toBe(false);
  });

  it('secret options are marked secret', () => {
    expect(optionByKey('clientSecret').secret).toBe(true);
    expect(optionByKey('directLinkKey').secret).toBe(true);
    expect(
      OPTIONS.filter((o) => o.secret)
        .map((o) => o.key)
        .sort(),
    ).toEqual(['clientSecret', 'directLinkKey', 'webdavPassword']);
  });

  it('optionByKey throws for an unknown key', () => {
    expect(() => optionByKey('nope')).toThrow(/unknown option nope/);
  });
});
