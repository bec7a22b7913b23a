// The listing merge (meta/listing-merge.ts, applied by NodeStore.replaceListing) on random states, with a
// seeded generator of our own: a folder with clean, dirty and local children, subfolders (some holding
// files not uploaded yet), rows elsewhere the listing may move in; local changes made after the listing
// was requested (dirty, rewritten, renamed, created, removed, uploaded); a listing over a small alphabet of
// names (swaps, reuse of a name, duplicates) and ids (known here, known elsewhere, removed, new).
// After the merge, on the real SQLite schema:
//  - it did not throw (so no step ever broke UNIQUE(parent_ino, name) or UNIQUE(remote_id));
//  - every (parent, name) is unique (checked again by query);
//  - every dirty node survives unchanged; every node changed after the listing started survives unchanged;
//  - an id removed here after the listing started does not come back;
//  - and, so the properties cannot hold by doing nothing: every entry nothing local stands against is at
//    its name with its remote id (a known id keeping its ino), and every clean child the listing lacks is
//    gone, unless it is a folder holding local changes.
import { afterAll, describe, expect, it } from 'vitest';
import { openMetaDb } from '../../../src/meta/db.js';
import { isParked } from '../../../src/meta/listing-merge.js';
import { type ListedChild, NodeStore, type NodeRow, ROOT_INO } from '../../../src/meta/node-store.js';

const CASES = Number(process.env.LISTING_MERGE_CASES ?? 3000);
const SEED = Number(process.env.LISTING_MERGE_SEED ?? 0x5eed);
const T0 = 1_700_000_000_000;
const NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

/** mulberry32: small, fast, good enough to pick shapes */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    chance: (p: number) => next() < p,
    int: (n: number) => Math.floor(next() * n),
    pick<T>(xs: readonly T[]): T {
      return xs[Math.floor(next() * xs.length)]!;
    },
    shuffle<T>(xs: T[]): T[] {
      for (let i = xs.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [xs[i], xs[j]] = [xs[j]!, xs[i]!];
      }
      return xs;
    },
  };
}
type Rng = ReturnType<typeof rng>;

const db = openMetaDb(':memory:');
afterAll(() => db.close());

const selectAll = db.prepare('SELECT * FROM nodes ORDER BY ino');
/** every row, straight from SQLite (no row cache in between) */
function allRows(): NodeRow[] {
  return (selectAll.all() as Record<string, unknown>[]).map((r) => ({
    ino: r.ino as number,
    remoteId: r.remote_id as string | null,
    parentIno: r.parent_ino as number | null,
    name: r.name as string,
    isDir: r.is_dir === 1,
    size: r.size as number,
    md5: r.md5 as string,
    mtimeMs: r.mtime_ms as number,
    ctimeMs: r.ctime_ms as number,
    status: r.status as number,
    dirty: r.dirty === 1,
    listedAt: r.listed_at as number | null,
  }));
}

interface Case {
  store: NodeStore;
  parent: number;
  sinceSeq: number;
  entries: ListedChild[];
  /** inos changed by local operations after the listing was requested */
  changed: Set<number>;
  /** remote ids removed locally after the listing was requested */
  removed: Set<string>;
}

/**
 * One store for every case (building one prepares ~30 statements, most of a case's cost): a new root id
 * per case wipes the tree through the store itself, and ids never repeat across cases, so what the store
 * remembers of earlier cases (changes, removals) is older than any later listing.
 */
const store = new NodeStore(db);

function build(r: Rng, caseNo: number): Case {
  db.exec('DELETE FROM upload_journal');
  store.ensureRoot(`root-${caseNo}`, T0);
  let nextId = 1;
  const id = () => `c${caseNo}-r${nextId++}`;
  const parent = store.insert({ remoteId: 'P', parentIno: ROOT_INO, name: 'P', isDir: true, now: T0 });
  const other = store.insert({ remoteId: 'O', parentIno: ROOT_INO, name: 'O', isDir: true, now: T0 });
  const journal = (ino: number) =>
    db
      .prepare('INSERT INTO upload_journal (ino, staging_path, size, md5, enqueued_at) VALUES (?, ?, 1, NULL, ?)')
      .run(ino, `/s/${ino}`, T0);
  const fill = (dir: number, names: string[], depth: number) => {
    for (const name of names) {
      const kind = r.int(10);
      if (kind < 4) store.insert({ remoteId: id(), parentIno: dir, name, isDir: false, size: 5, md5: 'm', now: T0 });
      else if (kind < 5) {
        const ino = store.insert({ remoteId: null, parentIno: dir, name, isDir: false, now: T0, dirty: true });
        journal(ino);
      } else if (kind < 6) {
        const ino = store.insert({ remoteId: id(), parentIno: dir, name, isDir: false, size: 5, md5: 'm', now: T0 });
        store.setLocalContent(ino, 9, T0 + 1);
        journal(ino);
      } else {
        const sub = store.insert({ remoteId: id(), parentIno: dir, name, isDir: true, now: T0 });
        if (depth < 2) fill(sub, r.shuffle([...NAMES]).slice(0, r.int(3)), depth + 1);
      }
    }
  };
  fill(parent, r.shuffle([...NAMES]).slice(0, r.int(NAMES.length + 1)), 0);
  fill(other, r.shuffle([...NAMES]).slice(0, r.int(4)), 1);

  const sinceSeq = store.changeSeq();
  const changed = new Set<number>();
  const removed = new Set<string>();
  const rows = () => allRows().filter((n) => n.ino !== ROOT_INO && n.ino !== parent && n.ino !== other);
  for (let k = r.int(4); k > 0; k--) {
    const candidates = rows();
    const op = r.int(6);
    const n = candidates.length > 0 ? r.pick(candidates) : undefined;
    if (op === 0 && n && !n.isDir) {
      store.markDirty(n.ino);
      changed.add(n.ino);
    } else if (op === 1 && n && !n.isDir) {
      store.setLocalContent(n.ino, 42, T0 + 2);
      changed.add(n.ino);
    } else if (op === 2 && n) {
      const to = r.chance(0.7) ? parent : other;
      const name = r.pick(NAMES);
      const target = store.child(to, name);
      const below = (x: number | null): boolean => x !== null && (x === n.ino || below(store.get(x)!.parentIno));
      if (below(to) || target?.isDir || (target && store.hasPendingBelow(target.ino))) continue;
      if (target && target.ino !== n.ino && target.remoteId !== null) removed.add(target.remoteId);
      store.rename(n.ino, to, name, T0 + 3);
      changed.add(n.ino);
    } else if (op === 3) {
      const name = r.pick(NAMES);
      if (store.child(parent, name)) continue;
      // a file created here, or a folder whose mkdir was answered meanwhile
      const dir = r.chance(0.3);
      changed.add(
        store.insert({ remoteId: dir ? id() : null, parentIno: parent, name, isDir: dir, now: T0 + 4, dirty: !dir }),
      );
    } else if (op === 4 && n && n.remoteId !== null && !store.hasChildren(n.ino)) {
      // unlink, or rmdir of an empty folder
      removed.add(n.remoteId);
      store.delete(n.ino);
    } else if (op === 5 && n && n.remoteId === null) {
      store.commitUpload(n.ino, id(), 'u', 3);
      changed.add(n.ino);
    }
  }

  // the listing: mostly ids the store knows (here, elsewhere, removed), some new; names may repeat
  const known = rows()
    .map((n) => n.remoteId)
    .filter((x): x is string => x !== null);
  const ids = r.shuffle([...new Set([...known, ...removed])]).slice(0, r.int(9));
  for (let k = r.int(3); k > 0; k--) ids.push(id());
  const entries = ids.map((eid) => ({
    id: eid,
    name: r.pick(NAMES),
    isDir: r.chance(0.3),
    size: 7,
    md5: `md5-${eid}`,
    status: 0,
    createdAt: T0 - 100,
    updatedAt: T0 - 50,
  }));
  return { store, parent, sinceSeq, entries, changed, removed };
}

/** A failed rule (plain checks: a few thousand cases with expect() in the loop cost seconds). */
function rule(holds: boolean, what: string): void {
  if (!holds) throw new Error(what);
}
const same = (a: NodeRow | undefined, b: NodeRow) =>
  a !== undefined && JSON.stringify({ ...a, listedAt: null }) === JSON.stringify({ ...b, listedAt: null });

function check(c: Case, before: NodeRow[], after: NodeRow[]): void {
  const byIno = new Map(after.map((n) => [n.ino, n]));
  const pairs = after.map((n) => `${n.parentIno}/${n.name}`);
  rule(new Set(pairs).size === pairs.length, 'unique (parent, name)');

  for (const n of before) {
    if (n.dirty) rule(same(byIno.get(n.ino), n), `dirty ${n.ino} survives unchanged`);
    if (c.changed.has(n.ino)) rule(same(byIno.get(n.ino), n), `changed ${n.ino} survives unchanged`);
  }

  // what a merge must do when nothing local stands against it
  const isLocal = (n: NodeRow) => n.dirty || c.changed.has(n.ino);
  const localBelow = (ino: number): boolean =>
    before.some((n) => n.parentIno === ino && (isLocal(n) || (n.isDir && localBelow(n.ino))));
  const beforeByName = new Map(before.filter((n) => n.parentIno === c.parent).map((n) => [n.name, n]));
  const afterByName = new Map(after.filter((n) => n.parentIno === c.parent).map((n) => [n.name, n]));
  const listed = new Set(c.entries.map((e) => e.id));
  for (const n of before) {
    if (n.parentIno !== c.parent || n.remoteId === null || listed.has(n.remoteId) || isLocal(n)) continue;
    if (n.isDir && localBelow(n.ino)) rule(byIno.has(n.ino), `folder ${n.name} with local changes kept`);
    else rule(!byIno.has(n.ino), `vanished ${n.name} deleted`);
  }
  const seenNames = new Set<string>();
  for (const e of c.entries) {
    if (seenNames.has(e.name)) continue; // the first entry of a name wins
    seenNames.add(e.name);
    const knownRow = before.find((n) => n.remoteId === e.id);
    if (knownRow && isLocal(knownRow)) continue;
    if (!knownRow && c.removed.has(e.id)) continue;
    const occupant = beforeByName.get(e.name);
    if (occupant && occupant.remoteId !== e.id && (isLocal(occupant) || (occupant.isDir && localBelow(occupant.ino))))
      continue;
    const placed = afterByName.get(e.name);
    rule(placed?.remoteId === e.id, `entry ${e.id} at ${e.name}`);
    if (knownRow && byIno.has(knownRow.ino)) rule(placed?.ino === knownRow.ino, `known ${e.id} keeps its ino`);
  }
  for (const id of c.removed) {
    if (before.some((n) => n.remoteId === id)) continue; // uploaded again meanwhile
    rule(!after.some((n) => n.remoteId === id), `${id}, removed after the listing started, stays removed`);
  }
  const leftParked = after.filter(
    (n) => n.parentIno === c.parent && isParked(n.name) && !(n.isDir && localBelow(n.ino)),
  );
  rule(leftParked.length === 0, 'nothing is left parked but a folder holding local changes');
}

describe('listing merge, property', () => {
  it(`holds its rules on ${CASES} random states (seed ${SEED})`, () => {
    const r = rng(SEED);
    let merged = 0;
    for (let i = 0; i < CASES; i++) {
      const c = build(r, i);
      const before = allRows();
      try {
        c.store.replaceListing(c.parent, c.entries, T0 + 10, c.sinceSeq);
        check(c, before, allRows());
      } catch (err) {
        throw new Error(
          `case ${i} (seed ${SEED}): ${(err as Error).message}\nrows: ${JSON.stringify(before)}\n` +
            `entries: ${JSON.stringify(c.entries)}\nchanged: ${[...c.changed]}\nremoved: ${[...c.removed]}`,
        );
      }
      merged += c.entries.length;
    }
    expect(merged).toBeGreaterThan(CASES); // the listings were not empty
  });
});
