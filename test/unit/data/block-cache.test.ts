import { describe, expect, it } from 'vitest';
import { BlockCache } from '../../../src/data/block-cache.js';

const KiB = 1024;
const owned = (n: number, fill = 1) => Buffer.alloc(n, fill);

describe('BlockCache', () => {
  it('charges views of one backing once, and frees it with its last view', () => {
    const c = new BlockCache(64 * KiB);
    const range = owned(16 * KiB);
    for (let i = 0; i < 4; i++) c.set(`f:m:${i}`, range.subarray(i * 4 * KiB, (i + 1) * 4 * KiB));
    expect(c.stats()).toMatchObject({ bytes: 16 * KiB, blocks: 4 });
    for (let i = 0; i < 3; i++) c.delete(`f:m:${i}`);
    expect(c.stats()).toMatchObject({ bytes: 16 * KiB, blocks: 1 });
    c.delete('f:m:3');
    expect(c.stats()).toMatchObject({ bytes: 0, blocks: 0 });
  });

  it('evicts least recently used blocks until the pinned bytes fit', () => {
    const c = new BlockCache(32 * KiB);
    c.set('a', owned(16 * KiB));
    c.set('b', owned(16 * KiB));
    expect(c.get('a')).toBeDefined(); // a first hit leaves a where it is
    expect(c.get('a')).toBeDefined(); // a second one makes a more recent than b
    c.set('c', owned(16 * KiB));
    expect(c.has('a')).toBe(true);
    expect(c.has('b')).toBe(false);
    expect(c.stats().bytes).toBeLessThanOrEqual(32 * KiB);
  });

  it('a block read once by a stream goes before its unread read-ahead (first hits do not promote)', () => {
    const c = new BlockCache(64 * KiB);
    for (const k of ['r0', 'r1', 'r2', 'r3']) c.set(k, owned(16 * KiB)); // read-ahead arrived in file order
    expect(c.get('r0')).toBeDefined(); // the reader consumes r0 and r1
    expect(c.get('r1')).toBeDefined();
    c.set('r4', owned(16 * KiB)); // more read-ahead: the read blocks make room, the unread ones stay
    c.set('r5', owned(16 * KiB));
    expect(['r0', 'r1', 'r2', 'r3', 'r4', 'r5'].filter((k) => c.has(k))).toEqual(['r2', 'r3', 'r4', 'r5']);
  });

  it('copies a block whose backing is large relative to the cap instead of pinning it', () => {
    const c = new BlockCache(32 * KiB);
    const range = owned(16 * KiB);
    c.set('a', range.subarray(0, 4 * KiB));
    const got = c.get('a')!;
    expect(got.buffer).not.toBe(range.buffer);
    expect(got.buffer.byteLength).toBe(4 * KiB);
    expect(c.stats().bytes).toBe(4 * KiB);
  });

  it('compacts a hit block whose backing the cache mostly no longer uses', () => {
    const c = new BlockCache(1024 * KiB);
    const range = owned(64 * KiB, 7);
    for (let i = 0; i < 8; i++) c.set(`k${i}`, range.subarray(i * 8 * KiB, (i + 1) * 8 * KiB));
    for (let i = 1; i < 8; i++) c.delete(`k${i}`);
    expect(c.stats().bytes).toBe(64 * KiB);
    const got = c.get('k0')!;
    expect(got.equals(range.subarray(0, 8 * KiB))).toBe(true);
    expect(got.buffer).not.toBe(range.buffer);
    expect(c.stats()).toMatchObject({ bytes: 8 * KiB, blocks: 1 });
  });

  it('stays within the cap when a compacting hit adds a copy while siblings still pin the backing', () => {
    const c = new BlockCache(64 * KiB);
    const range = owned(16 * KiB);
    c.set('a0', range.subarray(0, KiB));
    c.set('a1', range.subarray(KiB, 2 * KiB));
    c.set('b', owned(16 * KiB));
    c.set('c', owned(16 * KiB));
    c.set('d', owned(15 * KiB + 512));
    expect(c.stats().bytes).toBe(63 * KiB + 512);
    expect(c.get('a0')!.buffer).not.toBe(range.buffer);
    expect(c.stats().bytes).toBeLessThanOrEqual(64 * KiB);
    expect(c.has('a1')).toBe(false);
    expect(c.has('a0')).toBe(true);
  });

  it('stores nothing with a zero cap, and dropFile/clear release everything', () => {
    const z = new BlockCache(0);
    z.set('a', owned(4 * KiB));
    expect(z.get('a')).toBeUndefined();
    const c = new BlockCache(64 * KiB);
    const range = owned(8 * KiB);
    c.set('1:m:0', range.subarray(0, 4 * KiB));
    c.set('1:m:1', range.subarray(4 * KiB));
    c.set('2:m:0', owned(4 * KiB));
    expect(c.dropFile('1')).toBe(2);
    expect(c.stats()).toMatchObject({ bytes: 4 * KiB, blocks: 1 });
    c.clear();
    expect(c.stats()).toMatchObject({ bytes: 0, blocks: 0 });
  });
});
