// The open file handles of the vfs: what each fh holds, and the table that numbers them.
//
// Invariants:
//  - a handle holds a remote read handle (a file without local content at open), a LocalFile, or the state
//    of a server-side copy made through it (then neither until the next read or write reopens it);
//  - fh numbers are 1..2^31-1 and wrap; a number is reused only after its handle was released;
//  - an unknown fh answers EBADF, with the path, never undefined.

import { FsError } from '../core/errors.js';
import type { ReadHandleLike } from './ports.js';
import type { CopiedState } from './server-copy.js';
import type { PageCacheMode } from './types.js';
import type { LocalFile } from './writeback.js';

export interface Handle {
  ino: number;
  write: boolean;
  /** remote read handle (files without local content) */
  remote?: ReadHandleLike;
  local?: LocalFile;
  /** the content came from a server-side copy through this handle (it holds no local content then) */
  copied?: CopiedState;
  /** the kernel's page cache for this handle (the open reply) */
  cache: PageCacheMode;
  /** remote read handles: the path opened and the version read ("id:md5") */
  opened?: { path: string; version: string };
}

export class Handles {
  private readonly byFh = new Map<number, Handle>();
  private nextFh = 1;

  add(h: Handle): number {
    const fh = this.nextFh;
    this.nextFh = this.nextFh >= 0x7fffffff ? 1 : this.nextFh + 1;
    this.byFh.set(fh, h);
    return fh;
  }

  /** The handle, or EBADF. */
  get(fh: number, path: string): Handle {
    const h = this.byFh.get(fh);
    if (!h) throw new FsError('EBADF', `${path}: bad file handle ${fh}`);
    return h;
  }

  /** The handle if open (flush and release of an fh already gone are no-ops). */
  find(fh: number): Handle | undefined {
    return this.byFh.get(fh);
  }

  /** Removes and returns the handle. */
  take(fh: number): Handle | undefined {
    const h = this.byFh.get(fh);
    this.byFh.delete(fh);
    return h;
  }

  get size(): number {
    return this.byFh.size;
  }
}
