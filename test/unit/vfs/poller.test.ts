// The change poller (vfs/poller.ts) over the real vfs, store and tree with the fake 123 API and the fake
// clock: which folders it polls and when, that it lists in the background, that a remote change lands in the
// store and in the kernel invalidations, the per-open page-cache decisions, and status().
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Poller, RECENT_MS } from '../../../src/vfs/poller.js';
import { silentLogger } from '../../../src/core/logger.js';
import { flags, type Harness, makeHarness, md5, ROOT_ID } from './harness.js';

const INTERVAL = 60_000;
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe('change poller', () => {
  let h: Harness;
  let poller: Poller;
  let offline = false;
  const invalidated: string[][] = [];
  let docsId = '';
  let bId = '';

  beforeEach(() => {
    offline = false;
    invalidated.length = 0;
    h = makeHarness({}, (pan) => {
      pan.addFile(ROOT_ID, 'a.txt', Buffer.from('alpha'));
      docsId = pan.addDir(ROOT_ID, 'docs');
      bId = pan.addFile(docsId, 'b.txt', Buffer.from('bravo'));
      pan.addDir(ROOT_ID, 'quiet');
    });
    poller = new Poller({
      store: h.store,
      tree: h.vfs.tree,
      clock: h.clock,
      logger: silentLogger,
      intervalMs: INTERVAL,
      offline: () => offline,
    });
    h.vfs.watchFolders(poller);
    h.vfs.setKernelCache({ invalidate: (p) => invalidated.push([...p]) });
  });

  afterEach(async () => {
    await poller.stop();
    await h.close();
  });

  const background = () => h.pan.calls.filter((c) => c.method === 'listAll' && c.args.background === true);
  const polledIds = () => background().map((c) => c.args.parentId);
  const tick = async (ms: number) => {
    await h.clock.advance(ms);
    await settle();
  };

  it('polls the root and the folders in use once per interval, in the background, oldest listing first', async () => {
    await h.vfs.readdir('/docs'); // foreground: lists / and /docs
    await h.vfs.readdir('/quiet');
    const foreground = h.pan.count('listAll');
    poller.start();
    await tick(0);
    expect(background()).toEqual([]); // every listing is fresh: nothing is due yet
    await tick(INTERVAL);
    expect(polledIds().sort()).toEqual([ROOT_ID, docsId, h.pan.at('/quiet')!.id].sort());
    await tick(INTERVAL);
    expect(background()).toHaveLength(6);
    expect(h.pan.count('listAll') - foreground).toBe(6); // every poll in the background, nothing else
  });

  it('a remote rename, a new file, a changed file and a removal land in the store and in the kernel', async () => {
    await h.vfs.readdir('/docs');
    const aId = h.pan.at('/a.txt')!.id;
    poller.start();
    await tick(0);
    // another client changes things
    await h.pan.rename(bId, 'b2.txt');
    h.pan.addFile(docsId, 'new.txt', Buffer.from('news'));
    const a = h.pan.files.get(aId)!;
    a.data = Buffer.from('alpha, longer now');
    a.md5 = md5(a.data);
    a.size = a.data.length;
    await h.pan.trash([h.pan.at('/quiet')!.id]);
    await tick(INTERVAL);

    const before = h.pan.count('listAll');
    expect((await h.vfs.readdir('/docs')).map((e) => e.name).sort()).toEqual(['b2.txt', 'new.txt']);
    expect((await h.vfs.readdir('/')).map((e) => e.name).sort()).toEqual(['a.txt', 'docs']);
    expect((await h.vfs.getattr('/a.txt')).size).toBe(17);
    expect((await h.vfs.getattr('/a.txt')).md5).toBe(a.md5);
    expect(h.pan.count('listAll')).toBe(before); // served from the store the polls updated
    const paths = new Set(invalidated.flat());
    for (const p of ['/docs/b.txt', '/docs', '/a.txt', '/', '/quiet']) expect(paths).toContain(p);
  });

  it('keep_cache for an unchanged file; direct while another version is open and right after one was', async () => {
    const mode = async () => {
      const fh = await h.vfs.open('/a.txt', flags.RDONLY);
      return { fh, mode: h.vfs.pageCache(fh) };
    };
    const first = await mode();
    expect(first.mode).toBe('drop'); // the kernel never cached it
    await h.vfs.release('/a.txt', first.fh);
    const old = await mode();
    expect(old.mode).toBe('keep'); // same id and MD5 as the kernel cached

    poller.start();
    const a = h.pan.at('/a.txt')!;
    a.data = Buffer.from('alpha v2');
    a.md5 = md5(a.data);
    a.size = a.data.length;
    await tick(INTERVAL);
    expect(invalidated.flat()).toContain('/a.txt');

    const fresh = await mode();
    expect(fresh.mode).toBe('direct'); // the old version is still open through `old`
    await h.vfs.release('/a.txt', old.fh);
    await h.vfs.release('/a.txt', fresh.fh);
    const count = invalidated.length;
    const next = await mode();
    expect(next.mode).toBe('direct'); // the kernel saw the old version: its size may be that one's
    expect(invalidated.slice(count)).toEqual([['/a.txt']]); // ... so it asks again
    await h.vfs.release('/a.txt', next.fh);
    const after = await mode();
    expect(after.mode).toBe('drop');
    await h.vfs.release('/a.txt', after.fh);
    expect((await mode()).mode).toBe('keep');
  });

  it('a folder unused for RECENT_MS leaves the poll; the root and folders with pending uploads stay', async () => {
    await h.vfs.readdir('/docs');
    poller.start();
    await tick(0);
    expect(poller.status().folders.map((f) => f.path)).toEqual(['/', '/docs']);
    await tick(RECENT_MS + 1);
    expect(poller.status().folders.map((f) => `${f.path} ${f.why}`)).toEqual(['/ root']);
    const fh = await h.vfs.create('/quiet/draft.txt', 0o644);
    await h.vfs.release('/quiet/draft.txt', fh);
    // opening (creating) a file in /quiet is a use of it, and it holds a file not uploaded yet
    expect(poller.status().folders.map((f) => f.path)).toContain('/quiet');
    await tick(RECENT_MS + 1);
    expect(poller.status().folders.map((f) => `${f.path} ${f.why}`)).toEqual(['/ root', '/quiet uploads']);
  });

  it('polls the folders holding pinned files, used or not', async () => {
    await h.vfs.readdir('/docs');
    const pinned = new Poller({
      store: h.store,
      tree: h.vfs.tree,
      clock: h.clock,
      logger: silentLogger,
      intervalMs: INTERVAL,
      pinnedFolders: () => [h.store.child(1, 'docs')!.ino],
    });
    expect(pinned.status().folders.map((f) => `${f.path} ${f.why}`)).toEqual(['/ root', '/docs pinned']);
  });

  it('polls nothing while offline, and tries a failing folder once per interval, not in a loop', async () => {
    poller.start();
    await tick(0); // the root, never listed: polled at once
    expect(background()).toHaveLength(1);
    offline = true;
    await tick(INTERVAL);
    await tick(INTERVAL);
    expect(background()).toHaveLength(1);
    offline = false;
    h.pan.fail('listAll', 100);
    await tick(INTERVAL);
    expect(background()).toHaveLength(2);
    await tick(INTERVAL / 2);
    expect(background()).toHaveLength(2);
    await tick(INTERVAL / 2);
    expect(background()).toHaveLength(3);
  });

  it('status: the age of each listing and when its next poll is due', async () => {
    await h.vfs.readdir('/docs');
    const t0 = h.clock.now();
    poller.start();
    await tick(20_000);
    const st = poller.status();
    expect(st.intervalMs).toBe(INTERVAL);
    expect(st.folders).toEqual([
      { path: '/', why: 'root', listedAt: t0, ageMs: 20_000, nextPollAt: t0 + INTERVAL },
      { path: '/docs', why: 'recent', listedAt: t0, ageMs: 20_000, nextPollAt: t0 + INTERVAL },
    ]);
    await tick(40_000);
    expect(poller.status().folders.map((f) => f.ageMs)).toEqual([0, 0]);
  });
});
