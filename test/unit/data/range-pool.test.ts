// Range buffers are pooled (src/data/range-pool.ts): blocks are cached as views of the buffer a range
// was received into, reads copy out of it, and a buffer is reused only when nobody can still read it.
import { describe, expect, it } from 'vitest';
import { FileReader } from '../../../src/data/file-reader.js';
import { RangePool } from '../../../src/data/range-pool.js';
import type { FileRef, RangeSource } from '../../../src/data/range-source.js';
import { FakeClock } from '../../support/clock.js';

const MiB = 1 << 20;
const byteAt = (id: string, off: number) => (off * 7 + id.charCodeAt(0) * 13 + (off >> 12)) & 0xff;
function expected(id: string, start: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = byteAt(id, start + i);
  return b;
}

interface Call {
  ref: FileRef;
  start: number;
  length: number;
  into?: Buffer;
  resolve(): void;
}

/** A source whose answers the test releases one by one; it fills `into` like pan's RangeFetcher. */
class ControlledSource implements RangeSource {
  readonly calls: Call[] = [];
  readonly intos = new Set<ArrayBufferLike>();
  auto = false;
  read(ref: FileRef, start: number, length: number, _signal?: AbortSignal, into?: Buffer): Promise<Buffer> {
    if (into) this.intos.add(into.buffer);
    return new Promise<Buffer>((resolve) => {
      const call: Call = {
        ref,
        start,
        length,
        into,
        resolve: () => {
          const out = into ? into.subarray(0, length) : Buffer.allocUnsafe(length);
          for (let i = 0; i < length; i++) out[i] = byteAt(ref.id, start + i);
          resolve(out);
        },
      };
      this.calls.push(call);
      if (this.auto) setImmediate(call.resolve);
    });
  }
  /** resolves the pending call for [start, …) of file id */
  answer(id: string, start: number): void {
    const i = this.calls.findIndex((c) => c.ref.id === id && c.start === start);
    if (i < 0) throw new Error(`no pending call for ${id}@${start}`);
    this.calls.splice(i, 1)[0]!.resolve();
  }
}

const tick = () => new Promise((r) => setImmediate(r));

describe('RangePool', () => {
  it('counts holders and recycles at zero; unknown buffers are ignored', () => {
    const p = new RangePool(1024, { maxFree: 1, keepIdle: 1 });
    const a = p.take();
    p.retain(a);
    p.release(a);
    expect(p.holders(a)).toBe(1);
    p.release(a);
    expect(p.holders(a)).toBe(0);
    const b = p.take();
    expect(b.buffer).toBe(a.buffer); // reused
    p.retain(Buffer.alloc(10));
    p.release(Buffer.alloc(10));
    expect(p.stats()).toMatchObject({ taken: 2, reused: 1 });
  });

  it('keeps a burst of releases for reuse, and trims to keepIdle once nothing was taken for idleMs', async () => {
    const clock = new FakeClock('manual');
    const p = new RangePool(1024, { maxFree: 4, keepIdle: 1, idleMs: 1000, clock });
    const held = Array.from({ length: 6 }, () => p.take());
    for (const b of held) p.release(b); // a burst: 4 kept (maxFree), 2 left to the GC
    expect(p.stats().free).toBe(4);
    const again = Array.from({ length: 4 }, () => p.take());
    expect(p.stats()).toMatchObject({ taken: 10, reused: 4, free: 0 });
    for (const b of again) p.release(b);
    await clock.advance(600);
    p.release(p.take()); // busy: a take 600 ms in postpones the trim
    await clock.advance(600);
    expect(p.stats().free).toBe(4);
    await clock.advance(500);
    expect(p.stats().free).toBe(1);
    expect(clock.pendingTimers).toEqual([]);
    p.release(p.take());
    p.close();
    expect(p.stats().free).toBe(0);
  });

  it('idles more than keepIdle only while held + idle buffers stay under maxTotal', () => {
    const p = new RangePool(1024, { maxFree: 8, keepIdle: 2, maxTotal: 6 });
    const held = Array.from({ length: 10 }, () => p.take());
    for (const b of held.slice(0, 5)) p.release(b); // 5 still held: only keepIdle are kept
    expect(p.stats().free).toBe(2);
    for (const b of held.slice(5, 8)) p.release(b); // 2 held + 2 idle < 6: kept up to 4 (2 held + 4 = 6)
    expect(p.stats().free).toBe(4);
    for (const b of held.slice(8)) p.release(b); // nothing held: up to maxTotal
    expect(p.stats().free).toBe(6);
    p.close();
  });
});

describe('FileReader with pooled range buffers', () => {
  it('receives ranges into pooled buffers, reuses them while streaming, and every byte is right', async () => {
    const src = new ControlledSource();
    src.auto = true;
    const r = new FileReader(src, { memCacheBytes: 16 * MiB, maxRequestBytes: 2 * MiB, maxReadAheadBytes: 4 * MiB });
    const size = 40 * MiB + 123;
    const h = r.open({ id: 'f', md5: 'm', size });
    const into = Buffer.alloc(128 * 1024);
    for (let off = 0; off < size; off += into.length) {
      const n = await h.readInto(off, into.length, into);
      expect(n).toBe(Math.min(into.length, size - off));
      expect(into.subarray(0, n).equals(expected('f', off, n))).toBe(true);
    }
    expect(src.intos.size).toBeLessThan(20); // 20 ranges of 2 MiB, served from fewer buffers
    expect((await h.read(5, 10)).equals(expected('f', 5, 10))).toBe(true); // read() returns its own copy
    await r.close();
  });

  it('never reuses a buffer a pending read still needs, even after the cache evicted it', async () => {
    const src = new ControlledSource();
    // 1 MiB ranges; the memory cache holds 2 of them; read-ahead kept at one block
    const r = new FileReader(src, {
      blockSize: MiB,
      memCacheBytes: 2 * MiB,
      maxRequestBytes: MiB,
      maxReadAheadBytes: MiB,
      initialReadAheadBytes: MiB,
    });
    const x = r.open({ id: 'x', md5: 'm', size: 4 * MiB });
    const into = Buffer.alloc(20);
    const spanning = x.readInto(MiB - 10, 20, into); // blocks 0 and 1: two requests
    await tick();
    // block 0 arrives (fetched from the read's page: headless, held by the read alone); block 1 is pending
    src.answer('x', MiB - 4096);
    await tick();
    await tick();
    // another file streams through: the cache evicts x's block 0, and new ranges take pooled buffers
    src.auto = true;
    const y = r.open({ id: 'y', md5: 'm', size: 8 * MiB });
    const buf = Buffer.alloc(MiB);
    for (let off = 0; off < 8 * MiB; off += MiB) await y.readInto(off, MiB, buf);
    // now block 1 of x arrives: the answer must still be x's bytes, not y's
    for (const c of src.calls.filter((c) => c.ref.id === 'x')) src.answer('x', c.start);
    expect(await spanning).toBe(20);
    expect(into.equals(expected('x', MiB - 10, 20))).toBe(true);
    await r.close();
  });

  it('readViews: views of the blocks stay right until released, then their buffers are reused', async () => {
    const src = new ControlledSource();
    src.auto = true;
    const r = new FileReader(src, {
      blockSize: MiB,
      memCacheBytes: 2 * MiB,
      maxRequestBytes: MiB,
      maxReadAheadBytes: MiB,
      initialReadAheadBytes: MiB,
    });
    const x = r.open({ id: 'x', md5: 'm', size: 4 * MiB });
    const v = await x.readViews(MiB - 10, 20); // spans blocks 0 and 1
    expect(v.bytes).toBe(20);
    expect(v.views.length).toBe(2);
    const backings = new Set(v.views.map((b) => b.buffer));
    // another file streams through: the cache evicts x's blocks, and new ranges take pooled buffers
    const y = r.open({ id: 'y', md5: 'm', size: 8 * MiB });
    const buf = Buffer.alloc(MiB);
    for (let off = 0; off < 8 * MiB; off += MiB) await y.readInto(off, MiB, buf);
    for (const b of v.views) expect(src.intos.has(b.buffer)).toBe(true); // pooled, not copies
    expect(Buffer.concat(v.views).equals(expected('x', MiB - 10, 20))).toBe(true); // not reused meanwhile
    v.release();
    v.release(); // idempotent
    const reused = new Set<ArrayBufferLike>();
    const before = new Set(src.intos);
    src.intos.clear();
    for (let off = 0; off < 8 * MiB; off += MiB) await y.readInto(off, MiB, buf);
    for (const b of src.intos) if (backings.has(b)) reused.add(b);
    expect(before.size).toBeGreaterThan(0);
    expect(reused.size).toBeGreaterThan(0); // released: the pool hands them out again
    expect(await x.readViews(4 * MiB, 10)).toMatchObject({ bytes: 0, views: [] }); // EOF
    await r.close();
  });
});
