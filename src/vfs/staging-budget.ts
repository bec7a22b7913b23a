// StagingBudget: --staging-max-size, the bytes all staging files together may hold (issue 16). Owns the
// byte count of each staging file (its largest extent, as the writeback grows, truncates and deletes it)
// and the writers waiting for room.
//
// Rules, for a write (or truncate, or in-place download) that grows a staging file to `bytes`:
//  - the file alone would pass the limit: ENOSPC at once (waiting could never help);
//  - the total stays within the limit: granted at once, synchronously (the fast path: no promise);
//  - else it waits, in order, while uploads can drain the staging (a journaled file not being written);
//    it is woken by every decrease and let through as soon as it fits;
//  - nothing left that could drain (the rest is files still being written, so waiting could only
//    deadlock): it goes ahead past the limit, logged once per overrun;
//  - offline with the staging full: ENOSPC at once (nothing drains until 123pan answers);
//  - no room after WAIT_MS: ENOSPC — below the FUSE write timeout, so a write the kernel gave up on never
//    lands later.
// Invariants: a count is raised only by a grant and lowered only by set()/remove(); a waiter is settled
// exactly once; nothing here blocks the event loop (waits are promises, the deadline is the clock's timer).

import type { Clock } from '../core/clock.js';
import { FsError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/** A writer waits at most 9 min for room: below the 10 min FUSE write timeout (fuse/mount.ts). */
export const STAGING_WAIT_MS = 9 * 60_000;

/** Can uploads drain the staging? 'yes' (something journaled waits for upload), 'offline', or 'none'. */
export type DrainState = 'yes' | 'offline' | 'none';

export interface StagingBudgetOptions {
  /** bytes; 0 = no limit */
  maxBytes: number;
  clock: Clock;
  logger: Logger;
  drain: () => DrainState;
  waitMs?: number;
}

interface Waiter {
  key: string;
  bytes: number;
  what: string;
  resolve(): void;
  reject(e: FsError): void;
  timer: { cancel(): void };
}

export class StagingBudget {
  private readonly sizes = new Map<string, number>();
  private total = 0;
  private waiters: Waiter[] = [];
  private overrunLogged = false;

  constructor(private readonly o: StagingBudgetOptions) {}

  get limited(): boolean {
    return this.o.maxBytes > 0;
  }

  status(): { bytes: number; maxBytes: number; waitingWriters: number } {
    return { bytes: this.total, maxBytes: this.o.maxBytes, waitingWriters: this.waiters.length };
  }

  sizeOf(key: string): number {
    return this.sizes.get(key) ?? 0;
  }

  /**
   * Room for `key` to hold `bytes`: resolves at once (undefined, no promise) when granted, else a promise
   * that resolves when granted or rejects with ENOSPC. `what` names the file in errors and logs.
   */
  grow(key: string, bytes: number, what: string): Promise<void> | undefined {
    const cur = this.sizeOf(key);
    if (bytes <= cur) return undefined;
    if (!this.limited) {
      this.record(key, bytes);
      return undefined;
    }
    if (bytes > this.o.maxBytes)
      return Promise.reject(
        new FsError(
          'ENOSPC',
          `${what}: ${bytes} bytes would not fit in --staging-max-size (${this.o.maxBytes} bytes) on its own`,
        ),
      );
    // waiters go first: a write that fits now must not overtake one waiting for the same room
    if (this.waiters.length === 0 && this.tryGrant(key, bytes, what)) return undefined;
    const refused = this.refusal(what);
    if (refused) return Promise.reject(refused);
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        key,
        bytes,
        what,
        resolve,
        reject,
        timer: this.o.clock.setTimer(this.o.waitMs ?? STAGING_WAIT_MS, () => {
          this.drop(w);
          reject(
            new FsError(
              'ENOSPC',
              `${what}: --staging-max-size is full and no upload finished for ${Math.round(
                (this.o.waitMs ?? STAGING_WAIT_MS) / 1000,
              )} s`,
            ),
          );
        }),
      };
      this.waiters.push(w);
      this.wake(); // the head may go past the limit now (nothing left to drain)
      this.o.logger.debug({ op: 'write', path: what, stagingBytes: this.total }, 'staging full: waiting for uploads');
    });
  }

  /** The file now holds `bytes` (a truncate, or the size found at start): lowering it wakes waiters. */
  set(key: string, bytes: number): void {
    const cur = this.sizeOf(key);
    this.record(key, bytes);
    if (bytes < cur) this.wake();
  }

  /** The staging file is deleted. */
  remove(key: string): void {
    if (!this.sizes.has(key)) return;
    this.record(key, 0);
    this.sizes.delete(key);
    this.wake();
  }

  /** Something changed that may let waiters go or refuse them (the connectivity, the queue). */
  wake(): void {
    while (this.waiters.length > 0) {
      const w = this.waiters[0]!;
      if (this.tryGrant(w.key, w.bytes, w.what)) {
        this.drop(w);
        w.resolve();
        continue;
      }
      const refused = this.refusal(w.what);
      if (!refused) return;
      this.drop(w);
      w.reject(refused);
    }
  }

  private tryGrant(key: string, bytes: number, what: string): boolean {
    const after = this.total - this.sizeOf(key) + bytes;
    if (after <= this.o.maxBytes) {
      this.overrunLogged = false;
    } else {
      if (this.o.drain() !== 'none') return false;
      if (!this.overrunLogged) {
        this.overrunLogged = true;
        this.o.logger.warn(
          { op: 'write', path: what, stagingBytes: after, stagingMaxBytes: this.o.maxBytes },
          'staging is past --staging-max-size with files still open for writing: nothing can upload yet, ' +
            'so the write goes ahead',
        );
      }
    }
    this.record(key, Math.max(bytes, this.sizeOf(key)));
    return true;
  }

  /** Why a write that does not fit cannot wait, or null if it can. */
  private refusal(what: string): FsError | null {
    if (this.o.drain() !== 'offline') return null;
    return new FsError(
      'ENOSPC',
      `${what}: --staging-max-size is full of uploads waiting for 123pan, which is unreachable (offline)`,
    );
  }

  private record(key: string, bytes: number): void {
    this.total += bytes - this.sizeOf(key);
    this.sizes.set(key, bytes);
  }

  private drop(w: Waiter): void {
    w.timer.cancel();
    this.waiters = this.waiters.filter((x) => x !== w);
  }
}
