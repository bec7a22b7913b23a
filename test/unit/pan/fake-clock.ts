import type { Clock } from '../../../src/core/clock.js';

/** A clock whose sleep() advances time instantly (records every sleep). */
export function instantClock(start = 1_700_000_000_000): Clock & { sleeps: number[]; advance(ms: number): void } {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    advance(ms) {
      now += ms;
    },
    async sleep(ms, signal) {
      signal?.throwIfAborted();
      sleeps.push(ms);
      now += ms;
    },
    setTimer(_ms, fn) {
      queueMicrotask(fn);
      return { cancel() {} };
    },
  };
}
