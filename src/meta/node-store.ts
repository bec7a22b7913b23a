// NodeStore: the metadata cache of the remote tree (statements over `nodes` and `kv`, see db.ts).
// Invariants:
//  - ino (rowid) is the stable inode number; the root is always ino 1 and maps to the mount root folder.
//  - remote_id is unique; it is null only for a file created locally and not uploaded yet.
//  - a listing replace never deletes or overwrites a dirty node (local content not uploaded yet).
//  - every method is synchronous; multi-row changes run in one transaction.

import type { MetaDb } from './db.js';

export const ROOT_INO = 1;

export interface NodeRow {
  ino: number;
  remoteId: string | null;
  parentIno: number | null;
  name: string;
  isDir: boolean;
  size: number;
  md5: string;
  mtimeMs: number;
  ctimeMs: number;
  status: number;
  dirty: boolean;
  listedAt: number | null;
}

/** What a listing provides for one child (a subset of pan's RemoteEntry, so meta does not import pan). */
export interface ListedChild {
  id: string;
  name: string;
  isDir: boolean;
  size: number;
  md5: string;
  status: number;
  createdAt: number;
  updatedAt: number;
}

interface RawRow {
  ino: number;
  remote_id: string | null;
  parent_ino: number | null;
  name: string;
  is_dir: number;
  size: number;
  md5: string;
  mtime_ms: number;
  ctime_ms: number;
  status: number;
  dirty: number;
  listed_at: number | null;
}

function toRow(r: RawRow | undefined): NodeRow | undefined {
  if (!r) return undefined;
  return {
    ino: r.ino,
    remoteId: r.remote_id,
    parentIno: r.parent_ino,
    name: r.name,
    isDir: r.is_dir === 1,
    size: r.size,
    md5: r.md5,
    mtimeMs: r.mtime_ms,
    ctimeMs: r.ctime_ms,
    status: r.status,
    dirty: r.dirty === 1,
    listedAt: r.listed_at,
  };
}

/** Rows kept by the read cache before it starts over (a 10,000-entry folder's LOOKUPs fit). */
const ROW_CACHE_MAX = 20_000;

export class NodeStore {
  private readonly st;
  /** ino → sequence number of its last local change (in memory: only races within one run matter) */
  private readonly touched = new Map<number, number>();
  /**
   * remote id → sequence number of its local removal (unlink, rmdir, replaced by a rename). A listing that
   * started before the removal may still show the entry; it must not bring it back. Bounded: only races
   * with listings in flight matter, so the oldest entries go first.
   */
  private readonly removed = new Map<string, number>();
  /** folder ino → sequence number of its last invalidateListing (until a newer listing lands) */
  private readonly invalidated = new Map<number, number>();
  private seq = 0;
  /**
   * Read cache for get(ino) and child(parent, name), the queries of every LOOKUP/GETATTR path walk
   * (3 per lookup of /dir/file; ~25 µs of a ~140 µs LOOKUP). Coherent by construction: every statement
   * that writes empties it, and nothing is cached while a transaction is open (so a rollback cannot leave
   * uncommitted rows behind). Cached rows are frozen: a caller mutating one would throw, not corrupt it.
   */
  private readonly byIno = new Map<number, NodeRow | null>();
  private readonly byName = new Map<string, NodeRow | null>();

  constructor(private readonly db: MetaDb) {
    this.st = {
      get: db.prepare('SELECT * FROM nodes WHERE ino = ?'),
      byRemote: db.prepare('SELECT * FROM nodes WHERE remote_id = ?'),
      child: db.prepare('SELECT * FROM nodes WHERE parent_ino = ? AND name = ?'),
      children: db.prepare('SELECT * FROM nodes WHERE parent_ino = ? ORDER BY name'),
      countChildren: db.prepare('SELECT COUNT(*) AS n FROM nodes WHERE parent_ino = ?'),
      insert:
        db.prepare(`INSERT INTO nodes (remote_id, parent_ino, name, is_dir, size, md5, mtime_ms, ctime_ms, status, dirty)
                          VALUES (@remoteId, @parentIno, @name, @isDir, @size, @md5, @mtimeMs, @ctimeMs, @status, @dirty)`),
      updateFromRemote:
        db.prepare(`UPDATE nodes SET parent_ino = @parentIno, name = @name, is_dir = @isDir, size = @size, md5 = @md5,
                          mtime_ms = @mtimeMs, ctime_ms = @ctimeMs, status = @status WHERE ino = @ino`),
      setListed: db.prepare('UPDATE nodes SET listed_at = ? WHERE ino = ?'),
      clearListedAll: db.prepare('UPDATE nodes SET listed_at = NULL'),
      delete: db.prepare('DELETE FROM nodes WHERE ino = ?'),
      move: db.prepare('UPDATE nodes SET parent_ino = ?, name = ?, ctime_ms = ? WHERE ino = ?'),
      park: db.prepare('UPDATE nodes SET parent_ino = ?, name = ? WHERE ino = ?'),
      setLocal: db.prepare('UPDATE nodes SET size = ?, mtime_ms = ?, dirty = 1 WHERE ino = ?'),
      setMtime: db.prepare('UPDATE nodes SET mtime_ms = ? WHERE ino = ?'),
      markDirty: db.prepare('UPDATE nodes SET dirty = 1 WHERE ino = ?'),
      clearDirty: db.prepare('UPDATE nodes SET dirty = 0 WHERE ino = ?'),
      danglingDirty: db.prepare(`SELECT n.* FROM nodes n LEFT JOIN upload_journal j ON j.ino = n.ino
                                 WHERE n.dirty = 1 AND j.ino IS NULL`),
      pendingBelow:
        db.prepare(`WITH RECURSIVE sub(ino) AS (SELECT ? UNION ALL SELECT n.ino FROM nodes n JOIN sub ON n.parent_ino = sub.ino)
                                SELECT 1 AS x FROM nodes n WHERE n.ino IN (SELECT ino FROM sub) AND n.dirty = 1 LIMIT 1`),
      journalCount: db.prepare('SELECT COUNT(*) AS n FROM upload_journal'),
      commit: db.prepare('UPDATE nodes SET remote_id = ?, md5 = ?, size = ?, dirty = 0 WHERE ino = ?'),
      kvGet: db.prepare('SELECT value FROM kv WHERE key = ?'),
      kvSet: db.prepare(
        'INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      ),
      root: db.prepare('SELECT * FROM nodes WHERE ino = 1'),
    };
    for (const stmt of Object.values(this.st)) {
      if (stmt.reader) continue;
      const run = stmt.run.bind(stmt);
      stmt.run = ((...args: unknown[]) => {
        this.forgetRows();
        return run(...args);
      }) as typeof stmt.run;
    }
  }

  private forgetRows(): void {
    if (this.byIno.size > 0) this.byIno.clear();
    if (this.byName.size > 0) this.byName.clear();
  }

  private cacheable(): boolean {
    return !this.db.inTransaction;
  }

  /** Make sure ino 1 is the root for `rootRemoteId`; a store built for another root is wiped first. */
  ensureRoot(rootRemoteId: string, now: number): void {
    this.db.transaction(() => {
      const built = (this.st.kvGet.get('root_remote_id') as { value: string } | undefined)?.value;
      if (built !== undefined && built !== rootRemoteId) {
        const pending = (this.st.journalCount.get() as { n: number }).n;
        if (pending > 0) {
          throw new Error(
            `this cache dir holds ${pending} file(s) not uploaded yet for root folder ${built}: mount root folder ${built} until they are uploaded, or use another --cache-dir`,
          );
        }
        this.forgetRows();
        this.db.exec('DELETE FROM nodes;');
      }
      if (!this.st.root.get()) {
        this.forgetRows();
        this.db
          .prepare(`INSERT INTO nodes (ino, remote_id, parent_ino, name, is_dir, mtime_ms, ctime_ms)
                         VALUES (1, ?, NULL, '', 1, ?, ?)`)
          .run(rootRemoteId, now, now);
      }
      this.st.kvSet.run('root_remote_id', rootRemoteId);
    })();
  }

  get(ino: number): NodeRow | undefined {
    const hit = this.byIno.get(ino);
    if (hit !== undefined) return hit ?? undefined;
    const row = toRow(this.st.get.get(ino) as RawRow | undefined);
    if (this.cacheable()) {
      if (this.byIno.size >= ROW_CACHE_MAX) this.byIno.clear();
      this.byIno.set(ino, row ? Object.freeze(row) : null);
    }
    return row;
  }
  getByRemote(remoteId: string): NodeRow | undefined {
    return toRow(this.st.byRemote.get(remoteId) as RawRow | undefined);
  }
  child(parentIno: number, name: string): NodeRow | undefined {
    const key = `${parentIno}/${name}`; // names never contain '/'
    const hit = this.byName.get(key);
    if (hit !== undefined) return hit ?? undefined;
    const row = toRow(this.st.child.get(parentIno, name) as RawRow | undefined);
    if (this.cacheable()) {
      if (this.byName.size >= ROW_CACHE_MAX) this.byName.clear();
      this.byName.set(key, row ? Object.freeze(row) : null);
    }
    return row;
  }
  children(parentIno: number): NodeRow[] {
    const rows = (this.st.children.all(parentIno) as RawRow[]).map((r) => toRow(r)!);
    // a listing is usually followed by a LOOKUP of each name (`ls -l`): have them ready
    if (this.cacheable() && rows.length <= ROW_CACHE_MAX / 2) {
      if (this.byName.size + rows.length > ROW_CACHE_MAX) this.byName.clear();
      for (const r of rows) this.byName.set(`${parentIno}/${r.name}`, Object.freeze(r));
    }
    return rows;
  }
  hasChildren(parentIno: number): boolean {
    return (this.st.countChildren.get(parentIno) as { n: number }).n > 0;
  }

  /** Sequence number of the last local change; a listing remembers it when its request starts. */
  changeSeq(): number {
    return this.seq;
  }

  private touch(ino: number): void {
    this.touched.set(ino, ++this.seq);
  }

  /**
   * Replace the children of `parentIno` with a fresh listing, in one transaction: known remote ids keep
   * their ino (also when renamed, swapped, or moved here from elsewhere), vanished ones are deleted, and
   * a dirty local node shadows a remote entry of the same name (its upload will replace it).
   * `sinceSeq` is changeSeq() when the listing request started: nodes changed locally after it (an upload
   * that committed, a mkdir or rename answered meanwhile) are newer than the listing and left alone.
   */
  replaceListing(parentIno: number, entries: ListedChild[], now: number, sinceSeq: number = this.seq): void {
    const newer = (ino: number) => (this.touched.get(ino) ?? 0) > sinceSeq;
    this.db.transaction(() => {
      const ids = new Set(entries.map((e) => e.id));
      for (const n of this.children(parentIno)) {
        if (!n.dirty && n.remoteId !== null && !ids.has(n.remoteId) && !newer(n.ino) && !this.keepForPending(n))
          this.st.delete.run(n.ino);
      }
      const seen = new Set<string>();
      const plan: Array<{ e: ListedChild; known?: NodeRow }> = [];
      for (const e of entries) {
        if (seen.has(e.name)) continue; // the server should never list a name twice; keep the first
        seen.add(e.name);
        const known = this.getByRemote(e.id);
        if (known && (known.dirty || newer(known.ino))) continue;
        if (!known && (this.removed.get(e.id) ?? 0) > sinceSeq) continue; // removed here after the listing started
        plan.push({ e, known });
      }
      // park every known node that changes place under a unique temporary name, so swaps and
      // rename-then-reuse of a name never clash on UNIQUE(parent_ino, name) half way
      for (const { e, known } of plan) {
        if (known && (known.parentIno !== parentIno || known.name !== e.name))
          this.st.park.run(parentIno, parkedName(known.ino), known.ino);
      }
      for (const { e, known } of plan) {
        const occupant = this.child(parentIno, e.name);
        if (occupant && occupant.ino !== known?.ino) {
          if (occupant.dirty || newer(occupant.ino)) {
            // local content wins until uploaded; a parked remote file of that name is superseded by it
            if (known && !known.isDir) this.st.delete.run(known.ino);
            continue;
          }
          if (this.keepForPending(occupant)) continue; // a directory holding unsent files keeps its name
          this.st.delete.run(occupant.ino);
        }
        const row = {
          parentIno,
          name: e.name,
          isDir: e.isDir ? 1 : 0,
          size: e.size,
          md5: e.md5,
          mtimeMs: e.updatedAt || e.createdAt,
          ctimeMs: e.updatedAt || e.createdAt,
          status: e.status,
        };
        if (known) this.st.updateFromRemote.run({ ...row, ino: known.ino });
        else this.st.insert.run({ ...row, remoteId: e.id, dirty: 0 });
      }
      if ((this.invalidated.get(parentIno) ?? 0) <= sinceSeq) {
        this.st.setListed.run(now, parentIno);
        this.invalidated.delete(parentIno);
      }
    })();
  }

  /**
   * A directory gone from a listing (moved or trashed elsewhere) but holding files not uploaded yet is
   * kept: deleting it would cascade to their journal rows. Their uploads go to the folder's id wherever
   * it is now.
   */
  private keepForPending(n: NodeRow): boolean {
    if (!n.isDir || !this.hasPendingBelow(n.ino)) return false;
    this.onKeep?.(n);
    return true;
  }

  /** Told when a listing keeps a directory because of pending uploads below it (for a log line). */
  onKeep?: (n: NodeRow) => void;

  /** Insert a node (a new local file: remoteId null, dirty; or a directory just created remotely). */
  insert(n: {
    remoteId: string | null;
    parentIno: number;
    name: string;
    isDir: boolean;
    size?: number;
    md5?: string;
    now: number;
    dirty?: boolean;
  }): number {
    const ino = Number(
      this.st.insert.run({
        remoteId: n.remoteId,
        parentIno: n.parentIno,
        name: n.name,
        isDir: n.isDir ? 1 : 0,
        size: n.size ?? 0,
        md5: n.md5 ?? '',
        mtimeMs: n.now,
        ctimeMs: n.now,
        status: 0,
        dirty: n.dirty ? 1 : 0,
      }).lastInsertRowid,
    );
    this.touch(ino);
    return ino;
  }

  /** A freshly created directory is known to be empty: mark it listed now. */
  markListed(ino: number, now: number): void {
    this.st.setListed.run(now, ino);
  }
  /** The folder must be listed again; a listing already in flight (older sinceSeq) does not count. */
  invalidateListing(ino: number): void {
    this.st.setListed.run(null, ino);
    this.invalidated.set(ino, ++this.seq);
  }
  invalidateAllListings(): void {
    this.st.clearListedAll.run();
  }

  /** Move/rename in the store; an existing node at the target (already handled remotely) is removed. */
  rename(ino: number, newParentIno: number, newName: string, now: number): void {
    this.db.transaction(() => {
      const target = this.child(newParentIno, newName);
      if (target && target.ino !== ino) {
        this.noteRemoved(target.remoteId);
        this.st.delete.run(target.ino);
      }
      this.st.move.run(newParentIno, newName, now, ino);
      this.touch(ino);
    })();
  }

  delete(ino: number): void {
    this.noteRemoved(this.get(ino)?.remoteId ?? null);
    this.st.delete.run(ino);
  }

  /** The remote id is back (restored from the trash): listings may show it again. */
  forgetRemoved(remoteId: string): void {
    this.removed.delete(remoteId);
  }

  private noteRemoved(remoteId: string | null): void {
    if (remoteId === null) return;
    this.removed.delete(remoteId);
    this.removed.set(remoteId, ++this.seq);
    if (this.removed.size > REMOVED_MEMORY) this.removed.delete(this.removed.keys().next().value!);
  }
  setLocalContent(ino: number, size: number, mtimeMs: number): void {
    this.st.setLocal.run(size, mtimeMs, ino);
    this.touch(ino);
  }
  setMtime(ino: number, mtimeMs: number): void {
    this.st.setMtime.run(mtimeMs, ino);
  }
  /** Local content is changing: a listing must not drop or overwrite this node. */
  markDirty(ino: number): void {
    this.st.markDirty.run(ino);
    this.touch(ino);
  }
  clearDirty(ino: number): void {
    this.st.clearDirty.run(ino);
  }
  /** Dirty nodes without an upload journal row (a crash between the first write and close). */
  danglingDirty(): NodeRow[] {
    return (this.st.danglingDirty.all() as RawRow[]).map((r) => toRow(r)!);
  }
  /** The node or something below it holds local content not uploaded yet. */
  hasPendingBelow(ino: number): boolean {
    return this.st.pendingBelow.get(ino) !== undefined;
  }

  /** Upload committed: the node now has a remote id and the uploaded md5/size; clears dirty. */
  commitUpload(ino: number, remoteId: string, md5: string, size: number): void {
    this.db.transaction(() => {
      const other = this.getByRemote(remoteId);
      if (other && other.ino !== ino) this.st.delete.run(other.ino);
      this.st.commit.run(remoteId, md5, size, ino);
      this.touch(ino);
    })();
  }

  kvGet(key: string): string | undefined {
    return (this.st.kvGet.get(key) as { value: string } | undefined)?.value;
  }
  kvSet(key: string, value: string): void {
    this.st.kvSet.run(key, value);
  }

  /** Path of a node from the root ('' for the root), for logs and status. */
  pathOf(ino: number): string {
    const parts: string[] = [];
    let cur = this.get(ino);
    while (cur && cur.parentIno !== null) {
      parts.unshift(cur.name);
      cur = this.get(cur.parentIno);
    }
    return `/${parts.join('/')}`;
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}

/** How many local removals replaceListing remembers (see NodeStore.removed). */
const REMOVED_MEMORY = 10_000;

/** A name no real entry can have (123 names cannot contain NUL); used while reordering a listing. */
export function parkedName(ino: number): string {
  return `\u0000parked-${ino}`;
}
export const isParked = (name: string): boolean => name.startsWith('\u0000');
