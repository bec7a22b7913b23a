import { describe, expect, it } from 'vitest';
import { parseCstTime, parseRfc3339, wireTimeMs } from '../../../src/pan/time.js';

describe('wire times', () => {
  it('reads "YYYY-MM-DD HH:MM:SS" as UTC+8', () => {
    expect(parseCstTime('2024-04-30 11:58:36')).toBe(Date.UTC(2024, 3, 30, 3, 58, 36));
    expect(parseCstTime('2025-01-01 00:00:00')).toBe(Date.UTC(2024, 11, 31, 16, 0, 0));
    expect(parseCstTime('2025-02-24 17:57:01 +0800 CST')).toBe(Date.UTC(2025, 1, 24, 9, 57, 1));
    expect(parseCstTime('garbage')).toBeNaN();
  });

  it('reads RFC 3339 expiredAt', () => {
    expect(parseRfc3339('2025-03-23T15:48:37+08:00')).toBe(Date.UTC(2025, 2, 23, 7, 48, 37));
    expect(parseRfc3339('2025-03-23T07:48:37Z')).toBe(Date.UTC(2025, 2, 23, 7, 48, 37));
    expect(parseRfc3339('2025-03-23 15:48:37')).toBe(Date.UTC(2025, 2, 23, 7, 48, 37));
  });

  it('tolerates numbers, strings and empties in informational fields', () => {
    expect(wireTimeMs(0)).toBe(0);
    expect(wireTimeMs('')).toBe(0);
    expect(wireTimeMs(1_700_000_000)).toBe(1_700_000_000_000);
    expect(wireTimeMs(1_700_000_000_000)).toBe(1_700_000_000_000);
    expect(wireTimeMs('1700000000')).toBe(1_700_000_000_000);
    expect(wireTimeMs('2024-04-30 11:58:36')).toBe(Date.UTC(2024, 3, 30, 3, 58, 36));
    expect(wireTimeMs('nope')).toBe(0);
  });
});
