// What the kernel caches of remote files, as the vfs sees it: which version ("id:md5") each path's page
// cache holds, which versions of a path are open, and what a listing's changes make the kernel ask again.
//
// Rules (docs/SEMANTICS.md "Remote changes"):
//  - an open keeps the kernel's pages ('keep') only when the kernel cached this very version of the path;
//  - while handles of another version of the path are open, an open bypasses the pages ('direct'), so
//    neither reads the other's; so does the first open after the kernel saw another version, and the
//    path's attributes are invalidated for the next;
//  - otherwise the pages are dropped at open ('drop') and this version is what the kernel holds next;
//  - local content (written, or not uploaded yet) is never cached by version: its paths are forgotten;
//  - after a listing changed the store, the old place of what moved or went and the folders around it are
//    invalidated (KernelCachePort), before anyone else is told.
//
// Invariants: at most KERNEL_VERSIONS_MAX paths are remembered (past it, the oldest is forgotten, and its
// next open drops the pages); a direct handle is never counted as open (it never touches the shared pages).

import type { ListingChange } from '../meta/node-store.js';
import { parentAndName } from './paths.js';
import type { KernelCachePort } from './ports.js';
import type { PageCacheMode } from './types.js';

/** Paths whose cached version is remembered for keep_cache (past it, the oldest open without it). */
export const KERNEL_VERSIONS_MAX = 100_000;

export class KernelCache {
  private port: KernelCachePort | undefined;
  /** path → the version the kernel's page cache holds for it (as far as opens tell) */
  private readonly cached = new Map<string, string>();
  /** path → version → remote read handles open */
  private readonly open = new Map<string, Map<string, number>>();

  /** The front end's kernel caches (set once the FUSE mount exists). */
  attach(port: KernelCachePort): void {
    this.port = port;
  }

  /**
   * The page cache mode for a remote read handle of `version` at `path`; counts it as open unless it is
   * 'direct' (the caller then passes nothing to closed()).
   */
  opening(path: string, version: string): PageCacheMode {
    const open = this.open.get(path);
    if (open) for (const v of open.keys()) if (v !== version) return 'direct';
    const cached = this.cached.get(path);
    if (cached !== undefined && cached !== version) {
      // the kernel saw another version here: its size may be that one's (a short read of an old handle sets
      // it), so this open bypasses the pages, and the path's attributes are asked for again for the next
      this.cached.delete(path);
      this.port?.invalidate([path]);
      return 'direct';
    }
    const open1 = open ?? new Map<string, number>();
    open1.set(version, (open1.get(version) ?? 0) + 1);
    this.open.set(path, open1);
    if (cached === version) return 'keep';
    this.cached.set(path, version);
    if (this.cached.size > KERNEL_VERSIONS_MAX) this.cached.delete(this.cached.keys().next().value!);
    return 'drop';
  }

  /** A handle counted by opening() was released. */
  closed(o: { path: string; version: string }): void {
    const open = this.open.get(o.path);
    const n = open?.get(o.version);
    if (!open || n === undefined) return;
    if (n > 1) open.set(o.version, n - 1);
    else open.delete(o.version);
    if (open.size === 0) this.open.delete(o.path);
  }

  /** The path's content is local now (opened for writing, created, read from staging): no cached version. */
  forget(path: string): void {
    this.cached.delete(path);
  }

  /** A listing found changes (the store holds them already): the kernel asks again for what it may hold. */
  changed(changes: readonly ListingChange[]): number {
    const paths = new Set<string>();
    const parent = (p: string) => parentAndName(p).parent;
    for (const c of changes) {
      if (c.before !== undefined) {
        paths.add(c.before);
        paths.add(parent(c.before));
      }
      if (c.after !== undefined) paths.add(parent(c.after));
    }
    this.port?.invalidate([...paths]);
    return paths.size;
  }
}
