// getattr / readdir / statfs, the directory cache (dir-cache-time with an injected clock), single-flight
// listings, hidden review-rejected entries and stale listings on failure.
import { afterEach, describe, expect, it } from 'vitest';
import { FsError } from '../../../src/core/errors.js';
import { ROOT_INO } from '../../../src/meta/node-store.js';
import { PanError } from '../../../src/pan/errors.js';
import { ROOT_ID, expectFsError, makeHarness, md5, panError, ramp, type Harness } from './harness.js';

let h: Harness;
afterEach(() => h?.close());

function seedBasic(): Harness {
  return makeHarness({}, (pan) => {
    const docs = pan.addDir(ROOT_ID, 'docs');
    pan.addFile(docs, 'a.txt', ramp(100, 1));
    pan.addDir(docs, 'sub');
    pan.addFile(ROOT_ID, 'top.bin', ramp(5000, 2));
  });
}

describe('getattr', () => {
  it("a directory's st_nlink is 2 + its visible subdirectories, as the store knows them", async () => {
    h = seedBasic();
    await h.vfs.readdir('/');
    await h.vfs.readdir('/docs');
    expect((await h.vfs.getattr('/')).nlink).toBe(3); // docs (top.bin is a file)
    expect((await h.vfs.getattr('/docs')).nlink).toBe(3); // sub
    await h.vfs.mkdir('/docs/sub2', 0o755);
    expect((await h.vfs.getattr('/docs')).nlink).toBe(4);
    await h.vfs.rmdir('/docs/sub');
    expect((await h.vfs.getattr('/docs')).nlink).toBe(3);
    await h.vfs.rename('/docs/sub2', '/sub2');
    expect((await h.vfs.getattr('/docs')).nlink).toBe(2);
    expect((await h.vfs.getattr('/')).nlink).toBe(4);
  });

  it('reports files and directories with owner, umask-derived permissions, size and nlink', async () => {
    h = seedBasic();
    const root = await h.vfs.getattr('/');
    expect(root).toMatchObject({ ino: ROOT_INO, isDir: true, size: 0, perm: 0o755, uid: 1234, gid: 5678, nlink: 2 });
    const f = await h.vfs.getattr('/docs/a.txt');
    expect(f).toMatchObject({ isDir: false, size: 100, perm: 0o644, uid: 1234, gid: 5678, nlink: 1 });
    expect(f.mtimeMs).toBe(h.pan.at('/docs/a.txt')!.createdAt);
    const d = await h.vfs.getattr('/docs/sub');
    expect(d).toMatchObject({ isDir: true, perm: 0o755, nlink: 2 });
  });

  it('honours another umask', async () => {
    h = makeHarness({ umask: 0o077 }, (pan) => {
      pan.addFile(ROOT_ID, 'f', ramp(1));
    });
    expect((await h.vfs.getattr('/f')).perm).toBe(0o600);
    expect((await h.vfs.getattr('/')).perm).toBe(0o700);
  });

  it('gives ENOENT for a missing name and ENOTDIR for a path through a file', async () => {
    h = seedBasic();
    await expectFsError(h.vfs.getattr('/nope'), 'ENOENT');
    await expectFsError(h.vfs.getattr('/docs/nope/deeper'), 'ENOENT');
    await expectFsError(h.vfs.getattr('/top.bin/x'), 'ENOTDIR');
  });

  it('the ino of a path is stable across a relisting', async () => {
    h = seedBasic();
    const before = (await h.vfs.getattr('/docs/a.txt')).ino;
    h.clock.advance(120_000);
    expect((await h.vfs.getattr('/docs/a.txt')).ino).toBe(before);
    expect(h.pan.count('listAll')).toBe(4); // root + docs, twice
  });
});

describe('readdir', () => {
  it('lists names with their stats, sorted', async () => {
    h = seedBasic();
    const root = await h.vfs.readdir('/');
    expect(root.map((e) => e.name)).toEqual(['docs', 'top.bin']);
    expect(root[1]!.stat).toMatchObject({ isDir: false, size: 5000 });
    expect((await h.vfs.readdir('/docs')).map((e) => [e.name, e.stat.isDir])).toEqual([
      ['a.txt', false],
      ['sub', true],
    ]);
    expect(await h.vfs.readdir('/docs/sub')).toEqual([]);
  });

  it('of a file is ENOTDIR, of a missing dir ENOENT', async () => {
    h = seedBasic();
    await expectFsError(h.vfs.readdir('/top.bin'), 'ENOTDIR');
    await expectFsError(h.vfs.readdir('/gone'), 'ENOENT');
  });

  it('hides review-rejected entries (status > 100) from readdir and lookups, but keeps status 100', async () => {
    h = makeHarness({}, (pan) => {
      pan.addFile(ROOT_ID, 'ok.txt', ramp(3));
      pan.addFile(ROOT_ID, 'rejected.mp4', ramp(3), 101);
      pan.addFile(ROOT_ID, 'edge.txt', ramp(3), 100);
    });
    expect((await h.vfs.readdir('/')).map((e) => e.name)).toEqual(['edge.txt', 'ok.txt']);
    await expectFsError(h.vfs.getattr('/rejected.mp4'), 'ENOENT');
    await expectFsError(h.vfs.open('/rejected.mp4', 0), 'ENOENT');
  });

  it('shows a file being written (not uploaded yet) next to the remote entries', async () => {
    h = seedBasic();
    const fh = await h.vfs.create('/docs/new.txt', 0o644);
    expect((await h.vfs.readdir('/docs')).map((e) => e.name)).toEqual(['a.txt', 'new.txt', 'sub']);
    await h.vfs.release('/docs/new.txt', fh);
    h.clock.advance(10 * 60_000); // a relisting does not drop it: it is dirty until uploaded
    expect((await h.vfs.readdir('/docs')).map((e) => e.name)).toEqual(['a.txt', 'new.txt', 'sub']);
  });
});

describe('directory cache (dir-cache-time)', () => {
  it('serves a listing from the store while fresh and re-lists after dirCacheTime', async () => {
    h = seedBasic();
    await h.vfs.readdir('/docs');
    const listed = h.pan.count('listAll');
    expect(listed).toBe(2);
    // a remote change is not seen while the listing is fresh
    h.pan.addFile(h.pan.at('/docs')!.id, 'b.txt', ramp(7));
    h.clock.advance(59_999);
    expect((await h.vfs.readdir('/docs')).map((e) => e.name)).toEqual(['a.txt', 'sub']);
    await h.vfs.getattr('/docs/a.txt');
    await expectFsError(h.vfs.getattr('/docs/b.txt'), 'ENOENT');
    expect(h.pan.count('listAll')).toBe(listed);
    // stale: re-listed, the new file shows
    h.clock.advance(1);
    expect((await h.vfs.readdir('/docs')).map((e) => e.name)).toEqual(['a.txt', 'b.txt', 'sub']);
    expect(h.pan.count('listAll')).toBe(listed + 2);
    expect((await h.vfs.getattr('/docs/b.txt')).size).toBe(7);
  });

  it('a remote deletion shows after the relisting', async () => {
    h = seedBasic();
    expect((await h.vfs.getattr('/docs/a.txt')).size).toBe(100);
    h.pan.at('/docs/a.txt')!.trashed = true;
    await h.vfs.getattr('/docs/a.txt');
    h.clock.advance(60_000);
    await expectFsError(h.vfs.getattr('/docs/a.txt'), 'ENOENT');
  });

  it('concurrent lookups of one directory share a single listAll (single-flight)', async () => {
    h = seedBasic();
    const gate = h.pan.gates.hold('listAll');
    const all = Promise.all([
      h.vfs.getattr('/top.bin'),
      h.vfs.readdir('/'),
      h.vfs.getattr('/docs'),
      h.vfs.getattr('/missing').catch((e) => e),
    ]);
    await gate.reached();
    expect(h.pan.count('listAll')).toBe(1);
    h.pan.gates.release('listAll');
    const [top, root, docs, missing] = await all;
    expect(top.size).toBe(5000);
    expect(root.map((e: { name: string }) => e.name)).toEqual(['docs', 'top.bin']);
    expect(docs.isDir).toBe(true);
    expect(missing).toBeInstanceOf(FsError);
    expect((missing as FsError).kind).toBe('ENOENT');
    expect(h.pan.calls.filter((c) => c.method === 'listAll' && c.args.parentId === ROOT_ID)).toHaveLength(1);
  });

  it('concurrent lookups share a failing listing too: all fail once, the next access retries', async () => {
    h = seedBasic();
    const gate = h.pan.gates.hold('listAll');
    h.pan.failNext('listAll', panError('transport', 'ECONNRESET'));
    const all = Promise.all(
      [h.vfs.getattr('/top.bin'), h.vfs.readdir('/'), h.vfs.getattr('/docs')].map((p) =>
        p.then(
          () => 'ok',
          (e: FsError) => e.kind,
        ),
      ),
    );
    await gate.reached();
    h.pan.gates.release('listAll');
    expect(await all).toEqual(['EIO', 'EIO', 'EIO']);
    expect(h.pan.count('listAll')).toBe(1);
    expect((await h.vfs.getattr('/top.bin')).size).toBe(5000);
    expect(h.pan.count('listAll')).toBe(2);
  });

  it('readdir stats carry the same ino as getattr', async () => {
    h = seedBasic();
    for (const e of await h.vfs.readdir('/docs')) expect((await h.vfs.getattr(`/docs/${e.name}`)).ino).toBe(e.stat.ino);
  });

  it('refresh drops the cached listing so the next access re-lists', async () => {
    h = seedBasic();
    await h.vfs.readdir('/docs');
    h.pan.addFile(h.pan.at('/docs')!.id, 'late.txt', ramp(1));
    expect(await h.vfs.refresh('/docs', false)).toBe(1);
    expect((await h.vfs.readdir('/docs')).map((e) => e.name)).toContain('late.txt');
  });

  it('a failed relisting serves the stale stored listing', async () => {
    h = seedBasic();
    expect((await h.vfs.readdir('/docs')).map((e) => e.name)).toEqual(['a.txt', 'sub']);
    h.clock.advance(120_000);
    h.pan.failNext('listAll', panError('transport', 'connect ECONNRESET'));
    h.pan.failNext('listAll', panError('transport', 'connect ECONNRESET'));
    expect((await h.vfs.readdir('/docs')).map((e) => e.name)).toEqual(['a.txt', 'sub']);
    expect(h.pan.count('listAll')).toBe(4);
    // the next access retries the listing (it was not marked fresh by the failure)
    await h.vfs.readdir('/docs');
    expect(h.pan.count('listAll')).toBe(6);
  });

  it('a first listing that fails is an error (nothing stored to serve), classified', async () => {
    h = seedBasic();
    h.pan.failNext('listAll', panError('transport', 'socket hang up'));
    await expectFsError(h.vfs.readdir('/'), 'EIO');
    h.pan.failNext('listAll', new PanError({ kind: 'transport', message: 'request timed out', timedOut: true }));
    await expectFsError(h.vfs.readdir('/'), 'ETIMEDOUT');
    h.pan.failNext('listAll', panError('auth', 'token refused'));
    await expectFsError(h.vfs.getattr('/docs'), 'EACCES');
    h.pan.failNext('listAll', panError('rate-limited'));
    await expectFsError(h.vfs.getattr('/docs'), 'EAGAIN');
    expect((await h.vfs.readdir('/')).length).toBe(2);
  });

  it('a directory deleted remotely (not-found on relisting) is ENOENT, not the stale listing', async () => {
    h = seedBasic();
    await h.vfs.readdir('/docs');
    h.clock.advance(120_000);
    h.pan.failNext('listAll', undefined); // the root relisting succeeds (still shows docs) …
    h.pan.failNext('listAll', panError('not-found')); // … the docs relisting says the folder is gone
    await expectFsError(h.vfs.readdir('/docs'), 'ENOENT');
    expect(h.pan.count('listAll')).toBe(4);
  });
});

describe('statfs', () => {
  it('total = permanent + unexpired temporary space; free = total - used', async () => {
    h = seedBasic();
    h.account.info = {
      ...h.account.info,
      spacePermanent: 1000,
      spaceTemp: 500,
      spaceTempExpireAt: h.clock.now() + 1000,
      spaceUsed: 300,
    };
    expect(await h.vfs.statfs('/')).toMatchObject({ total: 1500, used: 300, free: 1200, nameMax: 255 });
  });

  it('counts temporary space with no expiry (0), not expired temporary space', async () => {
    h = seedBasic();
    h.account.info = { ...h.account.info, spacePermanent: 1000, spaceTemp: 500, spaceTempExpireAt: 0, spaceUsed: 0 };
    expect((await h.vfs.statfs('/')).total).toBe(1500);
    await h.close();
    h = seedBasic();
    h.account.info = {
      ...h.account.info,
      spacePermanent: 1000,
      spaceTemp: 500,
      spaceTempExpireAt: h.clock.now() - 1,
      spaceUsed: 1200,
    };
    expect(await h.vfs.statfs('/')).toMatchObject({ total: 1000, used: 1200, free: 0 });
  });

  it('caches the user info for 30 s', async () => {
    h = seedBasic();
    await h.vfs.statfs('/');
    h.account.info = { ...h.account.info, spaceUsed: 999 };
    h.clock.advance(30_000);
    expect((await h.vfs.statfs('/')).used).toBe(300);
    expect(h.account.calls).toBe(1);
    h.clock.advance(1);
    expect((await h.vfs.statfs('/')).used).toBe(999);
    expect(h.account.calls).toBe(2);
  });

  it('a failing user info call is an FsError (classified)', async () => {
    h = seedBasic();
    h.account.failWith = panError('transport', 'ECONNREFUSED');
    await expectFsError(h.vfs.statfs('/'), 'EIO');
    h.account.failWith = null;
    expect((await h.vfs.statfs('/')).total).toBe(1500);
  });
});

describe('fgetattr', () => {
  it('shows the local size of a file being written, getattr too', async () => {
    h = seedBasic();
    const fh = await h.vfs.create('/w.bin', 0o644);
    await h.vfs.write('/w.bin', fh, ramp(1234), 1234, 0);
    expect((await h.vfs.fgetattr('/w.bin', fh)).size).toBe(1234);
    expect((await h.vfs.getattr('/w.bin')).size).toBe(1234);
    await h.vfs.release('/w.bin', fh);
    // after close (pending upload) the stored size is the local one
    expect((await h.vfs.getattr('/w.bin')).size).toBe(1234);
    expect(h.store.child(ROOT_INO, 'w.bin')!.md5).toBe(''); // not uploaded: no remote md5 yet
    expect(h.uploads.last()!.md5).toBe(md5(ramp(1234)));
  });
});
