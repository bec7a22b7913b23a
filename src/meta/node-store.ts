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
  ino: number; remote_id: string | null; parent_ino: number | null; name: string; is_dir: number;
  size: number; md5: string; mtime_ms: number; ctime_ms: number; status: number; dirty: number; listed_at: number | null;
}

function toRow(r: RawRow | undefined): NodeRow | undefined {
  if (!r) return undefined;
  return {
    ino: r.ino, remoteId: r.remote_id, parentIno: r.parent_ino, name: r.name, isDir: r.is_dir === 1,
    size: r.size, md5: r.md5, mtimeMs: r.mtime_ms, ctimeMs: r.ctime_ms, status: r.status,
    dirty: r.dirty === 1, listedAt: r.listed_at,
  };
}

export class NodeStore {
  private readonly st;

  constructor(private readonly db: MetaDb) {
    this.st = {
      get: db.prepare('SELECT * FROM nodes WHERE ino = ?'),
      byRemote: db.prepare('SELECT * FROM nodes WHERE remote_id = ?'),
      child: db.prepare('SELECT * FROM nodes WHERE parent_ino = ? AND name = ?'),
      children: db.prepare('SELECT * FROM nodes WHERE parent_ino = ? ORDER BY name'),
      countChildren: db.prepare('SELECT COUNT(*) AS n FROM nodes WHERE parent_ino = ?'),
      insert: db.prepare(`INSERT INTO nodes (remote_id, parent_ino, name, is_dir, size, md5, mtime_ms, ctime_ms, status, dirty)
                          VALUES (@remoteId, @parentIno, @name, @isDir, @size, @md5, @mtimeMs, @ctimeMs, @status, @dirty)`),
      updateFromRemote: db.prepare(`UPDATE nodes SET parent_ino = @parentIno, name = @name, is_dir = @isDir, size = @size, md5 = @md5,
                          mtime_ms = @mtimeMs, ctime_ms = @ctimeMs, status = @status WHERE ino = @ino`),
      setListed: db.prepare('UPDATE nodes SET listed_at = ? WHERE ino = ?'),
      clearListedAll: db.prepare('UPDATE nodes SET listed_at = NULL'),
      delete: db.prepare('DELETE FROM nodes WHERE ino = ?'),
      move: db.prepare('UPDATE nodes SET parent_ino = ?, name = ?, ctime_ms = ? WHERE ino = ?'),
      setLocal: db.prepare('UPDATE nodes SET size = ?, mtime_ms = ?, dirty = 1 WHERE ino = ?'),
      setMtime: db.prepare('UPDATE nodes SET mtime_ms = ? WHERE ino = ?'),
      commit: db.prepare('UPDATE nodes SET remote_id = ?, md5 = ?, size = ?, dirty = 0 WHERE ino = ?'),
      kvGet: db.prepare('SELECT value FROM kv WHERE key = ?'),
      kvSet: db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      root: db.prepare('SELECT * FROM nodes WHERE ino = 1'),
    };
  }

  /** Make sure ino 1 is the root for `rootRemoteId`; a store built for another root is wiped first. */
  ensureRoot(rootRemoteId: string, now: number): void {
    this.db.transaction(() => {
      const built = (this.st.kvGet.get('root_remote_id') as { value: string } | undefined)?.value;
      if (built !== undefined && built !== rootRemoteId) {
        this.db.exec('DELETE FROM upload_journal; DELETE FROM nodes;');
      }
      if (!this.st.root.get()) {
        this.db.prepare(`INSERT INTO nodes (ino, remote_id, parent_ino, name, is_dir, mtime_ms, ctime_ms)
                         VALUES (1, ?, NULL, '', 1, ?, ?)`).run(rootRemoteId, now, now);
      }
      this.st.kvSet.run('root_remote_id', rootRemoteId);
    })();
  }

  get(ino: number): NodeRow | undefined { return toRow(this.st.get.get(ino) as RawRow | undefined); }
  getByRemote(remoteId: string): NodeRow | undefined { return toRow(this.st.byRemote.get(remoteId) as RawRow | undefined); }
  child(parentIno: number, name: string): NodeRow | undefined { return toRow(this.st.child.get(parentIno, name) as RawRow | undefined); }
  children(parentIno: number): NodeRow[] { return (this.st.children.all(parentIno) as RawRow[]).map((r) => toRow(r)!); }
  hasChildren(parentIno: number): boolean { return (this.st.countChildren.get(parentIno) as { n: number }).n > 0; }

  /**
   * Replace the children of `parentIno` with a fresh listing, in one transaction: known remote ids keep
   * their ino (even when they moved here from elsewhere), vanished ones are deleted unless dirty, and a
   * dirty local node shadows a remote entry of the same name (its upload will replace it).
   */
  replaceListing(parentIno: number, entries: ListedChild[], now: number): void {
    this.db.transaction(() => {
      const seen = new Set<string>();
      const existing = this.children(parentIno);
      const byName = new Map(existing.map((n) => [n.name, n]));
      for (const n of existing) {
        if (n.dirty || n.remoteId === null) continue;
        if (!entries.some((e) => e.id === n.remoteId)) this.st.delete.run(n.ino);
      }
      for (const e of entries) {
        if (seen.has(e.name)) continue; // the server should never list a name twice; keep the first
        seen.add(e.name);
        const sameName = byName.get(e.name);
        if (sameName && sameName.remoteId !== e.id) {
          if (sameName.dirty) continue; // local pending content wins until uploaded
          this.st.delete.run(sameName.ino);
        }
        const row = {
          parentIno, name: e.name, isDir: e.isDir ? 1 : 0, size: e.size, md5: e.md5,
          mtimeMs: e.updatedAt || e.createdAt, ctimeMs: e.updatedAt || e.createdAt, status: e.status,
        };
        const known = this.getByRemote(e.id);
        if (known) {
          if (known.dirty) continue;
          const clash = known.parentIno !== parentIno || known.name !== e.name ? this.child(parentIno, e.name) : undefined;
          if (clash && clash.ino !== known.ino) this.st.delete.run(clash.ino);
          this.st.updateFromRemote.run({ ...row, ino: known.ino });
        } else {
          this.st.insert.run({ ...row, remoteId: e.id, dirty: 0 });
        }
      }
      this.st.setListed.run(now, parentIno);
    })();
  }

  /** Insert a node (a new local file: remoteId null, dirty; or a directory just created remotely). */
  insert(n: { remoteId: string | null; parentIno: number; name: string; isDir: boolean; size?: number; md5?: string; now: number; dirty?: boolean }): number {
    return Number(this.st.insert.run({
      remoteId: n.remoteId, parentIno: n.parentIno, name: n.name, isDir: n.isDir ? 1 : 0, size: n.size ?? 0,
      md5: n.md5 ?? '', mtimeMs: n.now, ctimeMs: n.now, status: 0, dirty: n.dirty ? 1 : 0,
    }).lastInsertRowid);
  }

  /** A freshly created directory is known to be empty: mark it listed now. */
  markListed(ino: number, now: number): void { this.st.setListed.run(now, ino); }
  invalidateListing(ino: number): void { this.st.setListed.run(null, ino); }
  invalidateAllListings(): void { this.st.clearListedAll.run(); }

  /** Move/rename in the store; an existing node at the target (already handled remotely) is removed. */
  rename(ino: number, newParentIno: number, newName: string, now: number): void {
    this.db.transaction(() => {
      const target = this.child(newParentIno, newName);
      if (target && target.ino !== ino) this.st.delete.run(target.ino);
      this.st.move.run(newParentIno, newName, now, ino);
    })();
  }

  delete(ino: number): void { this.st.delete.run(ino); }
  setLocalContent(ino: number, size: number, mtimeMs: number): void { this.st.setLocal.run(size, mtimeMs, ino); }
  setMtime(ino: number, mtimeMs: number): void { this.st.setMtime.run(mtimeMs, ino); }

  /** Upload committed: the node now has a remote id and the uploaded md5/size; clears dirty. */
  commitUpload(ino: number, remoteId: string, md5: string, size: number): void {
    this.db.transaction(() => {
      const other = this.getByRemote(remoteId);
      if (other && other.ino !== ino) this.st.delete.run(other.ino);
      this.st.commit.run(remoteId, md5, size, ino);
    })();
  }

  kvGet(key: string): string | undefined { return (this.st.kvGet.get(key) as { value: string } | undefined)?.value; }
  kvSet(key: string, value: string): void { this.st.kvSet.run(key, value); }

  /** Path of a node from the root ('' for the root), for logs and status. */
  pathOf(ino: number): string {
    const parts: string[] = [];
    let cur = this.get(ino);
    while (cur && cur.parentIno !== null) { parts.unshift(cur.name); cur = this.get(cur.parentIno); }
    return '/' + parts.join('/');
  }

  transaction<T>(fn: () => T): T { return this.db.transaction(fn)(); }
}
