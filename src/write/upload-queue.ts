// UploadQueue: the daemon's upload worker, backed by the upload journal (meta/upload-journal.ts).
// The journal row is the truth (what to upload, its generation, attempts); this class keeps only the
// schedule in memory: which inode is due when, which is running, who waits for it.
//
// Flow per file: journal row → target.resolve(ino) at upload time (a rename while pending is honoured;
// null = unlinked → cancelled; 'parent-pending' → retry later) → uploadFile → in ONE transaction:
// target.commit(ino, generation) and the journal row's removal, both only if the generation is unchanged
// → right after (same synchronous stretch) resolve() again: if the node was renamed or moved while the
// upload ran, rename/move the new remote file to match — after trashing the copy it replaces, which the
// vfs renamed along with the node (so the server's overwrite-by-name did not reach it, and it would hold
// the new name with the old content). When the generation changed (written again),
// or the node vanished, the uploaded copy is trashed and, if the row still exists, it uploads again.
//
// Invariants:
//  - no data is dropped: a row leaves the journal only on a committed upload or when its node is gone;
//    failures retry forever with doubling backoff (RETRY_BASE_MS → RETRY_MAX_MS), each one logged —
//    except content the service refused on every path (UploadRefused): parked as 'refused', shown by
//    status, tried again when written again or at the next start — and calls refused because the account's
//    developer rights expired: parked as 'blocked' (one refused request per file, not one per back-off),
//    tried again when they are renewed (unblock()), every BLOCKED_RECHECK_MS, or when written again;
//  - a file refused for lack of account space backs off as any failure while the daemon runs (the user may
//    free space), but a stop tries it once more and does not wait for it: no back-off can succeed before
//    the drain timeout (10 min by default) unless the user acts, so it stays journaled for the next start;
//  - at most `concurrency` files upload at once; their slices in memory share one SliceMemory budget;
//  - hold(ino) (a write started) bumps the generation and aborts a running upload: it cannot commit, and
//    the file is not started again until the next enqueue(ino) (its release). Holds are in memory only: after
//    a restart the staging file is uploaded only if it still hashes to the journaled MD5 (the content
//    last closed): one rewritten in place when the daemon died is "unproven" — kept, logged, shown by
//    status, never uploaded until new content is journaled for it (issue 19 item 4). The same check runs
//    when the server refused the declared MD5.
//  - staging files are never deleted here: the vfs's writeback owns them (it may delete one in commit()).
//  - one run per ino and one run per remote name; removed(ino) and renaming(ino, to) are the vfs's intents.
//    The rules are stated once, in name-claims.ts.
// The queue is the vfs's UploadPort as it is (vfs/ports.ts); the vfs's Writeback is its UploadTarget.

import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { DEFAULTS } from '../core/defaults.js';
import { FsError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import type { AttemptEntry, JournalEntry, UploadJournal } from '../meta/upload-journal.js';
import type { PanTree, PanUploads } from '../pan/api.js';
import { type BackoffOptions, expBackoff } from '../pan/backoff.js';
import { isPanError } from '../pan/errors.js';
import { FileSliceSource } from './md5.js';
import { NameClaims, type RemoteName } from './name-claims.js';
import { placeRemote } from './placement.js';
import { DEFAULT_SLICE_MEMORY_BYTES, SliceMemory } from './slice-memory.js';
import { isUploadRefused, UploadDomainCache, uploadFile } from './upload-flow.js';

export interface UploadTarget {
  /**
   * current remote parent id and name of the node (and its current remote id, null if never uploaded),
   * or null when it was unlinked (then the upload is cancelled) or its parent is not uploaded yet (then
   * retry later)
   */
  resolve(
    ino: number,
  ): { parentId: string; name: string; stagingPath: string; remoteId: string | null } | null | 'parent-pending';
  /**
   * commit (synchronous, inside the queue's journal transaction): sets remote id, md5, size, clears dirty —
   * only if the journal generation is unchanged; returns false if it changed (the file was written again
   * meanwhile → upload again) or the node is gone
   */
  commit(ino: number, generation: number, result: { fileId: string; md5: string; size: number }): boolean;
  /** a node has this remote id (a copy found where an earlier attempt uploaded to is then not a stray) */
  knows(fileId: string): boolean;
  /** the queue trashed a copy it had made (stale or stray): a node a listing made of it goes */
  trashedCopy(fileId: string): void;
}

/** 2 files at a time: with 3 slices each that is 6 parallel slice PUTs, enough to fill a home uplink. */
export const DEFAULT_FILE_CONCURRENCY = DEFAULTS.uploadConcurrency;
/** 1 s first retry: long enough to ride out a blip, short enough that fsync callers are not kept waiting. */
export const RETRY_BASE_MS = 1000;
/** 5 min cap: an offline daemon retries a few times an hour instead of hammering the API. */
export const RETRY_MAX_MS = 5 * 60_000;
/** 1 h: a blocked upload (developer rights expired) asks again this often, in case the renewal went unseen. */
export const BLOCKED_RECHECK_MS = 60 * 60_000;
/** How soon an upload waiting for another upload of the same remote name looks again. */
const CLAIM_WAIT_MS = 500;
/** 3 tries to rename/move a committed file to its current name: the content is safe either way. */
export const FIXUP_ATTEMPTS = 3;

/** 'refused': the service refused the content on every path (upload-flow's UploadRefused); not retried
 * until the file is written again or the daemon restarts; lastError says why. */
/** 'blocked': the account may not upload now (the developer rights expired); tried again by unblock(), every
 * BLOCKED_RECHECK_MS, or when written again; lastError says why. */
export type UploadState = 'pending' | 'uploading' | 'waiting-retry' | 'unproven' | 'refused' | 'blocked';

export interface UploadStatusItem {
  ino: number;
  name: string;
  size: number;
  sentBytes: number;
  state: UploadState;
  /** a write is in progress: not started again until the next enqueue */
  held: boolean;
  attempts: number;
  lastError: string | null;
  bytesPerSec: number;
  startedAt: number | null;
  nextAttemptAt: number;
}

export interface UploadQueueStatus {
  items: UploadStatusItem[];
  totals: {
    files: number;
    pending: number;
    uploading: number;
    waitingRetry: number;
    /** staging files that do not hash to their journaled MD5: kept, never uploaded as they are */
    unproven: number;
    /** journaled rename fix-ups of committed uploads not done yet (redone at start-up), and attempts of
     * files gone since whose possible stray copy was not looked for yet */
    fixups: number;
    bytes: number;
    sentBytes: number;
    bytesPerSec: number;
  };
}

export interface UploadQueueOptions {
  api: PanUploads & Pick<PanTree, 'move' | 'rename' | 'trash' | 'listAll'>;
  journal: UploadJournal;
  target: UploadTarget;
  clock?: Clock;
  logger?: Logger;
  /** files uploading at once; default DEFAULT_FILE_CONCURRENCY */
  concurrency?: number;
  /** slices in flight per file; default upload-flow's DEFAULT_SLICE_CONCURRENCY */
  sliceConcurrency?: number;
  /** bytes of slices in memory across all uploads (slice-memory.ts); default DEFAULT_SLICE_MEMORY_BYTES */
  sliceMemoryBytes?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /**
   * share of each retry delay taken at random (pan/backoff.ts: 0 = none, 1 = full jitter); default 0: each
   * file's row shows the plain doubling schedule, and files fail at their own times anyway
   */
  retryJitter?: number;
  /** randomness for the jitter, in [0, 1) (default Math.random) */
  random?: () => number;
  /** default 2 (overwrite): the local file is the truth for its name; the old version goes to the trash */
  duplicate?: 1 | 2;
  /** passed to uploadFile */
  singleMaxBytes?: number;
}

class QueueAbort extends Error {
  constructor(readonly why: 'superseded' | 'closed' | 'cancelled') {
    super(`upload ${why}`);
  }
}

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

interface Run {
  ino: number;
  /** aborts this run (QueueAbort says why) */
  controller: AbortController;
  generation: number;
  startedAt: number;
  sentBytes: number;
  name: string;
  size: number;
  done: Promise<void>;
}

interface Item {
  ino: number;
  dueAt: number;
  held: boolean;
  attempts: number;
  lastError: string | null;
  waiters: Waiter[];
  run: Run | null;
  /** hash the staging file and compare with the journaled MD5 before uploading (after a restart) */
  verify: boolean;
  /** why the staging file is not proven to hold the content journaled; null when it is */
  unproven: string | null;
  /** the service refused this content (UploadRefused): parked until enqueue() or a restart */
  refused: Error | null;
  /** the account may not upload (developer rights expired): parked until unblock() or enqueue() */
  blocked: Error | null;
  /** the last attempt failed because the account's space is full: drain() does not wait for it */
  spaceFull: boolean;
}

/** Not scheduled at all until new content, a restart or unblock() (unproven, refused, blocked). */
function parked(it: Item): boolean {
  return it.unproven !== null || it.refused !== null || it.blocked !== null;
}

/** renaming() gives up after this long (below the 60 s FUSE rename timeout): the caller answers EBUSY. */
export const NAME_WAIT_MS = 40_000;

export class UploadQueue {
  private readonly items = new Map<number, Item>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly concurrency: number;
  private readonly domains: UploadDomainCache;
  private readonly retry: BackoffOptions;
  private running = 0;
  /** which run holds which remote name (name-claims.ts states the rules) */
  private readonly claims = new NameClaims<Run>();
  private timer: { cancel(): void } | null = null;
  /** asks blocked uploads again after BLOCKED_RECHECK_MS (armed while any is blocked) */
  private blockedTimer: { cancel(): void } | null = null;
  private closed = false;
  /** aborted by close(): stops runs even while they poll upload_complete (their rows stay journaled) */
  private readonly stopping = new AbortController();
  private idleWaiters: Array<() => void> = [];
  /** rename fix-ups running, per ino: a rename of that file waits for its end (renaming()) */
  private readonly fixing = new Map<number, Promise<unknown>>();
  /** one budget for the slices of every upload (slice-memory.ts) */
  private readonly sliceMemory: SliceMemory;

  constructor(private readonly opts: UploadQueueOptions) {
    this.sliceMemory = new SliceMemory(opts.sliceMemoryBytes ?? DEFAULT_SLICE_MEMORY_BYTES);
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.logger ?? silentLogger).child({ module: 'upload-queue' });
    this.concurrency = Math.max(1, opts.concurrency ?? DEFAULT_FILE_CONCURRENCY);
    this.domains = new UploadDomainCache(opts.api, this.clock);
    this.retry = {
      baseMs: opts.retryBaseMs ?? RETRY_BASE_MS,
      capMs: opts.retryMaxMs ?? RETRY_MAX_MS,
      jitter: opts.retryJitter ?? 0,
      random: opts.random,
    };
  }

  /**
   * Schedule ino for upload now. With `entry`, first writes the journal row (bumping its generation);
   * without, the caller already wrote it (e.g. in its own release transaction). Ends a hold(ino). A running
   * upload of an older generation is aborted. Returns the row's generation.
   */
  enqueue(
    ino: number,
    entry?: { stagingPath: string; size: number; md5: string | null },
    opts: { delayMs?: number } = {},
  ): number {
    const row = entry
      ? this.opts.journal.enqueue(ino, entry.stagingPath, entry.size, entry.md5)
      : this.opts.journal.get(ino);
    if (!row) throw new FsError('EINVAL', `enqueue(${ino}): no upload journal row`);
    if (this.closed) return row.generation; // journaled: it uploads at the next start
    const item = this.item(row);
    item.held = false;
    item.refused = null;
    item.blocked = null;
    item.spaceFull = false;
    if (entry) {
      item.verify = false; // the MD5 was just taken from the staging file
      item.unproven = null;
    }
    item.dueAt = opts.delayMs ? this.clock.now() + opts.delayMs : 0;
    item.attempts = row.attempts;
    item.lastError = row.lastError;
    if (item.run && item.run.generation !== row.generation) item.run.controller.abort(new QueueAbort('superseded'));
    this.pump();
    return row.generation;
  }

  /** 123pan answers again (offline → online): every file waiting out a failure's back-off is due now. */
  retryNow(): void {
    for (const it of this.items.values()) if (!it.run && !it.held && it.attempts > 0) it.dueAt = 0;
    this.pump();
  }

  /**
   * The account may upload again (the developer rights were renewed, or BLOCKED_RECHECK_MS passed): every
   * blocked file is due now. One still refused parks again.
   */
  unblock(): void {
    this.blockedTimer?.cancel();
    this.blockedTimer = null;
    let n = 0;
    for (const it of this.items.values())
      if (it.blocked) {
        it.blocked = null;
        it.dueAt = 0;
        n++;
      }
    if (n > 0) this.log.info({ op: 'upload', files: n }, 'trying blocked uploads again');
    this.pump();
  }

  /** Files queued that an upload can finish (not held by a writer): --staging-max-size waits only for these. */
  drainable(): number {
    let n = 0;
    for (const it of this.items.values()) if (!it.held) n++;
    return n;
  }

  /** Start ino's upload now if it waits out an enqueue delay (its last writer closed). */
  expedite(ino: number): void {
    const it = this.items.get(ino);
    if (!it || it.run || it.held || parked(it) || it.dueAt <= this.clock.now()) return;
    it.dueAt = 0;
    this.pump();
  }

  /** A write to ino started: a running upload must not commit, and none starts until enqueue(ino). */
  hold(ino: number): void {
    const gen = this.opts.journal.bump(ino);
    if (gen === undefined) return; // nothing queued for it
    const item = this.item(this.opts.journal.get(ino)!);
    item.held = true;
    item.run?.controller.abort(new QueueAbort('superseded'));
  }

  /**
   * The staging content is known to be wrong (a write to it failed): stop any upload of it and forget
   * the journal row, so it is never uploaded — now or after a restart. Waiters are rejected with `why`.
   */
  abandon(ino: number, why: unknown): void {
    this.opts.journal.drop(ino);
    const item = this.items.get(ino);
    if (!item) return;
    item.run?.controller.abort(new QueueAbort('superseded'));
    this.items.delete(ino);
    this.settle(item, why);
  }

  /**
   * ino's node is gone (unlinked, or replaced by a rename): stop its running upload, if any, where that
   * is safe. A copy it still creates (the merge was already asked for) is trashed as stale when it lands
   * (name-claims.ts rule 5).
   */
  removed(ino: number): void {
    const it = this.items.get(ino);
    if (!it) return;
    // a held item (a writer had it open, or a rename over it held it) would never be due again: no writer
    // can release a node that is gone, so the hold ends here and the next attempt finishes it as gone
    it.held = false;
    if (it.run) return it.run.controller.abort(new QueueAbort('cancelled')); // its end pumps again
    if (!this.opts.journal.get(ino)) {
      this.finish(it);
      if (this.idle()) for (const f of this.idleWaiters.splice(0)) f();
      return;
    }
    it.held = false;
    it.dueAt = 0;
    this.pump();
  }

  /**
   * ino is about to take the remote name `to` (a rename into it): resolves once no other run holds that
   * name. An upload still running for it (of a file since removed or renamed away) would land there, and
   * with duplicate 2 the server would send whatever took the name meanwhile to the trash. Rejects with
   * EBUSY after NAME_WAIT_MS (name-claims.ts rule 6).
   */
  async renaming(ino: number, to: RemoteName): Promise<void> {
    const deadline = this.clock.now() + NAME_WAIT_MS;
    // the file's own fix-up is still moving its copy toward the name the store has: renaming the copy
    // meanwhile interleaves the two (found by the crash test: the copy ended moved under a third name)
    for (let f = this.fixing.get(ino); f; f = this.fixing.get(ino)) {
      const left = deadline - this.clock.now();
      if (left <= 0) throw new FsError('EBUSY', `an upload of this file is still being renamed; try again`);
      let timer: { cancel(): void } | undefined;
      await Promise.race([f, new Promise<void>((r) => (timer = this.clock.setTimer(left, r)))]);
      timer?.cancel();
    }
    for (;;) {
      const run = this.claims.holder(to);
      if (!run) return;
      // the file being renamed may itself be uploading to this name: that copy lands where it belongs —
      // unless the file was written since the run started: that copy is stale and holds the name until it
      // is trashed (rule 4), so the rename waits for it like for any other holder (e2e model seed 19)
      const row = this.opts.journal.get(ino);
      if (run.ino === ino && (!row || row.generation === run.generation)) return;
      // A holder still live (renamed away meanwhile) restarts under its new name; one already merging,
      // or a removed file's, is followed to its end. Aborting is safe either way (see uploadFile's signal).
      run.controller.abort(new QueueAbort('superseded'));
      const left = deadline - this.clock.now();
      if (left <= 0) throw new FsError('EBUSY', `an upload to ${to.name} is still finishing; try again`);
      let timer: { cancel(): void } | undefined;
      const timedOut = new Promise<void>((r) => {
        timer = this.clock.setTimer(left, r);
      });
      await Promise.race([run.done, timedOut]);
      timer?.cancel();
    }
  }

  /** Resolves when ino's content is uploaded (or it was unlinked); rejects with the error of a failed attempt. */
  waitFor(ino: number): Promise<void> {
    let item = this.items.get(ino);
    if (!item) {
      const row = this.opts.journal.get(ino);
      if (!row) return Promise.resolve();
      item = this.item(row);
    }
    if (this.closed) return Promise.reject(new FsError('EIO', 'upload queue is closed'));
    if (item.unproven) return Promise.reject(new FsError('EIO', item.unproven));
    if (item.refused && !item.run) return Promise.reject(item.refused);
    if (item.blocked && !item.run) return Promise.reject(item.blocked);
    const it = item;
    const p = new Promise<void>((resolve, reject) => it.waiters.push({ resolve, reject }));
    if (!it.run && it.dueAt > this.clock.now()) it.dueAt = 0; // a waiter wants it now, not after the backoff
    this.pump();
    return p;
  }

  /**
   * Daemon start (step 5 of vfs/reconcile.ts, after the namespace intents): re-enqueue every journal row,
   * then redo the journaled rename fix-ups (each holds its file's upload), then look for the stray copies of
   * files gone since. Returns how many rows.
   */
  resume(): number {
    const rows = this.opts.journal.list();
    for (const row of rows) {
      const item = this.item(row);
      item.dueAt = 0;
      item.verify = true; // a write in place may have been under way when the daemon stopped
    }
    this.resumeFixups();
    this.resumeStrays();
    if (rows.length) this.log.info({ op: 'upload-resume', files: rows.length }, 'resuming uploads from the journal');
    this.pump();
    return rows.length;
  }

  /**
   * Shutdown: make everything due now and wait until the queue is empty or timeoutMs passed. Failures keep
   * backing off meanwhile. What is left stays in the journal for the next start.
   */
  async drain(timeoutMs: number): Promise<{ done: boolean; remaining: number }> {
    for (const item of this.items.values()) if (!item.run && !parked(item)) item.dueAt = 0;
    this.pump();
    if (!this.idle()) {
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimer(timeoutMs, finish);
        function finish() {
          timer.cancel();
          resolve();
        }
        this.idleWaiters.push(finish);
      });
    }
    const remaining = [...this.items.values()].filter((i) => !i.unproven).length;
    return { done: remaining === 0, remaining };
  }

  /** Nothing runs and nothing will (unproven and refused files wait for new content, refused ones also
   * for a restart, blocked ones for the rights, space-full ones for the user to free space: they count as
   * remaining in drain()). drain() is its only reader. */
  private idle(): boolean {
    if (this.running > 0) return false;
    for (const it of this.items.values()) if (!parked(it) && !it.spaceFull) return false;
    return true;
  }

  status(): UploadQueueStatus {
    const now = this.clock.now();
    const items: UploadStatusItem[] = [];
    for (const it of this.items.values()) {
      const row = this.opts.journal.get(it.ino);
      const r = it.run;
      const elapsed = r ? (now - r.startedAt) / 1000 : 0;
      let name = r?.name ?? '';
      if (!r) {
        const t = this.opts.target.resolve(it.ino);
        if (t && t !== 'parent-pending') name = t.name;
      }
      items.push({
        ino: it.ino,
        name,
        size: r?.size ?? row?.size ?? 0,
        sentBytes: r?.sentBytes ?? 0,
        state: r
          ? 'uploading'
          : it.unproven
            ? 'unproven'
            : it.refused
              ? 'refused'
              : it.blocked
                ? 'blocked'
                : it.attempts > 0 && it.dueAt > now
                  ? 'waiting-retry'
                  : 'pending',
        held: it.held,
        attempts: it.attempts,
        lastError: it.unproven ?? it.lastError,
        bytesPerSec: r && elapsed > 0 ? Math.round(r.sentBytes / elapsed) : 0,
        startedAt: r?.startedAt ?? null,
        nextAttemptAt: it.dueAt,
      });
    }
    const sum = (f: (i: UploadStatusItem) => number) => items.reduce((a, i) => a + f(i), 0);
    return {
      items,
      totals: {
        files: items.length,
        pending: items.filter((i) => i.state === 'pending').length,
        uploading: items.filter((i) => i.state === 'uploading').length,
        waitingRetry: items.filter((i) => i.state === 'waiting-retry').length,
        unproven: items.filter((i) => i.state === 'unproven').length,
        fixups:
          this.opts.journal.fixups().length +
          this.opts.journal.attempts().filter((a) => !this.opts.journal.get(a.ino)).length,
        bytes: sum((i) => i.size),
        sentBytes: sum((i) => i.sentBytes),
        bytesPerSec: sum((i) => i.bytesPerSec),
      },
    };
  }

  /** Stop: abort running uploads (their rows stay), reject waiters. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopping.abort(new QueueAbort('closed'));
    this.timer?.cancel();
    this.timer = null;
    this.blockedTimer?.cancel();
    this.blockedTimer = null;
    const runs: Promise<void>[] = [];
    for (const it of this.items.values()) {
      if (it.run) {
        it.run.controller.abort(new QueueAbort('closed'));
        runs.push(it.run.done);
      }
    }
    await Promise.allSettled(runs);
    for (const it of this.items.values())
      this.settle(it, new FsError('EIO', 'upload queue closed before the upload finished'));
    this.items.clear();
    for (const f of this.idleWaiters.splice(0)) f();
  }

  // --- scheduling ---------------------------------------------------------------------------------

  private item(row: JournalEntry): Item {
    let it = this.items.get(row.ino);
    if (!it) {
      it = {
        ino: row.ino,
        dueAt: 0,
        held: false,
        attempts: row.attempts,
        lastError: row.lastError,
        waiters: [],
        run: null,
        verify: false,
        unproven: null,
        refused: null,
        blocked: null,
        spaceFull: false,
      };
      this.items.set(row.ino, it);
    }
    return it;
  }

  /**
   * Start due items while slots are free, in journal (insertion) order. O(1) while every slot is busy —
   * the common case during a large copy, where each enqueue pumps — and one pass otherwise.
   */
  private pump(): void {
    if (this.closed) return;
    this.timer?.cancel();
    this.timer = null;
    if (this.running >= this.concurrency) return; // a finishing run pumps again
    const now = this.clock.now();
    let next = Infinity;
    for (const it of this.items.values()) {
      if (it.run || it.held || parked(it)) continue;
      if (it.dueAt <= now) {
        this.start(it);
        if (this.running >= this.concurrency) return;
      } else if (it.dueAt < next) next = it.dueAt;
    }
    if (next < Infinity)
      this.timer = this.clock.setTimer(next - now, () => {
        this.timer = null;
        this.pump();
      });
  }

  private start(it: Item): void {
    this.running++;
    const run: Run = {
      ino: it.ino,
      controller: new AbortController(),
      generation: this.opts.journal.get(it.ino)?.generation ?? 0,
      startedAt: this.clock.now(),
      sentBytes: 0,
      name: '',
      size: 0,
      done: Promise.resolve(),
    };
    it.run = run;
    run.done = this.process(it, run)
      .catch((e: unknown) => {
        // only a throwing UploadTarget/journal gets here (process handles upload errors): retry later
        this.log.error({ op: 'upload', ino: it.ino, err: e }, 'upload bookkeeping failed');
        it.dueAt = this.clock.now() + this.backoff(Math.max(1, it.attempts));
        this.settle(it, e);
      })
      .finally(() => {
        this.running--;
        it.run = null;
        // uploads waiting for a name this run held may go now
        for (const ino of this.claims.release(run)) {
          const waiting = this.items.get(ino);
          if (waiting && !waiting.run) waiting.dueAt = 0;
        }
        if (this.idle()) for (const f of this.idleWaiters.splice(0)) f();
        this.pump();
      });
  }

  /** Resolve (error undefined) or reject every waiter of it. */
  private settle(it: Item, error?: unknown): void {
    for (const w of it.waiters.splice(0)) error === undefined ? w.resolve() : w.reject(error);
  }

  private finish(it: Item): void {
    this.items.delete(it.ino);
    this.settle(it);
  }

  // --- one attempt --------------------------------------------------------------------------------

  private async process(it: Item, run: Run): Promise<void> {
    try {
      await this.attempt(it, run);
    } finally {
      // the node went (or its content was abandoned): a copy an earlier attempt left is a stray now. Looked
      // for under the daemon's stop signal, not the run's: removed() and renaming() abort the run, and a
      // stray left here would hold the name a rename waiting on this run is about to take (model test)
      if (!this.closed && !this.opts.journal.get(it.ino) && this.opts.journal.attempt(it.ino))
        await this.settleAttempt(it.ino, null, this.stopping.signal).catch((e: unknown) =>
          this.log.warn({ op: 'upload', ino: it.ino, err: e }, 'could not look for a stray copy; next start'),
        );
    }
  }

  private async attempt(it: Item, run: Run): Promise<void> {
    const row = this.opts.journal.get(it.ino);
    if (!row) return this.finish(it); // node deleted (cascade): nothing to upload
    const t = this.opts.target.resolve(it.ino);
    if (t === null) return this.dropGone(it, row);
    if (t === 'parent-pending') return this.fail(it, row, new FsError('EAGAIN', 'parent folder is not uploaded yet'));
    // One upload per remote name at a time: with duplicate=2 the one that completes last wins, so an
    // older upload still running for this name (e.g. the file was renamed or removed and a new one took
    // its name) must finish — and be renamed or trashed — before this one starts.
    const holder = this.claims.holder(t);
    if (holder !== undefined && holder !== run) {
      it.dueAt = this.clock.now() + CLAIM_WAIT_MS; // made due at once when the holder's run ends
      this.claims.wait(it.ino);
      return;
    }
    this.claims.claim(t, run);
    run.name = t.name;
    let src: FileSliceSource | null = null;
    try {
      // an earlier attempt (cut by a kill -9, or failed) may have landed, under the name the file had then:
      // looked for after a restart, and after a failure when the name changed since (at the same name the
      // next copy replaces it: duplicate 2)
      const prev = this.opts.journal.attempt(it.ino);
      if (prev && (it.verify || prev.parentId !== t.parentId || prev.name !== t.name)) {
        const found = await this.settleAttempt(it.ino, row, run.controller.signal);
        if (found) return await this.afterUpload(it, row.generation, prev, found, true);
      }
      // after a restart only the length journaled counts: an append cut off by the kill is dropped
      src = await FileSliceSource.open(t.stagingPath || row.stagingPath, it.verify ? row.size : undefined);
      run.size = src.size;
      let md5: string;
      if (it.verify) {
        // the staging file may not hold what was closed (a write in place when the daemon died): upload it
        // only if it is the content journaled, else keep it (nothing uploads what the app did not close)
        const actual = await src.md5(run.controller.signal);
        if (!row.md5 || actual !== row.md5 || src.size !== row.size)
          return this.markUnproven(it, row, t.name, { size: src.fileSize });
        if (src.fileSize > src.size)
          this.log.warn(
            { op: 'upload', ino: it.ino, name: t.name, size: src.size, unfinished: src.fileSize - src.size },
            'an append was under way when the daemon stopped: uploading the content last closed without it',
          );
        it.verify = false;
        md5 = actual;
      } else {
        // the row's MD5 is trusted only for the size it was computed for; else hash the staging file now
        md5 = row.md5 && src.size === row.size ? row.md5 : await src.md5(run.controller.signal);
      }
      // recorded before the copy can exist: it lands there even if the daemon dies meanwhile
      this.opts.journal.putAttempt({ ino: it.ino, parentId: t.parentId, name: t.name, md5, size: src.size });
      const res = await uploadFile(this.opts.api, {
        parentId: t.parentId,
        name: t.name,
        source: src,
        size: src.size,
        md5,
        sliceConcurrency: this.opts.sliceConcurrency,
        sliceMemory: this.sliceMemory,
        signal: run.controller.signal,
        stopSignal: this.stopping.signal,
        logger: this.log,
        clock: this.clock,
        duplicate: this.opts.duplicate ?? 2,
        singleMaxBytes: this.opts.singleMaxBytes,
        domains: this.domains,
        onProgress: (n) => {
          run.sentBytes = n;
        },
      });
      await this.afterUpload(it, row.generation, t, { fileId: res.fileId, md5, size: src.size }, res.instant);
    } catch (e) {
      const abort =
        e instanceof QueueAbort
          ? e
          : run.controller.signal.aborted && run.controller.signal.reason instanceof QueueAbort
            ? run.controller.signal.reason
            : null;
      if (abort) {
        this.log.debug({ op: 'upload', ino: it.ino, name: t.name, why: abort.why }, 'upload aborted');
        return; // superseded: due again (unless held); cancelled: finished as gone when next due; closed: nothing to do
      }
      this.fail(it, row, e);
    } finally {
      await src?.close().catch(() => undefined);
    }
  }

  private async afterUpload(
    it: Item,
    generation: number,
    was: { parentId: string; name: string },
    result: { fileId: string; md5: string; size: number },
    instant: boolean,
  ): Promise<void> {
    const j = this.opts.journal;
    const before = this.opts.target.resolve(it.ino); // the remote id this commit replaces (same synchronous stretch)
    const outcome = j.transaction((): 'committed' | 'stale' | 'refused' => {
      if (j.get(it.ino)?.generation !== generation) return 'stale';
      if (!this.opts.target.commit(it.ino, generation, result))
        return j.get(it.ino)?.generation === generation ? 'refused' : 'stale';
      j.remove(it.ino, generation);
      j.removeAttempt(it.ino);
      // renamed during the upload: the fix-up below is journaled with the commit, so a crash before it is
      // done is redone at the next start (resume)
      const cur = this.opts.target.resolve(it.ino);
      if (cur && cur !== 'parent-pending' && (cur.parentId !== was.parentId || cur.name !== was.name)) {
        const replacedId = before && before !== 'parent-pending' ? before.remoteId : null;
        j.putFixup({ ino: it.ino, fileId: result.fileId, parentId: was.parentId, name: was.name, replacedId });
      }
      return 'committed';
    });
    const now = this.opts.target.resolve(it.ino); // same synchronous stretch as the commit: no rename in between
    if (outcome === 'refused') {
      // the target broke its contract (false with an unchanged generation): back off instead of spinning
      if (await this.trashQuietly(result.fileId)) j.removeAttempt(it.ino);
      throw new FsError('EIO', 'the store refused the upload commit');
    }
    if (outcome === 'stale') {
      // written again (or unlinked) meanwhile: this copy is stale; the row, if any, uploads again
      this.log.info(
        { op: 'upload', ino: it.ino, name: was.name, fileId: result.fileId },
        'content changed during the upload; discarding this copy',
      );
      if (await this.trashQuietly(result.fileId)) j.removeAttempt(it.ino);
      if (!j.get(it.ino)) this.finish(it);
      else it.dueAt = 0;
      return;
    }
    this.log.info(
      { op: 'upload', ino: it.ino, name: was.name, size: result.size, fileId: result.fileId, instant },
      'uploaded',
    );
    if (now && now !== 'parent-pending' && (now.parentId !== was.parentId || now.name !== was.name)) {
      // The node was renamed or moved during the upload, and its previous remote copy with it: that copy
      // now holds the new name with the old content. Trash it, then give the new copy the name.
      const replaced = before && before !== 'parent-pending' ? before.remoteId : null;
      // still this item's run: content enqueued during the fixup waits for it (one run per ino; the
      // run's name claims are released when it ends)
      await this.fixingOf(it.ino, async () => {
        if (replaced !== null && replaced !== result.fileId) await this.trashQuietly(replaced);
        if (await this.fixup(result.fileId, it.ino, was)) j.removeFixup(it.ino, result.fileId);
      });
    }
    if (j.get(it.ino))
      it.dueAt = 0; // new content arrived during the fixup: it uploads next
    else this.finish(it);
  }

  /**
   * The node was renamed/moved while its upload ran: make the remote file match the current name, through
   * placement.ts (its rules: the order from name-clash answers, a temporary name as the last resort). No
   * undo: the content is safe wherever the copy is, so each try starts from where the last one left it.
   */
  private async fixup(fileId: string, ino: number, was: { parentId: string; name: string }): Promise<boolean> {
    const at = { ...was }; // where the copy is now: placeRemote keeps it current step by step
    for (let attempt = 1; attempt <= FIXUP_ATTEMPTS; attempt++) {
      const now = this.opts.target.resolve(ino);
      if (!now) return true; // gone: nothing to fix
      if (now === 'parent-pending') return false;
      if (now.remoteId !== fileId) return true; // a newer upload replaced this copy
      try {
        await placeRemote(this.opts.api, fileId, at, now, { now: () => this.clock.now() });
        return true;
      } catch (e) {
        this.log.warn(
          { op: 'upload-fixup', ino, fileId, attempt, err: e },
          'could not rename/move the uploaded file to its current name',
        );
        if (attempt < FIXUP_ATTEMPTS) await this.clock.sleep(this.backoff(attempt)).catch(() => undefined);
      }
    }
    this.log.error(
      { op: 'upload-fixup', ino, fileId, name: at.name },
      'the uploaded file keeps its old name remotely (retried at the next start)',
    );
    return false;
  }

  /** Start-up: attempts whose file went (no journal row) may have left a copy: trash it (settleAttempt). */
  private resumeStrays(): void {
    for (const a of this.opts.journal.attempts()) {
      if (this.opts.journal.get(a.ino)) continue; // its next attempt looks (attempt())
      void this.settleAttempt(a.ino, null, this.stopping.signal).catch((e: unknown) =>
        this.log.warn({ op: 'upload', ino: a.ino, err: e }, 'could not look for a stray copy; next start'),
      );
    }
  }

  /** Start-up: redo the rename fix-ups a crash interrupted. An upload of the same file waits for its
   * fix-up (one remote name at a time). */
  private resumeFixups(): void {
    for (const f of this.opts.journal.fixups()) {
      const it = this.items.get(f.ino);
      if (it) it.dueAt = Number.POSITIVE_INFINITY;
      this.log.info({ op: 'upload-fixup', ino: f.ino, fileId: f.fileId }, 'redoing a rename fix-up after a restart');
      void this.fixingOf(f.ino, async () => {
        try {
          const now = this.opts.target.resolve(f.ino);
          if (now && now !== 'parent-pending' && now.remoteId === f.fileId && f.replacedId && f.replacedId !== f.fileId)
            await this.trashQuietly(f.replacedId);
          if (await this.fixup(f.fileId, f.ino, { parentId: f.parentId, name: f.name }))
            this.opts.journal.removeFixup(f.ino, f.fileId);
        } catch (e) {
          this.log.warn({ op: 'upload-fixup', ino: f.ino, err: e }, 'a rename fix-up failed at start-up');
        } finally {
          if (it && it.dueAt === Number.POSITIVE_INFINITY) it.dueAt = 0;
          this.pump();
        }
      });
    }
  }

  /** Run a fix-up of ino's copy, known to renaming() until it ends. */
  private async fixingOf(ino: number, fn: () => Promise<void>): Promise<void> {
    const p = fn();
    this.fixing.set(ino, p);
    try {
      await p;
    } finally {
      if (this.fixing.get(ino) === p) this.fixing.delete(ino);
    }
  }

  /** True when trashed. */
  private async trashQuietly(fileId: string): Promise<boolean> {
    try {
      await this.opts.api.trash([fileId]);
      this.opts.target.trashedCopy(fileId);
      return true;
    } catch (e) {
      this.log.warn({ op: 'upload', fileId, err: e }, 'could not trash a stale uploaded copy');
      return false;
    }
  }

  /**
   * The last attempt of ino may have left a copy where it uploaded to (a kill -9 after the copy landed
   * and before the commit, or a failure answer after it landed): look there. A copy no node knows is
   * returned when it is exactly the content to upload now (row: same MD5 and size; the caller commits it
   * and renames it to the current name), else trashed. Then the record goes. Throws when the folder
   * cannot be listed (the record stays: the next attempt or start looks again).
   */
  private async settleAttempt(
    ino: number,
    row: JournalEntry | null,
    signal: AbortSignal,
  ): Promise<{ fileId: string; md5: string; size: number } | null> {
    const a: AttemptEntry | undefined = this.opts.journal.attempt(ino);
    if (!a) return null;
    let list: Awaited<ReturnType<UploadQueueOptions['api']['listAll']>> = [];
    try {
      list = await this.opts.api.listAll(a.parentId, signal);
    } catch (e) {
      if (!isPanError(e, 'not-found')) throw e; // the folder is gone: so is the copy
    }
    let adopt: { fileId: string; md5: string; size: number } | null = null;
    for (const e of list) {
      if (e.isDir || e.trashed || e.name !== a.name || e.md5.toLowerCase() !== a.md5 || e.size !== a.size) continue;
      if (this.opts.target.knows(e.id)) continue;
      if (row && !adopt && row.md5 === a.md5 && row.size === a.size) {
        this.log.info(
          { op: 'upload', ino, fileId: e.id, name: a.name },
          'an earlier upload of this content landed under the name the file had then: taking it',
        );
        adopt = { fileId: e.id, md5: a.md5, size: a.size };
        continue;
      }
      this.log.warn({ op: 'upload', ino, fileId: e.id, name: a.name }, 'trashing a stray copy of an earlier upload');
      await this.opts.api.trash([e.id]);
      this.opts.target.trashedCopy(e.id);
    }
    if (!adopt) this.opts.journal.removeAttempt(ino); // else with the commit (afterUpload)
    return adopt;
  }

  private dropGone(it: Item, row: JournalEntry): void {
    if (this.opts.journal.remove(it.ino, row.generation) || !this.opts.journal.get(it.ino)) {
      this.log.info({ op: 'upload', ino: it.ino }, 'node unlinked; upload cancelled');
      this.finish(it);
    }
  }

  private fail(it: Item, row: JournalEntry, e: unknown): void {
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    const current = this.opts.journal.get(it.ino);
    if (!current) return this.finish(it);
    if (current.generation !== row.generation) {
      it.dueAt = 0;
      return;
    } // new content arrived: try it now
    const attempts = current.attempts + 1;
    if (isUploadRefused(e)) {
      // permanent: parked (journaled, listed, shown in status) until written again or the next start
      it.attempts = attempts;
      it.lastError = msg;
      it.refused = e;
      it.dueAt = Number.POSITIVE_INFINITY;
      this.opts.journal.markAttempt(it.ino, msg, this.clock.now());
      this.log.error({ op: 'upload', ino: it.ino, attempts, err: e }, `upload refused; not retried: ${msg}`);
      this.settle(it, e);
      return;
    }
    if (isPanError(e, 'developer-expired')) {
      // the account may not upload at all: one refused request per file, not one per back-off (the API client
      // logged the one line that says where to renew); asked again on renewal or after BLOCKED_RECHECK_MS
      it.attempts = attempts;
      it.lastError = msg;
      it.blocked = e;
      it.dueAt = Number.POSITIVE_INFINITY;
      this.opts.journal.markAttempt(it.ino, msg, this.clock.now() + BLOCKED_RECHECK_MS);
      this.log.warn({ op: 'upload', ino: it.ino, attempts }, 'upload blocked until the developer rights are renewed');
      this.blockedTimer ??= this.clock.setTimer(BLOCKED_RECHECK_MS, () => {
        this.blockedTimer = null;
        this.unblock();
      });
      this.settle(it, e);
      return;
    }
    const delay = this.backoff(attempts);
    it.attempts = attempts;
    it.lastError = msg;
    it.spaceFull = isPanError(e, 'space');
    it.dueAt = this.clock.now() + delay;
    this.opts.journal.markAttempt(it.ino, msg, it.dueAt);
    if (isPanError(e, 'upload-failed')) it.verify = true; // the server saw other bytes: check them next time
    this.log.warn({ op: 'upload', ino: it.ino, attempts, retryInMs: delay, err: e }, `upload failed: ${msg}`);
    this.settle(it, e);
  }

  /**
   * The staging file is not the content journaled for it (size/MD5 differ, or none was journaled): it is
   * kept, never uploaded as it is, and shown by status, until new content is journaled, or the file goes.
   */
  private markUnproven(it: Item, row: JournalEntry, name: string, actual: { size: number }): void {
    it.unproven =
      `${name}: the local copy (${row.stagingPath}, ${actual.size} bytes) is not the content last closed ` +
      `(${row.size} bytes, md5 ${row.md5 ?? 'unknown'}); it was being rewritten when the daemon stopped: ` +
      'kept, not uploaded';
    it.dueAt = Number.POSITIVE_INFINITY;
    this.log.error(
      { op: 'upload', ino: it.ino, name, stagingPath: row.stagingPath, size: actual.size, journaledSize: row.size },
      'a staging file does not hold the content journaled for it; not uploading it',
    );
    this.settle(it, new FsError('EIO', it.unproven));
  }

  /** Delay before the next attempt: pan/backoff.ts's doubling, capped; retried forever (no attempt limit). */
  private backoff(attempts: number): number {
    return expBackoff(this.retry, attempts);
  }
}
