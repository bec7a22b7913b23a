import { describe, expect, it } from 'vitest';
import { ReadWindow } from '../../../src/data/read-window.js';
import { KiB, MiB } from './fake-source.js';

const mk = () => new ReadWindow({ blockSize: MiB, initialReadAheadBytes: MiB, maxReadAheadBytes: 16 * MiB });

describe('ReadWindow', () => {
  it('treats the first read as random and a contiguous second read as sequential', () => {
    const w = mk();
    expect(w.onRead(0, 128 * KiB, 100 * MiB)).toEqual({ sequential: false });
    expect(w.onRead(128 * KiB, 256 * KiB, 100 * MiB).sequential).toBe(true);
    expect(w.windowBytes).toBe(MiB);
  });

  it('grows the window by doubling up to the cap, with block-aligned prefetch ranges', () => {
    const w = mk();
    const ranges: { start: number; end: number }[] = [];
    for (let p = 0; p < 100 * MiB; p += 128 * KiB) {
      const plan = w.onRead(p, p + 128 * KiB, 100 * MiB);
      if (plan.prefetch) ranges.push(plan.prefetch);
    }
    for (const r of ranges) {
      expect(r.start % MiB).toBe(0);
      expect(r.end % MiB === 0 || r.end === 100 * MiB).toBe(true);
    }
    expect(w.windowBytes).toBe(16 * MiB);
    const sizes = ranges.map((r) => r.end - r.start);
    expect(sizes[0]).toBeLessThanOrEqual(3 * MiB);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(17 * MiB);
    expect(ranges.at(-1)!.end).toBe(100 * MiB);
  });

  it('a far seek resets the window; small reordering does not', () => {
    const w = mk();
    for (let p = 0; p < 8 * MiB; p += 128 * KiB) w.onRead(p, p + 128 * KiB, 1024 * MiB);
    const before = w.windowBytes;
    expect(w.onRead(8 * MiB - 512 * KiB, 8 * MiB - 384 * KiB, 1024 * MiB).sequential).toBe(true);
    expect(w.windowBytes).toBe(before);
    expect(w.onRead(500 * MiB, 500 * MiB + 4096, 1024 * MiB)).toEqual({ sequential: false, jumped: true });
    expect(w.windowBytes).toBe(0);
  });

  it('never prefetches past EOF', () => {
    const w = mk();
    const size = 2 * MiB + 10;
    for (let p = 0; p < size; p += 128 * KiB) {
      const plan = w.onRead(p, Math.min(size, p + 128 * KiB), size);
      if (plan.prefetch) expect(plan.prefetch.end).toBeLessThanOrEqual(size);
    }
  });
});
