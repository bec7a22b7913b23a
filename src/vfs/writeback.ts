// Writeback: the one owner of a file's local content and of its upload target (rclone's vfs writeback).
// It holds the table of files whose content lives in a staging file (being written, or written and not
// uploaded yet), the per-ino lock, the per-file journaling chain, the queue's UploadTarget (resolve,
// commit), the recovery at start and the shutdown journaling. PanVfs calls it for every content op;
// namespace.ts tells it (and through it the queue) when a file is removed or renamed.
//
// Invariants:
//  - a file with local content has a LocalFile entry while any handle is open or until its upload
//    commits; reads and getattr of it use the staging file. When the last handle closes the staging file
//    is closed, and deleted once the content is uploaded (or the file was unlinked). The queue reopens a
//    pending staging file by its path, so nothing here has to stay open for it.
//  - nothing written is dropped: a release journals the file before answering; the journal row is only
//    removed when the upload committed (commit(), inside the queue's journal transaction, synchronous).
//  - LocalFile creation, reopening and freeing happen under the per-ino lock, so a concurrent release or
//    upload commit cannot free a staging file a new handle is about to use.
//  - staging files are deleted only here (the queue only reads them).
// Lock order: per-ino mutex only; no store transaction spans an await.
//
// The cycle with the upload queue (it calls resolve/commit, this calls enqueue/hold/…) is closed by
// attach(): build the Writeback, build the queue with it as target, then writeback.attach(queue).

import type { Clock } from '../core/clock.js';
import { FsError } from '../core/errors.js';
import { KeyedMutex } from '../core/keyed-mutex.js';
import type { Logger } from '../core/logger.js';
import type { NodeRow, NodeStore } from '../meta/node-store.js';
import type { UploadJournal } from '../meta/upload-journal.js';
import type { RemoteName } from '../write/name-claims.js';
import type { UploadTarget } from '../write/upload-queue.js';
import { classify, classifyData } from './classify.js';
import { guard } from './tree.js';
import type { ReadHandleLike, ReadPort, StagingLike, StagingPort, UploadPort } from './ports.js';
import type { StagingBudget } from './staging-budget.js';

export interface LocalFile {
  ino: number;
  staging: StagingLike;
  writers: number;
  readers: number;
  /** written since it was last journaled for upload */
  modified: boolean;
  unlinked: boolean;
  mtimeMs: number;
  /** the first failed write-behind: the staging file no longer holds what was written */
  writeError: unknown;
  /** bumped by every change; a journal entry describes the version it was taken at */
  version: number;
  /** journaling of this file, serialized: flush/release/fsync/stop wait for the one in flight */
  commits: Promise<void>;
}

export interface WritebackDeps {
  store: NodeStore;
  /** read only here: which staging file a pending upload uses (the queue writes the rows) */
  journal: Pick<UploadJournal, 'get' | 'list'>;
  staging: StagingPort;
  reader: ReadPort;
  clock: Clock;
  logger: Logger;
  /** --staging-max-size (staging-budget.ts); none: no limit */
  budget?: StagingBudget;
}

/** Download granularity when an existing file is opened for an in-place update. */
const FILL_CHUNK = 8 * 1024 * 1024;
/** Write-behind per file: 16 MiB of writes may be in flight to the staging file before write() waits. */
const WRITE_BEHIND_BYTES = 16 * 1024 * 1024;

export class Writeback implements UploadTarget {
  private readonly files = new Map<number, LocalFile>();
  private readonly inoLock = new KeyedMutex<number>();
  private uploadPort: UploadPort | null = null;
  /** files a rename is replacing right now: their upload stays held until it landed or failed */
  private readonly replacingInos = new Set<number>();

  constructor(private readonly deps: WritebackDeps) {}

  /** Close the cycle with the upload queue (which has this object as its UploadTarget). */
  attach(uploads: UploadPort): void {
    this.uploadPort = uploads;
  }

  private get uploads(): UploadPort {
    if (!this.uploadPort) throw new Error('Writeback: attach(uploads) was not called');
    return this.uploadPort;
  }

  get(ino: number): LocalFile | undefined {
    return this.files.get(ino);
  }
  count(): number {
    return this.files.size;
  }

  /** content is journaled for upload (its remote copy, if any, is about to be replaced) */
  pendingUpload(ino: number): boolean {
    return this.pendingStagingPath(ino) !== undefined;
  }

  /** staging path of a journaled (pending) upload, if any */
  private pendingStagingPath(ino: number): string | undefined {
    return this.deps.journal.get(ino)?.stagingPath;
  }

  // ---- open ------------------------------------------------------------------------------------

  /**
   * Local content (being written, or journaled and not uploaded yet) for a reader, or undefined (read the
   * remote file). The reader count is taken under the per-ino lock, so a concurrent release or upload
   * commit cannot free the staging file in between.
   */
  openForRead(n: NodeRow): Promise<LocalFile | undefined> {
    return this.inoLock.lock(n.ino, async () => {
      let cur = this.files.get(n.ino);
      if (!cur) {
        const p = this.pendingStagingPath(n.ino); // read under the lock: a commit may just have removed it
        if (p) cur = await this.reopenStaging(n, p);
      }
      if (cur) cur.readers++;
      return cur;
    });
  }

  /**
   * The file's content as a local staging file: created empty (truncate) or downloaded first. The row is
   * read again under the lock: while this waited, the previous writer's release may have closed the
   * staging file and its upload committed (journal row gone, new remote id), or the file was unlinked.
   */
  openForWrite(n: NodeRow, truncate: boolean, path: string, claim?: 'writer'): Promise<LocalFile> {
    return this.inoLock.lock(n.ino, async () => {
      const cur = this.deps.store.get(n.ino);
      if (!cur) throw new FsError('ENOENT', `${path}: removed while opening`);
      const lf = await this.localContent(cur, truncate, path);
      if (claim) lf.writers++;
      return lf;
    });
  }

  /** A new file's (empty) staging file, with its first writer; modified, so even an empty file uploads. */
  async createNew(ino: number, mtimeMs: number, path: string): Promise<LocalFile> {
    const lf = await this.inoLock.lock(ino, async () => {
      const created = await guard(`create ${path}`, async () =>
        this.register(ino, await this.deps.staging.create(ino), mtimeMs),
      );
      created.writers++;
      return created;
    });
    lf.modified = true;
    lf.version++;
    return lf;
  }

  private async localContent(n: NodeRow, truncate: boolean, path: string): Promise<LocalFile> {
    let lf = this.files.get(n.ino);
    if (!lf) {
      const pending = this.pendingStagingPath(n.ino);
      if (pending) lf = await this.reopenStaging(n, pending);
    }
    if (lf) {
      if (truncate && lf.staging.size > 0) {
        this.markModified(lf);
        lf.writeError = undefined;
        const cur = lf;
        await guard(`open ${path} (truncating)`, () => cur.staging.truncate(0));
        this.deps.budget?.set(cur.staging.path, 0);
      }
      return lf;
    }
    const created = await guard(`open ${path}`, async () =>
      this.register(n.ino, await this.deps.staging.create(n.ino), n.mtimeMs),
    );
    if (truncate) {
      this.markModified(created);
      return created;
    }
    if (n.remoteId !== null && n.size > 0) {
      const ref = { id: n.remoteId, size: n.size, md5: n.md5 };
      await guard(`open ${path} (downloading for in-place update)`, () =>
        this.fill(created, this.deps.reader.open(ref), n.size),
      ).catch(async (e) => {
        await this.discard(created);
        throw e;
      });
    }
    return created;
  }

  /** Reopen the staging file of a journaled upload; a missing one means the local content is lost. */
  private async reopenStaging(n: NodeRow, stagingPath: string): Promise<LocalFile> {
    const where = this.deps.store.pathOf(n.ino);
    try {
      const staging = await this.deps.staging.reopen(stagingPath);
      this.deps.budget?.set(stagingPath, staging.size);
      return this.register(n.ino, staging, n.mtimeMs);
    } catch (e) {
      // the file exists (it is in the store): a missing staging file is lost content, not ENOENT
      const err =
        (e as NodeJS.ErrnoException).code === 'ENOENT'
          ? new FsError(
              'EIO',
              `${where}: its local content (${stagingPath}) is gone — it was not uploaded yet; ` +
                'was the cache dir cleaned?',
              e,
            )
          : classify(e, `open ${where} (staging file ${stagingPath})`);
      this.deps.logger.error(
        { op: 'open', path: where, err: err.message },
        'cannot open the local content of a file waiting for upload',
      );
      throw err;
    }
  }

  private register(ino: number, staging: StagingLike, mtimeMs: number): LocalFile {
    const lf: LocalFile = {
      ino,
      staging,
      writers: 0,
      readers: 0,
      modified: false,
      unlinked: false,
      mtimeMs,
      writeError: undefined,
      version: 0,
      commits: Promise.resolve(),
    };
    this.files.set(ino, lf);
    return lf;
  }

  /** Copy the remote content into the staging file (rclone's rule: no partial overwrite without it). */
  private async fill(lf: LocalFile, src: ReadHandleLike, size: number): Promise<void> {
    try {
      await this.room(lf, size, this.deps.store.pathOf(lf.ino));
      let off = 0;
      while (off < size) {
        const data = await src.read(off, Math.min(FILL_CHUNK, size - off));
        if (data.length === 0) throw new Error(`remote file ended at ${off} of ${size} bytes`);
        await lf.staging.write(data, off);
        off += data.length;
      }
    } finally {
      src.close();
    }
  }

  // ---- content ---------------------------------------------------------------------------------

  /**
   * The staging file copies the data synchronously and applies writes in order (gathering sequential
   * ones); answering before the disk write lands lets the kernel send the next request at once
   * (write-behind, bounded per file). A failed write is remembered and reported by the next write,
   * flush (close) or fsync.
   */
  async write(lf: LocalFile, buf: Buffer, position: number, path: string): Promise<void> {
    if (lf.writeError) throw classify(lf.writeError, `write ${path} (an earlier write to the staging file failed)`);
    const wait = this.deps.budget?.grow(lf.staging.path, position + buf.length, path);
    if (wait) await wait; // staging full (--staging-max-size): wait for uploads to drain it, or ENOSPC
    this.markModified(lf);
    lf.staging.write(buf, position).catch((e) => this.writeFailed(lf, path, e));
    if (lf.staging.queuedBytes > WRITE_BEHIND_BYTES) {
      await guard(`write ${path}`, () => lf.staging.queuedBelow(WRITE_BEHIND_BYTES / 2));
      if (lf.writeError) throw classify(lf.writeError, `write ${path}`);
    }
  }

  async truncate(lf: LocalFile, size: number, path: string, op = 'truncate'): Promise<void> {
    await this.room(lf, size, path);
    this.markModified(lf);
    if (size === 0) lf.writeError = undefined; // the content is fully defined again
    await guard(`${op} ${path}`, () => lf.staging.truncate(size));
    this.deps.budget?.set(lf.staging.path, size);
  }

  /** Room in --staging-max-size for lf's staging file to hold `bytes` (waits for uploads, or ENOSPC). */
  private async room(lf: LocalFile, bytes: number, path: string): Promise<void> {
    const wait = this.deps.budget?.grow(lf.staging.path, bytes, path);
    if (wait) await wait;
  }

  /**
   * truncate(2) of a file nobody has open for writing: journal it at once (the file is "closed"), then
   * free the staging file if nobody reads it.
   */
  async truncateClosed(lf: LocalFile, size: number, path: string): Promise<void> {
    await this.truncate(lf, size, path);
    if (lf.writers > 0) return;
    try {
      await this.journalContent(lf, path);
    } finally {
      await this.free(lf);
    }
  }

  /**
   * A write to the staging file failed: its content no longer matches what was written, so it is never
   * uploaded (a pending entry is dropped; after a restart the file falls back to its remote version, or a
   * new file is dropped). Reported by the next write, close and fsync, until truncated to 0.
   */
  private writeFailed(lf: LocalFile, path: string, e: unknown): void {
    if (lf.writeError) return;
    lf.writeError = e;
    this.uploads.abandon(lf.ino, classify(e, `write ${path}`));
    this.deps.logger.error(
      { op: 'write', path, err: String(e) },
      'writing the staging file failed; this content will not be uploaded',
    );
  }

  /**
   * The content is about to change: a queued upload of the previous content must not commit (hold), and
   * the change is journaled again at the next flush/release/fsync.
   */
  private markModified(lf: LocalFile): void {
    if (!lf.modified) {
      if (this.pendingStagingPath(lf.ino) !== undefined) this.uploads.hold(lf.ino);
      this.deps.store.markDirty(lf.ino); // from the first change on, a listing never drops the node
    }
    lf.modified = true;
    lf.version++;
    lf.mtimeMs = this.deps.clock.now();
  }

  /** utimens: a file with local content shows the time set until its upload commits. */
  setMtime(ino: number, mtimeMs: number): boolean {
    const lf = this.files.get(ino);
    if (lf) lf.mtimeMs = mtimeMs;
    return lf !== undefined;
  }

  /**
   * close(2) waits for FLUSH but not for RELEASE (the kernel sends that asynchronously), so the content
   * is journaled here: once `close` returned, the file survives a SIGTERM or SIGKILL that follows at once.
   * The file is still open (a dup of the descriptor may go on writing, as after a shell redirect or dd's
   * dup2+close): the upload starts at the last close or after `delayMs`, so an upload of what is about to
   * change is not started and thrown away.
   */
  async flush(lf: LocalFile, path: string, delayMs: number): Promise<void> {
    if (lf.modified) await this.journalContent(lf, path, delayMs);
    if (lf.writeError) throw classify(lf.writeError, `close ${path} (a write to the staging file failed)`);
  }

  /** fsync: journal what changed, then wait until the current content is uploaded. */
  async fsync(lf: LocalFile, path: string): Promise<void> {
    if (lf.modified) await this.journalContent(lf, path);
    if (lf.writeError) throw classify(lf.writeError, `fsync ${path} (a write to the staging file failed)`);
    if (!this.deps.store.get(lf.ino)?.dirty) return;
    // offline: EIO (classifyData); the content stays journaled and uploads when 123pan answers
    await this.uploads.waitFor(lf.ino).catch((e) => {
      throw classifyData(e, `fsync ${path}`);
    });
  }

  /** A handle of lf closed: the last writer journals and starts the upload; the staging file is freed. */
  async release(lf: LocalFile, write: boolean, path: string): Promise<void> {
    if (write) lf.writers--;
    else lf.readers--;
    try {
      if (write && lf.writers === 0) {
        await this.journalContent(lf, path);
        this.uploads.expedite(lf.ino); // journaled (delayed) by a flush and not modified since
      }
    } finally {
      await this.free(lf);
    }
  }

  /**
   * Journal the local content for upload (durable from here on). Serialized per file: a second close
   * waits for the journaling in flight instead of returning early. `modified` is cleared only when no
   * change arrived meanwhile; if one did, the entry just written is held (it must not commit) and the
   * next flush/release journals again.
   */
  private journalContent(lf: LocalFile, path: string, delayMs = 0): Promise<void> {
    const run = lf.commits.then(() => this.journalOnce(lf, path, delayMs));
    lf.commits = run.catch(() => undefined);
    return run;
  }

  private async journalOnce(lf: LocalFile, path: string, delayMs: number): Promise<void> {
    if (lf.unlinked) {
      lf.modified = false;
      return;
    }
    if (!lf.modified) return;
    const version = lf.version;
    try {
      const { md5, size } = await lf.staging.md5WithSize(); // after every pending write-behind
      if (lf.writeError) throw lf.writeError;
      if (lf.unlinked) return;
      this.deps.store.setLocalContent(lf.ino, size, lf.mtimeMs);
      this.uploads.enqueue(lf.ino, { stagingPath: lf.staging.path, size, md5 }, delayMs > 0 ? { delayMs } : undefined);
      if (this.replacingInos.has(lf.ino)) this.uploads.hold(lf.ino); // journaled, but not under that name now
    } catch (e) {
      // a gathered write that failed when this md5 flushed it: same policy as a failed write() (logged,
      // this content is never uploaded, every later close/fsync reports it)
      if (lf.staging.writeFailure !== null) this.writeFailed(lf, path, lf.staging.writeFailure);
      throw classify(e, `queueing ${path} for upload`);
    }
    if (lf.version === version) lf.modified = false;
    else this.uploads.hold(lf.ino);
  }

  /** Frees the staging file of `lf` when nobody uses it (under the per-ino lock, see openForRead). */
  free(lf: LocalFile): Promise<void> {
    return this.inoLock.lock(lf.ino, () => this.maybeFree(lf, this.deps.store.get(lf.ino)?.dirty ?? false));
  }

  /** Close (and when no longer needed, delete) the staging file once no handle uses it. */
  private async maybeFree(lf: LocalFile, pendingUpload: boolean): Promise<void> {
    if (lf.writers > 0 || lf.readers > 0 || lf.modified) return;
    if (this.files.get(lf.ino) !== lf) return;
    if (pendingUpload && !lf.unlinked) {
      this.files.delete(lf.ino);
      await lf.staging.close();
      return;
    }
    await this.discard(lf);
  }

  private async discard(lf: LocalFile): Promise<void> {
    this.files.delete(lf.ino);
    await lf.staging.close().catch(() => undefined);
    await lf.staging.remove().then(
      () => this.deps.budget?.remove(lf.staging.path),
      (e) => this.deps.logger.warn({ op: 'staging', ino: lf.ino, err: String(e) }, 'could not remove staging file'),
    );
  }

  /** Delete a staging file nobody has open (and give its bytes back to --staging-max-size). */
  private async removeStaging(path: string): Promise<void> {
    await this.deps.staging.removePath(path);
    this.deps.budget?.remove(path);
  }

  // ---- server-side copy (server-copy.ts) ----------------------------------------------------------

  /**
   * lf is an empty file written through one handle only, with nothing journaled: a server-side copy may
   * become its content (a file with data, other users or a pending upload goes through read/write).
   */
  emptyForCopy(lf: LocalFile): boolean {
    return (
      this.files.get(lf.ino) === lf &&
      lf.writers === 1 &&
      lf.readers === 0 &&
      !lf.unlinked &&
      !lf.writeError &&
      lf.staging.size === 0 &&
      lf.staging.queuedBytes === 0 &&
      this.pendingStagingPath(lf.ino) === undefined
    );
  }

  /**
   * Fill the empty file lf with a remote copy, under the per-ino lock: `make` makes the copy (false: it
   * could not), and when lf is still empty and untouched afterwards the copy is committed as the file's
   * uploaded content and the handle's writer lets go of lf (its staging file goes). 'stale' when lf
   * changed meanwhile or `still()` (checked right before the commit) says the target moved: the caller
   * trashes the copy. See server-copy.ts.
   */
  fillByServerCopy(
    lf: LocalFile,
    make: () => Promise<{ fileId: string; md5: string; size: number } | null>,
    still: () => boolean = () => true,
  ): Promise<'done' | 'refused' | 'stale'> {
    return this.inoLock.lock(lf.ino, async () => {
      if (!this.emptyForCopy(lf)) return 'refused';
      const version = lf.version;
      const result = await make();
      if (!result) return 'refused';
      const before = this.deps.store.get(lf.ino);
      if (!before || lf.version !== version || !this.emptyForCopy(lf) || !still()) return 'stale';
      if (before.remoteId && before.remoteId !== result.fileId) this.deps.reader.dropFile(before.remoteId);
      this.deps.store.commitUpload(lf.ino, result.fileId, result.md5, result.size);
      lf.modified = false;
      lf.writers--;
      await this.maybeFree(lf, false);
      return 'done';
    });
  }

  // ---- namespace intents (namespace.ts) ---------------------------------------------------------

  /**
   * The file is gone remotely (or never was there): forget it in the store (the journal row goes with it,
   * so a pending upload is cancelled), tell the queue (a running upload stops at its next safe point; a
   * copy it still makes is trashed as stale), and drop its local content. Open handles keep reading.
   * Local clean-up failures are logged, not thrown: the file is already gone.
   */
  async removed(ino: number, path: string): Promise<void> {
    this.replacingInos.delete(ino);
    const staged = this.files.get(ino) ? undefined : this.pendingStagingPath(ino);
    this.deps.store.delete(ino);
    this.uploads.removed(ino);
    try {
      const lf = this.files.get(ino);
      if (lf) {
        lf.unlinked = true;
        lf.modified = false;
        await this.maybeFree(lf, false);
      }
      if (staged) await this.inoLock.lock(ino, () => this.removeStaging(staged));
    } catch (e) {
      this.deps.logger.warn(
        { op: 'unlink', path, err: String(e) },
        'could not clean up the staging file of a removed file',
      );
    }
  }

  /**
   * A rename is replacing file `ino` (its remote copy goes to the trash): it keeps its node and content
   * until the rename landed (then removed()) or failed (then replaceFailed()), and no upload of it may take
   * the name meanwhile: a pending upload is held.
   */
  replacing(ino: number): void {
    this.replacingInos.add(ino);
    if (this.pendingStagingPath(ino) !== undefined) this.uploads.hold(ino);
  }

  /** The rename that was replacing `ino` failed: its journaled content (if any) is queued again. */
  replaceFailed(ino: number): void {
    if (!this.replacingInos.delete(ino)) return;
    const row = this.deps.journal.get(ino);
    // a writer changing it holds it anyway, and journals it again at its close
    if (!row || this.files.get(ino)?.modified || row.md5 === null) return;
    this.uploads.enqueue(ino, { stagingPath: row.stagingPath, size: row.size, md5: row.md5 });
  }

  /**
   * `ino` is about to take the remote name `to`: resolves once no other upload holds that name (rejects
   * EBUSY if that takes too long). See write/name-claims.ts.
   */
  renaming(ino: number, to: RemoteName): Promise<void> {
    return this.uploads.renaming(ino, to);
  }

  // ---- UploadTarget (called by the upload queue) ------------------------------------------------

  resolve(
    ino: number,
  ): { parentId: string; name: string; stagingPath: string; remoteId: string | null } | null | 'parent-pending' {
    const n = this.deps.store.get(ino);
    if (!n) return null;
    const parent = n.parentIno === null ? undefined : this.deps.store.get(n.parentIno);
    if (!parent?.remoteId) return 'parent-pending';
    // after the commit the journal row is gone, but the queue still resolves the name (rename fixup)
    return {
      parentId: parent.remoteId,
      name: n.name,
      stagingPath: this.pendingStagingPath(ino) ?? '',
      remoteId: n.remoteId,
    };
  }

  /**
   * The queue trashed a copy of its own (stale, or stray after a kill): a node a listing made of it goes
   * (found by the crash test: listed, every read answered ENOENT). Not one open or with local content.
   */
  trashedCopy(fileId: string): void {
    const n = this.deps.store.getByRemote(fileId);
    if (n && (this.files.has(n.ino) || this.pendingStagingPath(n.ino))) return;
    const gone = this.deps.store.remoteRemoved(fileId);
    if (gone) this.deps.reader.dropFile(fileId);
  }

  /** A node has this remote id. */
  knows(fileId: string): boolean {
    return this.deps.store.getByRemote(fileId) !== undefined;
  }

  /**
   * The upload of `ino` committed remotely. Called inside the queue's journal transaction, so synchronous:
   * record it, and free the staging file once nobody uses it. False when the node is gone.
   */
  commit(ino: number, _generation: number, result: { fileId: string; md5: string; size: number }): boolean {
    const before = this.deps.store.get(ino);
    if (!before) return false;
    if (before.remoteId && before.remoteId !== result.fileId) this.deps.reader.dropFile(before.remoteId);
    const stagingPath = this.pendingStagingPath(ino);
    this.deps.store.commitUpload(ino, result.fileId, result.md5, result.size);
    const lf = this.files.get(ino);
    const done = lf
      ? this.free(lf)
      : stagingPath
        ? this.inoLock.lock(ino, async () => {
            // reopened or journaled again meanwhile (same path): still needed
            if (this.files.get(ino) || this.pendingStagingPath(ino) === stagingPath) return;
            await this.removeStaging(stagingPath);
          })
        : Promise.resolve();
    void done.catch((e) =>
      this.deps.logger.warn({ op: 'upload', ino, err: String(e) }, 'could not free the staging file'),
    );
    return true;
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  /**
   * Start, before the queue resumes: a dirty node without a journal row was being written when the daemon
   * died (never closed, so never journaled): a new file is dropped, an existing one falls back to its
   * remote version. Staging files no journal row points at are deleted. Both are logged.
   */
  async recover(): Promise<void> {
    const { store, logger } = this.deps;
    for (const n of store.danglingDirty()) {
      const path = store.pathOf(n.ino);
      if (n.remoteId === null) store.delete(n.ino);
      else {
        store.clearDirty(n.ino);
        if (n.parentIno !== null) store.invalidateListing(n.parentIno);
      }
      logger.warn(
        { op: 'recover', path },
        n.remoteId === null
          ? 'a new file was still open for writing when the daemon stopped; its unfinished content is dropped'
          : 'a file was still open for writing when the daemon stopped; it keeps its uploaded version',
      );
    }
    const rows = this.deps.journal.list();
    const keep = new Set(rows.map((r) => r.stagingPath));
    for (const r of rows) this.deps.budget?.set(r.stagingPath, r.size); // what waits for upload counts
    let removed = 0;
    for (const p of await this.deps.staging.list()) {
      if (keep.has(p)) continue;
      await this.deps.staging.removePath(p).then(
        () => removed++,
        () => undefined,
      );
    }
    if (removed) logger.info({ op: 'recover', files: removed }, 'removed staging files of no pending upload');
  }

  /** Shutdown: journal every file still open with unjournaled changes, so they upload now or at the next start. */
  async journalOpenWrites(): Promise<number> {
    let n = 0;
    for (const lf of [...this.files.values()]) {
      await lf.commits; // a close being journaled right now
      if (!lf.modified || lf.unlinked) continue;
      await this.journalContent(lf, this.deps.store.pathOf(lf.ino)).then(
        () => n++,
        (e) => this.deps.logger.error({ op: 'stop', ino: lf.ino, err: String(e) }, 'could not journal an open file'),
      );
    }
    return n;
  }

  /**
   * Shutdown, after journalOpenWrites and once FUSE sends no more requests: close every staging file still
   * open (after its journaling in flight settled). The files stay on disk: journaled ones upload at the
   * next start; the entries are forgotten.
   */
  async close(): Promise<void> {
    const files = [...this.files.values()];
    this.files.clear();
    for (const lf of files) {
      await lf.commits.catch(() => undefined);
      await lf.staging
        .close()
        .catch((e) =>
          this.deps.logger.warn({ op: 'stop', ino: lf.ino, err: String(e) }, 'could not close a staging file'),
        );
    }
  }
}
