import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EMPTY_MD5, md5OfFile } from '../../../src/write/md5.js';
import { COALESCE_BYTES, StagingFile, stagingDir } from '../../../src/write/staging.js';
import { recyclingStats } from '../../../src/write/stream-hash.js';
import { md5hex, ramp } from './fake-pan.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pan123fs-staging-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A plain in-memory model of the same operations. */
class Model {
  buf = Buffer.alloc(0);
  write(b: Buffer, off: number) {
    if (off + b.length > this.buf.length)
      this.buf = Buffer.concat([this.buf, Buffer.alloc(off + b.length - this.buf.length)]);
    b.copy(this.buf, off);
  }
  truncate(n: number) {
    this.buf =
      n <= this.buf.length ? this.buf.subarray(0, n) : Buffer.concat([this.buf, Buffer.alloc(n - this.buf.length)]);
  }
}

describe('StagingFile', () => {
  it('write buffers come back from the hash worker and are used again (issue 19), bytes and MD5 intact', async () => {
    const f = await StagingFile.create(dir, 'rc');
    const data = ramp(8 * COALESCE_BYTES + 777, 9);
    const before = recyclingStats();
    // 4 MiB in 64 KiB writes (gathered into 1 MiB buffers), then 1 MiB writes (each copied into one); a
    // digest after each MiB: once it is answered, the worker has handed the buffers before it back
    let off = 0;
    const step = async (n: number) => {
      await f.write(data.subarray(off, off + n), off);
      off += n;
    };
    for (let mib = 0; mib < 4; mib++) {
      for (let k = 0; k < 16; k++) await step(64 * 1024);
      await f.md5();
    }
    for (let mib = 0; mib < 4; mib++) {
      await step(COALESCE_BYTES);
      await f.md5();
    }
    await step(data.length - off);
    expect(await f.md5()).toBe(md5hex(data));
    expect(f.lastMd5Streamed).toBe(true);
    expect((await f.read(0, data.length)).equals(data)).toBe(true);
    const after = recyclingStats();
    expect(after.returned - before.returned).toBeGreaterThanOrEqual(8);
    expect(after.reused - before.reused).toBeGreaterThanOrEqual(6);
    await f.close();
  });

  it('lives under <cacheDir>/staging and starts empty with the empty MD5', async () => {
    const f = await StagingFile.create(dir, '42');
    expect(f.path.startsWith(stagingDir(dir))).toBe(true);
    expect(f.size).toBe(0);
    expect(await f.md5()).toBe(EMPTY_MD5);
    expect(f.lastMd5Streamed).toBe(true);
    await f.close();
  });

  it('operations queued without awaiting (write-behind) apply in order; size and MD5 stay consistent', async () => {
    const f = await StagingFile.create(dir, 'wb');
    const m = new Model();
    const ops: Array<Promise<unknown>> = [];
    const step = (kind: 'w' | 't', a: number, b?: Buffer) => {
      if (kind === 'w') {
        ops.push(f.write(b!, a));
        m.write(b!, a);
      } else {
        ops.push(f.truncate(a));
        m.truncate(a);
      }
      expect(f.size).toBe(m.buf.length); // the logical size is right at once
    };
    step('w', 0, ramp(200, 1));
    step('t', 50);
    step('w', 0, ramp(100, 2));
    step('w', 300, ramp(10, 3));
    step('t', 120);
    step('w', 120, ramp(30, 4));
    const both = f.md5WithSize();
    step('w', 150, ramp(5, 5)); // after the md5 request: not part of it
    const r = await both;
    expect(r).toEqual({ md5: md5hex(m.buf.subarray(0, 150)), size: 150 });
    await Promise.all(ops);
    expect(await f.read(0, 1000)).toEqual(m.buf);
    expect(await f.md5()).toBe(md5hex(m.buf));
    await f.close();
  });

  it('streams the MD5 of front-to-back writes and never re-reads the file', async () => {
    const f = await StagingFile.create(dir);
    const data = ramp(300_000, 1);
    for (let off = 0; off < data.length; off += 4096) await f.write(data.subarray(off, off + 4096), off);
    await f.settled();
    expect(f.md5IsStreaming).toBe(true);
    expect(await f.md5()).toBe(md5hex(data));
    expect(f.lastMd5Streamed).toBe(true);
    expect(f.stats.rehashes).toBe(0);
    await f.close();
    expect(await readFile(f.path)).toEqual(data);
  });

  it('copies the caller buffer (fuse reuses it)', async () => {
    const f = await StagingFile.create(dir);
    const buf = Buffer.from('hello');
    const p = f.write(buf, 0);
    buf.fill(0x78);
    await p;
    expect((await f.read(0, 5)).toString()).toBe('hello');
    expect(await f.md5()).toBe(md5hex(Buffer.from('hello')));
    await f.close();
  });

  it('random writes, overwrites, holes and truncates give byte-exact content and a recomputed MD5', async () => {
    const f = await StagingFile.create(dir);
    const m = new Model();
    const ops: Array<['w', number, Buffer] | ['t', number]> = [
      ['w', 0, ramp(5000, 1)],
      ['w', 100, ramp(50, 2)],
      ['w', 9000, ramp(700, 3)],
      ['t', 7000],
      ['w', 6990, ramp(100, 4)],
      ['t', 12_000],
      ['w', 11_999, ramp(3, 5)],
      ['w', 12_002, ramp(10, 6)],
    ];
    for (const op of ops) {
      if (op[0] === 'w') {
        await f.write(op[2], op[1]);
        m.write(op[2], op[1]);
      } else {
        await f.truncate(op[1]);
        m.truncate(op[1]);
      }
      expect(f.size).toBe(m.buf.length);
    }
    await f.settled();
    expect(f.md5IsStreaming).toBe(false);
    expect(await f.read(0, 1_000_000)).toEqual(m.buf);
    expect(await f.read(6000, 50)).toEqual(m.buf.subarray(6000, 6050));
    expect(await f.read(m.buf.length, 10)).toEqual(Buffer.alloc(0));
    expect(await f.md5()).toBe(md5hex(m.buf));
    expect(f.lastMd5Streamed).toBe(false);
    expect(f.stats.rehashes).toBe(1);
    await f.close();
    expect(await readFile(f.path)).toEqual(m.buf);
    expect(await md5OfFile(f.path)).toBe(md5hex(m.buf));
  });

  it('an overwrite invalidates the stream; after a rehash, appends stream again', async () => {
    const f = await StagingFile.create(dir);
    await f.write(Buffer.from('aaaa'), 0);
    await f.write(Buffer.from('b'), 1); // overwrite
    await f.settled();
    expect(f.md5IsStreaming).toBe(false);
    expect(await f.md5()).toBe(md5hex(Buffer.from('abaa')));
    expect(f.stats.rehashes).toBe(1);
    await f.write(Buffer.from('cc'), 4); // append continues the re-armed hash
    expect(await f.md5()).toBe(md5hex(Buffer.from('abaacc')));
    expect(f.lastMd5Streamed).toBe(true);
    expect(f.stats.rehashes).toBe(1);
    await f.close();
  });

  it(
    'truncate to the current size keeps the stream; ' + 'truncate to 0 restarts it; other truncates invalidate',
    async () => {
      const f = await StagingFile.create(dir);
      await f.write(Buffer.from('abc'), 0);
      await f.truncate(3);
      await f.settled();
      expect(f.md5IsStreaming).toBe(true);
      await f.truncate(0);
      await f.settled();
      expect(f.md5IsStreaming).toBe(true);
      await f.write(Buffer.from('xyz'), 0);
      expect(await f.md5()).toBe(md5hex(Buffer.from('xyz')));
      expect(f.stats.rehashes).toBe(0);
      await f.truncate(1);
      await f.settled();
      expect(f.md5IsStreaming).toBe(false);
      expect(await f.md5()).toBe(md5hex(Buffer.from('x')));
      await f.truncate(4); // extend with zeros
      expect(await f.read(0, 10)).toEqual(Buffer.from([0x78, 0, 0, 0]));
      expect(await f.md5()).toBe(md5hex(Buffer.from([0x78, 0, 0, 0])));
      await f.close();
    },
  );

  it('a write past the end leaves a zero-filled hole and invalidates the stream', async () => {
    const f = await StagingFile.create(dir);
    await f.write(Buffer.from('ab'), 0);
    await f.write(Buffer.from('z'), 5);
    await f.settled();
    expect(f.md5IsStreaming).toBe(false);
    const want = Buffer.from([0x61, 0x62, 0, 0, 0, 0x7a]);
    expect(await f.read(0, 100)).toEqual(want);
    expect(await f.md5()).toBe(md5hex(want));
    await f.close();
  });

  it('concurrent writes issued in order are applied and hashed in order', async () => {
    const f = await StagingFile.create(dir);
    const data = ramp(64 * 1024, 9);
    await Promise.all(Array.from({ length: 16 }, (_, i) => f.write(data.subarray(i * 4096, (i + 1) * 4096), i * 4096)));
    await f.settled();
    expect(f.md5IsStreaming).toBe(true);
    expect(await f.md5()).toBe(md5hex(data));
    await f.close();
  });

  it('re-hashing a big file does not block the event loop', async () => {
    const f = await StagingFile.create(dir);
    const data = ramp(16 * 1024 * 1024, 8);
    await f.write(data, 1); // not from 0: no streaming hash
    let ticks = 0;
    const iv = setInterval(() => {
      ticks++;
    }, 0);
    const t = setImmediate(() => {
      ticks++;
    });
    try {
      expect(await f.md5()).toBe(md5hex(Buffer.concat([Buffer.alloc(1), data])));
    } finally {
      clearInterval(iv);
      clearImmediate(t);
    }
    expect(ticks).toBeGreaterThan(2);
    await f.remove();
  });

  it('reopens after close, and fromExisting resumes a file left by an earlier run', async () => {
    const f = await StagingFile.create(dir);
    const data = ramp(3 * 1024 * 1024 + 17, 4); // > one hash chunk
    await f.write(data, 0);
    await f.close();
    expect(await f.read(10, 5)).toEqual(data.subarray(10, 15)); // reopened lazily
    await f.close();

    const g = await StagingFile.fromExisting(f.path);
    expect(g.size).toBe(data.length);
    expect(g.md5IsStreaming).toBe(false);
    expect(await g.md5()).toBe(md5hex(data));
    expect(g.stats.rehashedBytes).toBe(data.length);
    await g.write(Buffer.from('tail'), data.length);
    expect(await g.md5()).toBe(md5hex(Buffer.concat([data, Buffer.from('tail')])));
    expect(g.stats.rehashes).toBe(1);
    await g.remove();
    await expect(stat(f.path)).rejects.toMatchObject({ code: 'ENOENT' });
    await g.remove(); // idempotent
  });

  it('gathers 128 KiB sequential writes into 1 MiB disk writes, answering before the disk write', async () => {
    const f = await StagingFile.create(dir);
    const data = ramp(8 * COALESCE_BYTES + 5000, 11);
    const piece = 128 * 1024;
    const answers: Array<Promise<unknown>> = [];
    for (let off = 0; off < data.length; off += piece) answers.push(f.write(data.subarray(off, off + piece), off));
    expect(f.size).toBe(data.length);
    expect(f.queuedBytes).toBeGreaterThan(0); // full tails are queued, not yet written
    await Promise.all(answers);
    expect(md5hex(await f.read(0, data.length))).toBe(md5hex(data)); // the read flushed the partial last tail
    expect(f.stats.diskWrites).toBe(9); // 8 full tails + the partial one, not 65 writes
    expect(f.queuedBytes).toBe(0);
    expect(await f.md5()).toBe(md5hex(data));
    expect(f.stats.rehashes).toBe(0);
    await f.close();
    expect(md5hex(await readFile(f.path))).toBe(md5hex(data));
  });

  it('a write elsewhere flushes the gathered tail first (order kept), and close flushes the rest', async () => {
    const f = await StagingFile.create(dir);
    const m = new Model();
    const w = (b: Buffer, off: number) => {
      void f.write(b, off);
      m.write(b, off);
    };
    w(ramp(1000, 1), 0);
    w(ramp(1000, 2), 1000);
    w(ramp(500, 3), 200); // overlaps the tail: must land after it
    w(ramp(300, 4), 700);
    w(ramp(2 * COALESCE_BYTES, 5), 1500); // a large write goes straight to the chain
    w(ramp(10, 6), 1500 + 2 * COALESCE_BYTES);
    await f.close();
    expect(md5hex(await readFile(f.path))).toBe(md5hex(m.buf));
    expect(await f.md5()).toBe(md5hex(m.buf)); // reopens the descriptor
    await f.close();
  });

  it('a failed gathered write makes md5 fail (never a file missing bytes) until truncate(0)', async () => {
    const f = await StagingFile.create(dir);
    await f.write(Buffer.from('head'), 0);
    const far = f.write(Buffer.from('x'), 2 ** 46); // past ext4/tmpfs limits: the disk write fails (EFBIG/EINVAL)
    await far; // answered from the tail
    await expect(f.read(0, 4)).rejects.toThrow(); // the flush before the read fails; the read reports it
    await expect(f.md5WithSize()).rejects.toThrow();
    await expect(f.md5()).rejects.toThrow(); // sticky
    expect(f.writeFailure).not.toBeNull(); // what vfs/ reports at close and fsync
    await f.truncate(0);
    expect(f.writeFailure).toBeNull();
    await f.write(Buffer.from('again'), 0);
    expect(await f.md5()).toBe(md5hex(Buffer.from('again')));
    await f.remove();
  });

  it('queuedBelow waits for the write-behind backlog to drain', async () => {
    const f = await StagingFile.create(dir);
    const big = ramp(4 * COALESCE_BYTES, 7);
    void f.write(big, 0);
    expect(f.queuedBytes).toBe(big.length);
    await f.queuedBelow(0);
    expect(f.queuedBytes).toBe(0);
    expect(await f.md5()).toBe(md5hex(big));
    await f.remove();
  });
});
