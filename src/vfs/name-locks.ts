// NameLocks: the per-(folder ino, name) lock that every local op taking or freeing a name holds — create,
// mkdir, rename (both names), unlink, rmdir. While a rename waits for the upload queue to release the
// destination name (writeback.renaming()), no other local op can take that name, so the rename never has to
// look again and retry (the vfs-side rounds it replaced).
//
// Invariants:
//  - keyed by folder ino (stable across renames of the folder, unlike paths) and name.
//  - several names are locked in sorted key order, duplicates once: two ops never wait for each other in a
//    cycle. No re-entrancy: an op holding a name never asks for a name lock again.
//  - taken before any per-ino lock (writeback.ts), never inside one; the upload queue takes none.
//  - the lock covers local ops only: a listing may still bring a name in (another client's change).

import { KeyedMutex } from '../core/keyed-mutex.js';

export interface NameKey {
  dirIno: number;
  name: string;
}

export class NameLocks {
  private readonly mutex = new KeyedMutex<string>();
  /** ops holding or waiting for each name */
  private readonly counts = new Map<string, number>();

  /** Run fn holding every name in `keys` (taken in sorted order). */
  async lock<T>(keys: NameKey[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys.map(keyOf))].sort();
    for (const k of sorted) this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
    const step = (i: number): Promise<T> => {
      const key = sorted[i];
      return key === undefined ? fn() : this.mutex.lock(key, () => step(i + 1));
    };
    try {
      return await step(0);
    } finally {
      for (const k of sorted) {
        const n = (this.counts.get(k) ?? 1) - 1;
        if (n > 0) this.counts.set(k, n);
        else this.counts.delete(k);
      }
    }
  }

  /** How many ops hold or wait for a name (status and tests). */
  queued(k: NameKey): number {
    return this.counts.get(keyOf(k)) ?? 0;
  }
}

const keyOf = (k: NameKey): string => `${k.dirIno}/${k.name}`;
