// Persistence: one SQLite database (better-sqlite3, WAL, safe integers so int64 ids come back as bigint)
// plus content blobs stored by MD5 under <dataDir>/blobs/<md5[0..2]>/<md5>-<size>. Owns the schema,
// the id allocator and blob paths; tree semantics live in model.ts.
// Invariants: id 0 is the root and has no row; ids are allocated from a persisted counter that never
// goes backwards (restart-safe); a blob file exists iff some row (live or trashed) references it, except
// briefly between a permanent delete and its blob GC.

import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';

export interface FileRow {
  id: bigint;
  parentId: bigint;
  name: string;
  type: 0 | 1;
  size: number;
  md5: string;
  trashed: 0 | 1;
  createAt: number;
  updateAt: number;
  directLink: 0 | 1;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS files(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL, name TEXT NOT NULL,
  type INTEGER NOT NULL, size INTEGER NOT NULL, md5 TEXT NOT NULL, trashed INTEGER NOT NULL DEFAULT 0,
  create_at INTEGER NOT NULL, update_at INTEGER NOT NULL, direct_link INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS files_parent ON files(parent_id, id);
CREATE INDEX IF NOT EXISTS files_md5 ON files(md5, size);
CREATE TABLE IF NOT EXISTS kv(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens(token TEXT PRIMARY KEY, client_id TEXT NOT NULL, issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS uploads(preupload_id TEXT PRIMARY KEY, json TEXT NOT NULL);
`;

/** Default first id: 8 digits, like the documented examples. */
export const DEFAULT_ID_BASE = 10_000_000n;

export class Store {
  readonly db: Database.Database;
  readonly blobDir: string;
  readonly tmpDir: string;

  constructor(
    readonly dataDir: string,
    idBase: bigint,
  ) {
    fs.mkdirSync(dataDir, { recursive: true });
    this.blobDir = path.join(dataDir, 'blobs');
    this.tmpDir = path.join(dataDir, 'tmp');
    fs.mkdirSync(this.blobDir, { recursive: true });
    fs.rmSync(this.tmpDir, { recursive: true, force: true });
    fs.mkdirSync(this.tmpDir, { recursive: true });
    this.db = new Database(path.join(dataDir, 'emulator.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.defaultSafeIntegers(true);
    this.db.exec(SCHEMA);
    const next = this.kvGet('next_id');
    if (next === undefined || BigInt(next) < idBase) this.kvSet('next_id', idBase.toString());
  }

  kvGet(key: string): string | undefined {
    const r = this.db.prepare('SELECT value FROM kv WHERE key = ?').get(key) as { value: string } | undefined;
    return r?.value;
  }

  kvSet(key: string, value: string): void {
    this.db
      .prepare('INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
      .run(key, value);
  }

  allocId(): bigint {
    const id = BigInt(this.kvGet('next_id')!);
    this.kvSet('next_id', (id + 1n).toString());
    return id;
  }

  blobPath(md5: string, size: number): string {
    return path.join(this.blobDir, md5.slice(0, 2), `${md5}-${size}`);
  }

  hasBlob(md5: string, size: number): boolean {
    return fs.existsSync(this.blobPath(md5, size));
  }

  /** Move (or hardlink when `link`) a finished file into the blob store; an existing blob wins. */
  putBlob(src: string, md5: string, size: number, mode: 'move' | 'link'): void {
    const dst = this.blobPath(md5, size);
    if (fs.existsSync(dst)) {
      if (mode === 'move') fs.rmSync(src, { force: true });
      return;
    }
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    if (mode === 'move') {
      fs.renameSync(src, dst);
      return;
    }
    try {
      fs.linkSync(src, dst);
    } catch {
      fs.copyFileSync(src, dst);
    }
  }

  /** Remove blobs no row references any more. */
  gcBlobs(candidates: Array<{ md5: string; size: number }>): void {
    const q = this.db.prepare('SELECT 1 FROM files WHERE md5 = ? AND size = ? LIMIT 1');
    for (const c of candidates) {
      if (c.md5 === '' || q.get(c.md5, c.size)) continue;
      fs.rmSync(this.blobPath(c.md5, c.size), { force: true });
    }
  }

  tmpFile(prefix: string): string {
    return path.join(this.tmpDir, `${prefix}-${process.pid}-${Math.random().toString(36).slice(2)}`);
  }

  close(): void {
    this.db.close();
  }
}

export function rowFromDb(r: Record<string, unknown>): FileRow {
  return {
    id: r.id as bigint,
    parentId: r.parent_id as bigint,
    name: r.name as string,
    type: Number(r.type) as 0 | 1,
    size: Number(r.size),
    md5: r.md5 as string,
    trashed: Number(r.trashed) as 0 | 1,
    createAt: Number(r.create_at),
    updateAt: Number(r.update_at),
    directLink: Number(r.direct_link) as 0 | 1,
  };
}
