// PanVfs: POSIX semantics over the metadata store, the read path and the writeback. Path based, promise
// based, throws only FsError (every foreign error goes through classify()). It keeps the attributes, the
// open handles and the dispatch: a file's local content, its journaling and its upload target are
// writeback.ts's; mkdir/rmdir/unlink/rename are namespace.ts's; the fh table is handles.ts's; which version
// the kernel's page cache holds is kernel-cache.ts's; copy_file_range is server-copy.ts's. create holds its
// name like the namespace ops (name-locks.ts).
//
// Invariants:
//  - a handle holds either a remote read handle (a file without local content at open) or a LocalFile;
//    getattr of a file with local content shows the staging file's size and mtime.
//  - every change is refused with EROFS on a read-only mount before anything else is looked at.
//  - a remote read handle reads the version (id, size, MD5) it opened, whatever listings find later
//    (docs/SEMANTICS.md "Remote changes"); its page cache mode is kernel-cache.ts's.
//  - what a listing changed is invalidated in the kernel (KernelCachePort) after the store holds it, before
//    the other listeners (pins) are told.

import { constants as C } from 'node:fs';
import type { Clock } from '../core/clock.js';
import { FsError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { assertValidName } from '../core/names.js';
import type { NodeRow, NodeStore } from '../meta/node-store.js';
import type { UserInfo } from '../pan/api.js';
import { MAX_CREATE_SIZE } from '../pan/endpoints.js';
import { offlineCause } from '../pan/connectivity.js';
import { classifyData } from './classify.js';
import { NameLocks } from './name-locks.js';
import { assertNameFree, Namespace, type NamespacePan } from './namespace.js';
import { parentAndName } from './paths.js';
import { reconcileNamespace } from './reconcile.js';
import type { ListingChange } from '../meta/node-store.js';
import { type Handle, Handles } from './handles.js';
import { KernelCache } from './kernel-cache.js';
import type { AccountPort, FolderUsePort, KernelCachePort, ReadHandleLike, ReadPort, RemoteCopyPort } from './ports.js';
import { copyFileRange } from './server-copy.js';
import { guard, Tree } from './tree.js';
import type { DirEntry, OpenFlags, PageCacheMode, ReadViews, Stat, StatFs, Vfs } from './types.js';
import type { Writeback } from './writeback.js';

/**
 * A flush of a file that stays open starts its upload no sooner than this (rclone's --vfs-write-back
 * default): the last close (RELEASE), an fsync or a drain start it at once.
 */
export const WRITE_BACK_DELAY_MS = 5000;
/** 123 Open's upload limit for developers (123open-api.md §4.1), from the client's endpoint table. */
export const MAX_FILE_SIZE = MAX_CREATE_SIZE;
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
  pan: NamespacePan;
  account: AccountPort;
  reader: ReadPort;
  /** local content and its upload (attached to the upload queue by the caller) */
  writeback: Writeback;
  /** server-side copies (copy_file_range, WebDAV COPY); without it every copy goes through read/write */
  copier?: RemoteCopyPort;
  clock: Clock;
  logger: Logger;
}

export class PanVfs implements Vfs {
  readonly tree: Tree;
  readonly writeback: Writeback;
  /** the name locks of create and the namespace ops (name-locks.ts) */
  readonly names = new NameLocks();
  private readonly namespace: Namespace;
  private readonly handles = new Handles();
  private readonly kernel = new KernelCache();
  private userInfoCache: { at: number; info: UserInfo } | null = null;
  /** files whose offline read failure was logged, in the current offline period */
  private offlineReads: { since: number; inos: Set<number> } = { since: 0, inos: new Set() };
  private readonly changeListeners: ((changes: readonly ListingChange[]) => void)[] = [];
  private folderUse: FolderUsePort | undefined;

  constructor(
    private readonly deps: VfsDeps,
    private readonly opts: VfsOptions,
  ) {
    this.tree = new Tree(deps.store, deps.pan, deps.clock, () => opts.dirCacheTimeMs, deps.logger);
    this.writeback = deps.writeback;
    this.namespace = new Namespace({ ...deps, tree: this.tree, names: this.names });
    this.tree.onChanges = (changes) => this.remoteChanged(changes);
  }

  /** The front end's kernel caches (set once the FUSE mount exists). */
  setKernelCache(port: KernelCachePort): void {
    this.kernel.attach(port);
  }

  /** Told of every change a listing found, after the kernel's caches were told (pins follow them). */
  onRemoteChanges(fn: (changes: readonly ListingChange[]) => void): void {
    this.changeListeners.push(fn);
  }

  /** Told of every folder listed and every file opened (the change poller). */
  watchFolders(port: FolderUsePort): void {
    this.folderUse = port;
  }

  private remoteChanged(changes: readonly ListingChange[]): void {
    const paths = this.kernel.changed(changes);
    this.deps.logger.debug({ op: 'poll', changes: changes.length, paths }, 'remote changes');
    for (const fn of this.changeListeners) fn(changes);
  }

  // ---- attributes -------------------------------------------------------------------------------

  private stat(n: NodeRow): Stat {
    const lf = this.writeback.get(n.ino);
    const size = n.isDir ? 0 : lf ? lf.staging.size : n.size;
    const mtime = lf?.mtimeMs ?? n.mtimeMs;
    return {
      ino: n.ino,
      isDir: n.isDir,
      size,
      perm: (n.isDir ? 0o777 : 0o666) & ~this.opts.umask,
      uid: this.opts.uid,
      gid: this.opts.gid,
      nlink: n.isDir ? 2 + this.deps.store.subdirCount(n.ino) : 1, // as far as the store knows
      mtimeMs: mtime,
      ctimeMs: Math.max(n.ctimeMs, mtime),
      atimeMs: mtime,
      md5: n.isDir || lf || !n.md5 ? undefined : n.md5,
    };
  }

  async getattr(path: string): Promise<Stat> {
    return this.stat(await this.lookup(path));
  }

  async fgetattr(path: string, fh: number): Promise<Stat> {
    const h = this.handles.find(fh);
    const n = h ? this.deps.store.get(h.ino) : undefined;
    return n ? this.stat(n) : this.getattr(path);
  }

  async readdir(path: string): Promise<DirEntry[]> {
    const dir = await guard(`readdir ${path}`, () => this.tree.lookupDir(path));
    this.folderUse?.touch(dir.ino);
    const kids = await guard(`readdir ${path}`, () => this.tree.children(dir));
    return kids.map((k) => ({ name: k.name, stat: this.stat(k) }));
  }

  async statfs(_path: string): Promise<StatFs> {
    const now = this.deps.clock.now();
    if (!this.userInfoCache || now - this.userInfoCache.at > USER_INFO_TTL_MS) {
      const info = await guard('statfs', () => this.deps.account.userInfo());
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
    if (this.opts.readOnly && (mode & C.W_OK) !== 0 && path !== '/')
      throw new FsError('EROFS', `${path}: read-only mount`);
  }

  // ---- open / read / write ----------------------------------------------------------------------

  async open(path: string, flags: OpenFlags): Promise<number> {
    const n = await this.lookup(path);
    if (n.isDir) throw new FsError('EISDIR', `${path}: is a directory`);
    if (n.parentIno !== null) this.folderUse?.touch(n.parentIno);
    const write = (flags & 3) !== C.O_RDONLY || (flags & C.O_TRUNC) !== 0;
    if (!write) return this.handles.add(await this.openForRead(n, path));
    this.assertWritable(path);
    const lf = await this.writeback.openForWrite(n, (flags & C.O_TRUNC) !== 0, path, 'writer');
    this.kernel.forget(path);
    return this.handles.add({ ino: n.ino, write: true, local: lf, cache: 'drop' });
  }

  pageCache(fh: number): PageCacheMode {
    return this.handles.find(fh)?.cache ?? 'drop';
  }

  /** Local content (being written, or journaled and not uploaded yet) is read from its staging file. */
  private async openForRead(n: NodeRow, path: string): Promise<Handle> {
    const lf = await this.writeback.openForRead(n);
    if (lf) {
      this.kernel.forget(path);
      return { ino: n.ino, write: false, local: lf, cache: 'drop' };
    }
    const fresh = this.deps.store.get(n.ino) ?? n;
    if (fresh.remoteId === null)
      throw new FsError('EIO', `${path}: local content missing (not uploaded and no staging file)`);
    const remote = this.deps.reader.open({ id: fresh.remoteId, size: fresh.size, md5: fresh.md5 }, path);
    const version = `${fresh.remoteId}:${fresh.md5}`;
    const cache = this.kernel.opening(path, version);
    // a direct handle is not counted: it never touches the page cache the others share
    return { ino: n.ino, write: false, remote, cache, opened: cache === 'direct' ? undefined : { path, version } };
  }

  async opendir(path: string): Promise<number> {
    await this.tree.lookupDir(path);
    return 0;
  }

  async releasedir(): Promise<void> {}

  /** create(2) holds the name (name-locks.ts): a rename waiting to take it cannot be overtaken. */
  async create(path: string, _mode: number): Promise<number> {
    this.assertWritable(path);
    assertValidName(parentAndName(path).name); // before any lookup, as before the lock
    return this.namespace.withNames([path], () => this.createLocked(path));
  }

  private async createLocked(path: string): Promise<number> {
    const { parent, name } = parentAndName(path);
    assertValidName(name);
    const dir = await this.tree.lookupDir(parent);
    const existing = await this.tree.child(dir, name);
    assertNameFree(this.deps.store, dir, name, existing, path);
    this.kernel.forget(path);
    if (existing) {
      if (existing.isDir) throw new FsError('EISDIR', `${path}: is a directory`);
      const lf = await this.writeback.openForWrite(existing, true, path, 'writer');
      return this.handles.add({ ino: existing.ino, write: true, local: lf, cache: 'drop' });
    }
    const now = this.deps.clock.now();
    const ino = this.deps.store.insert({ remoteId: null, parentIno: dir.ino, name, isDir: false, now, dirty: true });
    const lf = await this.writeback.createNew(ino, now, path).catch((e) => {
      this.deps.store.delete(ino);
      throw e;
    });
    return this.handles.add({ ino, write: true, local: lf, cache: 'drop' });
  }

  async read(path: string, fh: number, buf: Buffer, length: number, position: number): Promise<number> {
    const h = this.handles.get(fh, path);
    if (h.copied && !h.remote && !h.local) h.remote = this.openCopied(h, path);
    const remote = h.remote;
    if (remote) {
      try {
        return await remote.readInto(position, Math.min(length, buf.length), buf);
      } catch (e) {
        throw this.readFailed(e, h.ino, path);
      }
    }
    const data = await guard(`read ${path}`, () => h.local!.staging.read(position, length));
    return data.copy(buf, 0, 0, Math.min(length, data.length));
  }

  async readViews(path: string, fh: number, length: number, position: number): Promise<ReadViews> {
    const h = this.handles.get(fh, path);
    if (h.copied && !h.remote && !h.local) h.remote = this.openCopied(h, path);
    const remote = h.remote;
    if (remote?.readViews) {
      try {
        return await remote.readViews(position, length);
      } catch (e) {
        throw this.readFailed(e, h.ino, path);
      }
    }
    const buf = Buffer.allocUnsafe(length);
    const n = await this.read(path, fh, buf, length, position);
    return { views: n > 0 ? [buf.subarray(0, n)] : [], bytes: n, release: () => undefined };
  }

  async write(path: string, fh: number, buf: Buffer, length: number, position: number): Promise<number> {
    const h = this.handles.get(fh, path);
    if (h.write && h.copied && !h.local) await this.reopenCopiedForWrite(h, path);
    if (!h.write || !h.local) throw new FsError('EBADF', `${path}: not open for writing`);
    if (position + length > MAX_FILE_SIZE) throw new FsError('EFBIG', `${path}: 123pan accepts files up to 10 GiB`);
    await this.writeback.write(h.local, buf.subarray(0, length), position, path);
    return length;
  }

  async truncate(path: string, size: number): Promise<void> {
    this.assertWritable(path);
    const n = await this.lookup(path);
    if (n.isDir) throw new FsError('EISDIR', `${path}: is a directory`);
    if (size > MAX_FILE_SIZE) throw new FsError('EFBIG', `${path}: 123pan accepts files up to 10 GiB`);
    const lf = await this.writeback.openForWrite(n, size === 0, path);
    await this.writeback.truncateClosed(lf, size, path);
  }

  async ftruncate(path: string, fh: number, size: number): Promise<void> {
    const h = this.handles.get(fh, path);
    h.copied = undefined;
    if (!h.local || !h.write) return this.truncate(path, size);
    if (size > MAX_FILE_SIZE) throw new FsError('EFBIG', `${path}: 123pan accepts files up to 10 GiB`);
    await this.writeback.truncate(h.local, size, path, 'ftruncate');
  }

  /** close(2): journaled now, uploaded at the last close or after WRITE_BACK_DELAY_MS (writeback.flush). */
  async flush(path: string, fh: number): Promise<void> {
    const h = this.handles.find(fh);
    if (h?.write && h.local) await this.writeback.flush(h.local, path, WRITE_BACK_DELAY_MS);
  }

  async fsync(path: string, fh: number): Promise<void> {
    const h = this.handles.get(fh, path);
    if (h.local) await this.writeback.fsync(h.local, path);
  }

  async release(path: string, fh: number): Promise<void> {
    const h = this.handles.take(fh);
    if (!h) return;
    if (h.opened) this.kernel.closed(h.opened);
    if (h.remote) h.remote.close();
    if (h.local) await this.writeback.release(h.local, h.write, path);
  }

  // ---- server-side copy (server-copy.ts) ----------------------------------------------------------

  /**
   * copy_file_range: the whole of an uploaded file into an empty file is copied on the server (the answer
   * is the byte count the kernel asked for); anything else throws ENOTSUP and the kernel copies through
   * read/write. See server-copy.ts for the rule and the > 4 GiB case.
   */
  async copyFileRange(
    pathIn: string,
    fhIn: number,
    offIn: number,
    pathOut: string,
    fhOut: number,
    offOut: number,
    len: number,
  ): Promise<number> {
    this.assertWritable(pathOut);
    const hi = this.handles.get(fhIn, pathIn);
    const ho = this.handles.get(fhOut, pathOut);
    if (!ho.write) throw new FsError('EBADF', `${pathOut}: not open for writing`);
    return copyFileRange(this.deps, hi, ho, { in: pathIn, out: pathOut }, { offIn, offOut, len });
  }

  /** A handle whose content came from a server-side copy reads the remote copy. */
  private openCopied(h: Handle, path: string): ReadHandleLike {
    const n = this.deps.store.get(h.ino);
    if (!n?.remoteId) throw new FsError('EIO', `${path}: the copied file is gone`);
    return this.deps.reader.open({ id: n.remoteId, size: n.size, md5: n.md5 });
  }

  /** A write after a server-side copy: the file's content comes into staging first (as any in-place update). */
  private async reopenCopiedForWrite(h: Handle, path: string): Promise<void> {
    const n = this.deps.store.get(h.ino);
    if (!n) throw new FsError('ENOENT', `${path}: removed`);
    h.local = await this.writeback.openForWrite(n, false, path, 'writer');
    h.copied = undefined;
    h.remote?.close();
    h.remote = undefined;
  }

  // ---- namespace (namespace.ts) -----------------------------------------------------------------

  /** Start-up steps 2–4 of reconcile.ts (namespace intents a stop cut off); the daemon runs all of them. */
  recoverInterruptedRenames(): Promise<number> {
    const { store, pan, writeback, clock, logger } = this.deps;
    return reconcileNamespace({ store, pan, writeback, clock, logger });
  }

  async mkdir(path: string, _mode: number): Promise<void> {
    this.assertWritable(path);
    await this.namespace.mkdir(path);
  }

  async rmdir(path: string): Promise<void> {
    this.assertWritable(path);
    await this.namespace.rmdir(path);
  }

  async unlink(path: string): Promise<void> {
    this.assertWritable(path);
    await this.namespace.unlink(path);
  }

  async rename(from: string, to: string): Promise<void> {
    this.assertWritable(from);
    await this.namespace.rename(from, to);
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
    const local = this.writeback.setMtime(n.ino, mtimeMs);
    // remote files: the server sets mtime; accepted without effect
    if (local || n.dirty) this.deps.store.setMtime(n.ino, mtimeMs);
  }

  /** `pan123fs refresh PATH` */
  async refresh(path: string, recursive: boolean): Promise<number> {
    return this.tree.invalidate(await this.tree.lookupDir(path), recursive);
  }

  openHandleCount(): number {
    return this.handles.size;
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /**
   * A remote read failed. Offline (data not in the disk cache): EIO, logged once per file and offline
   * period with the cause; the adapters then log the op quietly (a `cat` makes many reads).
   */
  private readFailed(e: unknown, ino: number, path: string): FsError {
    const err = classifyData(e, `read ${path}`);
    const off = offlineCause(e);
    if (!off) return err;
    if (this.offlineReads.since !== off.since) this.offlineReads = { since: off.since, inos: new Set() };
    if (!this.offlineReads.inos.has(ino)) {
      this.offlineReads.inos.add(ino);
      this.deps.logger.warn(
        { op: 'read', path, cause: off.why, offlineSince: new Date(off.since).toISOString() },
        'offline: this part of the file is not in the disk cache; its reads fail with EIO until 123pan answers',
      );
    }
    err.logged = true;
    return err;
  }

  private lookup(path: string): Promise<NodeRow> {
    return guard(`lookup ${path}`, () => this.tree.lookup(path));
  }

  private assertWritable(path: string): void {
    if (this.opts.readOnly) throw new FsError('EROFS', `${path}: read-only mount`);
  }
}
