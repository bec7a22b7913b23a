// --staging-max-size (vfs/staging-budget.ts) on the fake clock: grants, waits in order, wake-ups on
// drain, ENOSPC for a file alone too large, offline refusal, the overrun when nothing can drain, the deadline.
import { describe, expect, it } from 'vitest';
import { isFsError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { type DrainState, StagingBudget } from '../../../src/vfs/staging-budget.js';
import { FakeClock } from '../../support/clock.js';

function setup(maxBytes = 100, waitMs = 60_000) {
  const clock = new FakeClock('manual');
  let drain: DrainState = 'yes';
  const b = new StagingBudget({ maxBytes, clock, logger: silentLogger, drain: () => drain, waitMs });
  return {
    clock,
    b,
    setDrain: (d: DrainState) => {
      drain = d;
    },
  };
}

/** settles state of a promise, without waiting for it */
async function state(p: Promise<void> | undefined): Promise<'granted' | 'waiting' | string> {
  if (p === undefined) return 'granted';
  const r = await Promise.race([
    p.then(
      () => 'granted',
      (e) => (isFsError(e) ? e.kind : String(e)),
    ),
    new Promise<string>((r) => setImmediate(() => r('waiting'))),
  ]);
  return r;
}

describe('StagingBudget', () => {
  it('grants synchronously while the total fits, and counts growth only', () => {
    const { b } = setup();
    expect(b.grow('a', 60, '/a')).toBeUndefined();
    expect(b.grow('a', 40, '/a')).toBeUndefined(); // not growing: nothing to reserve
    expect(b.grow('b', 40, '/b')).toBeUndefined();
    expect(b.status()).toEqual({ bytes: 100, maxBytes: 100, waitingWriters: 0 });
  });

  it('ENOSPC at once for a file alone larger than the limit', async () => {
    const { b } = setup();
    expect(await state(b.grow('a', 101, '/a'))).toBe('ENOSPC');
    expect(b.status().bytes).toBe(0);
  });

  it('a writer waits while uploads can drain, and goes when a staging file is removed', async () => {
    const { b } = setup();
    b.grow('a', 80, '/a');
    const w1 = b.grow('b', 30, '/b');
    const w2 = b.grow('c', 10, '/c'); // fits, but waits behind w1: no overtaking
    expect(await state(w1)).toBe('waiting');
    expect(await state(w2)).toBe('waiting');
    expect(b.status().waitingWriters).toBe(2);
    b.remove('a'); // a's upload committed
    expect(await state(w1)).toBe('granted');
    expect(await state(w2)).toBe('granted');
    expect(b.status()).toEqual({ bytes: 40, maxBytes: 100, waitingWriters: 0 });
  });

  it('a truncate that shrinks a file wakes waiters', async () => {
    const { b } = setup();
    b.grow('a', 90, '/a');
    const w = b.grow('b', 20, '/b');
    expect(await state(w)).toBe('waiting');
    b.set('a', 50);
    expect(await state(w)).toBe('granted');
  });

  it('nothing left to drain: the write goes past the limit instead of deadlocking', async () => {
    const { b, setDrain } = setup();
    b.grow('a', 70, '/a');
    const w = b.grow('b', 70, '/b');
    expect(await state(w)).toBe('waiting');
    setDrain('none');
    b.wake();
    expect(await state(w)).toBe('granted');
    expect(b.status().bytes).toBe(140);
    setDrain('yes');
    b.remove('a');
    b.remove('b');
    expect(b.status().bytes).toBe(0);
  });

  it('offline with the staging full: ENOSPC at once; waiting writers are refused when it goes offline', async () => {
    const { b, setDrain } = setup();
    b.grow('a', 90, '/a');
    const w = b.grow('b', 20, '/b');
    expect(await state(w)).toBe('waiting');
    setDrain('offline');
    b.wake();
    expect(await state(w)).toBe('ENOSPC');
    expect(await state(b.grow('c', 20, '/c'))).toBe('ENOSPC');
    expect(b.grow('c', 10, '/c')).toBeUndefined(); // what fits still goes
  });

  it('ENOSPC after the wait deadline, and the waiter is gone', async () => {
    const { b, clock } = setup(100, 1000);
    b.grow('a', 90, '/a');
    const w = b.grow('b', 20, '/b');
    expect(await state(w)).toBe('waiting');
    await clock.advance(999);
    expect(await state(w)).toBe('waiting');
    await clock.advance(1);
    expect(await state(w)).toBe('ENOSPC');
    expect(b.status().waitingWriters).toBe(0);
    expect(b.status().bytes).toBe(90);
  });

  it('no limit: everything granted, sizes still counted', () => {
    const { b } = setup(0);
    expect(b.limited).toBe(false);
    expect(b.grow('a', 1e12, '/a')).toBeUndefined();
    expect(b.status().bytes).toBe(1e12);
  });
});
