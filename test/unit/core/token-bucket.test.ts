// TokenBucket (issue 16 bandwidth limits) on virtual time: the long-run rate never exceeds `rate`, a burst
// of one second is free, a request larger than the burst is allowed and the next caller pays for it.
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../src/core/token-bucket.js';
import { FakeClock, T0 } from '../../support/clock.js';

const MiB = 1024 * 1024;

describe('TokenBucket', () => {
  it('keeps 100 MiB in 8 MiB requests at 10 MiB/s: about 9 s after the 1 s burst', async () => {
    const clock = new FakeClock('auto');
    const b = new TokenBucket(10 * MiB, clock);
    for (let i = 0; i < 100 / 4; i++) await b.take(4 * MiB);
    const s = (clock.now() - T0) / 1000;
    expect(s).toBeGreaterThanOrEqual(9);
    expect(s).toBeLessThanOrEqual(9.1);
  });

  it('serves concurrent callers in call order at the same total rate', async () => {
    const clock = new FakeClock('auto');
    const b = new TokenBucket(MiB, clock);
    const done: number[] = [];
    await Promise.all([0, 1, 2, 3].map((i) => b.take(MiB).then(() => done.push(i))));
    expect(done).toEqual([0, 1, 2, 3]);
    expect(clock.now() - T0).toBe(3000);
  });

  it('rate 0 is unlimited', async () => {
    const clock = new FakeClock('manual');
    const b = new TokenBucket(0, clock);
    await b.take(1e12);
    expect(b.limited).toBe(false);
    expect(clock.sleeps).toEqual([]);
  });
});
