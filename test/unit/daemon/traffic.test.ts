// countRangeSource: every byte fetched is counted once into the fetched-today counter, as it arrives and
// at completion, and a range whose progress is reported in steps is not counted twice.
import { describe, expect, it } from 'vitest';
import { DailyBytes } from '../../../src/core/daily-bytes.js';
import { countRangeSource } from '../../../src/daemon/traffic.js';
import type { FileRef, RangeSource } from '../../../src/data/range-source.js';
import { FakeClock } from '../../support/clock.js';

const ref: FileRef = { id: '1', size: 1 << 20, md5: 'a' };

/** Reports progress in 3 steps, then answers; `failAt` rejects after that many bytes were reported. */
function stepping(failAt?: number): RangeSource {
  return {
    async read(_ref, _start, length, _signal, into, onProgress) {
      for (const f of [length / 4, length / 2, (3 * length) / 4]) {
        if (failAt !== undefined && f > failAt) throw new Error('reset');
        onProgress?.(f);
      }
      return into ? into.subarray(0, length) : Buffer.alloc(length);
    },
  };
}

describe('countRangeSource', () => {
  it('counts each byte once, with or without progress', async () => {
    const today = new DailyBytes(new FakeClock('manual'));
    const src = countRangeSource(stepping(), today);
    const seen: number[] = [];
    await src.read(ref, 0, 4096, undefined, Buffer.alloc(4096), (n) => seen.push(n));
    expect(seen).toEqual([1024, 2048, 3072]); // passed through
    expect(today.today().bytes).toBe(4096);
    await src.read(ref, 0, 1000);
    expect(today.today().bytes).toBe(5096);
  });

  it('a failed read counts the bytes that arrived', async () => {
    const today = new DailyBytes(new FakeClock('manual'));
    const src = countRangeSource(stepping(2048), today);
    await expect(src.read(ref, 0, 4096, undefined, Buffer.alloc(4096))).rejects.toThrow('reset');
    expect(today.today().bytes).toBe(2048);
  });
});
