// open / read / create / write / truncate / fsync / release through PanVfs, with the real StagingFile.
// Every content check reads the bytes back through the vfs and compares with a plain Buffer model; every
// upload check compares the enqueued md5 with crypto's md5 of the expected bytes.
import { constants as C } from 'node:fs';
import { rmSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { FsError } from '../../../src/core/errors.js';
import type { Logger, LogFn } from '../../../src/core/logger.js';
import { ROOT_INO } from '../../../src/meta/node-store.js';
import { MAX_FILE_SIZE, WRITE_BACK_DELAY_MS } from '../../../src/vfs/pan-vfs.js';
import { Gate, until } from '../../support/gate.js';
import {
  ROOT_ID,
  expectFsError,
  flags,
  makeHarness,
  md5,
  panError,
  ramp,
  readAll,
  readHandle,
  writeNew,
  type Harness,
} from './harness.js';

let h: Harness;
afterEach(() => h?.close());

const REMOTE = ramp(20_000, 3);
function seed(): Harness {
  return makeHarness({}, (pan) => {
    pan.addFile(ROOT_ID, 'remote.bin', REMOTE);
    pan.addFile(ROOT_ID, 'empty.txt', Buffer.alloc(0));
    pan.addDir(ROOT_ID, 'dir');
  });
}
const tick = () => new Promise((r) => setImmediate(r));

describe('reading remote files', () => {
  it('open + read returns the remote bytes through a read handle opened with the stored ref', async () => {
    h = seed();
    expect(await readAll(h.vfs, '/remote.bin')).toEqual(REMOTE);
    const id = h.pan.at('/remote.bin')!.id;
    expect(h.reader.opened).toEqual([{ id, size: REMOTE.length, md5: md5(REMOTE) }]);
    expect(h.reader.closed).toBe(1); // release closed it
    expect(h.staging.created).toBe(0);
  });

  it('reads at an offset, short at EOF, 0 past EOF', async () => {
    h = seed();
    const fh = await h.vfs.open('/remote.bin', flags.RDONLY);
    const buf = Buffer.alloc(100);
    expect(await h.vfs.read('/remote.bin', fh, buf, 100, 19_950)).toBe(50);
    expect(buf.subarray(0, 50)).toEqual(REMOTE.subarray(19_950));
    expect(await h.vfs.read('/remote.bin', fh, buf, 100, 20_000)).toBe(0);
    await h.vfs.release('/remote.bin', fh);
  });

  it('a failing remote read is a classified FsError', async () => {
    h = seed();
    const fh = await h.vfs.open('/remote.bin', flags.RDONLY);
    h.reader.failWith = panError('link-expired', 'download link 403');
    await expectFsError(h.vfs.read('/remote.bin', fh, Buffer.alloc(10), 10, 0), 'EIO');
    h.reader.failWith = new Error('something odd');
    await expectFsError(h.vfs.read('/remote.bin', fh, Buffer.alloc(10), 10, 0), 'EIO');
  });

  it('opening a directory is EISDIR; a bad handle is EBADF', async () => {
    h = seed();
    await expectFsError(h.vfs.open('/dir', flags.RDONLY), 'EISDIR');
    await expectFsError(h.vfs.read('/remote.bin', 999, Buffer.alloc(1), 1, 0), 'EBADF');
    await expectFsError(h.vfs.write('/remote.bin', 999, Buffer.alloc(1), 1, 0), 'EBADF');
  });

  it('writing through a read-only handle is EBADF', async () => {
    h = seed();
    const fh = await h.vfs.open('/remote.bin', flags.RDONLY);
    await expectFsError(h.vfs.write('/remote.bin', fh, Buffer.from('x'), 1, 0), 'EBADF');
    expect(h.uploads.enqueued).toEqual([]);
  });
});

describe('create + write + release', () => {
  it('journals the file for upload with its size and md5, after a dirty local node with no remote id', async () => {
    h = seed();
    const data = ramp(70_001, 9);
    const fh = await h.vfs.create('/dir/new.bin', 0o644);
    const ino = (await h.vfs.fgetattr('/dir/new.bin', fh)).ino;
    expect(h.store.get(ino)).toMatchObject({ remoteId: null, dirty: true, name: 'new.bin' });
    for (let off = 0; off < data.length; off += 8192) {
      const chunk = data.subarray(off, off + 8192);
      expect(await h.vfs.write('/dir/new.bin', fh, chunk, chunk.length, off)).toBe(chunk.length);
    }
    expect(h.uploads.enqueued).toEqual([]); // nothing queued before release
    await h.vfs.release('/dir/new.bin', fh);
    expect(h.uploads.enqueued).toHaveLength(1);
    const e = h.uploads.last()!;
    expect(e).toMatchObject({ ino, size: data.length, md5: md5(data) });
    expect(await readFile(e.stagingPath)).toEqual(data);
    expect(h.journal.get(ino)).toMatchObject({ stagingPath: e.stagingPath, size: data.length, md5: md5(data) });
    expect(h.store.get(ino)).toMatchObject({ size: data.length, dirty: true });
    expect(h.pan.mutations()).toEqual([]); // the vfs itself never uploads
  });

  it('an empty new file is uploaded too (size 0, the empty md5)', async () => {
    h = seed();
    await writeNew(h.vfs, '/e.txt', Buffer.alloc(0));
    expect(h.uploads.last()).toMatchObject({ size: 0, md5: 'd41d8cd98f00b204e9800998ecf8427e' });
  });

  it('copies the caller buffer (fuse reuses it)', async () => {
    h = seed();
    const fh = await h.vfs.create('/c.txt', 0o644);
    const buf = Buffer.from('hello world');
    const p = h.vfs.write('/c.txt', fh, buf, 5, 0);
    buf.fill(0x21);
    await p;
    await h.vfs.release('/c.txt', fh);
    expect(await readAll(h.vfs, '/c.txt')).toEqual(Buffer.from('hello'));
  });

  it('random writes, overwrite, append, ftruncate shrink/grow produce exact bytes', async () => {
    h = seed();
    const model = { b: Buffer.alloc(0) };
    const apply = (data: Buffer, off: number) => {
      if (off + data.length > model.b.length)
        model.b = Buffer.concat([model.b, Buffer.alloc(off + data.length - model.b.length)]);
      data.copy(model.b, off);
    };
    const trunc = (n: number) => {
      model.b =
        n <= model.b.length
          ? Buffer.from(model.b.subarray(0, n))
          : Buffer.concat([model.b, Buffer.alloc(n - model.b.length)]);
    };
    const p = '/r.bin';
    const fh = await h.vfs.create(p, 0o644);
    const ops: Array<['w', number, Buffer] | ['t', number]> = [
      ['w', 5000, ramp(3000, 1)], // hole at the start
      ['w', 0, ramp(100, 2)],
      ['w', 4900, ramp(200, 3)], // overlaps both
      ['t', 6000], // shrink
      ['w', 6000, ramp(1234, 4)], // append at the end
      ['t', 9000], // grow with zeros
      ['w', 8999, ramp(10, 5)], // across the grown tail
      ['w', 1, ramp(1, 6)],
    ];
    for (const op of ops) {
      if (op[0] === 'w') {
        apply(op[2], op[1]);
        await h.vfs.write(p, fh, op[2], op[2].length, op[1]);
      } else {
        trunc(op[1]);
        await h.vfs.ftruncate(p, fh, op[1]);
      }
    }
    expect((await h.vfs.fgetattr(p, fh)).size).toBe(model.b.length);
    expect(await readHandle(h.vfs, p, fh, 777)).toEqual(model.b); // read through the writing handle
    await h.vfs.release(p, fh);
    expect(h.uploads.last()).toMatchObject({ size: model.b.length, md5: md5(model.b) });
    expect(await readAll(h.vfs, p)).toEqual(model.b); // pending: read from staging
    expect(h.reader.opened).toEqual([]);
  });

  it('reads of a file being written come from staging (another handle, no remote read)', async () => {
    h = seed();
    const w = await h.vfs.create('/live.txt', 0o644);
    await h.vfs.write('/live.txt', w, Buffer.from('abcdef'), 6, 0);
    const r = await h.vfs.open('/live.txt', flags.RDONLY);
    const buf = Buffer.alloc(10);
    expect(await h.vfs.read('/live.txt', r, buf, 10, 0)).toBe(6);
    expect(buf.subarray(0, 6).toString()).toBe('abcdef');
    await h.vfs.write('/live.txt', w, Buffer.from('XY'), 2, 6);
    expect(await h.vfs.read('/live.txt', r, buf, 10, 0)).toBe(8);
    expect(buf.subarray(0, 8).toString()).toBe('abcdefXY');
    expect(h.reader.opened).toEqual([]);
    await h.vfs.release('/live.txt', r);
    expect(h.uploads.enqueued).toEqual([]); // a reader closing does not upload
    await h.vfs.release('/live.txt', w);
    expect(h.uploads.last()).toMatchObject({ size: 8, md5: md5(Buffer.from('abcdefXY')) });
  });

  it('a second writer: the upload is journaled only when the last writer releases', async () => {
    h = seed();
    const a = await h.vfs.create('/two.txt', 0o644);
    const b = await h.vfs.open('/two.txt', flags.RDWR);
    await h.vfs.write('/two.txt', a, Buffer.from('aaaa'), 4, 0);
    await h.vfs.write('/two.txt', b, Buffer.from('bb'), 2, 4);
    await h.vfs.release('/two.txt', a);
    expect(h.uploads.enqueued).toEqual([]);
    await h.vfs.release('/two.txt', b);
    expect(h.uploads.enqueued).toHaveLength(1);
    expect(h.uploads.last()!.md5).toBe(md5(Buffer.from('aaaabb')));
  });

  it('beyond 10 GiB: write, truncate and ftruncate are EFBIG and change nothing', async () => {
    h = seed();
    const fh = await h.vfs.create('/big', 0o644);
    await h.vfs.write('/big', fh, Buffer.from('abc'), 3, 0);
    await expectFsError(h.vfs.write('/big', fh, Buffer.from('xy'), 2, MAX_FILE_SIZE - 1), 'EFBIG');
    await expectFsError(h.vfs.ftruncate('/big', fh, MAX_FILE_SIZE + 1), 'EFBIG');
    await expectFsError(h.vfs.truncate('/remote.bin', MAX_FILE_SIZE + 1), 'EFBIG');
    expect((await h.vfs.fgetattr('/big', fh)).size).toBe(3);
    expect(await readHandle(h.vfs, '/big', fh)).toEqual(Buffer.from('abc'));
    expect(h.reader.reads).toBe(0); // truncate did not download before refusing
  });
});

describe('editing existing remote files', () => {
  it('open O_RDWR without O_TRUNC downloads the file first; a write patches it in place', async () => {
    h = seed();
    const fh = await h.vfs.open('/remote.bin', flags.RDWR);
    expect(h.reader.reads).toBeGreaterThan(0);
    expect(h.reader.closed).toBe(1); // the download handle is closed after filling
    await h.vfs.write('/remote.bin', fh, Buffer.from('PATCH'), 5, 10_000);
    const expected = Buffer.from(REMOTE);
    Buffer.from('PATCH').copy(expected, 10_000);
    expect(await readHandle(h.vfs, '/remote.bin', fh)).toEqual(expected);
    await h.vfs.release('/remote.bin', fh);
    const ino = h.store.child(ROOT_INO, 'remote.bin')!.ino;
    expect(h.uploads.last()).toMatchObject({ ino, size: REMOTE.length, md5: md5(expected) });
    expect(h.store.get(ino)).toMatchObject({ dirty: true, remoteId: h.pan.at('/remote.bin')!.id });
    expect(await readAll(h.vfs, '/remote.bin')).toEqual(expected);
  });

  it('append (write at the end) keeps the downloaded content', async () => {
    h = seed();
    const fh = await h.vfs.open('/remote.bin', flags.WRONLY | C.O_APPEND);
    await h.vfs.write('/remote.bin', fh, Buffer.from('tail'), 4, REMOTE.length);
    await h.vfs.release('/remote.bin', fh);
    const expected = Buffer.concat([REMOTE, Buffer.from('tail')]);
    expect(h.uploads.last()).toMatchObject({ size: expected.length, md5: md5(expected) });
    expect(await readAll(h.vfs, '/remote.bin')).toEqual(expected);
  });

  it('open with O_TRUNC does not download; the file becomes what is written', async () => {
    h = seed();
    const fh = await h.vfs.open('/remote.bin', flags.WRONLY | C.O_TRUNC);
    expect(h.reader.reads).toBe(0);
    expect(h.reader.opened).toEqual([]);
    expect((await h.vfs.fgetattr('/remote.bin', fh)).size).toBe(0);
    await h.vfs.write('/remote.bin', fh, Buffer.from('new'), 3, 0);
    await h.vfs.release('/remote.bin', fh);
    expect(h.uploads.last()).toMatchObject({ size: 3, md5: md5(Buffer.from('new')) });
  });

  it('open O_RDONLY|O_TRUNC truncates too (a writing open)', async () => {
    h = seed();
    const fh = await h.vfs.open('/remote.bin', flags.RDONLY | C.O_TRUNC);
    await h.vfs.release('/remote.bin', fh);
    expect(h.reader.reads).toBe(0);
    expect(h.uploads.last()).toMatchObject({ size: 0, md5: md5(Buffer.alloc(0)) });
  });

  it('open for writing and release without writing uploads nothing and frees the staging file', async () => {
    h = seed();
    const fh = await h.vfs.open('/remote.bin', flags.RDWR);
    await h.vfs.release('/remote.bin', fh);
    expect(h.uploads.enqueued).toEqual([]);
    await tick();
    expect(h.stagingFiles()).toEqual([]);
    expect(h.store.child(ROOT_INO, 'remote.bin')!.dirty).toBe(false);
    // the next read goes to the remote again
    expect(await readAll(h.vfs, '/remote.bin')).toEqual(REMOTE);
  });

  it('a failed download on open is an FsError and leaves no staging file behind', async () => {
    h = seed();
    h.reader.failWith = panError('transport', 'ECONNRESET');
    await expectFsError(h.vfs.open('/remote.bin', flags.RDWR), 'EIO');
    expect(h.stagingFiles()).toEqual([]);
    h.reader.failWith = null;
    const fh = await h.vfs.open('/remote.bin', flags.RDWR);
    expect(await readHandle(h.vfs, '/remote.bin', fh)).toEqual(REMOTE);
  });

  it('truncate(path) to a smaller size downloads, cuts and journals at once (no handle open)', async () => {
    h = seed();
    await h.vfs.truncate('/remote.bin', 1000);
    expect(h.uploads.last()).toMatchObject({ size: 1000, md5: md5(REMOTE.subarray(0, 1000)) });
    expect((await h.vfs.getattr('/remote.bin')).size).toBe(1000);
    expect(await readAll(h.vfs, '/remote.bin')).toEqual(REMOTE.subarray(0, 1000));
  });

  it('truncate(path, 0) does not download', async () => {
    h = seed();
    await h.vfs.truncate('/remote.bin', 0);
    expect(h.reader.reads).toBe(0);
    expect(h.uploads.last()).toMatchObject({ size: 0, md5: md5(Buffer.alloc(0)) });
  });

  it('truncate of a directory is EISDIR', async () => {
    h = seed();
    await expectFsError(h.vfs.truncate('/dir', 0), 'EISDIR');
  });

  it('opening an empty remote file for writing downloads nothing', async () => {
    h = seed();
    const fh = await h.vfs.open('/empty.txt', flags.RDWR);
    expect(h.reader.opened).toEqual([]);
    await h.vfs.write('/empty.txt', fh, Buffer.from('z'), 1, 0);
    await h.vfs.release('/empty.txt', fh);
    expect(h.uploads.last()).toMatchObject({ size: 1, md5: md5(Buffer.from('z')) });
  });
});

describe('pending uploads', () => {
  it('writing again to a file whose upload is pending holds that upload and journals the new content', async () => {
    h = seed();
    await writeNew(h.vfs, '/p.txt', Buffer.from('one'));
    const ino = h.uploads.last()!.ino;
    const gen1 = h.journal.get(ino)!.generation;
    const fh = await h.vfs.open('/p.txt', flags.RDWR);
    expect(h.uploads.held).toEqual([]); // opening alone does not stop the upload
    expect(h.reader.opened).toEqual([]); // content comes from staging, not the remote
    await h.vfs.write('/p.txt', fh, Buffer.from('TWO!'), 4, 0);
    expect(h.uploads.held).toEqual([ino]); // the first change holds it
    await h.vfs.write('/p.txt', fh, Buffer.from('!'), 1, 4);
    expect(h.uploads.held).toEqual([ino]); // once
    await h.vfs.write('/p.txt', fh, Buffer.from('!'), 1, 4);
    await h.vfs.truncate('/p.txt', 4);
    await h.vfs.release('/p.txt', fh);
    expect(h.uploads.enqueued).toHaveLength(2);
    expect(h.uploads.last()).toMatchObject({ ino, size: 4, md5: md5(Buffer.from('TWO!')) });
    expect(h.journal.get(ino)!.generation).toBeGreaterThan(gen1);
    expect(await readAll(h.vfs, '/p.txt')).toEqual(Buffer.from('TWO!'));
  });

  it(
    'write-behind: a failed staging write is reported by the next write, flush and fsync, ' +
      'and nothing is journaled',
    async () => {
      h = seed();
      const fh = await h.vfs.create('/wb.txt', 0o644);
      await h.vfs.write('/wb.txt', fh, Buffer.from('ok'), 2, 0);
      const lf = h.writeback.get(h.store.child(1, 'wb.txt')!.ino)!;
      const realWrite = lf.staging.write.bind(lf.staging);
      (lf.staging as { write: unknown }).write = (buf: Buffer, off: number) => {
        void realWrite(buf, off);
        return Promise.reject(Object.assign(new Error('disk full'), { code: 'ENOSPC' }));
      };
      // answered before the disk write
      await expect(h.vfs.write('/wb.txt', fh, Buffer.from('lost'), 4, 2)).resolves.toBe(4);
      await tick();
      await expectFsError(h.vfs.write('/wb.txt', fh, Buffer.from('x'), 1, 6), 'ENOSPC');
      await expectFsError(h.vfs.flush('/wb.txt', fh), 'ENOSPC');
      await expectFsError(h.vfs.fsync('/wb.txt', fh, false), 'ENOSPC');
      expect(h.uploads.enqueued).toHaveLength(0);
      expect(h.uploads.abandoned).toEqual([h.store.child(1, 'wb.txt')!.ino]);
    },
  );

  it(
    'a gathered write whose disk write fails only when close flushes it: ' +
      'ENOSPC at close, fsync and later closes, ' +
      'logged, upload abandoned, nothing journaled',
    async () => {
      const errors: string[] = [];
      const note = (level: string) =>
        ((a: unknown, m?: string) => {
          if (level === 'error') errors.push(`${m ?? a}`);
        }) as LogFn;
      const log: Logger = {
        trace: note('trace'),
        debug: note('debug'),
        info: note('info'),
        warn: note('warn'),
        error: note('error'),
        fatal: note('fatal'),
        child: () => log,
      };
      h = makeHarness({}, undefined, log);
      const fh = await h.vfs.create('/g.txt', 0o644);
      const ino = h.store.child(1, 'g.txt')!.ino;
      // the staging file's descriptor refuses every disk write from now on (a full or failing disk)
      const handle = (h.writeback.get(ino)!.staging as unknown as { fh: { write: unknown } }).fh;
      handle.write = () => Promise.reject(Object.assign(new Error('disk full'), { code: 'ENOSPC' }));
      // small sequential writes are gathered in memory and answered at once: nothing has failed yet
      await expect(h.vfs.write('/g.txt', fh, Buffer.from('gathered '), 9, 0)).resolves.toBe(9);
      await expect(h.vfs.write('/g.txt', fh, Buffer.from('bytes'), 5, 9)).resolves.toBe(5);
      expect(errors).toEqual([]);
      await expectFsError(h.vfs.flush('/g.txt', fh), 'ENOSPC'); // close() flushes the tail to disk: it fails
      await expectFsError(h.vfs.fsync('/g.txt', fh, false), 'ENOSPC');
      await expectFsError(h.vfs.release('/g.txt', fh), 'ENOSPC'); // the last close tries again and says so too
      expect(h.uploads.enqueued).toHaveLength(0); // a file missing acknowledged bytes is never uploaded
      expect(h.uploads.abandoned).toEqual([ino]);
      expect(errors.some((e) => /will not be uploaded/.test(e))).toBe(true);
    },
  );

  it(
    'a second close while the first is journaling waits for it; ' + 'a write during journaling holds that entry',
    async () => {
      h = seed();
      const fh1 = await h.vfs.create('/two.txt', 0o644);
      const fh2 = await h.vfs.open('/two.txt', flags.RDWR);
      await h.vfs.write('/two.txt', fh1, Buffer.from('aaaa'), 4, 0);
      const f1 = h.vfs.flush('/two.txt', fh1);
      const f2 = h.vfs.flush('/two.txt', fh2); // must not return before the content is journaled
      await f2;
      expect(h.uploads.enqueued).toHaveLength(1);
      await f1;
      // a write that lands while journaling is in flight: the entry must be held, and journaled again later
      const f3 = h.vfs.flush('/two.txt', fh2); // nothing modified: no-op
      await f3;
      await h.vfs.write('/two.txt', fh2, Buffer.from('b'), 1, 4);
      const f4 = h.vfs.flush('/two.txt', fh1);
      const w = h.vfs.write('/two.txt', fh2, Buffer.from('c'), 1, 5);
      await Promise.all([f4, w]);
      const ino = h.uploads.last()!.ino;
      expect(h.uploads.held).toContain(ino);
      await h.vfs.release('/two.txt', fh1);
      await h.vfs.release('/two.txt', fh2);
      expect(h.uploads.last()).toMatchObject({ size: 6, md5: md5(Buffer.from('aaaabc')) });
    },
  );

  it('flush (close) journals the content before release: close returning means the data is durable', async () => {
    h = seed();
    const fh = await h.vfs.create('/f.txt', 0o644);
    await h.vfs.write('/f.txt', fh, Buffer.from('flushed'), 7, 0);
    expect(h.uploads.enqueued).toHaveLength(0);
    await h.vfs.flush('/f.txt', fh);
    expect(h.uploads.last()).toMatchObject({ size: 7, md5: md5(Buffer.from('flushed')) });
    expect(h.journal.get(h.uploads.last()!.ino)).toBeDefined();
    await h.vfs.flush('/f.txt', fh); // a second close of a dup'ed fd with no new writes journals nothing new
    await h.vfs.release('/f.txt', fh);
    expect(h.uploads.enqueued).toHaveLength(1);
  });

  it('after a restart a pending file is served from its staging file (reopened by path)', async () => {
    h = seed();
    const data = ramp(5000, 8);
    await writeNew(h.vfs, '/dir/pending.bin', data);
    const path = h.uploads.last()!.stagingPath;
    const vfs2 = h.restart();
    expect((await vfs2.getattr('/dir/pending.bin')).size).toBe(5000);
    expect(await readAll(vfs2, '/dir/pending.bin')).toEqual(data);
    expect(h.staging.reopened).toEqual([path]);
    expect(h.reader.opened).toEqual([]);
    // and can be appended to: the upload is held, then re-journaled with the whole content
    const fh = await vfs2.open('/dir/pending.bin', flags.WRONLY);
    await vfs2.write('/dir/pending.bin', fh, Buffer.from('++'), 2, 5000);
    await vfs2.release('/dir/pending.bin', fh);
    const whole = Buffer.concat([data, Buffer.from('++')]);
    expect(h.uploads.last()).toMatchObject({ size: 5002, md5: md5(whole), stagingPath: path });
  });

  // regression (was a bug in src/vfs/pan-vfs.ts reopenPending / ensureLocal): the journal's staging path is reopened
  // outside guard(): when the staging file is missing (cache dir cleaned, disk replaced) open() rejects with the raw
  // Node ENOENT error instead of an FsError.
  it('a journaled file whose staging file is missing answers open with an FsError', async () => {
    h = seed();
    await writeNew(h.vfs, '/p.bin', ramp(10));
    rmSync(h.uploads.last()!.stagingPath);
    const vfs2 = h.restart();
    const errR = await vfs2.open('/p.bin', flags.RDONLY).then(
      () => null,
      (e: unknown) => e,
    );
    const errW = await vfs2.open('/p.bin', flags.RDWR).then(
      () => null,
      (e: unknown) => e,
    );
    expect(errR).toBeInstanceOf(FsError);
    expect(errW).toBeInstanceOf(FsError);
  });

  it('a node without remote id and without staging/journal is EIO on open, not a crash', async () => {
    h = seed();
    h.store.insert({
      remoteId: null,
      parentIno: ROOT_INO,
      name: 'ghost',
      isDir: false,
      now: h.clock.now(),
      dirty: true,
    });
    await expectFsError(h.vfs.open('/ghost', flags.RDONLY), 'EIO');
  });
});

describe('fsync', () => {
  it('journals modified content first, then waits for the upload', async () => {
    h = seed();
    const fh = await h.vfs.create('/s.txt', 0o644);
    await h.vfs.write('/s.txt', fh, Buffer.from('durable'), 7, 0);
    const order: string[] = [];
    h.uploads.waitResult = async () => {
      order.push(`wait after ${h.uploads.enqueued.length} enqueue(s)`);
    };
    await h.fs.fsync('/s.txt', fh, false);
    expect(order).toEqual(['wait after 1 enqueue(s)']);
    expect(h.uploads.last()).toMatchObject({ size: 7, md5: md5(Buffer.from('durable')) });
    expect(h.uploads.waited).toEqual([h.uploads.last()!.ino]);
    await h.vfs.release('/s.txt', fh);
    expect(h.uploads.enqueued).toHaveLength(1); // not modified since the fsync
  });

  it('propagates the upload failure as an FsError', async () => {
    h = seed();
    const fh = await h.vfs.create('/s.txt', 0o644);
    await h.vfs.write('/s.txt', fh, Buffer.from('x'), 1, 0);
    h.uploads.waitResult = () => Promise.reject(panError('space', 'storage full'));
    await expectFsError(h.fs.fsync('/s.txt', fh, false), 'ENOSPC');
    h.uploads.waitResult = () => Promise.reject(new Error('upload failed after 5 attempts'));
    const e = await expectFsError(h.fs.fsync('/s.txt', fh, true), 'EIO');
    expect(e).toBeInstanceOf(FsError);
  });

  it('does not wait for a file with nothing to upload (remote read handle, or unmodified committed file)', async () => {
    h = seed();
    const r = await h.vfs.open('/remote.bin', flags.RDONLY);
    await h.fs.fsync('/remote.bin', r, false);
    const w = await h.vfs.open('/remote.bin', flags.RDWR);
    await h.fs.fsync('/remote.bin', w, false);
    expect(h.uploads.waited).toEqual([]);
    expect(h.uploads.enqueued).toEqual([]);
  });
});

/** what the upload queue does on success: in one transaction, commit the node and remove the journal row */
function commitLikeQueue(ino: number, fileId: string, data: Buffer): void {
  h.journal.transaction(() => {
    const gen = h.journal.get(ino)!.generation;
    h.writeback.commit(ino, gen, { fileId, md5: md5(data), size: data.length });
    h.journal.remove(ino, gen);
  });
}

describe('writeback.commit (the upload target)', () => {
  it('records the remote id/md5/size and clears dirty; a staging file still read is freed on its release', async () => {
    h = seed();
    const data = ramp(3000, 4);
    await writeNew(h.vfs, '/dir/up.bin', data);
    const { ino } = h.uploads.last()!;
    // a reader keeps the staging file alive after the upload committed
    const fh = await h.vfs.open('/dir/up.bin', flags.RDONLY);
    expect(h.stagingFiles()).toHaveLength(1);
    commitLikeQueue(ino, '777', data);
    await tick();
    expect(h.store.get(ino)).toMatchObject({ remoteId: '777', md5: md5(data), size: 3000, dirty: false });
    expect(h.stagingFiles()).toHaveLength(1); // still open
    expect(await readHandle(h.vfs, '/dir/up.bin', fh)).toEqual(data);
    await h.vfs.release('/dir/up.bin', fh);
    await tick();
    expect(h.stagingFiles()).toEqual([]);
    // now read from the remote by the committed ref
    h.pan.addFile(h.pan.at('/dir')!.id, 'up.bin', data, 0, '777');
    expect(await readAll(h.vfs, '/dir/up.bin')).toEqual(data);
    expect(h.reader.opened.at(-1)).toEqual({ id: '777', size: 3000, md5: md5(data) });
  });

  it('frees the staging file when the writer is still open at commit time and then releases', async () => {
    h = seed();
    const data = ramp(100, 1);
    const fh = await h.vfs.create('/w.bin', 0o644);
    await h.vfs.write('/w.bin', fh, data, data.length, 0);
    await h.fs.fsync('/w.bin', fh, false);
    const { ino } = h.uploads.last()!;
    commitLikeQueue(ino, '778', data);
    await h.vfs.release('/w.bin', fh);
    await tick();
    expect(h.uploads.enqueued).toHaveLength(1);
    expect(h.stagingFiles()).toEqual([]);
  });

  // regression: a file closed before its upload committed used to leave its staging file forever
  it('deletes the staging file of an upload that commits after the file was closed (the usual case)', async () => {
    h = seed();
    await writeNew(h.vfs, '/x.bin', ramp(10));
    expect(h.stagingFiles()).toHaveLength(1);
    commitLikeQueue(h.uploads.last()!.ino, '888', ramp(10));
    await until(() => h.stagingFiles().length === 0, "the committed file's staging file to be deleted");
    expect(h.stagingFiles()).toEqual([]);
  });

  it('a re-upload with a new id drops the old id from the read cache', async () => {
    h = seed();
    const oldId = h.pan.at('/remote.bin')!.id;
    await h.vfs.truncate('/remote.bin', 10);
    const ino = h.uploads.last()!.ino;
    commitLikeQueue(ino, '999', REMOTE.subarray(0, 10));
    expect(h.reader.dropped).toContain(oldId);
    expect(h.store.get(ino)).toMatchObject({ remoteId: '999', size: 10, dirty: false });
  });
});

describe('an open for writing that waited for the per-file lock', () => {
  // regression (found in review): localContent used the node row read by lookup BEFORE waiting for the
  // per-file lock. The previous writer's release holds that lock while it closes the staging file; if the
  // upload committed meanwhile (journal row gone, remote id set) the waiting open saw neither staging nor
  // a remote id and started an EMPTY staging file: `echo a > f; echo b >> f` uploaded zeros + "b".
  it('uses the row as it is after the wait: an upload that committed meanwhile is downloaded, not lost', async () => {
    h = seed();
    const data = ramp(100, 3);
    const closeGate = new Gate();
    const create = h.staging.create.bind(h.staging);
    h.staging.create = async (ino: number) => {
      const st = await create(ino);
      const close = st.close.bind(st);
      st.close = async () => {
        await closeGate.pass();
        return close();
      };
      return st;
    };
    // the second open has looked the node up and asks the writeback for it (then waits for the lock)
    const asked = new Gate();
    asked.open();
    const openForWrite = h.writeback.openForWrite.bind(h.writeback);
    h.writeback.openForWrite = (...args) => {
      void asked.pass();
      return openForWrite(...args);
    };
    const fh = await h.vfs.create('/log.txt', 0o644);
    await h.vfs.write('/log.txt', fh, data, data.length, 0);
    const released = h.vfs.release('/log.txt', fh); // journals, then closes the staging file under the lock
    await closeGate.reached();
    const { ino } = h.uploads.last()!;
    const second = h.vfs.open('/log.txt', flags.WRONLY); // looks the node up, then waits for the lock
    await asked.reached();
    commitLikeQueue(ino, '4242', data); // the upload commits while the open waits
    h.pan.addFile(ROOT_ID, 'log.txt', data, 0, '4242');
    closeGate.open();
    await released;
    const fh2 = await second;
    await h.vfs.write('/log.txt', fh2, Buffer.from('more'), 4, 100); // append
    await h.vfs.release('/log.txt', fh2);
    const expected = Buffer.concat([data, Buffer.from('more')]);
    expect(h.uploads.last()).toMatchObject({ ino, size: 104, md5: md5(expected) });
    expect(await readAll(h.vfs, '/log.txt')).toEqual(expected);
  });
});

describe('write-back on flush', () => {
  // a flush while the file stays open (a shell redirect or dd: dup2 + close, then the writes) used to start
  // an upload of the empty file that the first write then threw away (leaving it in the 123 trash)
  it('a flush of a file still open journals it with a delay; the last close starts the upload', async () => {
    h = seed();
    const fh = await h.vfs.create('/redir.txt', 0o644);
    await h.vfs.flush('/redir.txt', fh); // close() of a dup: the handle stays open
    expect(h.uploads.last()).toMatchObject({ size: 0, delayMs: WRITE_BACK_DELAY_MS });
    await h.vfs.write('/redir.txt', fh, Buffer.from('hi\n'), 3, 0);
    await h.vfs.flush('/redir.txt', fh);
    expect(h.uploads.last()).toMatchObject({ size: 3, delayMs: WRITE_BACK_DELAY_MS });
    const { ino } = h.uploads.last()!;
    expect(h.uploads.expedited).toEqual([]);
    await h.vfs.release('/redir.txt', fh);
    expect(h.uploads.expedited).toEqual([ino]);
    expect(h.uploads.enqueued).toHaveLength(2); // nothing more to journal at release
  });
});

describe('create edge cases', () => {
  it('create over an existing file truncates it (no download) and keeps its ino', async () => {
    h = seed();
    const ino = (await h.vfs.getattr('/remote.bin')).ino;
    const fh = await h.vfs.create('/remote.bin', 0o644);
    expect((await h.vfs.fgetattr('/remote.bin', fh)).ino).toBe(ino);
    expect(h.reader.reads).toBe(0);
    await h.vfs.release('/remote.bin', fh);
    expect(h.uploads.last()).toMatchObject({ ino, size: 0 });
  });

  it('create over a directory is EISDIR; in a missing directory ENOENT; under a file ENOTDIR', async () => {
    h = seed();
    await expectFsError(h.vfs.create('/dir', 0o644), 'EISDIR');
    await expectFsError(h.vfs.create('/nope/f', 0o644), 'ENOENT');
    await expectFsError(h.vfs.create('/remote.bin/f', 0o644), 'ENOTDIR');
    expect(h.staging.created).toBe(0);
  });

  // regression (was a bug in src/vfs/pan-vfs.ts create, line ~173): `this.local.create(ino, now)` is not wrapped in
  // guard() and runs after store.insert(): a staging failure escapes as a raw Node error (not FsError) and leaves a
  // dirty node with no staging file and no journal row (getattr shows it; open answers EIO forever).
  it('a staging failure on create is an FsError (ENOSPC) and leaves no half-created node', async () => {
    h = seed();
    const enospc = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    h.staging.create = () => Promise.reject(enospc);
    await expectFsError(h.vfs.create('/full.bin', 0o644), 'ENOSPC');
    await expectFsError(h.vfs.getattr('/full.bin'), 'ENOENT');
  });

  // regression (was a bug in src/vfs/pan-vfs.ts create): tree.child() hides status>100 entries, so create goes on to
  // store.insert() with a (parent, name) that already exists: the UNIQUE constraint's SqliteError escapes
  // (not an FsError). Same for mkdir of such a name.
  it('create of a name held by a hidden (review-rejected) entry fails with an FsError', async () => {
    h = makeHarness({}, (pan) => {
      pan.addFile(ROOT_ID, 'banned.mp4', ramp(5), 101);
    });
    expect(await h.vfs.readdir('/')).toEqual([]); // hidden
    const err = await h.vfs.create('/banned.mp4', 0o644).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FsError);
  });
});

describe('utimens / chmod / chown / access', () => {
  it('utimens sets the mtime of a local file; accepted without effect on a remote one', async () => {
    h = seed();
    const fh = await h.vfs.create('/t.txt', 0o644);
    await h.fs.utimens('/t.txt', 1, 1_600_000_000_000);
    expect((await h.vfs.getattr('/t.txt')).mtimeMs).toBe(1_600_000_000_000);
    await h.vfs.release('/t.txt', fh);
    const before = (await h.vfs.getattr('/remote.bin')).mtimeMs;
    await h.fs.utimens('/remote.bin', 1, 5);
    expect((await h.vfs.getattr('/remote.bin')).mtimeMs).toBe(before);
  });

  it('chmod/chown/access accept existing paths and ENOENT missing ones', async () => {
    h = seed();
    await h.fs.chmod('/remote.bin', 0o600);
    await h.fs.chown('/remote.bin', 1, 1);
    await h.vfs.access('/remote.bin', C.R_OK | C.W_OK);
    await expectFsError(h.fs.chmod('/nope', 0o600), 'ENOENT');
    await expectFsError(h.vfs.access('/nope', C.F_OK), 'ENOENT');
    expect((await h.vfs.getattr('/remote.bin')).perm).toBe(0o644);
  });
});

describe('shutdown', () => {
  /** descriptors of this process open on the harness's staging files (Linux /proc) */
  const stagingFds = async () => {
    const links = await Promise.all(
      (await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')),
    );
    return links.filter((l) => l.startsWith(h.dir) && l.includes('/staging/')).length;
  };
  it.skipIf(process.platform !== 'linux')(
    'close() closes the staging files of handles still open; the files stay for the next start',
    async () => {
      h = seed();
      const a = await h.vfs.create('/a.txt', 0o644);
      await h.vfs.write('/a.txt', a, Buffer.from('aaa'), 3, 0);
      const b = await h.vfs.open('/remote.bin', flags.RDWR);
      await h.vfs.write('/remote.bin', b, Buffer.from('b'), 1, 0);
      expect(await stagingFds()).toBe(2);
      expect(await h.writeback.journalOpenWrites()).toBe(2);
      await h.writeback.close();
      expect(await stagingFds()).toBe(0);
      expect(h.stagingFiles()).toHaveLength(2); // journaled: they upload at the next start
    },
  );
});
