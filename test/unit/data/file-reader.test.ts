import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileReader, STREAM_HEAD_BYTES, type ReadHandle } from '../../../src/data/file-reader.js';
import { DEFAULT_MAX_CONCURRENT_FETCHES, DEFAULT_MAX_REQUEST_BYTES } from '../../../src/data/prefetcher.js';
import { FakeClock } from '../../support/clock.js';
import { FakeSource, KiB, MiB, rampAt, refOf, seedOf } from './fake-source.js';

const readers: FileReader[] = [];
const dirs: string[] = [];
/** These tests were written for 1 MiB blocks (the default until the WAN read path made it 256 KiB); they
 * keep it unless a test passes its own. */
function mk(src: FakeSource, opts: ConstructorParameters<typeof FileReader>[1] = {}): FileReader {
  const r = new FileReader(src, { blockSize: MiB, ...opts });
  readers.push(r);
  return r;
}
afterEach(async () => {
  await Promise.all(readers.splice(0).map((r) => r.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pan123fs-data-'));
  dirs.push(d);
  return d;
}

/** Reads the whole file sequentially in `chunk`-byte reads and checks every byte. */
async function readAll(h: ReadHandle, size: number, chunk = 128 * KiB, seed = seedOf('aaaa'), check?: () => void) {
  for (let pos = 0; pos < size; pos += chunk) {
    const b = await h.read(pos, chunk);
    expect(b.length).toBe(Math.min(chunk, size - pos));
    expect(b.equals(rampAt(pos, b.length, seed))).toBe(true);
    check?.();
  }
  expect((await h.read(size, chunk)).length).toBe(0);
}

describe('FileReader: bytes', () => {
  it('serves exact bytes at every alignment, across blocks, to the partial last block', async () => {
    const bs = 16 * KiB;
    const size = 5 * bs + 1234;
    const src = new FakeSource();
    const r = mk(src, { blockSize: bs });
    const h = r.open(refOf(size));
    const seed = seedOf('aaaa');
    const offsets = [
      0,
      1,
      4095,
      4096,
      bs - 1,
      bs,
      bs + 1,
      2 * bs - 7,
      3 * bs,
      size - bs - 1,
      size - 1234,
      size - 2,
      size - 1,
    ];
    const lengths = [1, 2, 4096, bs - 1, bs, bs + 1, 2 * bs + 3, 128 * KiB, 10 * bs];
    for (const pos of offsets) {
      for (const len of lengths) {
        const b = await h.read(pos, len);
        const n = Math.min(len, size - pos);
        expect(b.length, `read(${pos}, ${len})`).toBe(n);
        expect(b.equals(rampAt(pos, n, seed)), `read(${pos}, ${len})`).toBe(true);
      }
    }
    expect(src.bytesFetched).toBe(size);
  });

  it('handles 0-byte and 1-byte files and reads at/after EOF without I/O', async () => {
    const src = new FakeSource();
    const r = mk(src);
    const empty = r.open(refOf(0, 'e', '1'));
    expect((await empty.read(0, 4096)).length).toBe(0);
    expect((await empty.read(10, 4096)).length).toBe(0);
    expect(src.calls).toHaveLength(0);
    const one = r.open(refOf(1, 'o', '2'));
    const b = await one.read(0, 4096);
    expect(b.length).toBe(1);
    expect(b[0]).toBe(rampAt(0, 1, seedOf('o'))[0]);
    expect((await one.read(1, 4096)).length).toBe(0);
    expect((await one.read(1e12, 1)).length).toBe(0);
    expect((await one.read(0, 0)).length).toBe(0);
    expect(src.calls).toEqual([expect.objectContaining({ start: 0, length: 1 })]);
    await expect(one.read(-1, 1)).rejects.toMatchObject({ kind: 'EINVAL' });
  });

  it('a changed md5 never serves old bytes (memory and disk)', async () => {
    const dir = await tmp();
    const src = new FakeSource();
    const r = mk(src, { diskCacheDir: dir, diskCacheBytes: 64 * MiB });
    const size = 3 * MiB + 5;
    await readAll(r.open(refOf(size, 'v1')), size, 128 * KiB, seedOf('v1'));
    await readAll(r.open(refOf(size, 'v2')), size, 128 * KiB, seedOf('v2'));
    await readAll(r.open(refOf(size, 'v1')), size, 128 * KiB, seedOf('v1'));
    expect(src.bytesFetched).toBe(2 * size);
  });

  it('dropFile forgets cached blocks so the next read refetches', async () => {
    const src = new FakeSource();
    const r = mk(src);
    const ref = refOf(2 * MiB);
    await readAll(r.open(ref), ref.size);
    r.dropFile(ref.id);
    expect(r.stats().memCacheBytes).toBe(0);
    await readAll(r.open(ref), ref.size);
    expect(src.bytesFetched).toBe(2 * ref.size);
  });
});

describe('FileReader: access patterns', () => {
  it('sequential reads grow the request size up to the cap and fetch each byte once', async () => {
    const src = new FakeSource();
    const r = mk(src); // 1 MiB blocks; defaults: 1 MiB → 32 MiB window, 4 MiB requests
    const size = 96 * MiB;
    await readAll(r.open(refOf(size)), size);
    const lens = src.calls.map((c) => c.length / MiB);
    const cap = DEFAULT_MAX_REQUEST_BYTES / MiB;
    expect(lens[0]).toBe(1); // first read: random until proven sequential
    expect(Math.max(...lens)).toBe(cap);
    const firstMax = lens.indexOf(cap);
    for (let k = 1; k < firstMax; k++) expect(lens[k]!).toBeGreaterThanOrEqual(lens[k - 1]!);
    expect(firstMax).toBeLessThan(8);
    expect(src.bytesFetched).toBe(size);
    const sorted = [...src.calls].sort((a, b) => a.start - b.start);
    sorted.forEach((c, k) => {
      if (k > 0) expect(c.start).toBe(sorted[k - 1]!.start + sorted[k - 1]!.length);
    });
    const st = r.stats();
    expect(st.bytesServed).toBe(size);
    expect(st.fetchRequests).toBe(src.calls.length);
  });

  it('keeps several requests in flight for one sequential stream', async () => {
    const src = new FakeSource();
    src.latencyMs = 5;
    const r = mk(src);
    const size = 64 * MiB;
    await readAll(r.open(refOf(size)), size);
    expect(src.maxInflight).toBeGreaterThanOrEqual(3);
    expect(src.maxInflight).toBeLessThanOrEqual(DEFAULT_MAX_CONCURRENT_FETCHES + 1); // read-ahead + 1 demand
  });

  it('random reads fetch only the blocks they touch', async () => {
    const src = new FakeSource();
    const r = mk(src);
    const size = 4 * 1024 * MiB;
    const h = r.open(refOf(size));
    let x = 12345;
    const rnd = () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x / 2 ** 32;
    };
    const n = 200;
    for (let k = 0; k < n; k++) {
      const pos = Math.floor(rnd() * (size - 64 * KiB));
      const len = 1 + Math.floor(rnd() * 64 * KiB);
      const b = await h.read(pos, len);
      expect(b.equals(rampAt(pos, len, seedOf('aaaa')))).toBe(true);
    }
    expect(src.bytesFetched).toBeLessThanOrEqual(n * 2 * MiB);
    expect(Math.max(...src.calls.map((c) => c.length))).toBeLessThanOrEqual(2 * MiB);
  });

  it('a zip-style head/tail/central-directory pattern stays small', async () => {
    const src = new FakeSource();
    const r = mk(src);
    const size = 700 * MiB;
    const h = r.open(refOf(size));
    await h.read(0, 4 * KiB);
    await h.read(size - 22, 22);
    await h.read(size - 300 * KiB, 64 * KiB);
    await h.read(size - 236 * KiB, 128 * KiB);
    await h.read(size - 108 * KiB, 108 * KiB);
    expect(src.bytesFetched).toBeLessThanOrEqual(4 * MiB);
  });

  it('8 concurrent readers of one file share fetches', async () => {
    const src = new FakeSource();
    src.latencyMs = 2;
    const r = mk(src);
    const size = 48 * MiB + 77;
    await Promise.all(Array.from({ length: 8 }, () => readAll(r.open(refOf(size)), size)));
    expect(src.bytesFetched).toBe(size);
    expect(r.stats().bytesServed).toBe(8 * size);
  });

  it('the memory cache never exceeds its cap and in-flight bytes stay bounded', async () => {
    const src = new FakeSource();
    src.latencyMs = 1;
    const cap = 6 * MiB;
    const r = mk(src, { memCacheBytes: cap });
    const size = 40 * MiB;
    let maxMem = 0;
    let maxInflight = 0;
    await readAll(r.open(refOf(size)), size, 128 * KiB, seedOf('aaaa'), () => {
      const st = r.stats();
      maxMem = Math.max(maxMem, st.memCacheBytes);
      maxInflight = Math.max(maxInflight, st.inflightBytes);
    });
    expect(maxMem).toBeLessThanOrEqual(cap);
    expect(maxInflight).toBeLessThanOrEqual(cap / 2 + 2 * MiB);
    expect(src.bytesFetched).toBe(size); // the window (cap/2) never evicts its own unread blocks
  });
});

describe('FileReader: failures and cancellation', () => {
  it('a failing source rejects the read, caches nothing, and a later read succeeds', async () => {
    const src = new FakeSource();
    src.latencyMs = 5;
    const r = mk(src);
    const ref = refOf(3 * MiB);
    const h1 = r.open(ref);
    const h2 = r.open(ref);
    src.failNext = 1;
    const [a, b] = await Promise.allSettled([h1.read(0, 4096), h2.read(100, 4096)]);
    expect(a).toMatchObject({ status: 'rejected', reason: { code: 'EINJECTED' } });
    expect(b).toMatchObject({ status: 'rejected', reason: { code: 'EINJECTED' } });
    expect(r.stats()).toMatchObject({ memCacheBytes: 0, inflightFetches: 0, fetchErrors: 1 });
    const ok = await h1.read(0, 4096);
    expect(ok.equals(rampAt(0, 4096, seedOf('aaaa')))).toBe(true);
  });

  it('a failed read-ahead does not break the stream', async () => {
    const src = new FakeSource();
    const r = mk(src);
    const size = 32 * MiB;
    const h = r.open(refOf(size));
    let failed = 0;
    for (let pos = 0; pos < size; pos += 128 * KiB) {
      if (pos === 3 * MiB) src.failNext = 2;
      try {
        const b = await h.read(pos, 128 * KiB);
        expect(b.equals(rampAt(pos, b.length, seedOf('aaaa')))).toBe(true);
      } catch {
        failed++;
        pos -= 128 * KiB;
      }
      if (failed > 4) throw new Error('stuck');
    }
    expect(r.stats().bytesServed).toBe(size);
  });

  it('closing a handle aborts its prefetches, but not fetches another handle waits for', async () => {
    const src = new FakeSource();
    src.latencyMs = 300;
    const r = mk(src);
    const size = 64 * MiB;
    const h = r.open(refOf(size));
    for (let pos = 0; src.calls.filter((c) => !c.settled).length < 2; pos += 128 * KiB) await h.read(pos, 128 * KiB);
    const pending = src.calls.filter((c) => !c.settled);
    const other = r.open(refOf(size));
    const waiting = other.read(pending[0]!.start, 4096);
    h.close();
    await expect(h.read(0, 1)).rejects.toMatchObject({ kind: 'EBADF' });
    expect((await waiting).equals(rampAt(pending[0]!.start, 4096, seedOf('aaaa')))).toBe(true);
    expect(pending[0]!.aborted).toBe(false);
    expect(pending.slice(1).every((c) => c.aborted)).toBe(true);
    expect(r.stats().fetchesAborted).toBe(pending.length - 1);
  });

  it('an aborted read rejects promptly while the fetch completes for the cache', async () => {
    const src = new FakeSource();
    src.latencyMs = 100;
    const r = mk(src);
    const h = r.open(refOf(2 * MiB));
    const ac = new AbortController();
    const p = h.read(0, 4096, ac.signal);
    ac.abort(new Error('interrupted'));
    await expect(p).rejects.toThrow('interrupted');
    const b = await h.read(0, 4096);
    expect(b.equals(rampAt(0, 4096, seedOf('aaaa')))).toBe(true);
    expect(src.calls).toHaveLength(1);
  });
});

describe('FileReader: disk cache', () => {
  it('survives a new FileReader on the same directory', async () => {
    const dir = await tmp();
    const size = 5 * MiB + 3;
    const src1 = new FakeSource();
    const r1 = mk(src1, { diskCacheDir: dir, diskCacheBytes: 64 * MiB });
    await readAll(r1.open(refOf(size)), size);
    await r1.close();
    expect((await readdir(dir)).filter((n) => n.endsWith('.blk'))).toHaveLength(6);
    const src2 = new FakeSource();
    const r2 = mk(src2, { diskCacheDir: dir, diskCacheBytes: 64 * MiB });
    await readAll(r2.open(refOf(size)), size);
    expect(src2.calls).toHaveLength(0);
    expect(r2.stats()).toMatchObject({ diskHits: 6, diskCacheFiles: 6, diskCacheBytes: size });
  });

  it(
    'keeps a sequential stream on disk only for its first STREAM_HEAD_BYTES, ' + 'blocks read on demand always',
    async () => {
      const dir = await tmp();
      const size = STREAM_HEAD_BYTES + 24 * MiB;
      const r = mk(new FakeSource(), { diskCacheDir: dir, diskCacheBytes: 256 * MiB });
      // a seek first: a demand read (first, so the stream's queued head writes cannot crowd it out of the
      // disk cache's best-effort 32 MiB write queue)
      const far = r.open(refOf(size, 'far', '9'));
      const at = STREAM_HEAD_BYTES + 8 * MiB;
      const b = await far.read(at, 4096);
      expect(b.equals(rampAt(at, 4096, seedOf('far')))).toBe(true);
      await readAll(r.open(refOf(size)), size); // front to back: read-ahead does most of the fetching
      await r.close();
      const blocks = (await readdir(dir)).filter((n) => n.endsWith('.blk'));
      const ofMain = blocks.filter((n) => n.startsWith('42_')).map((n) => Number(n.split('_')[2]));
      expect(Math.min(...ofMain)).toBe(0);
      expect(Math.max(...ofMain)).toBeLessThan((STREAM_HEAD_BYTES + 8 * MiB) / MiB); // the tail was not written
      expect(ofMain.length).toBeLessThan(size / MiB);
      expect(blocks.filter((n) => n.startsWith('9_')).map((n) => Number(n.split('_')[2]))).toContain(at / MiB);
    },
  );

  it('cacheStreams keeps read-ahead past the head on disk too', async () => {
    const dir = await tmp();
    const size = STREAM_HEAD_BYTES + 8 * MiB;
    const r = mk(new FakeSource(), { diskCacheDir: dir, diskCacheBytes: 256 * MiB, cacheStreams: true });
    const h = r.open(refOf(size));
    for (let off = STREAM_HEAD_BYTES; off < size; off += 128 * KiB) {
      expect((await h.read(off, 128 * KiB)).equals(rampAt(off, 128 * KiB, seedOf('aaaa')))).toBe(true);
    }
    await r.close();
    const idx = (await readdir(dir)).filter((n) => n.endsWith('.blk')).map((n) => Number(n.split('_')[2]));
    expect(idx.sort((a, b) => a - b)).toEqual(Array.from({ length: 8 }, (_, i) => STREAM_HEAD_BYTES / MiB + i));
  });

  it('maxBytes 0 disables it', async () => {
    const dir = await tmp();
    const r = mk(new FakeSource(), { diskCacheDir: dir, diskCacheBytes: 0 });
    await readAll(r.open(refOf(2 * MiB)), 2 * MiB);
    await r.close();
    expect(await readdir(dir)).toHaveLength(0);
  });
});

describe('FileReader: streams (status)', () => {
  it('lists each open handle with its name, position, bytes served and rate; served bytes are counted', async () => {
    const clock = new FakeClock('manual');
    let servedAll = 0;
    const r = mk(new FakeSource(), { clock, served: { add: (n) => (servedAll += n) } });
    const a = r.open(refOf(8 * MiB), '/films/a.mkv');
    const b = r.open(refOf(4 * MiB, 'bbbb', '7'));
    clock.nowMs += 1000;
    for (let pos = 0; pos < 2 * MiB; pos += 128 * KiB)
      expect((await a.read(pos, 128 * KiB)).equals(rampAt(pos, 128 * KiB, seedOf('aaaa')))).toBe(true);
    await b.read(MiB, 4096);
    const [sa, sb] = r.streams();
    expect(sa).toMatchObject({ name: '/films/a.mkv', fileId: '42', size: 8 * MiB, bytesServed: 2 * MiB });
    expect(sa!.position).toBe(2 * MiB);
    expect(sa!.windowBytes).toBeGreaterThan(0); // sequential
    expect(sa!.bytesPerSec).toBe(2 * MiB); // 2 MiB in its first second
    expect(sb).toMatchObject({ name: '7', bytesServed: 4096, position: MiB + 4096, windowBytes: 0 });
    expect(servedAll).toBe(2 * MiB + 4096);
    a.close();
    expect(r.streams().map((s) => s.fileId)).toEqual(['7']);
  });
});
