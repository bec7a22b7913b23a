// Pinning in the disk cache (issue 16): store() waits for its write, pinned file ids are never evicted,
// bytesByFile() reports real bytes per version; FileReader.cacheWhole() fetches only what is missing.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cachedKey, DiskCache } from '../../../src/data/disk-cache.js';
import { FileReader } from '../../../src/data/file-reader.js';
import { FakeSource, rampAt, refOf, seedOf } from './fake-source.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pan123fs-pins-'));
  dirs.push(d);
  return d;
}
const B = 64 * 1024;

describe('DiskCache pins', () => {
  it('never evicts blocks of pinned ids; unpinned blocks make room for them', async () => {
    const c = new DiskCache({ dir: await tmp(), maxBytes: 4 * B });
    await c.ready;
    const pinned = refOf(2 * B, 'p', '1');
    const other = refOf(10 * B, 'o', '2');
    c.setPinned(['1']);
    expect(await c.store(pinned, 0, rampAt(0, B))).toBe(true);
    expect(await c.store(pinned, 1, rampAt(B, B))).toBe(true);
    for (let i = 0; i < 6; i++) {
      c.put(other, i, rampAt(i * B, B));
      await c.flush();
    }
    expect(c.has(pinned, 0) && c.has(pinned, 1)).toBe(true);
    expect(c.stats().bytes).toBeLessThanOrEqual(4 * B);
    expect(c.bytesByFile().get(cachedKey(pinned))).toBe(2 * B);
    expect(c.bytesByFile().get(cachedKey(other))).toBe(2 * B);
    expect((await c.get(pinned, 1, B))!.equals(rampAt(B, B))).toBe(true);
    // unpinned: the next inserts evict them like any other block
    c.setPinned([]);
    for (let i = 6; i < 10; i++) {
      c.put(other, i, rampAt(i * B, B));
      await c.flush();
    }
    expect(c.has(pinned, 0) || c.has(pinned, 1)).toBe(false);
  });
});

describe('FileReader.cacheWhole', () => {
  it('puts every block on disk, reports progress, and fetches only the missing blocks again', async () => {
    const src = new FakeSource();
    const dir = await tmp();
    const r = new FileReader(src, { blockSize: B, diskCacheDir: dir, diskCacheBytes: 64 * B, maxRequestBytes: 4 * B });
    const ref = refOf(10 * B + 7, 'm5', '9');
    const seen: number[] = [];
    expect(await r.cacheWhole(ref, (b) => seen.push(b))).toBe(ref.size);
    expect(seen.at(-1)).toBe(ref.size);
    expect(seen.every((v, i) => i === 0 || v >= seen[i - 1]!)).toBe(true);
    expect(r.diskUsage()(ref)).toBe(ref.size);
    expect(src.calls.map((c) => c.length)).toEqual([4 * B, 4 * B, 2 * B + 7]);
    const n = src.calls.length;
    expect(await r.cacheWhole(ref)).toBe(ref.size);
    expect(src.calls.length).toBe(n); // all on disk: nothing fetched
    // the bytes are the file's: read through a handle with the source failing
    src.failNext = 100;
    const h = r.open(ref);
    const got = await h.read(0, ref.size);
    h.close();
    expect(got.equals(rampAt(0, ref.size, seedOf(ref.md5)))).toBe(true);
    await r.close();
  });

  it('refuses without a disk cache', async () => {
    const r = new FileReader(new FakeSource(), { blockSize: B, diskCacheDir: null });
    await expect(r.cacheWhole(refOf(B))).rejects.toMatchObject({ kind: 'ENOSPC' });
    await r.close();
  });
});
