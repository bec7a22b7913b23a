// Listing ahead of a walk (issue 13 item 6). `find`, `du`, `rsync` and media scanners list one folder at a
// time, so a cold walk of N folders costs N × (API latency + daemon + kernel), above the N / QPS floor when
// the latency is larger than 1 / QPS. Told of every readdir (Tree.walks), this module sees a walk — a folder
// listed right after its parent, WALK_AFTER times in a row of readdirs no more than WALK_IDLE_MS apart — and
// lists ahead the folders the walk is likely to list next: the folders after its position in depth-first
// order (its subfolders, then its later siblings', then its parent's later siblings'..., by name, the
// order readdir gives them), as far up as folders the walk listed. A plain `ls` of one folder (or of a
// folder and one subfolder) lists nothing more.
// Invariants:
//  - listings ahead go through Tree.listAhead: the same single-flight as a lookup (a walk reaching a folder
//    joins its listing and raises it to foreground) and the same rate limiter at 'ahead' priority (the
//    whole budget, after every foreground call, never its last free slot: pan/rate-limiter.ts), so the
//    QPS is never exceeded and a user's foreground call finds a slot;
//  - at most `concurrency` in flight, and at most `depth` started that the walk has not reached (a folder
//    the walk passed without listing it stops counting), so a stopped walk costs at most `depth` listings;
//  - nothing starts once the walk has stopped (no readdir for WALK_IDLE_MS), while offline, or after stop();
//    only folders not fresh (dir-cache-time) and not being listed are listed; the store says what exists.
//  - time comes only from the injected Clock.

import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { NodeRow, NodeStore } from '../meta/node-store.js';
import { isHidden, type Tree, type WalkWatcher } from './tree.js';

/** Listings ahead in flight at most (the limiter sets the rate; this covers QPS × latency). */
export const AHEAD_CONCURRENCY = 4;
/** Listings ahead that the walk has not reached yet, at most: what a walk that stops may waste. */
export const AHEAD_DEPTH = 8;
/** A walk has stopped when no readdir ran for this long. */
export const WALK_IDLE_MS = 2000;
/** Readdirs of a folder right after its parent's that make a walk (1 would be `ls a; ls a/b`). */
export const WALK_AFTER = 2;
/** Folders one look for candidates visits at most (a walk over folders listed already). */
const SCAN_MAX = 256;
/** Folders of the walk remembered at most (the ones it listed: how far up look-ahead goes). */
const SEEN_MAX = 4096;

export interface ListAheadDeps {
  store: NodeStore;
  tree: Pick<Tree, 'isFresh' | 'listAhead'>;
  clock: Clock;
  logger: Logger;
  /** true while 123pan is unreachable: nothing is listed ahead */
  offline?: () => boolean;
  concurrency?: number;
  depth?: number;
}

export interface ListAheadStats {
  /** listings ahead started */
  started: number;
  /** of them, folders the walk then listed (readdir) */
  reached: number;
}

const nameBytes = (n: NodeRow) => Buffer.from(n.name, 'utf8');
/** SQLite's BINARY order of TEXT (NodeStore.children's ORDER BY name): UTF-8 bytes. */
const byName = (a: NodeRow, b: NodeRow) => Buffer.compare(nameBytes(a), nameBytes(b));

export class ListAhead implements WalkWatcher {
  /** folders the walk listed (readdir), oldest first */
  private readonly seen = new Set<number>();
  /** readdirs of a folder whose parent the walk listed */
  private descents = 0;
  private lastAt = -Infinity;
  /** readdirs in progress */
  private busy = 0;
  /** the folder the walk listed last */
  private at: number | null = null;
  /** listings ahead started that the walk has not reached */
  private readonly pending = new Set<number>();
  private inflight = 0;
  /** folder ino → its subfolders as of a listing and a store change */
  private readonly subdirMemo = new Map<number, { listedAt: number | null; seq: number; dirs: NodeRow[] }>();
  private readonly ctrl = new AbortController();
  private stopped = false;
  private readonly concurrency: number;
  private readonly depth: number;
  readonly stats: ListAheadStats = { started: 0, reached: 0 };

  constructor(private readonly d: ListAheadDeps) {
    this.concurrency = Math.max(1, d.concurrency ?? AHEAD_CONCURRENCY);
    this.depth = Math.max(this.concurrency, d.depth ?? AHEAD_DEPTH);
  }

  readdirStarted(_dir: NodeRow): void {
    this.expire();
    this.busy++;
    this.lastAt = this.d.clock.now();
  }

  readdirEnded(dir: NodeRow, ok: boolean): void {
    this.busy = Math.max(0, this.busy - 1);
    this.lastAt = this.d.clock.now();
    if (!ok || !dir.isDir) return;
    if (this.pending.delete(dir.ino)) this.stats.reached++;
    const known = this.seen.has(dir.ino);
    this.seen.delete(dir.ino);
    this.seen.add(dir.ino);
    if (this.seen.size > SEEN_MAX) this.seen.delete(this.seen.values().next().value!);
    // a step of the walk: a folder listed after its parent (not another `ls` meanwhile, not a re-listing)
    if (known || dir.parentIno === null || !this.seen.has(dir.parentIno)) return;
    this.descents++;
    this.at = dir.ino;
    this.dropPassed(dir);
    this.pump();
  }

  /** Aborts the listings ahead in flight; nothing starts after. */
  stop(): void {
    this.stopped = true;
    this.ctrl.abort(new Error('list-ahead stopped'));
  }

  private walking(): boolean {
    return this.busy > 0 || this.d.clock.now() - this.lastAt <= WALK_IDLE_MS;
  }

  /** A walk that stopped is forgotten (at the next readdir). */
  private expire(): void {
    if (this.walking() || this.at === null) return;
    if (this.stats.started > 0)
      this.d.logger.debug({ op: 'list-ahead', folders: this.seen.size, ...this.stats }, 'walk ended');
    this.seen.clear();
    this.pending.clear();
    this.subdirMemo.clear();
    this.descents = 0;
    this.at = null;
    this.stats.started = 0;
    this.stats.reached = 0;
  }

  private pump(): void {
    if (this.stopped || this.at === null || this.descents < WALK_AFTER || !this.walking()) return;
    if (this.d.offline?.()) return;
    if (this.inflight >= this.concurrency || this.pending.size >= this.depth) return;
    const at = this.d.store.get(this.at);
    if (!at) return;
    for (const dir of this.successors(at)) {
      if (this.inflight >= this.concurrency || this.pending.size >= this.depth) return;
      if (this.pending.has(dir.ino) || this.d.tree.isFresh(dir)) continue;
      const p = this.d.tree.listAhead(dir, this.ctrl.signal);
      if (!p) continue;
      this.pending.add(dir.ino);
      this.inflight++;
      this.stats.started++;
      void p
        .catch((e: unknown) => {
          if (!this.stopped)
            this.d.logger.debug({ op: 'list-ahead', path: this.d.store.pathOf(dir.ino), err: String(e) }, 'failed');
        })
        .finally(() => {
          this.inflight--;
          this.pump();
        });
    }
  }

  /** The folders after `x` in the walk's depth-first order, as far as the store knows them. */
  private *successors(x: NodeRow): Generator<NodeRow> {
    let budget = SCAN_MAX;
    const self = this;
    function* below(d: NodeRow): Generator<NodeRow> {
      for (const c of self.subdirs(d)) {
        if (--budget < 0) return;
        yield c;
        yield* below(c);
      }
    }
    yield* below(x);
    let cur = x;
    while (budget > 0 && cur.parentIno !== null && this.seen.has(cur.parentIno)) {
      const parent = this.d.store.get(cur.parentIno);
      if (!parent) return;
      for (const s of this.subdirs(parent)) {
        if (budget <= 0) return;
        if (byName(s, cur) <= 0) continue;
        budget--;
        yield s;
        yield* below(s);
      }
      cur = parent;
    }
  }

  private subdirs(d: NodeRow): NodeRow[] {
    const { store } = this.d;
    const row = store.get(d.ino);
    const listedAt = row?.listedAt ?? null;
    const seq = store.changeSeq();
    const hit = this.subdirMemo.get(d.ino);
    if (hit && hit.listedAt === listedAt && hit.seq === seq) return hit.dirs;
    const dirs = store.children(d.ino).filter((c) => c.isDir && !isHidden(c) && c.remoteId !== null);
    if (this.subdirMemo.size >= SEEN_MAX) this.subdirMemo.clear();
    this.subdirMemo.set(d.ino, { listedAt, seq, dirs });
    return dirs;
  }

  /** Listings ahead of folders the walk went past (before `x` in depth-first order) stop counting. */
  private dropPassed(x: NodeRow): void {
    if (this.pending.size === 0) return;
    const chainX = this.chain(x.ino);
    for (const p of [...this.pending]) {
      const chainP = this.chain(p);
      let i = 0;
      while (i < chainP.length && i < chainX.length && chainP[i]!.ino === chainX[i]!.ino) i++;
      // p above x (x reached without listing p), or p's branch sorts before x's
      const passed = i === chainP.length || (i < chainX.length && byName(chainP[i]!, chainX[i]!) < 0);
      if (passed) this.pending.delete(p);
    }
  }

  /** root … ino */
  private chain(ino: number): NodeRow[] {
    const out: NodeRow[] = [];
    for (let cur = this.d.store.get(ino); cur && out.length < 256; ) {
      out.push(cur);
      cur = cur.parentIno === null ? undefined : this.d.store.get(cur.parentIno);
    }
    return out.reverse();
  }
}
