import { describe, expect, it } from 'vitest';
import { Lift, RateLimiter } from '../../../src/pan/rate-limiter.js';
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

  it('background requests get a fifth of the budget', async () => {
    const clock = new FakeClock('instant');
    const l = new RateLimiter(clock);
    const t0 = clock.now();
    const starts: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await l.acquire('list', 5, undefined, 'background');
      starts.push(clock.now() - t0);
      r();
    }
    expect(starts).toEqual([0, 1000, 2000, 3000]); // 5 qps × 0.2 = 1 per second
  });

  it('a background waiter yields to foreground waiters and never takes the last free slot', async () => {
    const clock = new FakeClock('manual');
    const l = new RateLimiter(clock);
    const order: string[] = [];
    const take = (name: string, p: 'foreground' | 'background') =>
      l.acquire('list', 2, undefined, p).then((r) => {
        order.push(name);
        return r;
      });
    const f1 = await take('f1', 'foreground'); // one of two slots busy
    const b1 = take('b1', 'background'); // would take the last free slot: waits
    await Promise.resolve();
    await Promise.resolve();
    expect(order).toEqual(['f1']);
    const f2 = take('f2', 'foreground'); // the foreground finds the free slot at once
    await f2;
    expect(order).toEqual(['f1', 'f2']);
    const f3 = take('f3', 'foreground'); // queued ahead of b1 although it came later
    (await f2)();
    f1();
    await clock.advance(1000);
    await f3;
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['f1', 'f2', 'f3']); // b1 would hold the last free slot while f3 runs
    (await f3)();
    await clock.advance(1000);
    await b1;
    expect(order).toEqual(['f1', 'f2', 'f3', 'b1']);
  });

  it('ahead requests get the whole budget but the last free slot, after foreground, before background', async () => {
    const clock = new FakeClock('instant');
    const l = new RateLimiter(clock);
    const t0 = clock.now();
    const starts: number[] = [];
    for (let i = 0; i < 9; i++) {
      const r = await l.acquire('list', 5, undefined, 'ahead');
      starts.push(clock.now() - t0);
      r();
    }
    // 4 of the 5 slots per window (the fifth stays free for a foreground call), not a fifth of the budget
    expect(starts).toEqual([0, 0, 0, 0, 1000, 1000, 1000, 1000, 2000]);
    const f = await l.acquire('list', 5); // ... which finds it at once
    expect(clock.now() - t0).toBe(2000);
    f();

    const manual = new FakeClock('manual');
    const m = new RateLimiter(manual);
    const order: string[] = [];
    const take = (name: string, p: 'foreground' | 'ahead' | 'background') =>
      m.acquire('list', 2, undefined, p).then((r) => {
        order.push(name);
        return r;
      });
    const held = [await take('f1', 'foreground'), await take('f2', 'foreground')]; // both slots busy
    const waiting = [take('b1', 'background'), take('a1', 'ahead'), take('f3', 'foreground')];
    const settle = () => new Promise((r) => setImmediate(r));
    for (const r of held) r();
    await manual.advance(1000); // two slots free: f3 first; then a1 would take the last one: it waits
    const r3 = await waiting[2];
    await settle();
    expect(order).toEqual(['f1', 'f2', 'f3']);
    r3();
    await manual.advance(1000); // ahead before background
    const ra = await waiting[1];
    await settle();
    expect(order).toEqual(['f1', 'f2', 'f3', 'a1']);
    ra();
    await manual.advance(1000);
    (await waiting[0])();
    expect(order).toEqual(['f1', 'f2', 'f3', 'a1', 'b1']);
  });

  it('a raised Lift makes a waiting ahead request a foreground one', async () => {
    const clock = new FakeClock('manual');
    const l = new RateLimiter(clock);
    const order: string[] = [];
    const f1 = await l.acquire('list', 2); // one of two slots busy: an ahead request may not take the other
    const lift = new Lift();
    const a = l.acquire('list', 2, undefined, 'ahead', lift).then((r) => {
      order.push('a');
      return r;
    });
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    lift.raise(); // a foreground caller now waits for the same listing: it takes the last free slot
    (await a)();
    expect(order).toEqual(['a']);
    expect(lift.raised).toBe(true);
    // a later acquire with a raised Lift is a foreground one: it takes the last free slot at once
    const l2 = new RateLimiter(clock);
    const g1 = await l2.acquire('list', 2);
    (await l2.acquire('list', 2, undefined, 'ahead', lift))();
    g1();
    f1();
  });
});
