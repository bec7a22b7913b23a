// UploadJournal: the statements over the `upload_journal` table (schema in db.ts). One row per file whose
// local content (a staging file) still has to be uploaded; it survives SIGKILL and is resumed at start.
//
// Invariants:
//  - every method is synchronous (better-sqlite3) and never spans an await;
//  - enqueue() is an upsert that bumps `generation`; remove(ino, generation) deletes only when the
//    generation is unchanged, so content written again while an upload ran is never lost;
//  - rows go away on success (remove) or with their node (ON DELETE CASCADE on unlink).
//  - an upload attempt's place (parent, name, MD5, size) is recorded (kv `upload-attempt:<ino>`) before
//    it starts and forgotten when its outcome is settled (committed, or its copy trashed or found absent).
//    It outlives its node on purpose: a copy that lands after a kill -9, or after the file was renamed or
//    removed, is found there at the next attempt or start (issue 19: the stray copy under a stale name).

import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import type { MetaDb } from './db.js';

export interface JournalEntry {
  ino: number;
  stagingPath: string;
  size: number;
  /** lower-case hex MD5, or null when unknown (the uploader hashes the staging file) */
  md5: string | null;
  generation: number;
  attempts: number;
  lastError: string | null;
  /** epoch ms; 0 = due now */
  nextAttemptAt: number;
  enqueuedAt: number;
}

interface RawRow {
  ino: number;
  staging_path: string;
  size: number;
  md5: string | null;
  generation: number;
  attempts: number;
  last_error: string | null;
  next_attempt_at: number;
  enqueued_at: number;
}

function fromRaw(r: RawRow): JournalEntry {
  return {
    ino: r.ino,
    stagingPath: r.staging_path,
    size: r.size,
    md5: r.md5,
    generation: r.generation,
    attempts: r.attempts,
    lastError: r.last_error,
    nextAttemptAt: r.next_attempt_at,
    enqueuedAt: r.enqueued_at,
  };
}

/** A committed upload whose remote copy (fileId, created as parentId/name) must take the node's current
 * name; replacedId: the node's previous copy, which the rename took along and which must go to the trash. */
export interface FixupEntry {
  ino: number;
  fileId: string;
  parentId: string;
  name: string;
  replacedId: string | null;
}

/** Where an upload attempt creates its copy (the copy lands there even when the daemon dies meanwhile). */
export interface AttemptEntry {
  ino: number;
  parentId: string;
  name: string;
  md5: string;
  size: number;
}

const ATTEMPT_KEY = 'upload-attempt:';

export class UploadJournal {
  private readonly statements;

  constructor(
    readonly db: MetaDb,
    private readonly clock: Clock = systemClock,
  ) {
    this.statements = {
      upsert: db.prepare(
        `INSERT INTO upload_journal (ino, staging_path, size, md5, generation, attempts, last_error, ` +
          `next_attempt_at, enqueued_at)
                          VALUES (@ino, @stagingPath, @size, @md5, 1, 0, NULL, 0, @now)
                          ON CONFLICT (ino) DO UPDATE SET staging_path = excluded.staging_path, size = excluded.size,
                            md5 = excluded.md5, generation = generation + 1, attempts = 0, last_error = NULL, ` +
          'next_attempt_at = 0',
      ),
      get: db.prepare('SELECT * FROM upload_journal WHERE ino = ?'),
      list: db.prepare('SELECT * FROM upload_journal ORDER BY next_attempt_at, enqueued_at, ino'),
      markAttempt: db.prepare(
        'UPDATE upload_journal SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE ino = ?',
      ),
      bump: db.prepare('UPDATE upload_journal SET generation = generation + 1 WHERE ino = ?'),
      remove: db.prepare('DELETE FROM upload_journal WHERE ino = ? AND generation = ?'),
      drop: db.prepare('DELETE FROM upload_journal WHERE ino = ?'),
      putFixup: db.prepare(`INSERT OR REPLACE INTO upload_fixups (ino, file_id, parent_id, name, replaced_id)
                            VALUES (@ino, @fileId, @parentId, @name, @replacedId)`),
      fixups: db.prepare(
        'SELECT ino, file_id AS fileId, parent_id AS parentId, name, replaced_id AS replacedId FROM upload_fixups',
      ),
      removeFixup: db.prepare('DELETE FROM upload_fixups WHERE ino = ? AND file_id = ?'),
      putKv: db.prepare('INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)'),
      getKv: db.prepare('SELECT value FROM kv WHERE key = ?'),
      deleteKv: db.prepare('DELETE FROM kv WHERE key = ?'),
      kvPrefix: db.prepare('SELECT value FROM kv WHERE substr(key, 1, length(?)) = ? ORDER BY key'),
    };
  }

  /** Insert or replace the row for ino (bumps generation, resets attempts, due now). Returns the row. */
  enqueue(ino: number, stagingPath: string, size: number, md5: string | null): JournalEntry {
    return this.db.transaction(() => {
      this.statements.upsert.run({ ino, stagingPath, size, md5, now: this.clock.now() });
      return this.get(ino)!;
    })();
  }

  get(ino: number): JournalEntry | undefined {
    const r = this.statements.get.get(ino) as RawRow | undefined;
    return r ? fromRaw(r) : undefined;
  }

  /** Every row, the most due first. */
  list(): JournalEntry[] {
    return (this.statements.list.all() as RawRow[]).map(fromRaw);
  }

  /** Record a failed attempt: attempts + 1, the error text, and when to try again. */
  markAttempt(ino: number, error: string | null, nextAttemptAt: number): void {
    this.statements.markAttempt.run(error, nextAttemptAt, ino);
  }

  /**
   * The content is changing (a write started): bump the generation so a running upload cannot commit.
   * The MD5 stays: it is the content last closed, which a restart checks the staging file against.
   * Returns the new generation, or undefined when there is no row.
   */
  bump(ino: number): number | undefined {
    const r = this.statements.bump.run(ino);
    return r.changes > 0 ? this.get(ino)?.generation : undefined;
  }

  /** Delete the row whatever its generation (the content must not be uploaded). */
  drop(ino: number): void {
    this.statements.drop.run(ino);
  }

  /** Delete the row only if its generation is still `generation`. True when deleted. */
  remove(ino: number, generation: number): boolean {
    return this.statements.remove.run(ino, generation).changes > 0;
  }

  /** Record a rename fix-up still to do (in the commit's transaction). */
  putFixup(f: FixupEntry): void {
    this.statements.putFixup.run(f);
  }

  /** Every fix-up not done yet (start-up). */
  fixups(): FixupEntry[] {
    return this.statements.fixups.all() as FixupEntry[];
  }

  /** The fix-up of fileId for ino is done (or moot). */
  removeFixup(ino: number, fileId: string): void {
    this.statements.removeFixup.run(ino, fileId);
  }

  /** Record where the attempt about to start creates its copy (replaces an older record of ino). */
  putAttempt(a: AttemptEntry): void {
    this.statements.putKv.run(`${ATTEMPT_KEY}${a.ino}`, JSON.stringify(a));
  }

  /** The last attempt of ino whose outcome is not settled, if any. */
  attempt(ino: number): AttemptEntry | undefined {
    const r = this.statements.getKv.get(`${ATTEMPT_KEY}${ino}`) as { value: string } | undefined;
    return r ? (JSON.parse(r.value) as AttemptEntry) : undefined;
  }

  /** Every unsettled attempt (start-up). */
  attempts(): AttemptEntry[] {
    const rows = this.statements.kvPrefix.all(ATTEMPT_KEY, ATTEMPT_KEY) as Array<{ value: string }>;
    return rows.map((r) => JSON.parse(r.value) as AttemptEntry);
  }

  /** The attempt's copy is committed, trashed or known absent. */
  removeAttempt(ino: number): void {
    this.statements.deleteKv.run(`${ATTEMPT_KEY}${ino}`);
  }

  /** Run fn in one transaction (nested transactions become savepoints). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}
