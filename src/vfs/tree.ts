// Tree: path → node resolution over the metadata store, fetching directory listings from the remote when
// the stored one is missing or older than dirCacheTime. Concurrent lookups of one directory share one
// listing (single-flight). A failed re-list of a directory we listed before serves the stale listing
// (logged; quietly when offline) rather than failing `ls` — an offline mount stays browsable; a folder never
// listed is ENETDOWN offline. Review-rejected entries
// (status > 100) are hidden. What a listing changed (NodeStore.replaceListing) goes to onChanges (the vfs
// invalidates the kernel's caches with it). poll() is the change poller's listing (vfs/poller.ts): background
// priority, and never shared with a foreground lookup, which must not wait behind it. listAhead() is a
// walk's listing ahead (vfs/list-ahead.ts, told of every readdir through `walks`): 'ahead' priority, shared
// with a foreground lookup of the same folder, which raises it to foreground (pan/rate-limiter.ts Lift).

import type { Clock } from '../core/clock.js';
import { FsError } from '../core/errors.js';
import type { FileId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import { SingleFlight } from '../core/single-flight.js';
import { MAX_NAME_BYTES } from '../core/names.js';
import {
  type ListingChange,
  type NodeStore,
  ROOT_INO,
  isParked,
  type ListedChild,
  type NodeRow,
} from '../meta/node-store.js';
import { Lift } from '../pan/rate-limiter.js';
import { classify } from './classify.js';
import { splitPath } from './paths.js';

export interface DirectoryLister {
  listAll(parentId: FileId, signal?: AbortSignal, opts?: ListOpts): Promise<ListedChild[]>;
}

interface ListOpts {
  /** the change poller's listing */
  background?: boolean;
  /** a listing ahead of a walk, until the Lift is raised */
  ahead?: Lift;
}

/** Told of every readdir (Tree.children) before and after its listing: the list-ahead sees walks. */
export interface WalkWatcher {
  readdirStarted(dir: NodeRow): void;
  readdirEnded(dir: NodeRow, ok: boolean): void;
}

/** status > 100 means review-rejected (审核驳回, 123open-api.md §3.2); such files cannot be served. */
export const isHidden = (n: NodeRow): boolean => n.status > 100 || isParked(n.name);

export class Tree {
  private readonly flights = new SingleFlight<number, void>();
  private readonly polls = new SingleFlight<number, void>();
  /** folder ino → the Lift of its listing ahead in flight */
  private readonly lifts = new Map<number, Lift>();
  /** told of every change a listing found (set once by the vfs) */
  onChanges?: (changes: ListingChange[]) => void;
  /** told of every readdir (set once by the daemon: vfs/list-ahead.ts) */
  walks?: WalkWatcher;

  constructor(
    private readonly store: NodeStore,
    private readonly lister: DirectoryLister,
    private readonly clock: Clock,
    private readonly dirCacheTimeMs: () => number,
    private readonly log: Logger,
  ) {}

  root(): NodeRow {
    return this.store.get(ROOT_INO)!;
  }

  async lookup(path: string): Promise<NodeRow> {
    let cur = this.root();
    for (const part of splitPath(path)) {
      if (!cur.isDir) throw new FsError('ENOTDIR', `${path}: ${cur.name} is not a directory`);
      const next = await this.child(cur, part);
      // a name no 123 folder can hold is ENAMETOOLONG, not ENOENT (a longer remote name stays reachable)
      if (!next && Buffer.byteLength(part, 'utf8') > MAX_NAME_BYTES)
        throw new FsError('ENAMETOOLONG', `${path}: a name is longer than ${MAX_NAME_BYTES} bytes`);
      if (!next) throw new FsError('ENOENT', `${path}: no such file or directory`);
      cur = next;
    }
    return cur;
  }

  async lookupDir(path: string): Promise<NodeRow> {
    const n = await this.lookup(path);
    if (!n.isDir) throw new FsError('ENOTDIR', `${path}: not a directory`);
    return n;
  }

  async child(dir: NodeRow, name: string): Promise<NodeRow | undefined> {
    // A known child is served without re-listing while the listing is fresh; an unknown one needs a
    // fresh listing to be declared absent.
    await this.ensureListed(dir);
    const c = this.store.child(dir.ino, name);
    return c && !isHidden(c) ? c : undefined;
  }

  async children(dir: NodeRow): Promise<NodeRow[]> {
    const walks = this.walks;
    walks?.readdirStarted(dir);
    let ok = false;
    try {
      await this.ensureListed(dir);
      ok = true;
    } finally {
      walks?.readdirEnded(dir, ok);
    }
    return this.store.children(dir.ino).filter((c) => !isHidden(c));
  }

  /** The row in hand answers on the hot path (getattr); only a stale-looking row is re-read. */
  isFresh(dir: NodeRow): boolean {
    if (this.fresh(dir.listedAt)) return true;
    return this.fresh(this.store.get(dir.ino)?.listedAt ?? null);
  }

  private fresh(listedAt: number | null): boolean {
    return listedAt !== null && this.clock.now() - listedAt < this.dirCacheTimeMs();
  }

  async ensureListed(dir: NodeRow): Promise<void> {
    if (this.isFresh(dir)) return;
    if (dir.remoteId === null) return; // a local-only dir cannot exist (mkdir is remote first); be safe
    this.lifts.get(dir.ino)?.raise(); // a listing ahead of it waits as a foreground one from now on
    await this.flights.run(dir.ino, () => this.fetchListing(dir));
  }

  /**
   * The change poller's relisting of a folder (background priority). A foreground listing of it in flight
   * is joined; a foreground one that starts meanwhile runs on its own.
   */
  async poll(dir: NodeRow, signal?: AbortSignal): Promise<void> {
    if (dir.remoteId === null) return;
    if (this.flights.has(dir.ino)) return this.flights.run(dir.ino, () => Promise.resolve());
    await this.polls.run(dir.ino, () => this.fetchListing(dir, signal, { background: true }));
  }

  /**
   * A walk's listing ahead of a folder it has not reached (vfs/list-ahead.ts): null when there is nothing
   * to do (fresh, local-only, or a listing of it in flight). A foreground lookup meanwhile joins it.
   */
  listAhead(dir: NodeRow, signal?: AbortSignal): Promise<void> | null {
    if (dir.remoteId === null || this.isFresh(dir) || this.flights.has(dir.ino) || this.polls.has(dir.ino)) return null;
    const lift = new Lift();
    this.lifts.set(dir.ino, lift);
    return this.flights
      .run(dir.ino, () => this.fetchListing(dir, signal, { ahead: lift }))
      .finally(() => {
        if (this.lifts.get(dir.ino) === lift) this.lifts.delete(dir.ino);
      });
  }

  private async fetchListing(dir: NodeRow, signal?: AbortSignal, opts?: ListOpts): Promise<void> {
    const started = this.clock.now();
    const seq = this.store.changeSeq();
    const background = opts?.background === true;
    try {
      const entries = await this.lister.listAll(dir.remoteId!, signal, opts);
      const changes = this.store.replaceListing(dir.ino, entries, this.clock.now(), seq);
      this.log.debug(
        {
          op: 'list',
          path: this.store.pathOf(dir.ino),
          entries: entries.length,
          changes: changes.length,
          background,
          ahead: opts?.ahead !== undefined,
          durationMs: this.clock.now() - started,
        },
        'listed directory',
      );
      if (changes.length > 0) this.onChanges?.(changes);
    } catch (e) {
      const err = classify(e, `listing ${this.store.pathOf(dir.ino)}`);
      const stored = this.store.get(dir.ino);
      if (stored && stored.listedAt !== null && err.kind !== 'ENOENT') {
        // offline: said once by the connectivity module; every stale folder would repeat it here
        this.log[err.kind === 'ENETDOWN' ? 'debug' : 'warn'](
          { op: 'list', path: this.store.pathOf(dir.ino), err: err.message },
          'listing failed; serving the stored listing',
        );
        return;
      }
      throw err;
    }
  }

  /** Drop cached listings under a directory so the next access re-lists (pan123fs refresh). */
  invalidate(dir: NodeRow, recursive: boolean): number {
    let count = 0;
    const walk = (n: NodeRow) => {
      this.store.invalidateListing(n.ino);
      count++;
      if (recursive) for (const c of this.store.children(n.ino)) if (c.isDir) walk(c);
    };
    walk(dir);
    return count;
  }
}

/** Run fn, turning whatever it throws into an FsError (classify) with `context`. */
export async function guard<T>(context: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw classify(e, context);
  }
}
