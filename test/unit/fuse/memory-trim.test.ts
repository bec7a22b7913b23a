// MemoryTrim (src/fuse/memory-trim.ts): malloc_trim runs a short delay after a collection, at most once per
// interval however many collections come, never after stop(), and not at all without the native function.
import { describe, expect, it } from 'vitest';
import { startMemoryTrim } from '../../../src/fuse/memory-trim.js';
import { FakeClock } from '../../support/clock.js';

function setup() {
  const clock = new FakeClock('manual');
  let gc: () => void = () => {};
  let observing = false;
  const calls: number[] = [];
  const trim = startMemoryTrim(
    () => {
      calls.push(clock.now());
      return calls.length % 2 === 1;
    },
    clock,
    {
      delayMs: 50,
      minIntervalMs: 250,
      observe: (onGc) => {
        gc = onGc;
        observing = true;
        return () => {
          observing = false;
        };
      },
    },
  );
  return { clock, gc: () => gc(), calls, trim, observing: () => observing };
}

describe('MemoryTrim', () => {
  it('trims after a collection, once per interval however many collections come', async () => {
    const { clock, gc, calls, trim } = setup();
    const t0 = clock.now();
    gc();
    gc();
    await clock.advance(49);
    expect(calls).toEqual([]);
    await clock.advance(1);
    expect(calls).toEqual([t0 + 50]);
    gc(); // 50 ms after the last trim: waits for the interval
    await clock.advance(100);
    gc();
    await clock.advance(100);
    expect(calls).toHaveLength(1);
    await clock.advance(50);
    expect(calls).toEqual([t0 + 50, t0 + 300]);
    expect(trim.stats()).toEqual({ trims: 2, released: 1 });
  });

  it('stop() cancels a pending trim and stops observing; no native function: no-op', async () => {
    const { clock, gc, calls, trim, observing } = setup();
    gc();
    trim.stop();
    expect(observing()).toBe(false);
    await clock.advance(1000);
    expect(calls).toEqual([]);
    const none = startMemoryTrim(undefined, clock);
    none.stop();
    expect(none.stats()).toEqual({ trims: 0, released: 0 });
  });
});
