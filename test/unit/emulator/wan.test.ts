// The pacing arithmetic of src/emulator/wan.ts on virtual time (the integration test measures it in real
// time): one sender gets the per-connection rate, parallel senders share the link rate fairly, a sender
// held back by its own rate leaves the link to the others, and an idle sender bursts at most CATCH_UP_MS.
import { describe, expect, test } from 'vitest';
import { PACE_CHUNK, Wan } from '../../../src/emulator/wan.js';
import { FakeClock } from '../../support/clock.js';

const virtualClock = () => new FakeClock('manual', 1_000_000);

/** Sends `bytes` through one pacer; resolves to the virtual time the last slice left. */
async function send(wan: Wan, clock: FakeClock, bytes: number): Promise<number> {
  const p = wan.conn();
  for (let left = bytes; left > 0; left -= PACE_CHUNK) await p.slot(Math.min(PACE_CHUNK, left));
  return clock.now();
}

async function race(wan: Wan, clock: FakeClock, sizes: number[]): Promise<number[]> {
  const t0 = clock.now();
  const ends: number[] = [];
  let left = sizes.length;
  sizes.forEach(
    (n, i) =>
      void send(wan, clock, n).then((t) => {
        ends[i] = t - t0;
        left--;
      }),
  );
  await clock.runUntil(() => left === 0);
  return ends;
}

const MB = 1e6;

describe('WAN pacing (virtual time)', () => {
  test('one sender runs at the per-connection rate', async () => {
    const clock = virtualClock();
    const wan = new Wan({ connBytesPerSec: 4 * MB, linkBytesPerSec: 100 * MB }, clock);
    const [ms] = await race(wan, clock, [64 * PACE_CHUNK]);
    // the last slice leaves 63 slices after the first, less the 5 ms an idle sender may burst
    expect(ms).toBeCloseTo((63 * PACE_CHUNK * 1000) / (4 * MB) - 5, 0);
  });

  test('parallel senders share the link fairly', async () => {
    const clock = virtualClock();
    const wan = new Wan({ connBytesPerSec: 4 * MB, linkBytesPerSec: 8 * MB }, clock);
    const ends = await race(
      wan,
      clock,
      [32, 32, 32, 32].map((k) => k * PACE_CHUNK),
    );
    const all = (128 * PACE_CHUNK * 1000) / (8 * MB);
    for (const e of ends) {
      expect(e).toBeGreaterThan(all * 0.95);
      expect(e).toBeLessThanOrEqual(all);
    }
  });

  test('a sender at its own limit leaves the rest of the link to others', async () => {
    const clock = virtualClock();
    // 2 senders at 5 MB/s each on a 20 MB/s link: both get their full 5 MB/s
    const wan = new Wan({ connBytesPerSec: 5 * MB, linkBytesPerSec: 20 * MB }, clock);
    const ends = await race(wan, clock, [40 * PACE_CHUNK, 40 * PACE_CHUNK]);
    const alone = (39 * PACE_CHUNK * 1000) / (5 * MB) - 5;
    const oneSliceOfLink = (PACE_CHUNK * 1000) / (20 * MB); // the second one's first slice waits for the first's
    for (const e of ends) {
      expect(e).toBeGreaterThanOrEqual(alone - 0.01);
      expect(e).toBeLessThanOrEqual(alone + oneSliceOfLink + 0.01);
    }
  });

  test('delays by kind; everything off by default', async () => {
    const clock = virtualClock();
    const off = new Wan({}, clock);
    expect(off.paced).toBe(false);
    expect(off.responseDelay('cdn')).toBeNull();
    expect(off.responseDelay('api')).toBeNull();
    const on = new Wan({ firstByteMs: 30, apiDelayMs: 7 }, clock);
    expect(on.paced).toBe(false);
    let woke = 0;
    void on.responseDelay('cdn')!.then(() => (woke = clock.now()));
    const t0 = clock.now();
    await clock.runUntil(() => woke > 0);
    expect(woke - t0).toBe(30);
    expect(() => new Wan({ connBytesPerSec: -1 }, clock)).toThrow(/connBytesPerSec/);
  });
});
