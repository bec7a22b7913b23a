// The filesystem as fuse/ sees it: path based, promise based, throws only FsError (core/errors.ts).
// fuse/ops.ts calls exactly one of these per kernel request and translates the result.

import type { ReadViews } from '../core/read-views.js';

export interface Stat {
  ino: number;
  isDir: boolean;
  size: number;
  /** permission bits (e.g. 0o644), without the file-type bits */
  perm: number;
  uid: number;
  gid: number;
  nlink: number;
  mtimeMs: number;
  ctimeMs: number;
  atimeMs: number;
  /** MD5 (hex) of the uploaded content; absent for directories and for files with local changes */
  md5?: string;
}

export interface DirEntry {
  name: string;
  stat: Stat;
}

export interface StatFs {
  /** bytes */
  total: number;
  used: number;
  free: number;
  files: number;
  filesFree: number;
  nameMax: number;
}

export type PageCacheMode = 'keep' | 'drop' | 'direct';

/** open flags as the kernel passes them (O_RDONLY/O_WRONLY/O_RDWR, O_TRUNC, O_APPEND, …) */
export type OpenFlags = number;

export interface Vfs {
  getattr(path: string): Promise<Stat>;
  /** fgetattr: the handle's view (a file being written shows its local size) */
  fgetattr(path: string, fh: number): Promise<Stat>;
  readdir(path: string): Promise<DirEntry[]>;
  statfs(path: string): Promise<StatFs>;
  open(path: string, flags: OpenFlags): Promise<number>;
  /**
   * What the kernel does with its page cache for the handle open() just gave: 'keep' it (the file's id and
   * MD5 are those it cached), 'drop' it first, or bypass it ('direct': another version is open).
   */
  pageCache?(fh: number): PageCacheMode;
  opendir(path: string): Promise<number>;
  releasedir(path: string, fh: number): Promise<void>;
  create(path: string, mode: number): Promise<number>;
  /** fills buf[0..n) and returns n (0 at EOF) */
  read(path: string, fh: number, buf: Buffer, length: number, position: number): Promise<number>;
  /**
   * ≤ length bytes from position without a copy (views of cached blocks, valid until release()); for a
   * front end that writes them to a socket (WebDAV GET). Optional: callers fall back to read().
   */
  readViews?(path: string, fh: number, length: number, position: number): Promise<ReadViews>;
  /** the data must be copied before the returned promise settles' caller returns (fuse reuses buf) */
  write(path: string, fh: number, buf: Buffer, length: number, position: number): Promise<number>;
  truncate(path: string, size: number): Promise<void>;
  ftruncate(path: string, fh: number, size: number): Promise<void>;
  flush(path: string, fh: number): Promise<void>;
  fsync(path: string, fh: number, datasync: boolean): Promise<void>;
  release(path: string, fh: number): Promise<void>;
  /**
   * copy_file_range: returns the bytes copied (≤ len); throws ENOTSUP when the kernel should copy through
   * read/write itself (the Vfs decides what it can copy without moving the bytes; never ENOSYS)
   */
  copyFileRange(
    pathIn: string,
    fhIn: number,
    offIn: number,
    pathOut: string,
    fhOut: number,
    offOut: number,
    len: number,
  ): Promise<number>;
  mkdir(path: string, mode: number): Promise<void>;
  rmdir(path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** accepted without remote effect (documented in docs/SEMANTICS.md) */
  chmod(path: string, mode: number): Promise<void>;
  chown(path: string, uid: number, gid: number): Promise<void>;
  /** times in ms; kept locally while the file is local, otherwise accepted without effect */
  utimens(path: string, atimeMs: number, mtimeMs: number): Promise<void>;
  access(path: string, mode: number): Promise<void>;
}

export type { ReadViews } from '../core/read-views.js';
