import { describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter, retryPolicy } from '../../../src/pan/backoff.js';

describe('backoff', () => {
  it('defaults: 6 attempts, base 300 ms, cap 8 s', () => {
    const p = retryPolicy();
    expect([p.attempts, p.baseMs, p.capMs]).toEqual([6, 300, 8000]);
  });

  it('full jitter stays within [0, min(cap, base·2^(n−1)))', () => {
    const hi = retryPolicy({ random: () => 0.999999 });
    const lo = retryPolicy({ random: () => 0 });
    const ceilings = [300, 600, 1200, 2400, 4800, 8000, 8000, 8000];
    ceilings.forEach((c, i) => {
      expect(backoffDelay(hi, i + 1)).toBeLessThan(c);
      expect(backoffDelay(hi, i + 1)).toBeGreaterThanOrEqual(c - 1);
      expect(backoffDelay(lo, i + 1)).toBe(0);
    });
    expect(backoffDelay(hi, 1000)).toBeLessThan(8000);
  });

  it('Retry-After raises the delay but never past the cap', () => {
    const p = retryPolicy({ random: () => 0 });
    expect(backoffDelay(p, 1, 2000)).toBe(2000);
    expect(backoffDelay(p, 1, 60_000)).toBe(8000);
  });

  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
    const now = Date.UTC(2025, 0, 1);
    expect(parseRetryAfter(new Date(now + 5000).toUTCString(), now)).toBe(5000);
  });
});
