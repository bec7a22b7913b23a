// PanVfs: POSIX semantics over the metadata store, the read path, staging files and the upload queue.
// Path based, promise based, throws only FsError (every foreign error goes through classify()).
//
// Invariants:
//  - a file with local content (being written, or written and waiting for upload) has a LocalFile entry
//    while any handle is open or until its upload commits; reads and getattr of it use the staging file.
//  - remote namespace changes (mkdir, rename, move, trash) happen remotely first, then in the store in one
//    step, so `ls` right after shows the new state.
//  - nothing written is dropped: release journals the file before answering; the journal row is only
//    removed when the upload committed (write/ + commitUpload below).
// Lock order: per-ino mutex (LocalFile creation) only; no store transaction spans an await.

import { constants as C } from 'node:fs';
import type { Clock } from '../core/clock.js';
import { FsError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { KeyedMutex } from '../core/keyed-mutex.js';
import { assertValidName } from '../core/names.js';
import type { PanApi, UserInfo } from '../pan/api.js';
import { MAX_CREATE_SIZE } from '../pan/endpoints.js';
import type { NodeRow, NodeStore } from '../meta/node-store.js';
import { classify } from './classify.js';
import { LocalFiles, type LocalFile } from './local-files.js';
import { parentAndName } from './paths.js';
import type { AccountPort, ReadHandleLike, ReadPort, StagingPort, UploadPort } from './ports.js';
import { Tree, type DirectoryLister } from './tree.js';
import type { DirEntry, OpenFlags, Stat, StatFs, Vfs } from './types.js';

/**
 * A flush of a file that stays open starts its upload no sooner than this (rclone's --vfs-write-back
 * default): the last close (RELEASE), an fsync or a drain start it at once.
 */
export const WRITE_BACK_DELAY_MS = 5000;
/** 123 Open's upload limit for developers (123open-api.md §4.1), from the client's endpoint table. */
export const MAX_FILE_SIZE = MAX_CREATE_SIZE;
/** Where a remote file was before a rename/move of it was asked for (parentId '' = unknown). */
type RemotePlace = { id: string; parentId: string; name: string };
/** Write-behind per file: 16 MiB of writes may be in flight to the staging file before write() waits. */
const WRITE_BEHIND_BYTES = 16 * 1024 * 1024;
/** statfs user info is cached this long: it is rate limited and changes slowly. */
const USER_INFO_TTL_MS = 30_000;

export interface VfsOptions {
  readOnly: boolean;
  uid: number;
  gid: number;
  umask: number;
  dirCacheTimeMs: number;
}

export interface VfsDeps {
  store: NodeStore;
  pan: Pick<PanApi, 'mkdir' | 'rename' | 'move' | 'trash' | 'recover' | 'detail'> & DirectoryLister;
  account: AccountPort;
  reader: ReadPort;
  staging: StagingPort;
  uploads: UploadPort;
  clock: Clock;
  logger: Logger;
}

interface Handle {
  ino: number;
  write: boolean;
  /** remote read handle (files without local content) */
  remote?: ReadHandleLike;
  local?: LocalFile;
}

export class PanVfs implements Vfs {
  readonly tree: Tree;
  readonly local: LocalFiles;
  private readonly handles = new Map<number, Handle>();
  private nextFh = 1;
  private readonly inoLock = new KeyedMutex<number>();
  private userInfoCache: { at: number; info: UserInfo } | null = null;

  constructor(
    private readonly d: VfsDeps,
    private readonly o: VfsOptions,
  ) {
    this.tree = new Tree(d.store, d.pan, d.clock, () => o.dirCacheTimeMs, d.logger);
    this.local = new LocalFiles(d.staging, d.logger);
  }

  // ---- attributes -------------------------------------------------------------------------------

  private stat(n: NodeRow): Stat {
    const lf = this.local.get(n.ino);
    const size = n.isDir ? 0 : lf ? lf.staging.size : n.size;
    const mtime = lf?.mtimeMs ?? n.mtimeMs;
    return {
      ino: n.ino,
      isDir: n.isDir,
      size,
      perm: (n.isDir ? 0o777 : 0o666) & ~this.o.umask,
      uid: this.o.uid,
      gid: this.o.gid,
      nlink: n.isDir ? 2 : 1,
      mtimeMs: mtime,
      ctimeMs: Math.max(n.ctimeMs, mtime),
      atimeMs: mtime,
    };
  }

  async getattr(path: string): Promise<Stat> {
    return this.stat(await this.lookup(path));
  }

  async fgetattr(path: string, fh: number): Promise<Stat> {
    const h = this.handles.get(fh);
    const n = h ? this.d.store.get(h.ino) : undefined;
    return n ? this.stat(n) : this.getattr(path);
  }

  async readdir(path: string): Promise<DirEntry[]> {
    const dir = await this.guard(`readdir ${path}`, () => this.tree.lookupDir(path));
    const kids = await this.guard(`readdir ${path}`, () => this.tree.children(dir));
    return kids.map((k) => ({ name: k.name, stat: this.stat(k) }));
  }

  async statfs(_path: string): Promise<StatFs> {
    const now = this.d.clock.now();
    if (!this.userInfoCache || now - this.userInfoCache.at > USER_INFO_TTL_MS) {
      const info = await this.guard('statfs', () => this.d.account.userInfo());
      this.userInfoCache = { at: now, info };
    }
    const u = this.userInfoCache.info;
    const total = u.spacePermanent + (u.spaceTempExpireAt === 0 || u.spaceTempExpireAt > now ? u.spaceTemp : 0);
    return {
      total,
      used: u.spaceUsed,
      free: Math.max(0, total - u.spaceUsed),
      files: 1_000_000_000,
      filesFree: 1_000_000_000,
      nameMax: 255,
    };
  }

  async access(path: string, mode: number): Promise<void> {
    await this.lookup(path);
    if (this.o.readOnly && (mode & C.W_OK) !== 0 && path !== '/')
      throw new FsError('EROFS', `${path}: read-only mount`);
  }

  // ---- open / read / write ----------------------------------------------------------------------

  async open(path: string, flags: OpenFlags): Promise<number> {
    const n = await this.lookup(path);
    if (n.isDir) throw new FsError('EISDIR', `${path}: is a directory`);
    const write = (flags & 3) !== C.O_RDONLY || (flags & C.O_TRUNC) !== 0;
    if (!write) return this.addHandle(await this.openForRead(n, path));
    this.assertWritable(path);
    const lf = await this.ensureLocal(n, (flags & C.O_TRUNC) !== 0, path, 'writer');
    return this.addHandle({ ino: n.ino, write: true, local: lf });
  }

  /**
   * Local content (being written, or journaled and not uploaded yet) is read from its staging file, else
   * the remote file. The handle count is taken under the per-ino lock, so a concurrent release or upload
   * commit cannot free the staging file in between.
   */
  private async openForRead(n: NodeRow, path: string): Promise<Handle> {
    const lf = await this.inoLock.lock(n.ino, async () => {
      let cur = this.local.get(n.ino);
      if (!cur) {
        const p = this.d.uploads.pendingStagingPath(n.ino); // read under the lock: a commit may just have removed it
        if (p) cur = await this.reopenStaging(n, p);
      }
      if (cur) cur.readers++;
      return cur;
    });
    if (lf) return { ino: n.ino, write: false, local: lf };
    const fresh = this.d.store.get(n.ino) ?? n;
    if (fresh.remoteId === null)
      throw new FsError('EIO', `${path}: local content missing (not uploaded and no staging file)`);
    return {
      ino: n.ino,
      write: false,
      remote: this.d.reader.open({ id: fresh.remoteId, size: fresh.size, md5: fresh.md5 }),
    };
  }

  /** Frees the staging file of `lf` when nobody uses it (under the per-ino lock, see openForRead). */
  private freeLocal(lf: LocalFile): Promise<void> {
    return this.inoLock.lock(lf.ino, () => this.local.maybeFree(lf, this.d.store.get(lf.ino)?.dirty ?? false));
  }

  /** Reopen the staging file of a journaled upload; a missing one means the local content is lost. */
  private async reopenStaging(n: NodeRow, path: string): Promise<LocalFile> {
    const where = this.d.store.pathOf(n.ino);
    try {
      return await this.local.reopen(n.ino, path, n.mtimeMs);
    } catch (e) {
      // the file exists (it is in the store): a missing staging file is lost content, not ENOENT
      const err =
        (e as NodeJS.ErrnoException).code === 'ENOENT'
          ? new FsError(
              'EIO',
              `${where}: its local content (${path}) is gone — it was not uploaded yet; was the cache dir cleaned?`,
              e,
            )
          : classify(e, `open ${where} (staging file ${path})`);
      this.d.logger.error(
        { op: 'open', path: where, err: err.message },
        'cannot open the local content of a file waiting for upload',
      );
      throw err;
    }
  }

  async opendir(path: string): Promise<number> {
    await this.tree.lookupDir(path);
    return 0;
  }

  async releasedir(): Promise<void> {}

  async create(path: string, _mode: number): Promise<number> {
    this.assertWritable(path);
    const { parent, name } = parentAndName(path);
    assertValidName(name);
    const dir = await this.tree.lookupDir(parent);
    const existing = await this.tree.child(dir, name);
    this.assertNameFree(dir, name, existing, path);
    if (existing) {
      if (existing.isDir) throw new FsError('EISDIR', `${path}: is a directory`);
      const lf = await this.ensureLocal(existing, true, path, 'writer');
      return this.addHandle({ ino: existing.ino, write: true, local: lf });
    }
    const now = this.d.clock.now();
    const ino = this.d.store.insert({ remoteId: null, parentIno: dir.ino, name, isDir: false, now, dirty: true });
    const lf = await this.inoLock
      .lock(ino, async () => {
        const created = await this.guard(`create ${path}`, () => this.local.create(ino, now));
        created.writers++;
        return created;
      })
      .catch((e) => {
        this.d.store.delete(ino);
        throw e;
      });
    lf.modified = true; // even an empty new file is uploaded
    lf.version++;
    return this.addHandle({ ino, write: true, local: lf });
  }

  async read(path: string, fh: number, buf: Buffer, length: number, position: number): Promise<number> {
    const h = this.handle(fh, path);
    if (h.remote)
      return this.guard(`read ${path}`, () => h.remote!.readInto(position, Math.min(length, buf.length), buf));
    const data = await this.guard(`read ${path}`, () => h.local!.staging.read(position, length));
    return data.copy(buf, 0, 0, Math.min(length, data.length));
  }

  async write(path: string, fh: number, buf: Buffer, length: number, position: number): Promise<number> {
    const h = this.handle(fh, path);
    if (!h.write || !h.local) throw new FsError('EBADF', `${path}: not open for writing`);
    if (position + length > MAX_FILE_SIZE) throw new FsError('EFBIG', `${path}: 123pan accepts files up to 10 GiB`);
    const lf = h.local;
    if (lf.writeError) throw classify(lf.writeError, `write ${path} (an earlier write to the staging file failed)`);
    this.markModified(lf);
    // The staging file copies the data synchronously and applies writes in order (gathering sequential
    // ones); answering before the disk write lands lets the kernel send the next request at once
    // (write-behind, bounded per file). A failed write is remembered and reported by the next write,
    // flush (close) or fsync.
    lf.staging.write(buf.subarray(0, length), position).catch((e) => this.writeFailed(lf, path, e));
    if (lf.staging.queuedBytes > WRITE_BEHIND_BYTES) {
      await this.guard(`write ${path}`, () => lf.staging.queuedBelow(WRITE_BEHIND_BYTES / 2));
      if (lf.writeError) throw classify(lf.writeError, `write ${path}`);
    }
    return length;
  }

  /**
   * A write to the staging file failed: its content no longer matches what was written, so it is never
   * uploaded (a pending entry is dropped; after a restart the file falls back to its remote version, or a
   * new file is dropped). Reported by the next write, close and fsync, until truncated to 0.
   */
  private writeFailed(lf: LocalFile, path: string, e: unknown): void {
    if (lf.writeError) return;
    lf.writeError = e;
    this.d.uploads.abandon(lf.ino, classify(e, `write ${path}`));
    this.d.logger.error(
      { op: 'write', path, err: String(e) },
      'writing the staging file failed; this content will not be uploaded',
    );
  }

  async truncate(path: string, size: number): Promise<void> {
    this.assertWritable(path);
    const n = await this.lookup(path);
    if (n.isDir) throw new FsError('EISDIR', `${path}: is a directory`);
    if (size > MAX_FILE_SIZE) throw new FsError('EFBIG', `${path}: 123pan accepts files up to 10 GiB`);
    const lf = await this.ensureLocal(n, size === 0, path);
    this.markModified(lf);
    if (size === 0) lf.writeError = undefined; // the content is fully defined again
    await this.guard(`truncate ${path}`, () => lf.staging.truncate(size));
    if (lf.writers === 0) {
      try {
        await this.commitLocal(lf, path);
      } finally {
        await this.freeLocal(lf);
      }
    }
  }

  async ftruncate(path: string, fh: number, size: number): Promise<void> {
    const h = this.handle(fh, path);
    if (!h.local || !h.write) return this.truncate(path, size);
    if (size > MAX_FILE_SIZE) throw new FsError('EFBIG', `${path}: 123pan accepts files up to 10 GiB`);
    this.markModified(h.local);
    if (size === 0) h.local.writeError = undefined;
    await this.guard(`ftruncate ${path}`, () => h.local!.staging.truncate(size));
  }

  /**
   * close(2) waits for FLUSH but not for RELEASE (the kernel sends that asynchronously), so the content
   * is journaled here: once `close` returned, the file survives a SIGTERM or SIGKILL that follows at once.
   */
  async flush(path: string, fh: number): Promise<void> {
    const h = this.handles.get(fh);
    // the file is still open (RELEASE has not come: a dup of the descriptor may go on writing, as after
    // a shell redirect or dd's dup2+close): journal now, start the upload at the last close or after
    // WRITE_BACK_DELAY_MS, so an upload of what is about to change is not started and thrown away
    if (h?.write && h.local?.modified) await this.commitLocal(h.local, path, WRITE_BACK_DELAY_MS);
    if (h?.write && h.local?.writeError)
      throw classify(h.local.writeError, `close ${path} (a write to the staging file failed)`);
  }

  /**
   * The content is about to change: a queued upload of the previous content must not commit (hold), and
   * the change is journaled again at the next flush/release/fsync.
   */
  private markModified(lf: LocalFile): void {
    if (!lf.modified) {
      if (this.d.uploads.pendingStagingPath(lf.ino) !== undefined) this.d.uploads.hold(lf.ino);
      this.d.store.markDirty(lf.ino); // from the first change on, a listing never drops the node
    }
    lf.modified = true;
    lf.version++;
    lf.mtimeMs = this.d.clock.now();
  }

  async fsync(path: string, fh: number): Promise<void> {
    const h = this.handle(fh, path);
    if (!h.local) return;
    if (h.local.modified) await this.commitLocal(h.local, path);
    if (h.local.writeError) throw classify(h.local.writeError, `fsync ${path} (a write to the staging file failed)`);
    if (!this.d.store.get(h.ino)?.dirty) return;
    await this.guard(`fsync ${path}`, () => this.d.uploads.waitFor(h.ino));
  }

  async release(path: string, fh: number): Promise<void> {
    const h = this.handles.get(fh);
    if (!h) return;
    this.handles.delete(fh);
    if (h.remote) {
      h.remote.close();
      return;
    }
    const lf = h.local!;
    if (h.write) lf.writers--;
    else lf.readers--;
    try {
      if (h.write && lf.writers === 0) {
        await this.commitLocal(lf, path);
        this.d.uploads.expedite(lf.ino); // journaled (delayed) by a flush and not modified since
      }
    } finally {
      await this.freeLocal(lf);
    }
  }

  /**
   * Journal the local content for upload (durable from here on). Serialized per file: a second close
   * waits for the journaling in flight instead of returning early. `modified` is cleared only when no
   * change arrived meanwhile; if one did, the entry just written is held (it must not commit) and the
   * next flush/release journals again.
   */
  private commitLocal(lf: LocalFile, path: string, delayMs = 0): Promise<void> {
    const run = lf.commits.then(() => this.journal(lf, path, delayMs));
    lf.commits = run.catch(() => undefined);
    return run;
  }

  private async journal(lf: LocalFile, path: string, delayMs: number): Promise<void> {
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
      this.d.store.setLocalContent(lf.ino, size, lf.mtimeMs);
      this.d.uploads.enqueue(lf.ino, lf.staging.path, size, md5, delayMs > 0 ? { delayMs } : undefined);
    } catch (e) {
      // a gathered write that failed when this md5 flushed it: same policy as a failed write() (logged,
      // this content is never uploaded, every later close/fsync reports it)
      if (lf.staging.writeFailure !== null) this.writeFailed(lf, path, lf.staging.writeFailure);
      throw classify(e, `queueing ${path} for upload`);
    }
    if (lf.version === version) lf.modified = false;
    else this.d.uploads.hold(lf.ino);
  }

  /**
   * The file's content as a local staging file: created empty (truncate) or downloaded first. The row is
   * read again under the lock: while this waited, the previous writer's release may have closed the
   * staging file and its upload committed (journal row gone, new remote id), or the file was unlinked.
   */
  private ensureLocal(n: NodeRow, truncate: boolean, path: string, claim?: 'writer'): Promise<LocalFile> {
    return this.inoLock.lock(n.ino, async () => {
      const cur = this.d.store.get(n.ino);
      if (!cur) throw new FsError('ENOENT', `${path}: removed while opening`);
      const lf = await this.localContent(cur, truncate, path);
      if (claim) lf.writers++;
      return lf;
    });
  }

  private async localContent(n: NodeRow, truncate: boolean, path: string): Promise<LocalFile> {
    let lf = this.local.get(n.ino);
    if (!lf) {
      const pending = this.d.uploads.pendingStagingPath(n.ino);
      if (pending) lf = await this.reopenStaging(n, pending);
    }
    if (lf) {
      if (truncate && lf.staging.size > 0) {
        this.markModified(lf);
        lf.writeError = undefined;
        await this.guard(`open ${path} (truncating)`, () => lf!.staging.truncate(0));
      }
      return lf;
    }
    lf = await this.guard(`open ${path}`, () => this.local.create(n.ino, n.mtimeMs));
    if (truncate) {
      this.markModified(lf);
      return lf;
    }
    if (n.remoteId !== null && n.size > 0) {
      await this.guard(`open ${path} (downloading for in-place update)`, () =>
        this.local.fill(lf!, this.d.reader.open({ id: n.remoteId!, size: n.size, md5: n.md5 }), n.size),
      ).catch(async (e) => {
        await this.local.discard(lf!);
        throw e;
      });
    }
    return lf;
  }

  // ---- namespace --------------------------------------------------------------------------------

  async mkdir(path: string, _mode: number): Promise<void> {
    this.assertWritable(path);
    const { parent, name } = parentAndName(path);
    assertValidName(name);
    const dir = await this.tree.lookupDir(parent);
    if (await this.tree.child(dir, name)) throw new FsError('EEXIST', `${path}: already exists`);
    this.assertNameFree(dir, name, undefined, path);
    const id = await this.guard(`mkdir ${path}`, () => this.d.pan.mkdir(dir.remoteId!, name));
    const now = this.d.clock.now();
    const ino = this.d.store.insert({ remoteId: id, parentIno: dir.ino, name, isDir: true, now });
    this.d.store.markListed(ino, now);
  }

  async rmdir(path: string): Promise<void> {
    this.assertWritable(path);
    const n = await this.lookup(path);
    if (!n.isDir) throw new FsError('ENOTDIR', `${path}: not a directory`);
    if (n.parentIno === null) throw new FsError('EBUSY', 'cannot remove the mount root');
    if ((await this.tree.children(n)).length > 0 || this.d.store.hasChildren(n.ino))
      throw new FsError('ENOTEMPTY', `${path}: directory not empty`);
    await this.guard(`rmdir ${path}`, () => this.d.pan.trash([n.remoteId!]));
    this.d.store.delete(n.ino);
  }

  async unlink(path: string): Promise<void> {
    this.assertWritable(path);
    const n = await this.lookup(path);
    if (n.isDir) throw new FsError('EISDIR', `${path}: is a directory`);
    await this.removeFile(n, path);
  }

  /** Trash the remote file (if any), cancel its pending upload, forget it; open handles keep reading. */
  private async removeFile(n: NodeRow, path: string): Promise<string | null> {
    // Trash every remote id the node has had. An upload of new content that commits while a trash call
    // is in flight gives the node a new id; left alone it would come back with the next listing.
    let trashed: string | null = null;
    for (;;) {
      const cur = this.d.store.get(n.ino);
      if (!cur) return trashed; // removed meanwhile (a concurrent unlink or listing)
      n = cur;
      if (n.remoteId === null || n.remoteId === trashed) break;
      const id: string = n.remoteId;
      await this.guard(`unlink ${path}`, () => this.d.pan.trash([id]));
      this.d.reader.dropFile(id);
      trashed = id;
    }
    const staged = this.local.get(n.ino) ? undefined : this.d.uploads.pendingStagingPath(n.ino);
    this.d.store.delete(n.ino); // cascades the journal row: a pending upload is cancelled
    this.d.uploads.cancel(n.ino); // and a running one stopped (what it still uploads is trashed as stale)
    // local clean-up only: the file is gone remotely and from the store, so a failure here is logged, not
    // reported (the caller must still learn which remote id went to the trash)
    try {
      await this.local.markUnlinked(n.ino);
      if (staged) await this.inoLock.lock(n.ino, () => this.local.removeStaging(staged));
    } catch (e) {
      this.d.logger.warn(
        { op: 'unlink', path, err: String(e) },
        'could not clean up the staging file of a removed file',
      );
    }
    return trashed;
  }

  async rename(from: string, to: string): Promise<void> {
    this.assertWritable(from);
    if (from === to) return;
    const src = await this.lookup(from);
    if (src.parentIno === null) throw new FsError('EBUSY', 'cannot rename the mount root');
    const { parent, name } = parentAndName(to);
    assertValidName(name);
    const dstDir = await this.tree.lookupDir(parent);
    if (src.isDir && this.isAncestor(src.ino, dstDir.ino))
      throw new FsError('EINVAL', `${from}: cannot move a directory into itself`);
    let replaced: string | null = null; // the remote id of the file or folder this rename sent to the trash
    const progress: { asked: RemotePlace | null } = { asked: null };
    try {
      for (let round = 1; ; round++) {
        const dst = await this.tree.child(dstDir, name);
        if (dst && dst.ino === src.ino) return;
        this.assertNameFree(dstDir, name, dst, to);
        if (dst) replaced = (await this.replaceTarget(src, dst, to)) ?? replaced;
        // An upload still running for the destination name (of the file just replaced, or unlinked a moment
        // ago) would land there after the rename; with duplicate 2 the server would trash what we moved in.
        if (dstDir.remoteId !== null) await this.d.uploads.nameFree(dstDir.remoteId, name, { except: src.ino });
        // the waits may have let another file take the name, or the destination folder go
        if (!this.d.store.get(dstDir.ino)) throw new FsError('ENOENT', `${to}: the destination folder was removed`);
        const now = this.d.store.child(dstDir.ino, name);
        if (!now || now.ino === src.ino) break;
        if (round >= 3) throw new FsError('EBUSY', `${to}: another file keeps taking this name`);
      }
      await this.renameRemote(src.ino, dstDir, name, from, to, progress);
    } catch (e) {
      // Undo only while the source has not been sent anywhere: once a remote rename/move of it was
      // asked for, it may hold the name (a retried call that landed, or a move done before a failed
      // rename), and restoring the target there could clash or make a second file of that name.
      if (replaced !== null && (!progress.asked || (await this.stillAt(progress.asked))))
        await this.undoReplace(replaced, dstDir, to);
      else if (replaced !== null) {
        this.d.logger.error(
          { op: 'rename', path: to, fileId: replaced, err: String(e) },
          'the rename failed part way; the replaced file stays in the 123 trash',
        );
        this.d.store.invalidateListing(dstDir.ino);
        const srcDir = this.d.store.get(src.ino)?.parentIno;
        if (srcDir !== undefined && srcDir !== null) this.d.store.invalidateListing(srcDir);
      }
      throw e;
    }
  }

  /**
   * A rename over an existing file failed after that file was sent to the trash: restore it (recover),
   * so a failed `mv` leaves the destination as it was, and relist the folder to pick it up again.
   */
  private async undoReplace(id: string, dstDir: NodeRow, to: string): Promise<void> {
    try {
      const abnormal = await this.d.pan.recover([id]);
      if (abnormal.length > 0)
        this.d.logger.error(
          { op: 'rename', path: to, fileId: id },
          'the rename failed and the replaced file could not be restored from the 123 trash',
        );
      else {
        this.d.store.forgetRemoved(id); // listings may show it again
        this.d.logger.warn(
          { op: 'rename', path: to, fileId: id },
          'the rename failed; the replaced file was restored from the 123 trash',
        );
      }
    } catch (e) {
      this.d.logger.error(
        { op: 'rename', path: to, fileId: id, err: String(e) },
        'the rename failed and restoring the replaced file from the 123 trash failed too',
      );
    }
    this.d.store.invalidateListing(dstDir.ino);
  }

  /** Whether the remote file is still where it was before a rename/move of it was asked for. */
  private async stillAt(was: RemotePlace): Promise<boolean> {
    try {
      const e = await this.d.pan.detail(was.id);
      return !e.trashed && e.parentId === was.parentId && e.name === was.name;
    } catch (e) {
      this.d.logger.warn(
        { op: 'rename', fileId: was.id, err: String(e) },
        'could not tell where the source of a failed rename is',
      );
      return false; // unknown: do not risk a second file of that name
    }
  }

  /** The remote part of a rename, then the store's. */
  private async renameRemote(
    ino: number,
    dstDir: NodeRow,
    name: string,
    from: string,
    to: string,
    progress: { asked: RemotePlace | null },
  ): Promise<void> {
    // read again after the awaits: an upload may have committed (new remote id) or the file gone
    let cur = this.d.store.get(ino);
    if (!cur) throw new FsError('ENOENT', `${from}: removed while renaming`);
    for (let moved: string | null = null; cur.remoteId !== null && cur.remoteId !== moved; ) {
      if (moved !== null) {
        // An upload committed while the remote rename ran: it saw the old name (no fixup), so its new copy
        // is still there, while the copy it replaces was just renamed into the new name. Trash that one
        // and move the new copy.
        const stale = moved;
        await this.guard(`rename ${from} -> ${to}`, () => this.d.pan.trash([stale]));
        this.d.reader.dropFile(stale);
      }
      const n: NodeRow = cur;
      const fromDir = n.parentIno === null ? undefined : this.d.store.get(n.parentIno)?.remoteId;
      progress.asked ??= { id: n.remoteId!, parentId: fromDir ?? '', name: n.name }; // '' never matches: no undo
      await this.guard(`rename ${from} -> ${to}`, () => this.remoteRename(n, dstDir, name));
      moved = n.remoteId;
      cur = this.d.store.get(ino);
      if (!cur) throw new FsError('ENOENT', `${from}: removed while renaming`);
    }
    this.d.store.rename(cur.ino, dstDir.ino, name, this.d.clock.now());
  }

  /** Sends the destination to the 123 trash; returns the remote id it trashed last (null if none). */
  private async replaceTarget(src: NodeRow, dst: NodeRow, to: string): Promise<string | null> {
    if (dst.isDir && !src.isDir) throw new FsError('EISDIR', `${to}: is a directory`);
    if (!dst.isDir && src.isDir) throw new FsError('ENOTDIR', `${to}: not a directory`);
    if (dst.isDir && ((await this.tree.children(dst)).length > 0 || this.d.store.hasChildren(dst.ino)))
      throw new FsError('ENOTEMPTY', `${to}: directory not empty`);
    if (dst.isDir) {
      await this.guard(`rename over ${to}`, () => this.d.pan.trash([dst.remoteId!]));
      this.d.store.delete(dst.ino);
      return dst.remoteId;
    }
    return this.removeFile(dst, to); // the replaced version goes to the 123 trash
  }

  /** move (when the parent changes) and rename (when the name changes), ordered to avoid a transient clash. */
  private async remoteRename(src: NodeRow, dstDir: NodeRow, name: string): Promise<void> {
    const id = src.remoteId!;
    const moving = src.parentIno !== dstDir.ino;
    const renaming = src.name !== name;
    if (!moving) {
      if (renaming) await this.d.pan.rename(id, name);
      return;
    }
    const clashInDst = renaming && this.d.store.child(dstDir.ino, src.name) !== undefined;
    if (clashInDst) {
      await this.d.pan.rename(id, name);
      await this.d.pan.move([id], dstDir.remoteId!);
    } else {
      await this.d.pan.move([id], dstDir.remoteId!);
      if (renaming) await this.d.pan.rename(id, name);
    }
  }

  private isAncestor(ancestor: number, ino: number): boolean {
    for (
      let cur = this.d.store.get(ino);
      cur;
      cur = cur.parentIno === null ? undefined : this.d.store.get(cur.parentIno)
    ) {
      if (cur.ino === ancestor) return true;
    }
    return false;
  }

  async chmod(path: string): Promise<void> {
    this.assertWritable(path);
    await this.lookup(path);
  }
  async chown(path: string): Promise<void> {
    this.assertWritable(path);
    await this.lookup(path);
  }

  async utimens(path: string, _atimeMs: number, mtimeMs: number): Promise<void> {
    this.assertWritable(path);
    const n = await this.lookup(path);
    const lf = this.local.get(n.ino);
    if (lf) lf.mtimeMs = mtimeMs;
    if (lf || n.dirty) this.d.store.setMtime(n.ino, mtimeMs); // remote files: the server sets mtime; accepted without effect
  }

  // ---- uploads (called by the upload queue through main.ts) -----------------------------------------

  /**
   * The upload of `ino` committed remotely (called inside the queue's commit transaction, so synchronous):
   * record it, and free the staging file once nobody uses it.
   */
  uploadCommittedSync(ino: number, fileId: string, md5: string, size: number): void {
    const before = this.d.store.get(ino);
    if (before?.remoteId && before.remoteId !== fileId) this.d.reader.dropFile(before.remoteId);
    const stagingPath = this.d.uploads.pendingStagingPath(ino);
    this.d.store.commitUpload(ino, fileId, md5, size);
    const lf = this.local.get(ino);
    const done = lf
      ? this.freeLocal(lf)
      : stagingPath
        ? this.inoLock.lock(ino, async () => {
            // reopened or journaled again meanwhile (same path): still needed
            if (this.local.get(ino) || this.d.uploads.pendingStagingPath(ino) === stagingPath) return;
            await this.local.removeStaging(stagingPath);
          })
        : Promise.resolve();
    void done.catch((e) =>
      this.d.logger.warn({ op: 'upload', ino, err: String(e) }, 'could not free the staging file'),
    );
  }

  /** Shutdown: journal every file still open with unjournaled changes, so they upload now or at the next start. */
  async journalOpenWrites(): Promise<number> {
    let n = 0;
    for (const lf of this.local.all()) {
      await lf.commits; // a close being journaled right now
      if (!lf.modified || lf.unlinked) continue;
      await this.commitLocal(lf, this.d.store.pathOf(lf.ino)).then(
        () => n++,
        (e) => this.d.logger.error({ op: 'stop', ino: lf.ino, err: String(e) }, 'could not journal an open file'),
      );
    }
    return n;
  }

  /** Shutdown, after journalOpenWrites and once FUSE sends no more requests: close the staging files. */
  async close(): Promise<void> {
    await this.local.closeAll();
  }

  /** `pan123fs refresh PATH` */
  async refresh(path: string, recursive: boolean): Promise<number> {
    return this.tree.invalidate(await this.tree.lookupDir(path), recursive);
  }

  openHandleCount(): number {
    return this.handles.size;
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private lookup(path: string): Promise<NodeRow> {
    return this.guard(`lookup ${path}`, () => this.tree.lookup(path));
  }

  /** A hidden entry (review-rejected) still holds its name remotely: refuse to reuse it. */
  private assertNameFree(dir: NodeRow, name: string, visible: NodeRow | undefined, path: string): void {
    const any = this.d.store.child(dir.ino, name);
    if (any && any.ino !== visible?.ino)
      throw new FsError(
        'EEXIST',
        `${path}: the name is taken by an entry hidden from the mount (e.g. review-rejected by 123pan)`,
      );
  }

  private assertWritable(path: string): void {
    if (this.o.readOnly) throw new FsError('EROFS', `${path}: read-only mount`);
  }

  private handle(fh: number, path: string): Handle {
    const h = this.handles.get(fh);
    if (!h) throw new FsError('EBADF', `${path}: bad file handle ${fh}`);
    return h;
  }

  private addHandle(h: Handle): number {
    const fh = this.nextFh;
    this.nextFh = this.nextFh >= 0x7fffffff ? 1 : this.nextFh + 1;
    this.handles.set(fh, h);
    return fh;
  }

  private async guard<T>(context: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw classify(e, context);
    }
  }
}
