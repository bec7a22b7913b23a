import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../src/pan/rate-limiter.js';
import { instantClock } from './fake-clock.js';

async function startTimes(l: RateLimiter, clock: ReturnType<typeof instantClock>, n: number, qps: number): Promise<number[]> {
  const t0 = clock.now();
  const out: number[] = [];
  for (let i = 0; i < n; i++) { await l.acquire('ep', qps); out.push(clock.now() - t0); }
  return out;
}

describe('RateLimiter', () => {
  it('lets qps requests start per sliding second, then waits', async () => {
    const clock = instantClock();
    const l = new RateLimiter(clock);
    expect(await startTimes(l, clock, 11, 5)).toEqual([0, 0, 0, 0, 0, 1000, 1000, 1000, 1000, 1000, 2000]);
  });

  it('handles fractional budgets (0.2 qps = one per 5 s)', async () => {
    const clock = instantClock();
    expect(await startTimes(new RateLimiter(clock), clock, 3, 0.2)).toEqual([0, 5000, 10000]);
  });

  it('scale multiplies the budget', async () => {
    const clock = instantClock();
    expect(await startTimes(new RateLimiter(clock, 2), clock, 11, 5)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1000]);
  });

  it('0 and Infinity switch it off', async () => {
    for (const s of [0, Infinity]) {
      const clock = instantClock();
      expect(await startTimes(new RateLimiter(clock, s), clock, 20, 1)).toEqual(new Array(20).fill(0));
    }
  });

  it('keeps endpoints independent and concurrent callers FIFO', async () => {
    const clock = instantClock();
    const l = new RateLimiter(clock);
    await l.acquire('a', 1);
    await l.acquire('b', 1);
    expect(clock.sleeps).toEqual([]);
    const t0 = clock.now();
    const order: number[] = [];
    await Promise.all([l.acquire('a', 1).then(() => order.push(1)), l.acquire('a', 1).then(() => order.push(2))]);
    expect(order).toEqual([1, 2]);
    // the instant clock advances inside sleep(): the two waits add up to two windows
    expect(clock.now() - t0).toBe(2000);
  });

  it('a window that has passed frees its slots', async () => {
    const clock = instantClock();
    const l = new RateLimiter(clock);
    await startTimes(l, clock, 5, 5);
    clock.advance(1500);
    expect(await startTimes(l, clock, 5, 5)).toEqual([0, 0, 0, 0, 0]);
  });
});
