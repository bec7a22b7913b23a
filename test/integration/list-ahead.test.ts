// A walk at the floor (issue 13 item 6): `find` lists one folder at a time, so a cold walk of N folders
// costs N × the API latency when that is larger than 1 / QPS. Against the emulator with its limits on
// (developer tier: file_list 15 per sliding second) and every API answer delayed LATENCY_MS (WAN
// emulation), the real store, tree and list-ahead (vfs/list-ahead.ts) on the real clock: a depth-first walk
// of 41 folders through Tree.children (what readdir calls) takes at most 1.1 × (N / QPS + one latency) —
// one folder after another it takes N × latency = 4.1 s —, never above the budget (the emulator's busiest
// second holds at most 15 file_list calls, and it answered no 429), each folder listed once; a plain `ls`
// of one folder makes exactly one listing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/index.js';
import { openMetaDb } from '../../src/meta/db.js';
import { NodeStore, type NodeRow } from '../../src/meta/node-store.js';
import { HttpPanClient } from '../../src/pan/http-pan-client.js';
import { ListAhead } from '../../src/vfs/list-ahead.js';
import { Tree } from '../../src/vfs/tree.js';

const LATENCY_MS = 80;
const QPS = 15; // file_list at the developer tier (the emulator's account has developer rights)
let emu: EmulatorHandle;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pan123fs-listahead-'));
  const seed = path.join(dir, 'seed');
  for (let a = 0; a < 4; a++)
    for (let s = 0; s < 9; s++) {
      fs.mkdirSync(path.join(seed, `a${a}`, `s${s}`), { recursive: true });
      fs.writeFileSync(path.join(seed, `a${a}`, `s${s}`, 'f.txt'), `${a}.${s}\n`);
    }
  emu = await startEmulator({ seedDir: seed, rateLimitScale: 1, wan: { apiDelayMs: LATENCY_MS } });
}, 120_000);
afterAll(async () => {
  await emu.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A mount's listing machinery on a fresh store: the client, the tree and the list-ahead. */
function mount() {
  const state = fs.mkdtempSync(path.join(dir, 'state-'));
  const pan = new HttpPanClient({
    apiBase: emu.baseUrl,
    clientId: 'pan123fs-demo',
    clientSecret: 'pan123fs-demo-secret',
    stateDir: state,
    rateLimitScale: 1,
    tier: 'developer',
  });
  const db = openMetaDb(path.join(state, 'meta.db'));
  const store = new NodeStore(db);
  store.ensureRoot('0', systemClock.now());
  const tree = new Tree(store, pan, systemClock, () => 60_000, silentLogger);
  const ahead = new ListAhead({ store, tree, clock: systemClock, logger: silentLogger });
  tree.walks = ahead;
  return {
    tree,
    ahead,
    close: async () => {
      ahead.stop();
      await pan.close();
      db.close();
    },
  };
}

/** Depth first, one folder at a time, subfolders in readdir's order: what `find` asks of the daemon. */
async function walk(tree: Tree, d: NodeRow): Promise<number> {
  let n = 1;
  for (const c of await tree.children(d)) if (c.isDir) n += await walk(tree, c);
  return n;
}

/** Waits until the emulator's file_list window is empty (one window after the last listing). */
const quiet = () => new Promise((r) => setTimeout(r, 1100));

describe('a walk at the floor', () => {
  it('a cold depth-first walk of 41 folders takes about N / QPS, never above the budget', async () => {
    const m = mount();
    try {
      await m.tree.lookup('/'); // the token fetched, not timed
      await quiet();
      emu.resetCounters();
      const t0 = performance.now();
      const folders = await walk(m.tree, m.tree.root());
      const ms = performance.now() - t0;
      const c = emu.counters();
      expect(folders).toBe(41);
      const floor = (folders / QPS) * 1000 + LATENCY_MS;
      console.log(
        `walk of ${folders} folders: ${ms.toFixed(0)} ms (floor N/QPS + latency ${floor.toFixed(0)} ms, ` +
          `one after another ${folders * LATENCY_MS} ms); busiest second ${c.busiest.file_list} file_list; ` +
          `${c.requests.file_list} calls, ${c.rateLimited} answered 429; ` +
          `listed ahead ${m.ahead.stats.started}, reached ${m.ahead.stats.reached}`,
      );
      expect(c.rateLimited).toBe(0);
      expect(c.requests.file_list).toBe(folders); // each folder once (one page each)
      expect(c.busiest.file_list).toBeLessThanOrEqual(QPS);
      expect(ms).toBeLessThanOrEqual(floor * 1.1);
    } finally {
      await m.close();
    }
  }, 60_000);

  it('a plain ls of one folder makes exactly one listing', async () => {
    const m = mount();
    try {
      const a0 = await m.tree.lookupDir('/a0'); // the path walk lists the root
      await quiet();
      emu.resetCounters();
      const kids = await m.tree.children(a0);
      expect(kids.filter((k) => k.isDir).length).toBe(9);
      await new Promise((r) => setTimeout(r, 500)); // anything started ahead would have arrived
      expect(emu.counters().requests.file_list).toBe(1);
      expect(m.ahead.stats.started).toBe(0);
    } finally {
      await m.close();
    }
  }, 30_000);
});
