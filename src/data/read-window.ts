// Per-handle access-pattern detector and read-ahead window (mountpoint-s3 style). Pure state, no I/O:
// the handle feeds it every read and gets back the byte range to prefetch, if any.
// Rules:
//  - the first read of a handle, and any read far from the previous ones, is random: no read-ahead, only
//    the blocks the read touches are fetched (a block is the "small window" of a random reader);
//  - a read near the frontier (the furthest byte read so far in this run) continues a sequential run:
//    the window starts at initialReadAheadBytes and doubles each time it is topped up, and again when a
//    sequential read had to wait for its bytes (the stream is starved: the link could carry more), up to
//    the cap; a stream whose reads are answered from memory stops growing;
//  - the window is kept full: it is topped up as soon as a quarter of it (at least one block) is not
//    issued, not when a batch has arrived (the link never idles between batches; on WAN profiles the
//    half-window rule left the link idle every cycle: 0.19-0.28 of the link, docs/BENCHMARKS.md);
//  - requests are a quarter of the window (≥ one block; the prefetcher caps them at maxRequestBytes), so
//    a full window is ≥ 4 requests in flight: one connection often carries only part of the line (an
//    eighth was tried: 8 equal shares of the link end together and the link idles for a round trip
//    between them; 0.73 of the link on the paced fake source instead of ≥ 0.9).
// Invariants: prefetch ranges are block aligned, within the file, and never more than the window ahead
// of the frontier; a random read resets the window to 0; `jumped` (cancel the old run's read-ahead) only
// for a read more than twice the window (+ tolerance) away from the frontier.

import { DEFAULTS } from '../core/defaults.js';

/** ~1 MiB first read-ahead: cheap if the "run" turns out to be two adjacent random reads. */
export const DEFAULT_INITIAL_READ_AHEAD = 1 << 20;
/** 64 MiB cap: at ~100 MB/s and 100 ms first-byte latency that is several round trips of buffer.
 * FileReader further caps the window at half the memory cache, so a stream never evicts its own unread
 * read-ahead (24 MiB with the default 48 MiB cache). */
export const DEFAULT_MAX_READ_AHEAD = DEFAULTS.readAheadMaxBytes;
/** 2 MiB either side of the frontier still counts as sequential: absorbs reordering among the up to 64
 * concurrent 128 KiB kernel readahead requests and small skips, while a real seek resets the window. */
export const DEFAULT_SEQ_TOLERANCE = 2 << 20;

export interface ReadWindowOptions {
  blockSize: number;
  initialReadAheadBytes: number;
  maxReadAheadBytes: number;
  seqToleranceBytes?: number;
}

export interface ReadPlan {
  sequential: boolean;
  /** Byte range [start, end) to prefetch, block aligned; absent when nothing needs to be issued. */
  prefetch?: { start: number; end: number };
  /** Largest request to cut the prefetch range into (a quarter of the window, ≥ one block). */
  requestBytes?: number;
  /** A real jump away from a run: its read-ahead is useless (not set for reordering near the frontier). */
  jumped?: boolean;
}

export class ReadWindow {
  private frontier = -1;
  private window = 0;
  /** Block-aligned offset up to which read-ahead has been issued in this run. */
  private aheadTo = 0;
  private readonly tol: number;

  constructor(private readonly o: ReadWindowOptions) {
    this.tol = o.seqToleranceBytes ?? DEFAULT_SEQ_TOLERANCE;
  }

  get windowBytes(): number {
    return this.window;
  }

  /** Records a read of [pos, end) in a file of `size` bytes and says what to prefetch. `starved`: the read
   * had to wait for bytes not yet in memory. */
  onRead(pos: number, end: number, size: number, starved = false): ReadPlan {
    const bs = this.o.blockSize;
    const sequential =
      this.frontier >= 0 && pos >= this.frontier - this.tol && pos <= this.frontier + Math.max(this.tol, this.window);
    if (!sequential) {
      // far beyond the old window either way: a seek, not concurrent reads arriving out of order (those
      // would cancel read-ahead that is about to be read: 5-7 % refetched on a loopback stream)
      const reach = 2 * Math.max(this.window, this.tol) + this.tol;
      const jumped = this.frontier >= 0 && this.window > 0 && Math.abs(pos - this.frontier) > reach;
      this.frontier = end;
      this.window = 0;
      this.aheadTo = Math.ceil(end / bs) * bs;
      return jumped ? { sequential, jumped } : { sequential };
    }
    this.frontier = Math.max(this.frontier, end);
    this.aheadTo = Math.max(this.aheadTo, Math.ceil(this.frontier / bs) * bs);
    if (this.window === 0) this.window = Math.min(this.o.initialReadAheadBytes, this.o.maxReadAheadBytes);
    else if (starved) this.window = Math.min(this.o.maxReadAheadBytes, this.window * 2);
    const quarter = Math.max(bs, Math.floor(this.window / 4 / bs) * bs);
    if (this.aheadTo >= size || this.frontier + this.window - this.aheadTo < quarter) return { sequential };
    this.window = Math.min(this.o.maxReadAheadBytes, this.window * 2);
    const start = Math.floor(this.frontier / bs) * bs;
    const stop = Math.min(size, Math.ceil((this.frontier + this.window) / bs) * bs);
    this.aheadTo = stop;
    const requestBytes = Math.max(bs, Math.floor(this.window / 4 / bs) * bs);
    return start < stop ? { sequential, prefetch: { start, end: stop }, requestBytes } : { sequential };
  }

  /** The prefetcher issued only up to `end` (limits reached): retry the rest on a later read. */
  issuedTo(end: number): void {
    this.aheadTo = Math.min(
      this.aheadTo,
      Math.max(end, Math.ceil(this.frontier / this.o.blockSize) * this.o.blockSize),
    );
  }
}
