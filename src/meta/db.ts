// Opens the metadata database (better-sqlite3): WAL, foreign keys, and PRAGMA user_version migrations.
// Owns the schema of every table; the modules beside it (node-store.ts, upload-journal.ts) own the
// statements. Transactions are synchronous and never span an await.
//
// Tables:
//   nodes           one row per known file/dir. ino (rowid) is the stable inode number; remote_id is
//                   null for a file not uploaded yet. UNIQUE(parent_ino, name).
//   upload_journal  one row per file waiting to be uploaded (survives SIGKILL; resumed at start).
//   kv              small settings (the root folder id the store was built for, account uid, …).

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
];

export function openMetaDb(path: string): MetaDb {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function migrate(db: MetaDb): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`metadata database ${db.name} has schema version ${current}, newer than this pan123fs (${MIGRATIONS.length}); use a newer pan123fs or a fresh --cache-dir`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
