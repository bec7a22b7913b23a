// Issue 19 item 6: slices in memory are bounded across all uploads (write/slice-memory.ts).
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { SliceMemory } from '../../../src/write/slice-memory.js';
import { uploadFile, type SliceSource } from '../../../src/write/upload-flow.js';
import { FakeClock } from './fake-clock.js';
import { FakePan, md5hex, ramp } from './fake-pan.js';

describe('SliceMemory', () => {
  it('grants within the budget, FIFO, and reuses a released buffer of the same size', async () => {
    const m = new SliceMemory(10);
    const a = await m.acquire(4);
    const b = await m.acquire(4);
    const order: string[] = [];
    const c = m.acquire(4).then((g) => {
      order.push('c');
      return g;
    });
    const d = m.acquire(1).then((g) => {
      order.push('d'); // it fits, but c was waiting before it
      return g;
    });
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    expect(m.stats().usedBytes).toBe(8);
    const aBuf = a.buf;
    a.release();
    const gc = await c;
    await d;
    expect(order).toEqual(['c', 'd']);
    expect(gc.buf).toBe(aBuf); // the same memory again, no fresh allocation
    expect(m.stats().usedBytes).toBe(9);
    expect(m.stats().peakBytes).toBe(9);
    b.release();
    gc.release();
    (await d).release();
    expect(m.stats()).toMatchObject({ usedBytes: 0, freeBuffers: 0 }); // nothing granted: nothing idle kept
  });

  it('grants one slice larger than the budget when nothing else is granted', async () => {
    const m = new SliceMemory(10);
    const big = await m.acquire(25);
    expect(big.buf.length).toBe(25);
    let second = false;
    const p = m.acquire(25).then((g) => {
      second = true;
      return g;
    });
    await new Promise((r) => setImmediate(r));
    expect(second).toBe(false);
    big.release();
    (await p).release();
    expect(second).toBe(true);
  });

  it('a waiter that aborts leaves the queue and lets the next one in', async () => {
    const m = new SliceMemory(10);
    const a = await m.acquire(8);
    const ac = new AbortController();
    const big = m.acquire(8, ac.signal);
    const small = m.acquire(2);
    ac.abort(new Error('stop'));
    await expect(big).rejects.toThrow('stop');
    const s = await small;
    expect(m.stats().usedBytes).toBe(10);
    a.release();
    s.release();
  });

  it('two uploads sharing one budget never hold more slices than it allows, and both arrive whole', async () => {
    const pan = new FakePan();
    pan.sliceSize = 64 * 1024;
    const memory = new SliceMemory(2 * pan.sliceSize);
    let maxUsed = 0;
    pan.onCall = async (method) => {
      if (method !== 'uploadSlice') return;
      maxUsed = Math.max(maxUsed, memory.stats().usedBytes);
      await new Promise((r) => setImmediate(r)); // the other workers get to ask for memory meanwhile
    };
    const clock = new FakeClock('auto');
    const files = [ramp(10 * pan.sliceSize + 77, 1), ramp(7 * pan.sliceSize + 5, 2)];
    const source = (data: Buffer): SliceSource => ({
      read: async (off, len, into) => {
        const dest = into ? into.subarray(0, len) : Buffer.allocUnsafe(len);
        data.copy(dest, 0, off, off + len);
        return dest;
      },
    });
    const results = await Promise.all(
      files.map((data, i) =>
        uploadFile(pan, {
          parentId: '0',
          name: `f${i}.bin`,
          source: source(data),
          size: data.length,
          md5: md5hex(data),
          sliceConcurrency: 3,
          sliceMemory: memory,
          logger: silentLogger,
          clock,
          singleMaxBytes: 0,
        }),
      ),
    );
    for (const [i, r] of results.entries()) {
      expect(r.instant).toBe(false);
      expect(pan.files.get(r.fileId)!.data.equals(files[i]!)).toBe(true);
    }
    expect(maxUsed).toBe(2 * pan.sliceSize); // 6 workers asked; the budget let 2 slices in at a time
    expect(memory.stats().peakBytes).toBe(2 * pan.sliceSize);
    expect(memory.stats().usedBytes).toBe(0);
  });
});
