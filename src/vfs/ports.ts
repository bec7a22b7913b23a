// The narrow interfaces the Vfs needs from the read path, the write path and the upload queue
// (ARCHITECTURE.md convention 5). daemon/run-mount.ts passes the real data/ and write/ objects (the upload
// queue implements UploadPort itself); tests pass small fakes.

import type { FileRef } from '../core/file-ref.js';
import type { UserInfo } from '../pan/api.js';
import type { ReadViews } from './types.js';

export type { FileRef } from '../core/file-ref.js';

export interface ReadHandleLike {
  read(position: number, length: number, signal?: AbortSignal): Promise<Buffer>;
  /** copies straight into the reply buffer; resolves to the byte count */
  readInto(position: number, length: number, into: Buffer, signal?: AbortSignal): Promise<number>;
  /** the bytes as views of the cached blocks, valid until release() (data/file-reader.ts ReadViews) */
  readViews?(position: number, length: number, signal?: AbortSignal): Promise<ReadViews>;
  close(): void;
}

export interface ReadPort {
  /** `name` labels the stream in `status` (the path) */
  open(ref: FileRef, name?: string): ReadHandleLike;
  dropFile(fileId: string): void;
}

export interface StagingLike {
  readonly path: string;
  readonly size: number;
  /** copies buf at once; resolves when on disk (or gathered with neighbouring writes) */
  write(buf: Buffer, offset: number): Promise<unknown>;
  /** bytes accepted and not yet on disk (the write-behind backlog) */
  readonly queuedBytes: number;
  /** a gathered write that failed on its way to disk (reported to whatever flushed it), else null */
  readonly writeFailure: unknown;
  queuedBelow(limit: number): Promise<void>;
  truncate(size: number): Promise<void>;
  read(offset: number, length: number): Promise<Buffer>;
  md5(): Promise<string>;
  /** md5 and size of the same point of the staging file's operation chain */
  md5WithSize(): Promise<{ md5: string; size: number }>;
  close(): Promise<void>;
  remove(): Promise<void>;
}

export interface StagingPort {
  create(ino: number): Promise<StagingLike>;
  reopen(path: string): Promise<StagingLike>;
  /** delete a staging file that is not open */
  removePath(path: string): Promise<void>;
  /** paths of every staging file on disk (recovery at start deletes the ones no journal row points at) */
  list(): Promise<string[]>;
}

/**
 * What the writeback needs from the upload queue; write/upload-queue.ts's UploadQueue implements it as it
 * is (the rules behind removed/renaming are stated in write/name-claims.ts).
 */
export interface UploadPort {
  /**
   * journal the file (survives a crash) and queue it; `delayMs`: start the upload no sooner (a flush of a
   * file still open: more writes may follow), unless expedite(ino), waitFor(ino) or a drain comes first
   */
  enqueue(ino: number, entry: { stagingPath: string; size: number; md5: string }, opts?: { delayMs?: number }): void;
  /** the file's last writer closed: start a delayed upload now */
  expedite(ino: number): void;
  /** a write to a queued file started: its running upload must not commit; it is re-queued on release */
  hold(ino: number): void;
  /** the staging content is wrong (a write failed): never upload it, drop the journal entry */
  abandon(ino: number, why: unknown): void;
  /** resolves once the current content is uploaded; rejects with the last error */
  waitFor(ino: number): Promise<void>;
  /** the node is gone: stop its running upload where that is safe (a copy it still makes is trashed) */
  removed(ino: number): void;
  /**
   * ino is about to take the remote name `to`: resolves once no other upload holds that name (a holder is
   * stopped where that is safe); rejects with EBUSY if that takes too long
   */
  renaming(ino: number, to: { parentId: string; name: string }): Promise<void>;
}

export interface AccountPort {
  userInfo(): Promise<UserInfo>;
}

/** A remote file a server-side copy starts from: its MD5 and size are known. */
export interface CopySource {
  id: string;
  name: string;
  md5: string;
  size: number;
}

/** Server-side copies (write/server-copy.ts implements it over the 123 Open API). */
export interface RemoteCopyPort {
  /**
   * A copy of `src` named `to.name` in folder `to.parentId` (replacing a file of that name when `replace`):
   * the copy's id and how it was made. Throws when it could not be made; nothing is left behind then.
   */
  copy(
    src: CopySource,
    to: { parentId: string; name: string },
    replace: boolean,
  ): Promise<{ fileId: string; via: 'instant' | 'copy' }>;
  /** a copy nobody wants any more (its target changed while it was made) */
  trash(fileId: string): Promise<void>;
}

/**
 * The kernel's caches of the FUSE front end (fuse/mount.ts invalidate): told the paths whose attributes and
 * pages must be asked for again because a listing found them changed. Best effort: it never throws.
 */
export interface KernelCachePort {
  invalidate(paths: readonly string[]): void;
}

/** Folder use, for the change poller (vfs/poller.ts): a folder was listed or a file in it opened. */
export interface FolderUsePort {
  touch(dirIno: number): void;
}
