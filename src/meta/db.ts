// Opens the metadata database (better-sqlite3): WAL, foreign keys, and PRAGMA user_version migrations.
// Owns the schema of every table; the modules beside it (node-store.ts, upload-journal.ts) own the
// statements. Transactions are synchronous and never span an await.
//
// Tables:
//   nodes           one row per known file/dir. ino (rowid) is the stable inode number, AUTOINCREMENT so
//                   it is never reused (v2): in-memory state keyed by ino — open handles, a running
//                   upload and its journal generation — must never meet a later node with the same ino.
//                   remote_id is null for a file not uploaded yet. UNIQUE(parent_ino, name).
//   upload_journal  one row per file waiting to be uploaded (survives SIGKILL; resumed at start).
//   upload_fixups   (v4) one row per committed upload whose remote copy still has to take the file's current
//                   name (a rename during the upload); redone at start.
//   pins            one row per pinned file or folder (v5), keyed by ino so a pin follows its node through
//                   rename and move and goes with it when it is deleted (vfs/pins.ts owns the meaning).
//   kv              small settings (the root folder id the store was built for, account uid, …).
//   dead_props      WebDAV dead properties (v3; 123 stores none): one row per (ino, namespace, name),
//                   value = self-contained XML; deleted with the node (dead-props.ts owns the statements).

import Database from 'better-sqlite3';

export type MetaDb = Database.Database;

const MIGRATIONS: string[] = [
  // 1: initial schema
  `CREATE TABLE nodes (
     ino        INTEGER PRIMARY KEY,
     remote_id  TEXT UNIQUE,
     parent_ino INTEGER REFERENCES nodes(ino) ON DELETE CASCADE,
     name       TEXT NOT NULL,
     is_dir     INTEGER NOT NULL,
     size       INTEGER NOT NULL DEFAULT 0,
     md5        TEXT NOT NULL DEFAULT '',
     mtime_ms   INTEGER NOT NULL,
     ctime_ms   INTEGER NOT NULL,
     status     INTEGER NOT NULL DEFAULT 0,
     dirty      INTEGER NOT NULL DEFAULT 0,
     listed_at  INTEGER,
     UNIQUE (parent_ino, name)
   );
   CREATE INDEX nodes_parent ON nodes(parent_ino);
   CREATE TABLE upload_journal (
     ino             INTEGER PRIMARY KEY REFERENCES nodes(ino) ON DELETE CASCADE,
     staging_path    TEXT NOT NULL,
     size            INTEGER NOT NULL,
     md5             TEXT,
     generation      INTEGER NOT NULL DEFAULT 1,
     attempts        INTEGER NOT NULL DEFAULT 0,
     last_error      TEXT,
     next_attempt_at INTEGER NOT NULL DEFAULT 0,
     enqueued_at     INTEGER NOT NULL
   );
   CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  // 2: inode numbers are never reused. A plain INTEGER PRIMARY KEY hands out max(ino) + 1, so a file
  // created right after the newest file was unlinked got the unlinked file's ino — and its still-running
  // upload (same journal generation) committed into the new node. SQLite's 12-step table rebuild
  // (foreign keys are off while migrations run; see migrate()).
  `CREATE TABLE nodes_v2 (
     ino        INTEGER PRIMARY KEY AUTOINCREMENT,
     remote_id  TEXT UNIQUE,
     parent_ino INTEGER REFERENCES nodes(ino) ON DELETE CASCADE,
     name       TEXT NOT NULL,
     is_dir     INTEGER NOT NULL,
     size       INTEGER NOT NULL DEFAULT 0,
     md5        TEXT NOT NULL DEFAULT '',
     mtime_ms   INTEGER NOT NULL,
     ctime_ms   INTEGER NOT NULL,
     status     INTEGER NOT NULL DEFAULT 0,
     dirty      INTEGER NOT NULL DEFAULT 0,
     listed_at  INTEGER,
     UNIQUE (parent_ino, name)
   );
   INSERT INTO nodes_v2 (ino, remote_id, parent_ino, name, is_dir, size, md5, mtime_ms, ctime_ms, status, dirty, ` +
    `listed_at)
     SELECT ino, remote_id, parent_ino, name, is_dir, size, md5, mtime_ms, ctime_ms, status, dirty, listed_at ` +
    `FROM nodes;
   DROP TABLE nodes;
   ALTER TABLE nodes_v2 RENAME TO nodes;
   CREATE INDEX nodes_parent ON nodes(parent_ino);`,
  // 3: WebDAV dead properties (PROPPATCH), local to this machine
  `CREATE TABLE dead_props (
     ino   INTEGER NOT NULL REFERENCES nodes(ino) ON DELETE CASCADE,
     ns    TEXT NOT NULL,
     name  TEXT NOT NULL,
     value TEXT NOT NULL,
     PRIMARY KEY (ino, ns, name)
   );`,
  // 4: the post-commit rename fix-up of an upload is journaled. An upload that commits after its file was
  // renamed must still move/rename the new remote copy (and trash the old copy that took the new name);
  // a kill -9 between the commit and that fix-up lost the rename (issue 19 item 2). The row is written in
  // the commit's transaction and removed when the fix-up is done; the next start redoes what is left.
  `CREATE TABLE upload_fixups (
     ino         INTEGER PRIMARY KEY REFERENCES nodes(ino) ON DELETE CASCADE,
     file_id     TEXT NOT NULL,
     parent_id   TEXT NOT NULL,
     name        TEXT NOT NULL,
     replaced_id TEXT
   );`,
  // 5: pins (`pan123fs pin`): kept out of disk-cache eviction, survive restarts, follow the node by ino.
  `CREATE TABLE pins (
     ino       INTEGER PRIMARY KEY REFERENCES nodes(ino) ON DELETE CASCADE,
     pinned_at INTEGER NOT NULL
   );`,
];

/** Opens (creating or migrating) the database. `upTo`: stop at that schema version (tests of migrations). */
export function openMetaDb(path: string, upTo = MIGRATIONS.length): MetaDb {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, upTo);
  return db;
}

function migrate(db: MetaDb, upTo: number): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(
      `metadata database ${db.name} has schema version ${current}, newer than this pan123fs (${MIGRATIONS.length}); ` +
        'use a newer pan123fs or a fresh --cache-dir',
    );
  }
  if (current >= upTo) return;
  // Foreign keys off while the schema changes (a table rebuild drops a referenced table), checked before
  // each migration commits. The pragma is a no-op inside a transaction, hence out here.
  db.pragma('foreign_keys = OFF');
  try {
    for (let v = current; v < upTo; v++) {
      db.transaction(() => {
        db.exec(MIGRATIONS[v]!);
        const broken = db.pragma('foreign_key_check') as unknown[];
        if (broken.length > 0)
          throw new Error(`metadata database ${db.name}: migration ${v + 1} left ${broken.length} broken references`);
        db.pragma(`user_version = ${v + 1}`);
      })();
    }
  } finally {
    db.pragma('foreign_keys = ON');
  }
}
