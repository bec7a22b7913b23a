// Pins (`pan123fs pin / unpin / cache`): whole files or folders fetched into the disk cache and kept out of
// its LRU eviction. Owns the meaning of the `pins` table (meta/pin-store.ts): a pin names a node by ino,
// so it follows the node through rename and move and survives restarts; a file is pinned when it or a
// folder above it is. Invariants:
//  - the disk cache's pinned set (FileReader.setPinned) is recomputed from the table after every pin/unpin,
//    at start and when a pinned file is fetched, so blocks of pinned files are never evicted;
//  - a pin whose files (with everything pinned already) would not fit in --cache-max-size is refused
//    with ENOSPC before anything is fetched or recorded;
//  - listing for the report (`cache`) reads the store only: it works offline and costs no API call;
//  - a listing that finds a pinned file new or changed (the change poller) re-pins and fetches it, one file
//    at a time in the background (followChanges); a pin on a file that another client overwrote (a new node
//    at the pinned path) moves to the new node.

import type { Clock } from '../core/clock.js';
import { FsError } from '../core/errors.js';
import type { FileReader } from '../data/file-reader.js';
import type { Logger } from '../core/logger.js';
import type { ListingChange, NodeRow, NodeStore } from '../meta/node-store.js';
import type { PinStore } from '../meta/pin-store.js';
import { isHidden, type Tree } from './tree.js';

export interface PinProgress {
  path: string;
  files: number;
  filesDone: number;
  bytes: number;
  bytesDone: number;
}

export interface PinResult {
  path: string;
  files: number;
  bytes: number;
  /** files skipped because their content is local (not uploaded yet: it is on disk in staging anyway) */
  localFiles: number;
}

export interface CacheEntry {
  path: string;
  size: number;
  cachedBytes: number;
  pinned: boolean;
}

export class Pins {
  constructor(
    private readonly store: NodeStore,
    private readonly pins: PinStore,
    private readonly tree: Tree,
    private readonly reader: FileReader,
    private readonly clock: Clock,
    private readonly log?: Logger,
  ) {}

  /** path → ino of every pin as of the last sync (a pin on a file replaced remotely moves to its successor) */
  private pinnedPaths = new Map<string, number>();

  /** the background fetches of pinned files a listing found new or changed, one after another */
  private following: Promise<void> = Promise.resolve();

  /**
   * A listing changed the tree: the pinned set follows (ids come and go), and a pinned file that is new or
   * whose content changed is fetched into the disk cache (a rename or move keeps its cached content).
   */
  followChanges(changes: readonly ListingChange[]): void {
    if (this.pinnedPaths.size === 0 && this.pins.all().length === 0) return;
    // a pinned file overwritten by another client is a new node at its path (the old pin went with the old
    // node): the pin moves to it
    for (const c of changes) {
      if (c.isDir || c.after === undefined || c.before !== undefined || c.ino < 0) continue;
      const was = this.pinnedPaths.get(c.after);
      if (was !== undefined && was !== c.ino && !this.store.get(was)) this.pins.add(c.ino, this.clock.now());
    }
    this.sync();
    for (const c of changes) {
      if (c.isDir || c.after === undefined || c.ino < 0 || (c.before !== undefined && !c.content)) continue;
      const n = this.store.get(c.ino);
      if (!n || n.dirty || n.remoteId === null || !this.isPinned(n)) continue;
      const ref = { id: n.remoteId, md5: n.md5, size: n.size };
      this.following = this.following.then(() =>
        this.reader.cacheWhole(ref).then(
          () =>
            this.log?.info({ op: 'pin', path: c.after, bytes: ref.size }, 'fetched the new version of a pinned file'),
          (e: unknown) =>
            this.log?.warn({ op: 'pin', path: c.after, err: String(e) }, 'fetching a changed pinned file failed'),
        ),
      );
    }
  }

  /** The folders that hold pinned files, as the store knows them (the change poller lists them). */
  folders(): number[] {
    const out = new Set<number>();
    for (const ino of this.pins.all()) {
      const n = this.store.get(ino);
      if (!n) continue;
      if (!n.isDir) {
        if (n.parentIno !== null) out.add(n.parentIno);
        continue;
      }
      const stack = [n];
      while (stack.length > 0) {
        const d = stack.pop()!;
        out.add(d.ino);
        for (const c of this.store.children(d.ino)) if (c.isDir && !isHidden(c)) stack.push(c);
      }
    }
    return [...out];
  }

  /** resolves when the fetches followChanges started are done (tests) */
  followed(): Promise<void> {
    return this.following;
  }

  /** Recompute the disk cache's pinned set from the table. */
  sync(): void {
    const ids = new Set<string>();
    const all = this.pins.all();
    this.pinnedPaths = new Map(all.map((ino) => [this.store.pathOf(ino), ino]));
    for (const ino of all) {
      const n = this.store.get(ino);
      if (n) for (const f of this.knownFiles(n)) if (f.remoteId) ids.add(f.remoteId);
    }
    this.reader.setPinned(ids);
  }

  async pin(path: string, onProgress?: (p: PinProgress) => void, signal?: AbortSignal): Promise<PinResult> {
    const node = await this.tree.lookup(path);
    const all = await this.listedFiles(node);
    const files = all.filter((f) => f.remoteId !== null && !f.dirty);
    const bytes = files.reduce((a, f) => a + f.size, 0);
    const capacity = this.reader.diskCapacity();
    if (capacity <= 0) throw new FsError('ENOSPC', 'pinning needs the disk cache (--cache-max-size is 0)');
    const mine = new Set(files.map((f) => f.ino));
    const others = this.pinnedFiles().filter((f) => !mine.has(f.ino));
    const otherBytes = others.reduce((a, f) => a + f.size, 0);
    if (bytes + otherBytes > capacity)
      throw new FsError(
        'ENOSPC',
        `${path}: ${bytes} bytes to pin${otherBytes ? ` + ${otherBytes} pinned already` : ''} would not fit in` +
          ` --cache-max-size (${capacity} bytes); unpin something or raise --cache-max-size`,
      );
    this.pins.add(node.ino, this.clock.now());
    this.sync();
    const p: PinProgress = { path, files: files.length, filesDone: 0, bytes, bytesDone: 0 };
    onProgress?.({ ...p });
    for (const f of files) {
      const before = p.bytesDone;
      await this.reader.cacheWhole(
        { id: f.remoteId!, md5: f.md5, size: f.size },
        (b) => {
          p.bytesDone = before + b;
          onProgress?.({ ...p });
        },
        signal,
      );
      p.bytesDone = before + f.size;
      p.filesDone++;
      onProgress?.({ ...p });
    }
    return { path, files: files.length, bytes, localFiles: all.length - files.length };
  }

  /** Removes the pin on exactly this path; a path pinned only through a folder above says so. */
  async unpin(path: string): Promise<void> {
    const node = await this.tree.lookup(path);
    if (!this.pins.remove(node.ino)) {
      const above = this.pinnedAncestor(node);
      throw new FsError(
        'EINVAL',
        above === undefined
          ? `${path} is not pinned`
          : `${path} is pinned through ${this.store.pathOf(above)}; unpin that folder`,
      );
    }
    this.sync();
  }

  /** Every known file under path (or path itself) with cached data or a pin; with all, every known file. */
  list(path: string, all: boolean): Promise<CacheEntry[]> {
    return this.tree.lookup(path).then((node) => {
      const usage = this.reader.diskUsage();
      const out: CacheEntry[] = [];
      for (const f of this.knownFiles(node)) {
        const cachedBytes = f.remoteId ? usage({ id: f.remoteId, md5: f.md5 }) : 0;
        const pinned = this.isPinned(f);
        if (all || node.ino === f.ino || pinned || cachedBytes > 0)
          out.push({ path: this.store.pathOf(f.ino), size: f.size, cachedBytes, pinned });
      }
      return out;
    });
  }

  isPinned(n: NodeRow): boolean {
    return this.pins.has(n.ino) || this.pinnedAncestor(n) !== undefined;
  }

  private pinnedAncestor(n: NodeRow): number | undefined {
    for (let p = n.parentIno; p !== null; p = this.store.get(p)?.parentIno ?? null) if (this.pins.has(p)) return p;
    return undefined;
  }

  private pinnedFiles(): NodeRow[] {
    const seen = new Map<number, NodeRow>();
    for (const ino of this.pins.all()) {
      const n = this.store.get(ino);
      if (n) for (const f of this.knownFiles(n)) seen.set(f.ino, f);
    }
    return [...seen.values()];
  }

  /** Files at or below n as the store knows them (no API call). */
  private knownFiles(n: NodeRow): NodeRow[] {
    if (!n.isDir) return [n];
    const out: NodeRow[] = [];
    const stack = [n];
    while (stack.length > 0) {
      const d = stack.pop()!;
      for (const c of this.store.children(d.ino)) {
        if (isHidden(c)) continue;
        if (c.isDir) stack.push(c);
        else out.push(c);
      }
    }
    return out;
  }

  /** Files at or below n, listing folders whose stored listing is stale (the pin wants the current tree). */
  private async listedFiles(n: NodeRow): Promise<NodeRow[]> {
    if (!n.isDir) return [n];
    const out: NodeRow[] = [];
    const stack = [n];
    while (stack.length > 0) {
      const d = stack.pop()!;
      for (const c of await this.tree.children(d)) {
        if (c.isDir) stack.push(c);
        else out.push(c);
      }
    }
    return out;
  }
}
