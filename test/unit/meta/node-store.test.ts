// NodeStore over a real SQLite file in a tmp dir: root handling, listings (ino stability, dirty nodes,
// name clashes), namespace changes, upload commits, cascades and persistence.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openMetaDb, type MetaDb } from '../../../src/meta/db.js';
import { NodeStore, ROOT_INO, type ListedChild } from '../../../src/meta/node-store.js';

const T0 = 1_700_000_000_000;

let dir: string;
let dbPath: string;
let db: MetaDb;
let store: NodeStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pan123fs-nodestore-'));
  dbPath = join(dir, 'meta.db');
  db = openMetaDb(dbPath);
  store = new NodeStore(db);
  store.ensureRoot('100', T0);
});
afterEach(() => {
  if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

function file(id: string, name: string, extra: Partial<ListedChild> = {}): ListedChild {
  return {
    id,
    name,
    isDir: false,
    size: 10,
    md5: `md5-${id}`,
    status: 0,
    createdAt: T0 - 1000,
    updatedAt: T0 - 500,
    ...extra,
  };
}
function folder(id: string, name: string, extra: Partial<ListedChild> = {}): ListedChild {
  return { id, name, isDir: true, size: 0, md5: '', status: 0, createdAt: T0 - 1000, updatedAt: T0 - 500, ...extra };
}
const names = (parent: number) => store.children(parent).map((c) => c.name);
const journalRows = (ino: number) =>
  (db.prepare('SELECT COUNT(*) AS n FROM upload_journal WHERE ino = ?').get(ino) as { n: number }).n;
function addJournalRow(ino: number): void {
  db.prepare('INSERT INTO upload_journal (ino, staging_path, size, md5, enqueued_at) VALUES (?, ?, ?, ?, ?)').run(
    ino,
    `/tmp/staging-${ino}`,
    3,
    null,
    T0,
  );
}

describe('ensureRoot', () => {
  it('creates ino 1 as the root directory for the given remote id', () => {
    const root = store.get(ROOT_INO)!;
    expect(root).toMatchObject({
      ino: 1,
      remoteId: '100',
      parentIno: null,
      name: '',
      isDir: true,
      dirty: false,
      listedAt: null,
    });
    expect(store.kvGet('root_remote_id')).toBe('100');
  });

  it('is idempotent for the same root and keeps the existing tree', () => {
    store.replaceListing(ROOT_INO, [file('1', 'a.txt')], T0);
    store.ensureRoot('100', T0 + 5);
    expect(names(ROOT_INO)).toEqual(['a.txt']);
    expect(store.get(ROOT_INO)!.listedAt).toBe(T0);
  });

  it('wipes the store when built for another root', () => {
    store.replaceListing(ROOT_INO, [file('1', 'a.txt'), folder('2', 'd')], T0);
    store.ensureRoot('200', T0 + 1);
    expect(store.get(ROOT_INO)).toMatchObject({ remoteId: '200', listedAt: null });
    expect(store.children(ROOT_INO)).toEqual([]);
    expect(store.getByRemote('1')).toBeUndefined();
    expect(store.kvGet('root_remote_id')).toBe('200');
  });

  it('refuses to switch roots while uploads are pending (they would be lost), and says what to do', () => {
    const local = store.insert({
      remoteId: null,
      parentIno: ROOT_INO,
      name: 'new',
      isDir: false,
      now: T0,
      dirty: true,
    });
    addJournalRow(local);
    expect(() => store.ensureRoot('200', T0 + 1)).toThrow(
      /1 file\(s\) not uploaded yet for root folder .*another --cache-dir/,
    );
    expect(store.get(local)).toBeDefined();
    expect((db.prepare('SELECT COUNT(*) AS n FROM upload_journal').get() as { n: number }).n).toBe(1);
  });
});

describe('insert / child / children / get', () => {
  it('inserts local and remote nodes and finds them by parent+name, remote id and ino', () => {
    const d = store.insert({ remoteId: '7', parentIno: ROOT_INO, name: 'dir', isDir: true, now: T0 });
    const f = store.insert({ remoteId: null, parentIno: d, name: 'f.bin', isDir: false, now: T0 + 1, dirty: true });
    expect(d).not.toBe(f);
    expect(store.child(ROOT_INO, 'dir')).toMatchObject({ ino: d, isDir: true, remoteId: '7', dirty: false });
    expect(store.child(d, 'f.bin')).toMatchObject({
      ino: f,
      remoteId: null,
      dirty: true,
      size: 0,
      md5: '',
      mtimeMs: T0 + 1,
    });
    expect(store.child(ROOT_INO, 'f.bin')).toBeUndefined();
    expect(store.getByRemote('7')!.ino).toBe(d);
    expect(store.hasChildren(d)).toBe(true);
    expect(store.hasChildren(f)).toBe(false);
  });

  it('lists children sorted by name', () => {
    store.replaceListing(ROOT_INO, [file('3', 'c'), file('1', 'a'), folder('2', 'b')], T0);
    expect(names(ROOT_INO)).toEqual(['a', 'b', 'c']);
  });

  it('refuses two nodes with the same name in one directory (UNIQUE(parent, name))', () => {
    store.insert({ remoteId: null, parentIno: ROOT_INO, name: 'x', isDir: false, now: T0, dirty: true });
    expect(() =>
      store.insert({ remoteId: null, parentIno: ROOT_INO, name: 'x', isDir: false, now: T0, dirty: true }),
    ).toThrow();
  });
});

describe('replaceListing', () => {
  it(
    'keeps a directory that vanished remotely while files below it are not uploaded yet ' +
      '(no cascade to the journal)',
    () => {
      store.replaceListing(ROOT_INO, [folder('2', 'd')], T0);
      const d = store.getByRemote('2')!.ino;
      store.replaceListing(d, [folder('3', 'sub')], T0);
      const sub = store.getByRemote('3')!.ino;
      const local = store.insert({
        remoteId: null,
        parentIno: sub,
        name: 'unsent.bin',
        isDir: false,
        now: T0,
        dirty: true,
      });
      addJournalRow(local);
      const kept: string[] = [];
      store.onKeep = (n) => kept.push(n.name);
      store.replaceListing(ROOT_INO, [], T0 + 1); // 'd' was moved or trashed elsewhere
      expect(kept).toEqual(['d']);
      expect(store.get(local)).toBeDefined();
      expect((db.prepare('SELECT COUNT(*) AS n FROM upload_journal').get() as { n: number }).n).toBe(1);
      store.clearDirty(local);
      store.replaceListing(ROOT_INO, [], T0 + 2); // nothing pending any more: now it goes
      expect(store.get(d)).toBeUndefined();
    },
  );

  // found by the crash test (e2e/crash.test.ts): a listing showed an upload's stray copy as a file; the queue
  // trashed the copy and the node stayed, listed but unreadable
  it('remoteRemoved: a clean node of a trashed copy goes, and a listing in flight does not bring it back', () => {
    const seq = store.changeSeq(); // a listing requested while the copy was still live ...
    store.replaceListing(ROOT_INO, [file('7', 'stray')], T0);
    expect(store.remoteRemoved('7')).toMatchObject({ name: 'stray' });
    expect(store.getByRemote('7')).toBeUndefined();
    store.replaceListing(ROOT_INO, [file('7', 'stray')], T0 + 1, seq); // ... answered after the trash
    expect(store.getByRemote('7')).toBeUndefined();
    const dirty = store.insert({
      remoteId: '8',
      parentIno: ROOT_INO,
      name: 'local',
      isDir: false,
      now: T0,
      dirty: true,
    });
    expect(store.remoteRemoved('8')).toBeUndefined(); // local content not uploaded: kept
    expect(store.get(dirty)).toBeDefined();
  });

  it('keeps a vanished directory that holds a node changed after the listing was requested', () => {
    store.replaceListing(ROOT_INO, [folder('2', 'd'), file('5', 'x')], T0);
    const d = store.getByRemote('2')!.ino;
    const x = store.getByRemote('5')!.ino;
    const seq = store.changeSeq(); // a listing of the root is requested ...
    store.rename(x, d, 'x', T0 + 1); // ... then `mv x d/` is answered
    store.replaceListing(ROOT_INO, [], T0 + 2, seq); // the old listing: neither d nor x
    expect(store.get(d)).toBeDefined();
    expect(store.child(d, 'x')).toMatchObject({ ino: x, remoteId: '5' });
    store.replaceListing(ROOT_INO, [], T0 + 3); // a listing requested after the move
    expect(store.get(d)).toBeUndefined();
  });

  it('drops a remote file whose name a directory kept for pending uploads holds (nothing left parked)', () => {
    store.replaceListing(ROOT_INO, [folder('2', 'd'), file('5', 'x')], T0);
    const d = store.getByRemote('2')!.ino;
    addJournalRow(store.insert({ remoteId: null, parentIno: d, name: 'u', isDir: false, now: T0, dirty: true }));
    store.replaceListing(ROOT_INO, [file('5', 'd')], T0 + 1); // d gone remotely, x renamed to d
    expect(store.children(ROOT_INO).map((n) => [n.name, n.remoteId])).toEqual([['d', '2']]);
    expect(store.getByRemote('5')).toBeUndefined();
  });

  it('maps entries to rows and marks the directory listed', () => {
    store.replaceListing(ROOT_INO, [file('1', 'a.txt', { size: 123, md5: 'abc', status: 101, updatedAt: T0 - 7 })], T0);
    expect(store.child(ROOT_INO, 'a.txt')).toMatchObject({
      remoteId: '1',
      size: 123,
      md5: 'abc',
      status: 101,
      mtimeMs: T0 - 7,
      isDir: false,
      dirty: false,
    });
    expect(store.get(ROOT_INO)!.listedAt).toBe(T0);
  });

  it('uses createdAt when updatedAt is 0', () => {
    store.replaceListing(ROOT_INO, [file('1', 'a', { createdAt: 42, updatedAt: 0 })], T0);
    expect(store.child(ROOT_INO, 'a')!.mtimeMs).toBe(42);
  });

  it('keeps the ino of a known remote id across a relisting and updates its attributes', () => {
    store.replaceListing(ROOT_INO, [file('1', 'a.txt'), folder('2', 'd')], T0);
    const a = store.child(ROOT_INO, 'a.txt')!.ino;
    const d = store.child(ROOT_INO, 'd')!.ino;
    store.replaceListing(ROOT_INO, [file('1', 'a.txt', { size: 99, md5: 'new' }), folder('2', 'd')], T0 + 10);
    expect(store.child(ROOT_INO, 'a.txt')).toMatchObject({ ino: a, size: 99, md5: 'new' });
    expect(store.child(ROOT_INO, 'd')!.ino).toBe(d);
    expect(store.get(ROOT_INO)!.listedAt).toBe(T0 + 10);
  });

  it('keeps the ino of a file renamed remotely in the same directory', () => {
    store.replaceListing(ROOT_INO, [file('1', 'old')], T0);
    const ino = store.child(ROOT_INO, 'old')!.ino;
    store.replaceListing(ROOT_INO, [file('1', 'new')], T0 + 1);
    expect(names(ROOT_INO)).toEqual(['new']);
    expect(store.child(ROOT_INO, 'new')!.ino).toBe(ino);
  });

  it('keeps the ino (and the subtree) of a directory moved remotely between directories', () => {
    store.replaceListing(ROOT_INO, [folder('10', 'src'), folder('20', 'dst')], T0);
    const src = store.child(ROOT_INO, 'src')!.ino;
    const dst = store.child(ROOT_INO, 'dst')!.ino;
    store.replaceListing(src, [folder('30', 'moved')], T0);
    const moved = store.child(src, 'moved')!.ino;
    store.replaceListing(moved, [file('31', 'inner.txt')], T0);
    const inner = store.child(moved, 'inner.txt')!.ino;

    // the destination is listed first (the node still sits under src in the store)
    store.replaceListing(dst, [folder('30', 'moved')], T0 + 1);
    expect(store.child(dst, 'moved')!.ino).toBe(moved);
    expect(store.child(src, 'moved')).toBeUndefined();
    expect(store.get(inner)!.parentIno).toBe(moved);
    expect(store.pathOf(inner)).toBe('/dst/moved/inner.txt');
    // then the old parent is relisted without it: the moved node survives
    store.replaceListing(src, [], T0 + 2);
    expect(store.get(moved)!.parentIno).toBe(dst);
    expect(store.get(inner)).toBeDefined();
  });

  it('keeps the ino of a file moved remotely when the source is relisted first and the destination later', () => {
    store.replaceListing(ROOT_INO, [folder('10', 'a'), folder('20', 'b')], T0);
    const a = store.child(ROOT_INO, 'a')!.ino;
    const b = store.child(ROOT_INO, 'b')!.ino;
    store.replaceListing(a, [file('5', 'f')], T0);
    const f = store.child(a, 'f')!.ino;
    store.replaceListing(b, [file('5', 'f')], T0 + 1);
    expect(store.child(b, 'f')!.ino).toBe(f);
    expect(store.children(a)).toEqual([]);
  });

  it('deletes vanished non-dirty children, with their subtree', () => {
    store.replaceListing(ROOT_INO, [file('1', 'keep'), file('2', 'gone'), folder('3', 'gonedir')], T0);
    const gonedir = store.child(ROOT_INO, 'gonedir')!.ino;
    store.replaceListing(gonedir, [file('4', 'inside')], T0);
    const inside = store.child(gonedir, 'inside')!.ino;
    store.replaceListing(ROOT_INO, [file('1', 'keep')], T0 + 1);
    expect(names(ROOT_INO)).toEqual(['keep']);
    expect(store.getByRemote('2')).toBeUndefined();
    expect(store.get(gonedir)).toBeUndefined();
    expect(store.get(inside)).toBeUndefined();
  });

  it('never deletes a dirty local node (not in any listing yet)', () => {
    const local = store.insert({
      remoteId: null,
      parentIno: ROOT_INO,
      name: 'writing.bin',
      isDir: false,
      now: T0,
      dirty: true,
    });
    addJournalRow(local);
    store.replaceListing(ROOT_INO, [file('1', 'a')], T0 + 1);
    expect(store.get(local)).toMatchObject({ name: 'writing.bin', dirty: true });
    expect(journalRows(local)).toBe(1);
  });

  it('never deletes a dirty node with a remote id that vanished from the listing (re-upload pending)', () => {
    store.replaceListing(ROOT_INO, [file('1', 'a')], T0);
    const a = store.child(ROOT_INO, 'a')!.ino;
    store.setLocalContent(a, 77, T0 + 5);
    store.replaceListing(ROOT_INO, [], T0 + 6);
    expect(store.get(a)).toMatchObject({ dirty: true, size: 77, remoteId: '1' });
  });

  it('never overwrites a dirty node from the listing', () => {
    store.replaceListing(ROOT_INO, [file('1', 'a', { size: 10, md5: 'old' })], T0);
    const a = store.child(ROOT_INO, 'a')!.ino;
    store.setLocalContent(a, 500, T0 + 5);
    store.replaceListing(ROOT_INO, [file('1', 'a', { size: 10, md5: 'old', updatedAt: T0 - 1 })], T0 + 6);
    expect(store.get(a)).toMatchObject({ size: 500, mtimeMs: T0 + 5, dirty: true });
  });

  it('a dirty local node shadows a remote entry of the same name (no row for the remote entry)', () => {
    const local = store.insert({
      remoteId: null,
      parentIno: ROOT_INO,
      name: 'same',
      isDir: false,
      now: T0,
      dirty: true,
    });
    store.replaceListing(ROOT_INO, [file('9', 'same', { size: 1234 })], T0 + 1);
    expect(store.child(ROOT_INO, 'same')).toMatchObject({ ino: local, remoteId: null, dirty: true, size: 0 });
    expect(store.getByRemote('9')).toBeUndefined();
  });

  it('a non-dirty node is replaced by a different remote entry of the same name', () => {
    store.replaceListing(ROOT_INO, [file('1', 'x', { size: 1 })], T0);
    const old = store.child(ROOT_INO, 'x')!.ino;
    store.replaceListing(ROOT_INO, [file('2', 'x', { size: 2 })], T0 + 1);
    expect(store.child(ROOT_INO, 'x')).toMatchObject({ remoteId: '2', size: 2 });
    expect(store.get(old)?.remoteId).not.toBe('1'); // (the rowid may be reused by the new row)
    expect(store.getByRemote('1')).toBeUndefined();
    expect(store.children(ROOT_INO)).toHaveLength(1);
  });

  it('a known node moving into a name held by an unrelated node elsewhere-listed replaces that node', () => {
    store.replaceListing(ROOT_INO, [folder('10', 'a'), folder('20', 'b')], T0);
    const a = store.child(ROOT_INO, 'a')!.ino;
    const b = store.child(ROOT_INO, 'b')!.ino;
    store.replaceListing(a, [file('5', 'f')], T0);
    store.replaceListing(b, [file('6', 'f')], T0);
    const moving = store.child(a, 'f')!.ino;
    // '5' moved to b (replacing '6' there)
    store.replaceListing(b, [file('5', 'f')], T0 + 1);
    expect(store.child(b, 'f')!.ino).toBe(moving);
    expect(store.getByRemote('6')).toBeUndefined();
  });

  it('keeps the first of two entries with the same name', () => {
    store.replaceListing(ROOT_INO, [file('1', 'dup', { size: 1 }), file('2', 'dup', { size: 2 })], T0);
    expect(store.children(ROOT_INO)).toHaveLength(1);
    expect(store.child(ROOT_INO, 'dup')).toMatchObject({ remoteId: '1', size: 1 });
  });

  // regression (was a bug in src/meta/node-store.ts replaceListing): a same-name node is deleted by looking it up
  // in `byName`, a snapshot taken before the loop, without checking whether that node's remote id is itself in the
  // listing (renamed, still there). The four tests below fail until that is fixed.
  it('keeps every listed entry when two files swap names remotely', () => {
    store.replaceListing(ROOT_INO, [file('1', 'x'), file('2', 'y')], T0);
    store.replaceListing(ROOT_INO, [file('1', 'y'), file('2', 'x')], T0 + 1);
    expect(store.child(ROOT_INO, 'x')?.remoteId).toBe('2');
    expect(store.child(ROOT_INO, 'y')?.remoteId).toBe('1');
  });

  it('keeps the entry renamed remotely when a new entry takes its old name (listing order: renamed first)', () => {
    store.replaceListing(ROOT_INO, [file('1', 'report.txt')], T0);
    store.replaceListing(ROOT_INO, [file('1', 'report-old.txt'), file('3', 'report.txt')], T0 + 1);
    expect(names(ROOT_INO)).toEqual(['report-old.txt', 'report.txt']);
    expect(store.getByRemote('1')?.name).toBe('report-old.txt');
  });

  it('keeps the ino of a directory renamed remotely when a new directory takes its old name', () => {
    store.replaceListing(ROOT_INO, [folder('1', 'photos')], T0);
    const photos = store.child(ROOT_INO, 'photos')!.ino;
    store.replaceListing(ROOT_INO, [folder('3', 'photos'), folder('1', 'photos-2023')], T0 + 1);
    expect(store.getByRemote('1')?.ino).toBe(photos);
  });

  it('never deletes a dirty file inside a directory renamed remotely when a new directory takes its old name', () => {
    store.replaceListing(ROOT_INO, [folder('1', 'photos')], T0);
    const photos = store.child(ROOT_INO, 'photos')!.ino;
    store.replaceListing(photos, [], T0);
    const local = store.insert({
      remoteId: null,
      parentIno: photos,
      name: 'new.jpg',
      isDir: false,
      now: T0,
      dirty: true,
    });
    addJournalRow(local);
    store.replaceListing(ROOT_INO, [folder('3', 'photos'), folder('1', 'photos-2023')], T0 + 1);
    expect(store.get(local)?.name).toBe('new.jpg'); // (a rowid may be reused: compare the name)
    expect(store.pathOf(local)).toBe('/photos-2023/new.jpg');
    expect(journalRows(local)).toBe(1);
  });
});

describe('rename', () => {
  it('moves a node to another parent and name and bumps ctime', () => {
    store.replaceListing(ROOT_INO, [folder('10', 'd'), file('1', 'a')], T0);
    const d = store.child(ROOT_INO, 'd')!.ino;
    const a = store.child(ROOT_INO, 'a')!.ino;
    store.rename(a, d, 'b', T0 + 50);
    expect(store.child(ROOT_INO, 'a')).toBeUndefined();
    expect(store.child(d, 'b')).toMatchObject({ ino: a, ctimeMs: T0 + 50, remoteId: '1' });
  });

  it('over an existing target removes the target (and its journal row)', () => {
    store.replaceListing(ROOT_INO, [file('1', 'a'), file('2', 'b')], T0);
    const a = store.child(ROOT_INO, 'a')!.ino;
    const b = store.child(ROOT_INO, 'b')!.ino;
    addJournalRow(b);
    store.rename(a, ROOT_INO, 'b', T0 + 1);
    expect(store.get(b)).toBeUndefined();
    expect(journalRows(b)).toBe(0);
    expect(store.child(ROOT_INO, 'b')!.ino).toBe(a);
    expect(names(ROOT_INO)).toEqual(['b']);
  });

  it('to its own name is a no-op that keeps the node', () => {
    store.replaceListing(ROOT_INO, [file('1', 'a')], T0);
    const a = store.child(ROOT_INO, 'a')!.ino;
    store.rename(a, ROOT_INO, 'a', T0 + 1);
    expect(store.get(a)).toBeDefined();
  });
});

describe('setLocalContent / setMtime / commitUpload', () => {
  it('setLocalContent marks dirty with the local size and mtime', () => {
    const f = store.insert({ remoteId: null, parentIno: ROOT_INO, name: 'f', isDir: false, now: T0, dirty: false });
    store.setLocalContent(f, 4096, T0 + 9);
    expect(store.get(f)).toMatchObject({ size: 4096, mtimeMs: T0 + 9, dirty: true });
    store.setMtime(f, T0 + 99);
    expect(store.get(f)!.mtimeMs).toBe(T0 + 99);
  });

  it('commitUpload records remote id, md5, size and clears dirty', () => {
    const f = store.insert({ remoteId: null, parentIno: ROOT_INO, name: 'f', isDir: false, now: T0, dirty: true });
    store.setLocalContent(f, 3, T0);
    store.commitUpload(f, '555', 'cafebabe', 3);
    expect(store.get(f)).toMatchObject({ remoteId: '555', md5: 'cafebabe', size: 3, dirty: false });
    expect(store.getByRemote('555')!.ino).toBe(f);
  });

  it('commitUpload drops another node already holding that remote id (listed before the commit)', () => {
    const f = store.insert({ remoteId: null, parentIno: ROOT_INO, name: 'f', isDir: false, now: T0, dirty: true });
    store.insert({ remoteId: '555', parentIno: ROOT_INO, name: 'f-listed', isDir: false, now: T0 });
    store.commitUpload(f, '555', 'cafebabe', 3);
    expect(store.getByRemote('555')!.ino).toBe(f);
    expect(store.child(ROOT_INO, 'f-listed')).toBeUndefined();
  });

  it('a committed node is then subject to listings like any other (no longer dirty)', () => {
    const f = store.insert({ remoteId: null, parentIno: ROOT_INO, name: 'f', isDir: false, now: T0, dirty: true });
    store.commitUpload(f, '555', 'cafebabe', 3);
    store.replaceListing(ROOT_INO, [file('555', 'f', { size: 3, md5: 'cafebabe' })], T0 + 1);
    expect(store.child(ROOT_INO, 'f')!.ino).toBe(f);
    store.replaceListing(ROOT_INO, [], T0 + 2);
    expect(store.get(f)).toBeUndefined();
  });
});

describe('delete', () => {
  it('cascades to children, grandchildren and their upload_journal rows', () => {
    store.replaceListing(ROOT_INO, [folder('10', 'd')], T0);
    const d = store.child(ROOT_INO, 'd')!.ino;
    store.replaceListing(d, [folder('11', 'sub')], T0);
    const sub = store.child(d, 'sub')!.ino;
    const deep = store.insert({ remoteId: null, parentIno: sub, name: 'deep', isDir: false, now: T0, dirty: true });
    const top = store.insert({ remoteId: null, parentIno: d, name: 'top', isDir: false, now: T0, dirty: true });
    addJournalRow(deep);
    addJournalRow(top);
    const other = store.insert({
      remoteId: null,
      parentIno: ROOT_INO,
      name: 'other',
      isDir: false,
      now: T0,
      dirty: true,
    });
    addJournalRow(other);

    store.delete(d);
    for (const ino of [d, sub, deep, top]) expect(store.get(ino)).toBeUndefined();
    expect(journalRows(deep)).toBe(0);
    expect(journalRows(top)).toBe(0);
    expect(journalRows(other)).toBe(1);
    expect(store.get(other)).toBeDefined();
  });
});

describe('inode numbers are never reused', () => {
  it('a node created after the newest one was deleted gets a new ino, also after a reopen', () => {
    const a = store.insert({ remoteId: null, parentIno: ROOT_INO, name: 'a', isDir: false, now: T0, dirty: true });
    store.delete(a);
    const b = store.insert({ remoteId: null, parentIno: ROOT_INO, name: 'b', isDir: false, now: T0, dirty: true });
    expect(b).toBeGreaterThan(a);
    store.delete(b);
    db.close();
    db = openMetaDb(dbPath);
    store = new NodeStore(db);
    const c = store.insert({ remoteId: null, parentIno: ROOT_INO, name: 'c', isDir: false, now: T0, dirty: true });
    expect(c).toBeGreaterThan(b);
  });

  it('a version-1 database is migrated in place: rows, inos, journal rows and cascades survive', () => {
    db.close();
    rmSync(dbPath);
    // build the version-1 schema by hand (what pan123fs before the AUTOINCREMENT migration created)
    const v1 = openMetaDb(dbPath, 1);
    v1.prepare(
      'INSERT INTO nodes (ino, remote_id, parent_ino, name, is_dir, mtime_ms, ctime_ms) ' +
        "VALUES (1, '100', NULL, '', 1, 0, 0)",
    ).run();
    v1.prepare(
      'INSERT INTO nodes (ino, remote_id, parent_ino, name, is_dir, mtime_ms, ctime_ms) ' +
        "VALUES (7, '10', 1, 'd', 1, 0, 0)",
    ).run();
    v1.prepare(
      'INSERT INTO nodes (ino, remote_id, parent_ino, name, is_dir, mtime_ms, ctime_ms, dirty) ' +
        "VALUES (9, NULL, 7, 'f', 0, 0, 0, 1)",
    ).run();
    v1.prepare('INSERT INTO upload_journal (ino, staging_path, size, md5, enqueued_at) VALUES (9, ?, 3, NULL, 0)').run(
      '/tmp/s9',
    );
    v1.prepare("INSERT INTO kv (key, value) VALUES ('k', 'v')").run();
    v1.close();

    db = openMetaDb(dbPath, 2); // this migration's result (later ones have their own tests)
    store = new NodeStore(db);
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.child(ROOT_INO, 'd')!.ino).toBe(7);
    expect(store.child(7, 'f')).toMatchObject({ ino: 9, dirty: true });
    expect(journalRows(9)).toBe(1);
    expect(store.kvGet('k')).toBe('v');
    const next = store.insert({ remoteId: null, parentIno: 7, name: 'g', isDir: false, now: T0, dirty: true });
    expect(next).toBe(10);
    store.delete(next);
    expect(store.insert({ remoteId: null, parentIno: 7, name: 'h', isDir: false, now: T0, dirty: true })).toBe(11);
    store.delete(7); // the rebuilt table still cascades to children and journal rows
    expect(store.get(9)).toBeUndefined();
    expect(journalRows(9)).toBe(0);
  });
});

describe('a listing that started before a local removal', () => {
  // found in review: a listing requested before `rm` and answered after it brought the file back
  it('does not bring back what was removed after it started; a later listing shows it if it is really there', () => {
    store.replaceListing(ROOT_INO, [file('10', 'gone.txt'), file('11', 'kept.txt')], T0);
    const since = store.changeSeq(); // the listing request starts
    store.delete(store.child(ROOT_INO, 'gone.txt')!.ino); // rm answered meanwhile
    store.replaceListing(ROOT_INO, [file('10', 'gone.txt'), file('11', 'kept.txt')], T0 + 1, since);
    expect(names(ROOT_INO)).toEqual(['kept.txt']);
    // e.g. restored from the trash: a listing started after the removal shows it again
    store.replaceListing(ROOT_INO, [file('10', 'gone.txt'), file('11', 'kept.txt')], T0 + 2, store.changeSeq());
    expect(names(ROOT_INO)).toEqual(['gone.txt', 'kept.txt']);
  });

  it('an invalidateListing during a listing in flight keeps the folder due for a new listing', () => {
    store.replaceListing(ROOT_INO, [file('10', 'a.txt')], T0);
    const since = store.changeSeq();
    store.invalidateListing(ROOT_INO);
    store.replaceListing(ROOT_INO, [file('10', 'a.txt')], T0 + 1, since);
    expect(store.get(ROOT_INO)!.listedAt).toBeNull();
    store.replaceListing(ROOT_INO, [file('10', 'a.txt')], T0 + 2, store.changeSeq());
    expect(store.get(ROOT_INO)!.listedAt).toBe(T0 + 2);
  });

  it('the same for a file replaced by a rename over it', () => {
    store.replaceListing(ROOT_INO, [file('10', 'a.txt'), file('11', 'b.txt')], T0);
    const since = store.changeSeq();
    const b = store.child(ROOT_INO, 'b.txt')!.ino;
    store.rename(b, ROOT_INO, 'a.txt', T0 + 1); // mv b.txt a.txt (remote done): a.txt's old file 10 is gone
    store.replaceListing(ROOT_INO, [file('10', 'a.txt'), file('11', 'b.txt')], T0 + 1, since);
    expect(store.child(ROOT_INO, 'a.txt')!.remoteId).toBe('11');
    expect(store.getByRemote('10')).toBeUndefined();
  });
});

describe('listing marks', () => {
  it('markListed / invalidateListing / invalidateAllListings', () => {
    const d = store.insert({ remoteId: '10', parentIno: ROOT_INO, name: 'd', isDir: true, now: T0 });
    store.markListed(d, T0 + 3);
    store.markListed(ROOT_INO, T0 + 4);
    expect(store.get(d)!.listedAt).toBe(T0 + 3);
    store.invalidateListing(d);
    expect(store.get(d)!.listedAt).toBeNull();
    expect(store.get(ROOT_INO)!.listedAt).toBe(T0 + 4);
    store.markListed(d, T0 + 5);
    store.invalidateAllListings();
    expect(store.get(d)!.listedAt).toBeNull();
    expect(store.get(ROOT_INO)!.listedAt).toBeNull();
  });
});

describe('pathOf', () => {
  it('builds the absolute path from the root', () => {
    expect(store.pathOf(ROOT_INO)).toBe('/');
    const a = store.insert({ remoteId: '1', parentIno: ROOT_INO, name: 'a', isDir: true, now: T0 });
    const b = store.insert({ remoteId: '2', parentIno: a, name: 'b c', isDir: true, now: T0 });
    const f = store.insert({ remoteId: null, parentIno: b, name: '文件.txt', isDir: false, now: T0, dirty: true });
    expect(store.pathOf(a)).toBe('/a');
    expect(store.pathOf(f)).toBe('/a/b c/文件.txt');
    store.rename(b, ROOT_INO, 'z', T0);
    expect(store.pathOf(f)).toBe('/z/文件.txt');
  });
});

describe('persistence', () => {
  it('reopening the same db file keeps nodes, inos, dirty flags, listing marks, kv and journal rows', () => {
    store.replaceListing(ROOT_INO, [folder('10', 'd'), file('1', 'a', { size: 5, md5: 'm' })], T0);
    const d = store.child(ROOT_INO, 'd')!.ino;
    const a = store.child(ROOT_INO, 'a')!.ino;
    const local = store.insert({ remoteId: null, parentIno: d, name: 'pending', isDir: false, now: T0, dirty: true });
    store.setLocalContent(local, 3, T0 + 1);
    addJournalRow(local);
    store.kvSet('uid', '42');
    db.close();

    db = openMetaDb(dbPath);
    store = new NodeStore(db);
    store.ensureRoot('100', T0 + 100);
    expect(store.get(ROOT_INO)!.listedAt).toBe(T0);
    expect(store.child(ROOT_INO, 'd')!.ino).toBe(d);
    expect(store.child(ROOT_INO, 'a')).toMatchObject({ ino: a, size: 5, md5: 'm', remoteId: '1' });
    expect(store.child(d, 'pending')).toMatchObject({ ino: local, dirty: true, size: 3, remoteId: null });
    expect(journalRows(local)).toBe(1);
    expect(store.kvGet('uid')).toBe('42');
    // a new node after reopening does not reuse an ino
    const fresh = store.insert({
      remoteId: null,
      parentIno: ROOT_INO,
      name: 'fresh',
      isDir: false,
      now: T0,
      dirty: true,
    });
    expect([ROOT_INO, d, a, local]).not.toContain(fresh);
  });

  it('transaction() rolls back every change when the function throws', () => {
    expect(() =>
      store.transaction(() => {
        store.insert({ remoteId: '1', parentIno: ROOT_INO, name: 'a', isDir: false, now: T0 });
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(store.child(ROOT_INO, 'a')).toBeUndefined();
  });
});

describe('row read cache', () => {
  it('every write is seen by the next get/child, including negative lookups and listings', () => {
    store.replaceListing(ROOT_INO, [file('1', 'a.txt'), folder('2', 'd')], T0);
    expect(names(ROOT_INO)).toEqual(['a.txt', 'd']); // children() primes the name cache
    const a = store.child(ROOT_INO, 'a.txt')!;
    expect(store.child(ROOT_INO, 'b.txt')).toBeUndefined(); // cached as absent
    expect(store.get(a.ino)!.size).toBe(10);
    store.rename(a.ino, ROOT_INO, 'b.txt', T0 + 1);
    expect(store.child(ROOT_INO, 'a.txt')).toBeUndefined();
    expect(store.child(ROOT_INO, 'b.txt')!.ino).toBe(a.ino);
    store.setLocalContent(a.ino, 99, T0 + 2);
    expect(store.get(a.ino)!.size).toBe(99);
    expect(store.child(ROOT_INO, 'b.txt')!.size).toBe(99);
    store.replaceListing(ROOT_INO, [folder('2', 'd')], T0 + 3, store.changeSeq() + 1); // b.txt (dirty) is kept
    store.delete(a.ino);
    expect(store.get(a.ino)).toBeUndefined();
    expect(store.child(ROOT_INO, 'b.txt')).toBeUndefined();
  });

  it('a rolled-back transaction leaves no uncommitted row in the cache', () => {
    store.replaceListing(ROOT_INO, [file('1', 'a.txt')], T0);
    const a = store.child(ROOT_INO, 'a.txt')!;
    expect(() =>
      store.transaction(() => {
        store.setLocalContent(a.ino, 7, T0 + 1);
        expect(store.get(a.ino)!.size).toBe(7); // seen inside
        expect(store.child(ROOT_INO, 'a.txt')!.size).toBe(7);
        throw new Error('roll back');
      }),
    ).toThrow('roll back');
    expect(store.get(a.ino)!.size).toBe(10);
    expect(store.child(ROOT_INO, 'a.txt')!.size).toBe(10);
  });

  it('cached rows are frozen', () => {
    const root = store.get(ROOT_INO)!;
    expect(() => {
      (root as { name: string }).name = 'x';
    }).toThrow(TypeError);
    expect(store.get(ROOT_INO)!.name).toBe('');
  });
});
