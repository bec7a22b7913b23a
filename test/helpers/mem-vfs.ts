// A small in-memory Vfs, good enough to drive the FUSE adapter in tests: directories, files, read/write/
// truncate/rename/unlink, stats. Fault knobs make chosen paths throw synchronously, reject with a
// non-FsError, or answer reads late. Not a model of 123pan semantics (that is vfs/'s job).

import { FsError } from '../../src/core/errors.js';
import type { DirEntry, Stat, StatFs, Vfs } from '../../src/vfs/types.js';

export interface MemVfsFaults {
  /** any op on this path throws a plain Error synchronously (a bug in the layer below) */
  throwOn?: string;
  /** any op on this path returns a promise rejected with a plain Error */
  rejectOn?: string;
  /** each read answers after this many ms */
  readDelayMs?: number;
}

interface Node {
  ino: number;
  isDir: boolean;
  data: Buffer;
  size: number;
  perm: number;
  mtimeMs: number;
  atimeMs: number;
  ctimeMs: number;
}

const TOTAL_BYTES = 10 * 2 ** 50; // 10 PiB: exercises the statfs scaling

export class MemVfs implements Vfs {
  private readonly nodes = new Map<string, Node>();
  private readonly handles = new Map<number, Node>();
  private nextIno = 2;
  private nextFh = 1;

  constructor(
    readonly faults: MemVfsFaults = {},
    private readonly now: () => number = () => Date.now(),
  ) {
    this.nodes.set('/', this.mk(true, 0o755));
    this.nodes.get('/')!.ino = 1;
  }

  /** test setup: create a file with content */
  put(path: string, data: Buffer | string): void {
    const n = this.mk(false, 0o644);
    n.data = Buffer.from(data);
    n.size = n.data.length;
    this.nodes.set(path, n);
  }

  mkdirSync(path: string): void {
    this.nodes.set(path, this.mk(true, 0o755));
  }

  private mk(isDir: boolean, perm: number): Node {
    const t = this.now();
    return {
      ino: this.nextIno++,
      isDir,
      data: Buffer.alloc(0),
      size: 0,
      perm: perm & 0o7777,
      mtimeMs: t,
      atimeMs: t,
      ctimeMs: t,
    };
  }

  private fault(path: string): void {
    if (path === this.faults.throwOn) throw new Error(`injected throw on ${path}`);
  }

  private async guard<T>(path: string, fn: () => T): Promise<T> {
    if (path === this.faults.rejectOn) throw new Error(`injected rejection on ${path}`);
    return fn();
  }

  private get(path: string): Node {
    const n = this.nodes.get(path);
    if (!n) throw new FsError('ENOENT', `no such file ${path}`);
    return n;
  }

  private parentOf(path: string): Node {
    const parent = path.slice(0, path.lastIndexOf('/')) || '/';
    const p = this.get(parent);
    if (!p.isDir) throw new FsError('ENOTDIR', `${parent} is not a directory`);
    return p;
  }

  private fh(fh: number): Node {
    const n = this.handles.get(fh);
    if (!n) throw new FsError('EBADF', `bad handle ${fh}`);
    return n;
  }

  private stat(n: Node): Stat {
    return {
      ino: n.ino,
      isDir: n.isDir,
      size: n.isDir ? 4096 : n.size,
      perm: n.perm,
      uid: 0,
      gid: 0,
      nlink: n.isDir ? 2 : 1,
      mtimeMs: n.mtimeMs,
      ctimeMs: n.ctimeMs,
      atimeMs: n.atimeMs,
    };
  }

  private open_(n: Node): number {
    const fh = this.nextFh++;
    this.handles.set(fh, n);
    return fh;
  }

  private resize(n: Node, size: number): void {
    if (size > n.data.length) {
      const b = Buffer.alloc(Math.max(size, n.data.length * 2));
      n.data.copy(b);
      n.data = b;
    } else if (size < n.size) n.data.fill(0, size, n.size);
    n.size = size;
    n.mtimeMs = this.now();
  }

  getattr(p: string) {
    this.fault(p);
    return this.guard(p, () => this.stat(this.get(p)));
  }
  fgetattr(p: string, fh: number) {
    this.fault(p);
    return this.guard(p, () => this.stat(this.handles.get(fh) ?? this.get(p)));
  }
  readdir(p: string) {
    this.fault(p);
    return this.guard(p, (): DirEntry[] => {
      if (!this.get(p).isDir) throw new FsError('ENOTDIR', p);
      const prefix = p === '/' ? '/' : `${p}/`;
      return [...this.nodes]
        .filter(([k]) => k !== p && k.startsWith(prefix) && !k.slice(prefix.length).includes('/'))
        .map(([k, n]) => ({ name: k.slice(prefix.length), stat: this.stat(n) }));
    });
  }
  statfs(p: string) {
    return this.guard(p, (): StatFs => {
      const used = [...this.nodes.values()].reduce((s, n) => s + n.size, 0);
      return {
        total: TOTAL_BYTES,
        used,
        free: TOTAL_BYTES - used,
        files: this.nodes.size,
        filesFree: 1e9,
        nameMax: 255,
      };
    });
  }
  open(p: string, flags: number) {
    this.fault(p);
    return this.guard(p, () => {
      const n = this.get(p);
      if (n.isDir) throw new FsError('EISDIR', p);
      if (flags & 0o1000 /* O_TRUNC */) this.resize(n, 0);
      return this.open_(n);
    });
  }
  opendir(p: string) {
    this.fault(p);
    return this.guard(p, () => this.open_(this.get(p)));
  }
  releasedir(p: string, fh: number) {
    return this.guard(p, () => {
      this.handles.delete(fh);
    });
  }
  create(p: string, mode: number) {
    this.fault(p);
    return this.guard(p, () => {
      this.parentOf(p);
      const n = this.nodes.get(p) ?? this.mk(false, mode);
      this.nodes.set(p, n);
      return this.open_(n);
    });
  }
  async read(p: string, fh: number, buf: Buffer, length: number, position: number) {
    this.fault(p);
    if (this.faults.readDelayMs) await new Promise((r) => setTimeout(r, this.faults.readDelayMs));
    return this.guard(p, () => {
      const n = this.fh(fh);
      const end = Math.min(n.size, position + length);
      return end > position ? n.data.copy(buf, 0, position, end) : 0;
    });
  }
  write(p: string, fh: number, buf: Buffer, length: number, position: number) {
    this.fault(p);
    return this.guard(p, () => {
      const n = this.fh(fh);
      if (position + length > n.size) this.resize(n, position + length);
      buf.copy(n.data, position, 0, length); // copied before we return: fuse-native reuses buf
      n.mtimeMs = this.now();
      return length;
    });
  }
  truncate(p: string, size: number) {
    this.fault(p);
    return this.guard(p, () => this.resize(this.get(p), size));
  }
  ftruncate(p: string, fh: number, size: number) {
    return this.guard(p, () => this.resize(this.fh(fh), size));
  }
  flush(p: string, _fh: number) {
    return this.guard(p, () => undefined);
  }
  fsync(p: string, _fh: number, _datasync: boolean) {
    return this.guard(p, () => undefined);
  }
  release(p: string, fh: number) {
    return this.guard(p, () => {
      this.handles.delete(fh);
    });
  }
  /** no server-side copy here: the kernel copies through read/write */
  copyFileRange(_pi: string, _fi: number, _oi: number, po: string): Promise<number> {
    return this.guard(po, () => {
      throw new FsError('ENOTSUP', `${po}: copied by the kernel`);
    });
  }
  mkdir(p: string, mode: number) {
    this.fault(p);
    return this.guard(p, () => {
      this.parentOf(p);
      if (this.nodes.has(p)) throw new FsError('EEXIST', p);
      this.nodes.set(p, this.mk(true, mode));
    });
  }
  rmdir(p: string) {
    return this.guard(p, () => {
      const n = this.get(p);
      if (!n.isDir) throw new FsError('ENOTDIR', p);
      if ([...this.nodes.keys()].some((k) => k.startsWith(`${p}/`))) throw new FsError('ENOTEMPTY', p);
      this.nodes.delete(p);
    });
  }
  unlink(p: string) {
    return this.guard(p, () => {
      if (this.get(p).isDir) throw new FsError('EISDIR', p);
      this.nodes.delete(p);
    });
  }
  rename(from: string, to: string) {
    return this.guard(from, () => {
      const n = this.get(from);
      this.parentOf(to);
      const moved = [...this.nodes].filter(([k]) => k === from || k.startsWith(`${from}/`));
      for (const [k] of moved) this.nodes.delete(k);
      for (const [k, v] of moved) this.nodes.set(to + k.slice(from.length), v);
      n.ctimeMs = this.now();
    });
  }
  chmod(p: string, mode: number) {
    return this.guard(p, () => {
      this.get(p).perm = mode & 0o7777;
    });
  }
  chown(p: string, _uid: number, _gid: number) {
    return this.guard(p, () => {
      this.get(p);
    });
  }
  utimens(p: string, atimeMs: number, mtimeMs: number) {
    return this.guard(p, () => {
      const n = this.get(p);
      n.atimeMs = atimeMs;
      n.mtimeMs = mtimeMs;
    });
  }
  access(p: string, _mode: number) {
    this.fault(p);
    return this.guard(p, () => {
      this.get(p);
    });
  }
}
