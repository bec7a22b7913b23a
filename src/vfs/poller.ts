// The change poller (issue 16): 123 Open has no change feed, so the folders that matter are listed again
// every --poll-interval — the mount root, folders listed (readdir) or holding a file opened within
// RECENT_MS, folders holding files not uploaded yet, and folders holding pinned files. A listing's changes
// are applied like any other (Tree → NodeStore.replaceListing → the vfs invalidates the kernel's caches
// for what changed; pins fetch a changed pinned file again).
// Invariants:
//  - at most one listing in flight, at background priority (pan/rate-limiter.ts: a fifth of the list
//    budget, after every foreground call), so polling never delays a foreground listing;
//  - the folder whose listing is oldest goes first; a folder is due `intervalMs` after it was last listed
//    (by anyone) or last polled, so a failing or offline folder is tried once per interval, not in a loop;
//  - time comes only from the injected Clock; stop() ends the loop and aborts the listing in flight.

import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { type NodeStore, ROOT_INO } from '../meta/node-store.js';
import type { Tree } from './tree.js';

/** A folder counts as recently used this long after its last readdir or file open. */
export const RECENT_MS = 10 * 60_000;
/** Recently used folders remembered at most (the least recently used go first). */
export const MAX_RECENT = 1000;

export type PollReason = 'root' | 'recent' | 'uploads' | 'pinned';

export interface PolledFolder {
  path: string;
  why: PollReason;
  /** epoch ms of the listing the store holds (null: never listed, or dropped by refresh) */
  listedAt: number | null;
  /** how old that listing is, ms (null: none) */
  ageMs: number | null;
  /** epoch ms the next poll of it is due (≤ now: it waits for its turn in the budget) */
  nextPollAt: number;
}

export interface PollerStatus {
  intervalMs: number;
  folders: PolledFolder[];
}

export interface PollerDeps {
  store: NodeStore;
  tree: Tree;
  clock: Clock;
  logger: Logger;
  /** --poll-interval in ms (> 0) */
  intervalMs: number;
  /** folders holding pinned files (vfs/pins.ts): a pinned file changed remotely is fetched again */
  pinnedFolders?: () => Iterable<number>;
  /** true while 123pan is unreachable: nothing is polled (the connectivity module probes) */
  offline?: () => boolean;
}

export class Poller {
  /** folder ino → when it was last used (Map order = recency, oldest first) */
  private readonly used = new Map<number, number>();
  /** folder ino → when the poller last tried it */
  private readonly tried = new Map<number, number>();
  private timer: { cancel(): void } | null = null;
  private running = false;
  private stopped = true;
  private ctrl = new AbortController();
  /** resolves when the current round ends (tests, stop) */
  private round: Promise<void> = Promise.resolve();

  constructor(private readonly d: PollerDeps) {}

  /** A folder was listed, or a file in it opened. */
  touch(dirIno: number): void {
    this.used.delete(dirIno);
    this.used.set(dirIno, this.d.clock.now());
    if (this.used.size > MAX_RECENT) this.used.delete(this.used.keys().next().value!);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.ctrl = new AbortController();
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    this.ctrl.abort(new Error('poller stopped'));
    await this.round;
  }

  /** The folders polled now, oldest listing first. */
  status(): PollerStatus {
    return { intervalMs: this.d.intervalMs, folders: this.folders().map((f) => f.status) };
  }

  /** One round: poll every folder that is due, one at a time, then sleep until the next is due. */
  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer?.cancel();
    this.timer = this.d.clock.setTimer(Math.max(0, ms), () => {
      this.timer = null;
      if (this.running) return;
      this.running = true;
      this.round = this.runRound().finally(() => {
        this.running = false;
      });
    });
  }

  private async runRound(): Promise<void> {
    const { clock, tree, store, logger } = this.d;
    for (;;) {
      if (this.stopped) return;
      const now = clock.now();
      const folders = this.folders();
      const next = folders[0];
      if (!next || this.d.offline?.()) return this.schedule(this.d.intervalMs);
      if (next.status.nextPollAt > now) return this.schedule(next.status.nextPollAt - now);
      this.tried.set(next.ino, now);
      const dir = store.get(next.ino);
      if (!dir?.isDir) {
        this.forget(next.ino);
        continue;
      }
      try {
        await tree.poll(dir, this.ctrl.signal);
      } catch (e) {
        if (this.stopped) return;
        // a folder gone remotely leaves the poll (its parent's listing removes it from the store)
        if ((e as { kind?: string }).kind === 'ENOENT') this.forget(next.ino);
        logger.debug({ op: 'poll', path: next.status.path, err: String(e) }, 'polling a folder failed');
      }
    }
  }

  private forget(ino: number): void {
    this.used.delete(ino);
    this.tried.delete(ino);
  }

  private folders(): { ino: number; status: PolledFolder }[] {
    const { clock, store, intervalMs } = this.d;
    const now = clock.now();
    const why = new Map<number, PollReason>([[ROOT_INO, 'root']]);
    for (const [ino, at] of this.used) {
      if (now - at > RECENT_MS) {
        this.forget(ino);
        continue;
      }
      if (!why.has(ino)) why.set(ino, 'recent');
    }
    for (const ino of store.dirtyParents()) if (!why.has(ino)) why.set(ino, 'uploads');
    for (const ino of this.d.pinnedFolders?.() ?? []) if (!why.has(ino)) why.set(ino, 'pinned');
    const out: { ino: number; status: PolledFolder }[] = [];
    for (const [ino, reason] of why) {
      const row = store.get(ino);
      if (!row?.isDir || row.remoteId === null) {
        this.forget(ino);
        continue;
      }
      const last = Math.max(row.listedAt ?? -Infinity, this.tried.get(ino) ?? -Infinity);
      out.push({
        ino,
        status: {
          path: store.pathOf(ino),
          why: reason,
          listedAt: row.listedAt,
          ageMs: row.listedAt === null ? null : Math.max(0, now - row.listedAt),
          nextPollAt: last === -Infinity ? now : last + intervalMs,
        },
      });
    }
    return out.sort((a, b) => a.status.nextPollAt - b.status.nextPollAt || a.ino - b.ino);
  }
}
