import { promises as fsp } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DiskCache, MAX_CONCURRENT_READS } from '../../../src/data/disk-cache.js';
import { type Logger, silentLogger } from '../../../src/core/logger.js';
import { Gate, until } from '../../support/gate.js';
import { rampAt, refOf } from './fake-source.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pan123fs-disk-'));
  dirs.push(d);
  return d;
}
const B = 64 * 1024;
const ref = refOf(100 * B, 'abc', '7');
const blk = (i: number) => rampAt(i * B, B);
const blkFiles = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.blk')).sort();

describe('DiskCache', () => {
  it('stores, reads back, and evicts least recently used beyond maxBytes', async () => {
    const dir = await tmp();
    const c = new DiskCache({ dir, maxBytes: 4 * B });
    await c.ready;
    // one at a time: concurrent writes enter the LRU in completion order, which a loaded machine reorders
    for (let i = 0; i < 4; i++) {
      c.put(ref, i, blk(i));
      await c.flush();
    }
    expect((await c.get(ref, 0, B))!.equals(blk(0))).toBe(true); // 0 becomes most recent
    c.put(ref, 4, blk(4));
    await c.flush();
    expect(c.has(ref, 1)).toBe(false);
    for (const i of [0, 2, 3, 4]) expect(c.has(ref, i)).toBe(true);
    expect(c.stats()).toMatchObject({ bytes: 4 * B, files: 4 });
    // the unlink of the evicted file is asynchronous: wait until it has happened
    await until(async () => (await blkFiles(dir)).length === 4, 'the evicted block file to be unlinked');
    expect(await blkFiles(dir)).toHaveLength(4);
  });

  it('rebuilds its index from the directory, LRU order seeded by mtime, and drops temp files', async () => {
    const dir = await tmp();
    const c1 = new DiskCache({ dir, maxBytes: 10 * B });
    for (let i = 0; i < 3; i++) c1.put(ref, i, blk(i));
    await c1.close();
    const names = await blkFiles(dir);
    const t = Date.now() / 1000;
    for (const n of names) {
      const idx = Number(n.split('_')[2]);
      await utimes(join(dir, n), t - 100 + (idx === 0 ? 50 : idx), t - 100 + (idx === 0 ? 50 : idx));
    }
    await writeFile(join(dir, '.7_abc_9.deadbeef.tmp'), 'torn');
    const c2 = new DiskCache({ dir, maxBytes: 3 * B });
    await c2.ready;
    expect(c2.stats()).toMatchObject({ files: 3, bytes: 3 * B });
    expect((await readdir(dir)).some((n) => n.endsWith('.tmp'))).toBe(false);
    c2.put(ref, 5, blk(5));
    await c2.flush();
    expect(c2.has(ref, 1)).toBe(false); // oldest mtime
    expect(c2.has(ref, 0) && c2.has(ref, 2) && c2.has(ref, 5)).toBe(true);
  });

  it('treats a corrupt or short block as a miss and removes it', async () => {
    const dir = await tmp();
    const c = new DiskCache({ dir, maxBytes: 10 * B });
    c.put(ref, 0, blk(0));
    c.put(ref, 1, blk(1));
    await c.flush();
    const [f0, f1] = await blkFiles(dir);
    const bad = Buffer.from(blk(0));
    bad[100] ^= 0xff;
    await writeFile(join(dir, f0!), bad);
    await writeFile(join(dir, f1!), blk(1).subarray(0, 10));
    expect(await c.get(ref, 0, B)).toBeUndefined();
    expect(await c.get(ref, 1, B)).toBeUndefined();
    expect(c.has(ref, 0) || c.has(ref, 1)).toBe(false);
  });

  it('a block the disk cannot read is a miss, dropped, with a warning that names the cause', async () => {
    const dir = await tmp();
    const warned: { obj: object; msg?: string }[] = [];
    const log: Logger = {
      ...silentLogger,
      warn: ((obj: object, msg?: string) => warned.push({ obj, msg })) as Logger['warn'],
    };
    const c = new DiskCache({ dir, maxBytes: 10 * B, logger: log });
    c.put(ref, 0, blk(0));
    await c.flush();
    const [f0] = await blkFiles(dir);
    await rm(join(dir, f0!));
    await mkdir(join(dir, f0!)); // reading it fails with EISDIR, not ENOENT
    expect(await c.get(ref, 0, B)).toBeUndefined();
    expect(c.has(ref, 0)).toBe(false);
    expect(c.stats().errors).toBe(1);
    expect(warned).toHaveLength(1);
    expect(warned[0]!.msg).toMatch(/unreadable/);
    expect((warned[0]!.obj as { err?: { code?: string } }).err?.code).toBe('EISDIR');
  });

  it('keys by md5 and dropFile forgets a file', async () => {
    const dir = await tmp();
    const c = new DiskCache({ dir, maxBytes: 10 * B });
    c.put(ref, 0, blk(0));
    await c.flush();
    expect(await c.get({ ...ref, md5: 'other' }, 0, B)).toBeUndefined();
    c.dropFile(ref.id);
    expect(c.has(ref, 0)).toBe(false);
  });

  it('maxBytes 0 does no I/O', async () => {
    const dir = join(await tmp(), 'never');
    const c = new DiskCache({ dir, maxBytes: 0 });
    c.put(ref, 0, blk(0));
    await c.flush();
    await expect(readdir(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reads at most MAX_CONCURRENT_READS blocks at once; the rest wait without a buffer, all bytes right', async () => {
    const dir = await tmp();
    const c = new DiskCache({ dir, maxBytes: 100 * B });
    const n = MAX_CONCURRENT_READS * 3;
    for (let i = 0; i < n; i++) c.put(ref, i, blk(i));
    await c.flush();
    let open = 0;
    let peak = 0;
    const gate = new Gate(); // holds the reads that got a turn, so the others are seen queued
    const realOpen = fsp.open.bind(fsp);
    const spy = vi.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
      peak = Math.max(peak, ++open);
      await gate.pass();
      const fh = await realOpen(...args);
      const close = fh.close.bind(fh);
      fh.close = async () => {
        open--;
        return close();
      };
      return fh;
    });
    try {
      const reads = Array.from({ length: n }, (_, i) => c.get(ref, i, B, false));
      await gate.reached(MAX_CONCURRENT_READS);
      await until(() => c.queuedReads === n - MAX_CONCURRENT_READS, 'the reads past the limit to queue');
      expect(gate.arrived).toBe(MAX_CONCURRENT_READS);
      gate.open();
      const got = await Promise.all(reads);
      for (const [i, b] of got.entries()) expect(b?.equals(blk(i)), `block ${i}`).toBe(true);
      expect(peak).toBeLessThanOrEqual(MAX_CONCURRENT_READS + 1); // a close may still be queued as a turn starts
      expect(c.queuedReads).toBe(0);
      expect(c.stats().hits).toBe(n);
    } finally {
      spy.mockRestore();
    }
  });

  it('gives a freed turn to a read a reader waits for before queued read-ahead, and expedite() promotes', async () => {
    const dir = await tmp();
    const c = new DiskCache({ dir, maxBytes: 100 * B });
    const n = MAX_CONCURRENT_READS + 6;
    for (let i = 0; i < n; i++) c.put(ref, i, blk(i));
    await c.flush();
    const order: number[] = [];
    const gate = new Gate();
    const realOpen = fsp.open.bind(fsp);
    const spy = vi.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
      order.push(Number(String(args[0]).split('_')[2]));
      await gate.pass();
      return realOpen(...args);
    });
    try {
      const reads: Promise<Buffer | undefined>[] = [];
      // the limit's worth of read-ahead, then 4 more read-ahead reads queued: blocks 16..19
      for (let i = 0; i < MAX_CONCURRENT_READS + 4; i++) reads.push(c.get(ref, i, B, false));
      await until(() => c.queuedReads === 4, 'four read-ahead reads to queue');
      reads.push(c.get(ref, n - 2, B, true)); // a reader waits for this one
      await until(() => c.queuedReads === 5, 'the urgent read to queue');
      c.expedite(ref, MAX_CONCURRENT_READS + 3); // and now for the last queued read-ahead
      reads.push(c.get(ref, n - 1, B, false));
      await until(() => c.queuedReads === 6, 'the last read-ahead read to queue');
      gate.open();
      const got = await Promise.all(reads);
      expect(got.every((b) => b !== undefined)).toBe(true);
      const after = order.slice(MAX_CONCURRENT_READS);
      const L = MAX_CONCURRENT_READS;
      expect(after).toEqual([n - 2, L + 3, L, L + 1, L + 2, n - 1]);
    } finally {
      spy.mockRestore();
    }
  });
});
