// Listing ahead of a walk (vfs/list-ahead.ts) over the real vfs, store and tree with the fake 123 API and
// the fake clock: a plain `ls` lists nothing more, a depth-first walk (what `find` does through readdir)
// has its next folders listed ahead, each folder once, within the concurrency bound; a walk that stops
// costs at most AHEAD_DEPTH listings; offline nothing is listed ahead; a walk reaching a folder being
// listed ahead joins that listing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { AHEAD_CONCURRENCY, AHEAD_DEPTH, ListAhead, WALK_IDLE_MS } from '../../../src/vfs/list-ahead.js';
import { Deferred, type Harness, makeHarness, ROOT_ID } from './harness.js';

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

describe('list-ahead', () => {
  let h: Harness;
  let ahead: ListAhead;
  let offline = false;
  /** folder id → path */
  const ids = new Map<string, string>();

  beforeEach(() => {
    offline = false;
    ids.clear();
    h = makeHarness({}, (pan) => {
      for (let t = 0; t < 10; t++) {
        const tid = pan.addDir(ROOT_ID, `t${t}`);
        ids.set(tid, `/t${t}`);
        for (let s = 0; s < 3; s++) {
          const sid = pan.addDir(tid, `s${s}`);
          ids.set(sid, `/t${t}/s${s}`);
          pan.addFile(sid, 'f.txt', Buffer.from('x'));
        }
      }
      const flat = pan.addDir(ROOT_ID, 'flat');
      for (let s = 0; s < 10; s++) pan.addDir(flat, `s${s}`);
    });
    ahead = new ListAhead({
      store: h.store,
      tree: h.vfs.tree,
      clock: h.clock,
      logger: silentLogger,
      offline: () => offline,
    });
    h.vfs.tree.walks = ahead;
  });

  afterEach(async () => {
    ahead.stop();
    await settle();
    await h.close();
  });

  const lists = () => h.pan.calls.filter((c) => c.method === 'listAll');
  const aheadLists = () => lists().filter((c) => c.args.ahead === true);

  /** What `find` does: readdir a folder, then each subfolder in the order readdir gave, depth first. */
  async function walk(path: string): Promise<number> {
    let n = 1;
    const kids = await h.vfs.readdir(path);
    for (const k of kids) if (k.stat.isDir) n += await walk(`${path === '/' ? '' : path}/${k.name}`);
    return n;
  }

  it('a plain ls of one folder, and of one subfolder after it, lists nothing more', async () => {
    await h.vfs.readdir('/flat');
    await settle();
    expect(lists().length).toBe(2); // the root (the path walk) and /flat
    await h.vfs.getattr('/flat/s0'); // ls -l: a LOOKUP of each entry lists nothing
    await h.vfs.readdir('/flat/s0');
    await settle();
    expect(lists().length).toBe(3);
    expect(aheadLists()).toEqual([]);
  });

  it('a depth-first walk lists its next folders ahead, each folder once', async () => {
    const folders = await walk('/');
    await settle();
    expect(folders).toBe(1 + 10 + 30 + 1 + 10);
    const listed = lists().map((c) => c.args.parentId);
    expect(listed.length).toBe(folders); // nothing twice, nothing more
    expect(new Set(listed).size).toBe(folders);
    // most were listed ahead (not the first three: root, flat, flat/s0 make the walk)
    expect(aheadLists().length).toBeGreaterThan(folders / 2);
    expect(ahead.stats.reached).toBe(ahead.stats.started);
  });

  it('keeps at most AHEAD_CONCURRENCY listings ahead in flight', async () => {
    let cur = 0;
    let max = 0;
    h.pan.onCall = async (method) => {
      if (method !== 'listAll') return;
      cur++;
      max = Math.max(max, cur);
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      cur--;
    };
    await walk('/');
    expect(max).toBeGreaterThan(1);
    expect(max).toBeLessThanOrEqual(AHEAD_CONCURRENCY + 1); // + the walk's own listing
  });

  it('a walk that stops costs at most AHEAD_DEPTH listings; nothing starts after it', async () => {
    await h.vfs.readdir('/');
    await h.vfs.readdir('/t0');
    await h.vfs.readdir('/t0/s0'); // the second step: a walk
    await settle();
    const started = aheadLists().length;
    expect(started).toBeGreaterThan(0);
    expect(started).toBeLessThanOrEqual(AHEAD_DEPTH);
    // the predicted order: t0's later subfolders, then t1 ...
    expect(aheadLists()[0]!.args.parentId).toBe([...ids].find(([, p]) => p === '/t0/s1')![0]);
    await h.clock.advance(WALK_IDLE_MS + 1);
    await h.vfs.readdir('/flat'); // a new `ls` after the walk stopped: nothing ahead
    await h.vfs.readdir('/flat/s1');
    await settle();
    expect(aheadLists().length).toBe(started);
  });

  it('lists nothing ahead while offline', async () => {
    offline = true;
    await walk('/t0');
    await walk('/t1');
    await settle();
    expect(aheadLists()).toEqual([]);
  });

  it('a walk reaching a folder being listed ahead joins that listing', async () => {
    const held = new Deferred();
    h.pan.onCall = async (method, args) => {
      if (method !== 'listAll') return;
      const call = [...lists()].reverse().find((c) => c.args.parentId === args.parentId)!;
      if (call.args.ahead === true) await held.promise;
    };
    await h.vfs.readdir('/');
    await h.vfs.readdir('/t0');
    await h.vfs.readdir('/t0/s0');
    await settle();
    const s1 = [...ids].find(([, p]) => p === '/t0/s1')![0];
    expect(aheadLists().map((c) => c.args.parentId)).toContain(s1);
    const reading = h.vfs.readdir('/t0/s1');
    await settle();
    held.resolve();
    expect((await reading).map((e) => e.name)).toEqual(['f.txt']);
    expect(lists().filter((c) => c.args.parentId === s1).length).toBe(1);
  });
});
