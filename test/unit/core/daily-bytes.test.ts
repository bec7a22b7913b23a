// DailyBytes and RateMeter on fake time: the day rolls at midnight Beijing time (16:00 UTC), the rate
// looks back 5 s and forgets what is older.
import { describe, expect, it } from 'vitest';
import { DailyBytes } from '../../../src/core/daily-bytes.js';
import { RateMeter } from '../../../src/core/rate-meter.js';
import { FakeClock } from '../../support/clock.js';

describe('DailyBytes', () => {
  it("counts within 123pan's day and starts again at midnight Beijing time", () => {
    const clock = new FakeClock('manual', Date.UTC(2026, 11, 2, 15, 59, 0)); // 23:59 in Beijing
    const d = new DailyBytes(clock);
    d.add(1000);
    d.add(24);
    d.add(-5); // ignored
    expect(d.today()).toEqual({ day: '2026-12-02', bytes: 1024 });
    clock.nowMs = Date.UTC(2026, 11, 2, 16, 0, 0); // 00:00 on the 3rd in Beijing
    expect(d.today()).toEqual({ day: '2026-12-03', bytes: 0 });
    d.add(7);
    expect(d.today().bytes).toBe(7);
  });
});

describe('RateMeter', () => {
  it('is the rate over the last 5 s, from the meter’s age while it is younger', () => {
    const clock = new FakeClock('manual');
    const m = new RateMeter(clock);
    expect(m.perSec()).toBe(0);
    clock.nowMs += 1000;
    m.add(10_000_000);
    expect(m.perSec()).toBe(10_000_000); // 10 MB in its first second
    for (let i = 0; i < 10; i++) {
      clock.nowMs += 1000;
      m.add(4_000_000);
    }
    expect(m.perSec()).toBeGreaterThanOrEqual(3_900_000);
    expect(m.perSec()).toBeLessThanOrEqual(4_000_000);
    clock.nowMs += 6000;
    expect(m.perSec()).toBe(0); // nothing in the last 5 s
  });
});
