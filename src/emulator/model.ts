// Tree semantics of the account: mkdir, rename, move, trash, delete, recover, file creation with the
// duplicate modes, listing pages, folder sizes, paths. Synchronous over Store; throws ApiError.
// Invariants: among the live (not trashed) children of a folder names are unique (case-sensitive);
// trashing marks only the item itself (descendants keep trashed=0 but are unreachable); delete needs
// trashed=1 and removes the whole subtree; ids never change on rename/move; overwrite (duplicate=2)
// trashes the old file and gives the new one a new id.

import type Database from 'better-sqlite3';
import type { Clock } from '../core/clock.js';
import { ApiError, CODE, MSG, notFound } from './errors.js';
import { checkName, MAX_NAME_CHARS, suffixedName } from './names.js';
import { rowFromDb, type FileRow, type Store } from './store.js';

export const ROOT: FileRow = {
  id: 0n,
  parentId: 0n,
  name: '',
  type: 1,
  size: 0,
  md5: '',
  trashed: 0,
  createAt: 0,
  updateAt: 0,
  directLink: 0,
};

export type Duplicate = 0 | 1 | 2;

export class Model {
  constructor(
    readonly store: Store,
    private readonly clock: Clock,
    /** the longest name accepted, in characters (runtime config `nameMaxChars`) */
    private readonly nameMax: () => number = () => MAX_NAME_CHARS,
  ) {}

  private get db() {
    return this.store.db;
  }
  private readonly stmts = new Map<string, Database.Statement<unknown[], unknown>>();

  /** Prepared statements are cached: seeding inserts thousands of rows in one transaction. */
  private q(sql: string): Database.Statement<unknown[], unknown> {
    let st = this.stmts.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.stmts.set(sql, st);
    }
    return st;
  }

  get(id: bigint): FileRow | undefined {
    if (id === 0n) return ROOT;
    const r = this.q('SELECT * FROM files WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? rowFromDb(r) : undefined;
  }

  require(id: bigint): FileRow {
    const r = this.get(id);
    if (!r) throw notFound();
    return r;
  }

  /** A folder that can receive new children: exists, is a folder, is not trashed. */
  requireLiveFolder(id: bigint): FileRow {
    const r = this.get(id);
    if (r?.type !== 1 || r.trashed) throw notFound();
    return r;
  }

  liveChild(parentId: bigint, name: string): FileRow | undefined {
    const r = this.q('SELECT * FROM files WHERE parent_id = ? AND name = ? AND trashed = 0').get(parentId, name) as
      | Record<string, unknown>
      | undefined;
    return r ? rowFromDb(r) : undefined;
  }

  /** Children (live and trashed) with id > afterId, by id. */
  page(parentId: bigint, afterId: bigint, limit: number): FileRow[] {
    return (
      this.q('SELECT * FROM files WHERE parent_id = ? AND id > ? ORDER BY id LIMIT ?').all(
        parentId,
        afterId,
        limit,
      ) as Array<Record<string, unknown>>
    ).map(rowFromDb);
  }

  /** Whole-drive name search (v2 list searchData): mode 0 substring, 1 exact. */
  search(text: string, exact: boolean, afterId: bigint, limit: number): FileRow[] {
    const sql = exact ? 'name = ?' : 'instr(name, ?) > 0';
    return (
      this.q(`SELECT * FROM files WHERE ${sql} AND id > ? ORDER BY id LIMIT ?`).all(text, afterId, limit) as Array<
        Record<string, unknown>
      >
    ).map(rowFromDb);
  }

  insert(parentId: bigint, name: string, type: 0 | 1, size: number, md5: string): bigint {
    const id = this.store.allocId();
    const now = this.clock.now();
    this.q(
      'INSERT INTO files(id, parent_id, name, type, size, md5, trashed, create_at, update_at) ' +
        'VALUES (?,?,?,?,?,?,0,?,?)',
    ).run(id, parentId, name, type, size, md5, now, now);
    return id;
  }

  mkdir(parentId: bigint, name: unknown): bigint {
    const n = checkName(name, this.nameMax());
    this.requireLiveFolder(parentId);
    if (this.liveChild(parentId, n)) throw new ApiError(CODE.generic, MSG.mkdirClash);
    return this.insert(parentId, n, 1, 0, '');
  }

  /** mkdir -p of a relative path ("a/b/c") under parentId; returns the last folder's id. */
  ensureFolders(parentId: bigint, segments: string[]): bigint {
    let cur = parentId;
    for (const seg of segments) {
      const existing = this.liveChild(cur, checkName(seg, this.nameMax()));
      if (existing && existing.type !== 1) throw new ApiError(CODE.generic, MSG.createClash);
      cur = existing ? existing.id : this.insert(cur, seg, 1, 0, '');
    }
    return cur;
  }

  rename(id: bigint, name: unknown): void {
    const n = checkName(name, this.nameMax());
    const r = this.require(id);
    if (id === 0n || r.trashed) throw notFound();
    if (r.name === n) return;
    if (this.liveChild(r.parentId, n)) throw new ApiError(CODE.generic, MSG.renameClash);
    this.q('UPDATE files SET name = ?, update_at = ? WHERE id = ?').run(n, this.clock.now(), id);
  }

  isAncestorOrSelf(ancestor: bigint, id: bigint): boolean {
    for (let cur = id; ; ) {
      if (cur === ancestor) return true;
      if (cur === 0n) return false;
      cur = this.require(cur).parentId;
    }
  }

  /** All-or-nothing: every item is validated before any moves. */
  move(ids: bigint[], to: bigint): void {
    this.requireLiveFolder(to);
    const names = new Set<string>();
    const rows = ids.map((id) => {
      const r = this.require(id);
      if (id === 0n || r.trashed) throw notFound();
      if (r.parentId === to) throw new ApiError(CODE.generic, MSG.moveSame);
      if (r.type === 1 && this.isAncestorOrSelf(id, to)) throw new ApiError(CODE.generic, MSG.moveIntoSelf);
      if (this.liveChild(to, r.name) || names.has(r.name)) throw new ApiError(CODE.generic, MSG.renameClash);
      names.add(r.name);
      return r;
    });
    const now = this.clock.now();
    const upd = this.q('UPDATE files SET parent_id = ?, update_at = ? WHERE id = ?');
    this.db.transaction(() => {
      for (const r of rows) upd.run(to, now, r.id);
    })();
  }

  trash(ids: bigint[]): void {
    const rows = ids.map((id) => {
      if (id === 0n) throw notFound();
      return this.require(id);
    });
    const upd = this.q('UPDATE files SET trashed = 1, update_at = ? WHERE id = ?');
    const now = this.clock.now();
    this.db.transaction(() => {
      for (const r of rows) if (!r.trashed) upd.run(now, r.id);
    })();
  }

  /** Permanent delete; only items already in the trash (choice: others → code 1, nothing deleted). */
  delete(ids: bigint[]): void {
    const rows = ids.map((id) => this.require(id));
    if (rows.some((r) => !r.trashed)) throw new ApiError(CODE.generic, '文件不在回收站中，无法彻底删除');
    const sub =
      this.q(`WITH RECURSIVE t(id) AS (SELECT ? UNION ALL SELECT f.id FROM files f JOIN t ON f.parent_id = t.id)
      SELECT f.id, f.md5, f.size FROM files f JOIN t ON f.id = t.id`);
    const blobs: Array<{ md5: string; size: number }> = [];
    this.db.transaction(() => {
      for (const r of rows) {
        for (const x of sub.all(r.id) as Array<{ id: bigint; md5: string; size: bigint }>) {
          blobs.push({ md5: x.md5, size: Number(x.size) });
          this.q('DELETE FROM files WHERE id = ?').run(x.id);
        }
      }
    })();
    this.store.gcBlobs(blobs);
  }

  /** Restore to the original parent; items whose parent is gone/trashed or whose name clashes are abnormal. */
  recover(ids: bigint[]): bigint[] {
    const abnormal: bigint[] = [];
    const upd = this.q('UPDATE files SET trashed = 0, update_at = ? WHERE id = ?');
    for (const id of ids) {
      const r = this.require(id);
      if (!r.trashed) continue;
      const parent = this.get(r.parentId);
      if (!parent || parent.trashed || this.liveChild(r.parentId, r.name)) {
        abnormal.push(id);
        continue;
      }
      upd.run(this.clock.now(), id);
    }
    return abnormal;
  }

  /**
   * Resolve the final name of a new file under the duplicate mode. Mode 0: clash → code 1; 1: first
   * free "a(n).txt"; 2: the clashing file goes to the trash (a folder of that name still clashes).
   */
  placeFile(parentId: bigint, name: string, duplicate: Duplicate): { name: string; overwrite?: bigint } {
    this.requireLiveFolder(parentId);
    const clash = this.liveChild(parentId, name);
    if (!clash) return { name };
    if (duplicate === 1) {
      for (let n = 1; ; n++) {
        const cand = suffixedName(name, n);
        if (!this.liveChild(parentId, cand)) return { name: checkName(cand, this.nameMax()) };
      }
    }
    if (duplicate === 2 && clash.type === 0) return { name, overwrite: clash.id };
    throw new ApiError(CODE.generic, MSG.createClash);
  }

  /** Create a file row (blob must already be stored), applying the duplicate mode atomically. */
  createFile(parentId: bigint, name: string, md5: string, size: number, duplicate: Duplicate): bigint {
    return this.db.transaction(() => {
      const placed = this.placeFile(parentId, name, duplicate);
      if (placed.overwrite !== undefined) this.trash([placed.overwrite]);
      return this.insert(parentId, placed.name, 0, size, md5);
    })();
  }

  /**
   * Server-side copy of one file (POST /api/v1/file/copy) into a live folder under the same name; the copy
   * shares the blob (no bytes stored twice). A clash with a live child is refused (code 1, the rename/move
   * clash message) unless `suffix`: then the first free "a(n).txt", like duplicate=1 (choice: the real
   * answer is unknown, docs/EMULATOR.md). Folders are refused (choice: the sync copy is for files).
   */
  copyFile(id: bigint, targetDirId: bigint, suffix: boolean): bigint {
    return this.db.transaction(() => {
      const r = this.get(id);
      if (!r || id === 0n || r.trashed) throw notFound();
      if (r.type === 1) throw new ApiError(CODE.generic, '仅支持复制文件'); // choice
      this.requireLiveFolder(targetDirId);
      let name = r.name;
      if (this.liveChild(targetDirId, name)) {
        if (!suffix) throw new ApiError(CODE.generic, MSG.renameClash);
        name = this.placeFile(targetDirId, name, 1).name;
      }
      return this.insert(targetDirId, name, 0, r.size, r.md5);
    })();
  }

  /** Accumulated size of live descendants (detail of a folder). */
  folderSize(id: bigint): number {
    const r = this.q(
      `WITH RECURSIVE t(id) AS (SELECT ? UNION ALL SELECT f.id FROM files f JOIN t ON ` +
        `f.parent_id = t.id WHERE f.trashed = 0)
      SELECT COALESCE(SUM(f.size), 0) AS s FROM files f JOIN t ON f.id = t.id WHERE f.type = 0 AND f.trashed = 0`,
    ).get(id) as { s: bigint };
    return Number(r.s);
  }

  spaceUsed(): number {
    return Number((this.q('SELECT COALESCE(SUM(size), 0) AS s FROM files WHERE type = 0').get() as { s: bigint }).s);
  }

  /** Names from the root down to id (root → []). */
  pathSegments(id: bigint): string[] {
    const segs: string[] = [];
    for (let cur = id; cur !== 0n; ) {
      const r = this.require(cur);
      segs.unshift(r.name);
      cur = r.parentId;
    }
    return segs;
  }

  /** Walk live children by name from the root; undefined when any segment is missing. */
  resolve(segments: string[]): FileRow | undefined {
    let cur: FileRow = ROOT;
    for (const s of segments) {
      if (cur.type !== 1) return undefined;
      const next = this.liveChild(cur.id, s);
      if (!next) return undefined;
      cur = next;
    }
    return cur;
  }

  all(): FileRow[] {
    return (this.q('SELECT * FROM files ORDER BY id').all() as Array<Record<string, unknown>>).map(rowFromDb);
  }

  setDirectLink(id: bigint, on: boolean): void {
    this.q('UPDATE files SET direct_link = ? WHERE id = ?').run(on ? 1 : 0, id);
  }
}
