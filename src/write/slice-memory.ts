// SliceMemory: the memory that upload slices are read into, shared by every upload of the daemon. A slice
// is read whole into memory (its MD5 goes in the request, and a retry re-sends the same bytes), so without
// a shared bound memory grows with uploads × slices in flight (2 files × 3 slices × 16 MiB = 96 MiB, a
// third of issue 19's 300 MB budget), and each slice was a fresh 16 MiB buffer left to the GC.
// Invariants:
//  - the bytes of the slices granted and not yet released never exceed maxBytes, except that one slice is
//    always granted when nothing is (a sliceSize above the budget still uploads, one slice at a time);
//  - grants are FIFO: a large slice waiting is not overtaken by smaller ones forever;
//  - a released buffer is reused only by a later grant of the same size, and only after its holder let go
//    of it (release() is called once the slice is acknowledged or abandoned, never while it is being sent);
//    idle buffers count in the budget (granted + idle <= maxBytes) and are dropped when no slice is granted
//    or waiting, so an idle daemon holds none.

/** 32 MiB: two 16 MiB slices in flight across all uploads (one file alone would use three, OpenList's 3).
 * The upload link is shared by the files anyway, so a second file uploading at once adds memory, not speed;
 * 48 MiB did not fit issue 19's 300 MB peak under load (8 readers + 4 writers) with the 64 MiB read cache. */
export const DEFAULT_SLICE_MEMORY_BYTES = 32 << 20;

export interface SliceGrant {
  /** a buffer of exactly the bytes asked for, the caller's until release() */
  readonly buf: Buffer;
  release(): void;
}

interface Waiter {
  bytes: number;
  resolve(g: SliceGrant): void;
  reject(e: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class SliceMemory {
  private used = 0;
  private readonly waiters: Waiter[] = [];
  private readonly free: Buffer[] = [];
  private peak = 0;

  constructor(readonly maxBytes: number = DEFAULT_SLICE_MEMORY_BYTES) {}

  /** A buffer of `bytes` once the budget allows; rejects with the signal's reason if it aborts first. */
  acquire(bytes: number, signal?: AbortSignal): Promise<SliceGrant> {
    signal?.throwIfAborted();
    if (this.waiters.length === 0 && this.fits(bytes)) return Promise.resolve(this.grant(bytes));
    return new Promise<SliceGrant>((resolve, reject) => {
      const w: Waiter = { bytes, resolve, reject, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal.reason);
          this.wake(); // a large waiter leaving may let smaller ones through
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.waiters.push(w);
    });
  }

  /** Bytes granted now, the most ever granted at once, and idle buffers kept (for tests and status). */
  stats(): { usedBytes: number; peakBytes: number; freeBuffers: number } {
    return { usedBytes: this.used, peakBytes: this.peak, freeBuffers: this.free.length };
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.maxBytes;
  }

  private grant(bytes: number): SliceGrant {
    this.used += bytes;
    this.peak = Math.max(this.peak, this.used);
    const i = this.free.findIndex((b) => b.length === bytes);
    const buf = i >= 0 ? this.free.splice(i, 1)[0]! : Buffer.allocUnsafeSlow(bytes);
    let released = false;
    return {
      buf,
      release: () => {
        if (released) return;
        released = true;
        this.used -= bytes;
        this.keep(buf);
        this.wake();
      },
    };
  }

  /** Keeps an idle buffer for reuse while granted + idle fit the budget (oldest dropped first). */
  private keep(buf: Buffer): void {
    this.free.push(buf);
    let idle = this.free.reduce((n, b) => n + b.length, 0);
    while (idle + this.used > this.maxBytes && this.free.length > 0) idle -= this.free.shift()!.length;
  }

  private wake(): void {
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.bytes)) {
      const w = this.waiters.shift()!;
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      w.resolve(this.grant(w.bytes));
    }
    if (this.used === 0 && this.waiters.length === 0) this.free.length = 0;
  }
}
