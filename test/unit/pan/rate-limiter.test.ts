import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../src/pan/rate-limiter.js';
import { FakeClock } from '../../support/clock.js';

type C = FakeClock;

/** n sequential requests that finish instantly; returns their start offsets. */
async function startTimes(l: RateLimiter, clock: C, n: number, qps: number, key = 'ep'): Promise<number[]> {
  const t0 = clock.now();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const release = await l.acquire(key, qps);
    out.push(clock.now() - t0);
    release();
  }
  return out;
}

describe('RateLimiter', () => {
  it('lets qps requests start per window, then waits', async () => {
    const clock = new FakeClock('instant');
    expect(await startTimes(new RateLimiter(clock), clock, 11, 5)).toEqual([
      0, 0, 0, 0, 0, 1000, 1000, 1000, 1000, 1000, 2000,
    ]);
  });

  it('handles fractional budgets (0.2 qps = one per 5 s)', async () => {
    const clock = new FakeClock('instant');
    expect(await startTimes(new RateLimiter(clock), clock, 3, 0.2)).toEqual([0, 5000, 10000]);
  });

  it('scale multiplies the budget', async () => {
    const clock = new FakeClock('instant');
    expect(await startTimes(new RateLimiter(clock, 2), clock, 11, 5)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1000]);
  });

  it('0 and Infinity switch it off', async () => {
    for (const s of [0, Infinity]) {
      const clock = new FakeClock('instant');
      expect(await startTimes(new RateLimiter(clock, s), clock, 20, 1)).toEqual(new Array(20).fill(0));
    }
  });

  it('the window counts from when a fast request finished, and from start + grace for a slow one', async () => {
    const clock = new FakeClock('instant');
    const l = new RateLimiter(clock);
    const t0 = clock.now();
    // fast: finished 30 ms after it started (inside the grace) → free 1 s after it finished
    const r1 = await l.acquire('a', 1);
    clock.advance(30);
    r1();
    let got = -1;
    (
      await l.acquire('a', 1).then((r) => {
        got = clock.now() - t0;
        return r;
      })
    )();
    expect(got).toBe(1030);
    // slow: still in flight 5 s later → it holds its slot until it finishes, then the slot is free at
    // once (start + grace + window has long passed)
    const t1 = clock.now();
    const r3 = await l.acquire('a', 1);
    expect(clock.now() - t1).toBe(1000); // waited for the previous window
    const t2 = clock.now();
    let got2 = -1;
    const fourth = l.acquire('a', 1).then((r) => {
      got2 = clock.now() - t2;
      return r;
    });
    clock.advance(5000);
    await Promise.resolve();
    expect(got2).toBe(-1); // never two in flight on one slot
    r3();
    (await fourth)();
    expect(got2).toBe(5000);
  });

  it('keeps endpoints independent and serves waiters FIFO', async () => {
    const clock = new FakeClock('instant');
    const l = new RateLimiter(clock);
    (await l.acquire('a', 1))();
    (await l.acquire('b', 1))();
    expect(clock.sleeps).toEqual([]);
    const order: number[] = [];
    const t0 = clock.now();
    await Promise.all(
      [1, 2, 3].map((i) =>
        l.acquire('a', 1).then((r) => {
          order.push(i);
          r();
        }),
      ),
    );
    expect(order).toEqual([1, 2, 3]);
    expect(clock.now() - t0).toBe(3000);
  });

  it('an aborted waiter leaves the queue', async () => {
    const clock = new FakeClock('instant');
    const l = new RateLimiter(clock);
    const r1 = await l.acquire('a', 1);
    const ac = new AbortController();
    const p = l.acquire('a', 1, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    r1();
    expect(await startTimes(l, clock, 1, 1, 'a')).toEqual([1000]);
  });
});
