// A demand read that lands inside an uncached block fetches from its own 4 KiB page, not from the block's
// start (issue 13: ffprobe's read of an MP4's moov near the end of the file's last block waited for the
// ~220 KiB before it). That block is "headless": never cached, joined only by reads that need none of its
// missing head; a read of the head fetches the block whole.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileReader, type ReadHandle } from '../../../src/data/file-reader.js';
import { FakeClock } from '../../support/clock.js';
import { FakeSource, KiB, MiB, rampAt, refOf, seedOf } from './fake-source.js';
import { PacedSource } from './paced-source.js';

const BS = 256 * KiB; // the default block size
const readers: FileReader[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(readers.splice(0).map((r) => r.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** The slow WAN profile on fake time: 80 ms first byte, 4 MB/s per connection, 16 MB/s link. */
function slow(opts: ConstructorParameters<typeof FileReader>[1] = {}) {
  const clock = new FakeClock('manual');
  const src = new PacedSource(clock, 80, 4_000, 16_000);
  const r = new FileReader(src, { clock, ...opts });
  readers.push(r);
  return { clock, src, r };
}

const right = (b: Buffer, pos: number) => b.equals(rampAt(pos, b.length, seedOf('aaaa')));

/** Starts h.read(pos, len); `got.b` is set when it resolves. */
function reading(h: ReadHandle, pos: number, len: number) {
  const got: { b?: Buffer; error?: unknown } = {};
  h.read(pos, len).then(
    (b) => (got.b = b),
    (e) => (got.error = e),
  );
  return got;
}

describe('headless blocks: a demand fetch starts at the read page', () => {
  it("a jump's fetch starts at the read's page and answers after the read's own bytes", async () => {
    const { src, r } = slow();
    const size = 512 * MiB;
    const h = r.open(refOf(size));
    // a stream first, then a jump far away to the end of a block
    for (let off = 0; off < 2 * MiB; off += 128 * KiB) {
      const got = reading(h, off, 128 * KiB);
      await src.run(() => got.b !== undefined);
    }
    const block = 300 * MiB + 3 * BS;
    const pos = block + 200 * KiB + 100; // inside its page at block + 200 KiB
    const n0 = src.calls.length;
    const got = reading(h, pos, 6 * KiB);
    const ms = await src.run(() => got.b !== undefined);
    expect(right(got.b!, pos)).toBe(true);
    const mine = src.calls.slice(n0);
    expect(mine[0]!.start).toBe(block + 200 * KiB);
    expect(mine[0]!.length).toBe(BS - 200 * KiB);
    // the latency + the read's ~6 KiB at 4 MB/s; from the block start it was + 206 KiB (~53 ms)
    expect(ms).toBeLessThanOrEqual(80 + (8 * KiB) / 4_000 + 4);
  });

  it('the headless block is never cached; the other blocks of its range are', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pan123fs-headless-'));
    dirs.push(dir);
    const src = new FakeSource();
    const r = new FileReader(src, { diskCacheDir: dir, diskCacheBytes: 64 * MiB });
    readers.push(r);
    const h = r.open(refOf(64 * MiB));
    const pos = 10 * BS + 100 * KiB;
    const b = await h.read(pos, 300 * KiB); // blocks 10 (headless) and 11
    expect(right(b, pos)).toBe(true);
    expect(src.calls.map((c) => [c.start, c.length])).toEqual([[pos, 2 * BS - 100 * KiB]]);
    expect(r.stats().memCacheBlocks).toBe(1);
    expect(r.stats().bytesFetched).toBe(2 * BS - 100 * KiB);
    await r.open(refOf(64 * MiB)).read(11 * BS + 5, 10); // block 11: a memory hit
    expect(src.calls.length).toBe(1);
    await r.close();
    const onDisk = (await readdir(dir)).filter((n) => n.endsWith('.blk')).map((n) => Number(n.split('_')[2]));
    expect(onDisk).toEqual([11]);
  });

  it("a later read of the block's earlier bytes fetches the block whole, then it is cached", async () => {
    const src = new FakeSource();
    const r = new FileReader(src);
    readers.push(r);
    // a handle per read: each one's first read is random (no read-ahead)
    const h = () => r.open(refOf(64 * MiB));
    const block = 40 * BS;
    expect(right(await h().read(block + 128 * KiB, 4 * KiB), block + 128 * KiB)).toBe(true);
    expect(src.calls[0]!.start).toBe(block + 128 * KiB);
    expect(r.stats().memCacheBlocks).toBe(0);
    // the head: not in the fetched range, so fetched (whole: the block was fetched headless once)
    const head = await h().read(block + 10 * KiB, 8 * KiB);
    expect(right(head, block + 10 * KiB)).toBe(true);
    expect(src.calls.map((c) => c.start)).toEqual([block + 128 * KiB, block]);
    expect(r.stats().memCacheBlocks).toBe(1);
    // from now on every byte of the block is a hit
    for (const pos of [block, block + 64 * KiB, block + 200 * KiB, block + BS - 4]) {
      expect(right(await h().read(pos, 4), pos)).toBe(true);
    }
    expect(src.calls.length).toBe(2);
  });

  it('concurrent readers: one after the page joins the fetch, one before it fetches its own', async () => {
    const { src, r } = slow();
    const size = 64 * MiB;
    const block = 20 * BS;
    const a = reading(r.open(refOf(size)), block + 160 * KiB + 7, 4 * KiB);
    await src.run(() => src.calls.length === 1);
    const later = reading(r.open(refOf(size)), block + 200 * KiB, 16 * KiB);
    const before = reading(r.open(refOf(size)), block + 100 * KiB, 4 * KiB);
    const head = reading(r.open(refOf(size)), block, 100);
    await src.run(() => [a, later, before, head].every((g) => g.b !== undefined));
    expect(right(a.b!, block + 160 * KiB + 7)).toBe(true);
    expect(right(later.b!, block + 200 * KiB)).toBe(true);
    expect(right(before.b!, block + 100 * KiB)).toBe(true);
    expect(right(head.b!, block)).toBe(true);
    // a's headless range, joined by `later`; one whole-block fetch for `before`, joined by `head`
    expect(src.calls.map((c) => [c.start, c.length])).toEqual([
      [block + 160 * KiB, BS - 160 * KiB],
      [block, BS],
    ]);
  });

  it('sequential reads after the jump continue in the headless block; read-ahead does not refetch it', async () => {
    const { src, r } = slow();
    const size = 512 * MiB;
    const h = r.open(refOf(size));
    const block = 100 * BS;
    const from = block + 96 * KiB;
    // 32 KiB reads (ffmpeg's): the window's first read-ahead starts in the headless block
    for (let off = from; off < from + 4 * MiB; off += 32 * KiB) {
      const got = reading(h, off, 32 * KiB);
      await src.run(() => got.b !== undefined || got.error !== undefined);
      expect(got.error).toBeUndefined();
      expect(right(got.b!, off)).toBe(true);
    }
    expect(src.calls[0]!.start).toBe(from);
    // every byte from the page on at most once: nothing of the headless block fetched again
    const starts = src.calls.filter((c) => !c.aborted).map((c) => c.start);
    expect(starts.filter((s) => s < block + BS)).toEqual([from]);
    expect(Math.min(...src.calls.slice(1).map((c) => c.start))).toBeGreaterThanOrEqual(block + BS);
  });

  it('a failed headless fetch caches nothing and the next read retries', async () => {
    const src = new FakeSource();
    const r = new FileReader(src);
    readers.push(r);
    src.failNext = 1;
    const pos = 3 * BS + 50 * KiB;
    await expect(r.open(refOf(8 * MiB)).read(pos, 4 * KiB)).rejects.toMatchObject({ code: 'EINJECTED' });
    expect(r.stats().memCacheBlocks).toBe(0);
    expect(right(await r.open(refOf(8 * MiB)).read(pos, 4 * KiB), pos)).toBe(true);
    // the retry fetched whole: that block was tried headless once already
    expect(src.calls.map((c) => [c.start, c.failed])).toEqual([
      [3 * BS + 48 * KiB, true],
      [3 * BS, false],
    ]);
    expect(r.stats()).toMatchObject({ fetchErrors: 1, inflightFetches: 0, inflightBytes: 0 });
  });

  it('closing the handle aborts its headless fetch and releases its in-flight bytes', async () => {
    const { src, r } = slow();
    const h = r.open(refOf(8 * MiB));
    const got = reading(h, 5 * BS + 128 * KiB, 4 * KiB);
    await src.run(() => src.calls.length === 1);
    expect(r.stats().inflightBytes).toBeGreaterThan(0);
    h.close();
    await src.run(() => got.error !== undefined);
    expect(src.calls[0]!.aborted).toBe(true);
    expect(r.stats()).toMatchObject({ inflightFetches: 0, inflightBytes: 0, memCacheBlocks: 0 });
  });
});
