import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelay, expBackoff, parseRetryAfter, retryPolicy } from '../../../src/pan/backoff.js';

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

  it('expBackoff: deterministic doubling to the cap without jitter; jitter takes its share off', () => {
    const plain = { baseMs: 1000, capMs: 5000 };
    expect([1, 2, 3, 4, 5].map((n) => expBackoff(plain, n))).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(expBackoff({ baseMs: 1000, capMs: Number.POSITIVE_INFINITY }, 40)).toBe(1000 * 2 ** 30);
    const half = (r: number) => ({ ...plain, jitter: 0.5, random: () => r });
    expect(expBackoff(half(0), 2)).toBe(1000);
    expect(expBackoff(half(0.999999), 2)).toBe(1999);
    // full jitter is what the transport's RetryPolicy uses
    const full = retryPolicy({ baseMs: 300, capMs: 8000, random: () => 0.5 });
    expect(expBackoff({ baseMs: 300, capMs: 8000, jitter: 1, random: () => 0.5 }, 3)).toBe(backoffDelay(full, 3));
  });

  it('Backoff: counts consecutive failures against an injected clock; success starts over', () => {
    let now = 10_000;
    const b = new Backoff({ baseMs: 1000, capMs: 4000 }, { now: () => now });
    expect(b.waitMs()).toBe(0);
    expect([b.failed(), b.failed(), b.failed(), b.failed()]).toEqual([1000, 2000, 4000, 4000]);
    expect(b.failures).toBe(4);
    expect(b.waitMs()).toBe(4000);
    now += 3000;
    expect(b.waitMs()).toBe(1000);
    now += 1000;
    expect(b.waitMs()).toBe(0);
    b.succeeded();
    expect(b.failures).toBe(0);
    expect(b.failed()).toBe(1000);
  });
});
