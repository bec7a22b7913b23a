// RangePool: reuse of the range buffers that ranged reads are received into. A fresh 8 MiB buffer per
// request cost ~0.9 CPU-s per GiB streamed (page faults on new memory and V8's "external memory pressure"
// collections), more than receiving the bytes; reusing a few buffers removes that.
//
// Ownership is counted per backing ArrayBuffer. Holders and when they hold:
//  - the fetch that took it: from take() until one macrotask after its blocks were handed out
//    (Prefetcher), so every waiter resolved by that fetch takes its own reference first;
//  - the memory block cache: while at least one view of the backing is cached (BlockCache pin/unpin);
//  - a queued disk-cache write: until the write finished (DiskCache.put);
//  - a read being answered: from the moment it got a block until its bytes are copied out (FileReader).
// Invariants: a buffer goes back to the free list only when its count reaches 0, so it is never written
// while anyone can still read it; a buffer whose holder forgets to release is simply never reused (the
// WeakMap lets the GC have it), which costs memory churn, never wrong bytes; retain/release of a buffer
// the pool did not hand out are no-ops (disk-loaded blocks, copies, tests' sources).
//
// Idle buffers: up to `maxFree` (4) while buffers are being taken, trimmed to `keepIdle` (2) once none was
// taken for `idleMs`; beyond keepIdle, a released buffer is kept only while held + idle buffers stay under
// `maxTotal` (one stream's working set: memory cache + read-ahead window). A stream's releases come in
// bursts (a block cache eviction frees several backings at once), so with a flat cap of 2 about a quarter
// of a 1 GiB stream's 258 takes missed and allocated fresh memory, whose every page the socket then
// faults in (on this VM a host fault as well). Measured (twelfth session, `BENCH_ONLY=webdav`, 1 GiB GET,
// daemon CPU-s/GiB, 3 cold GETs per bench run, 2 runs per cap, 1 for cap 2): cap 2 → 1.48–1.72;
// cap 4 → 1.03–1.32; cap 8 → 0.94–1.14.
// Cap 8 broke the RSS budget (`BENCH_ONLY=load` VmHWM: 301–306 MB, also with maxTotal 16 or 20; cap 2:
// 280–283; cap 4: 291–295; target < 300 MB), so 4. The trim keeps an idle daemon's RSS where cap 2 had it.

import { type Clock, systemClock } from '../core/clock.js';

export interface RangePoolStats {
  taken: number;
  reused: number;
  free: number;
}

export interface RangePoolOptions {
  /** idle buffers kept while buffers are being taken (default 4) */
  maxFree?: number;
  /** idle buffers kept once none was taken for idleMs (default 2) */
  keepIdle?: number;
  /** default 5 s */
  idleMs?: number;
  /** beyond keepIdle, keep a released buffer only while held + idle < maxTotal (default: no bound) */
  maxTotal?: number;
  clock?: Clock;
}

const DEFAULT_MAX_FREE = 4;
const DEFAULT_KEEP_IDLE = 2;
const DEFAULT_IDLE_MS = 5_000;

export class RangePool {
  private readonly refs = new WeakMap<ArrayBufferLike, number>();
  private readonly free: Buffer[] = [];
  private taken = 0;
  private reused = 0;
  private readonly maxFree: number;
  private readonly keepIdle: number;
  private readonly idleMs: number;
  private readonly clock: Clock;
  private readonly maxTotal: number;
  /** buffers handed out and not yet released to 0 (a forgotten holder only makes this high: fewer idle) */
  private held = 0;
  private lastTake = 0;
  private trimTimer: { cancel(): void } | null = null;

  constructor(
    readonly bufferBytes: number,
    opts: RangePoolOptions = {},
  ) {
    this.keepIdle = Math.max(0, opts.keepIdle ?? DEFAULT_KEEP_IDLE);
    this.maxFree = Math.max(this.keepIdle, opts.maxFree ?? DEFAULT_MAX_FREE);
    this.idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
    this.clock = opts.clock ?? systemClock;
    this.maxTotal = opts.maxTotal ?? Number.POSITIVE_INFINITY;
  }

  /** A buffer of bufferBytes, owned by the caller (count 1). */
  take(): Buffer {
    this.lastTake = this.clock.now();
    const reused = this.free.pop();
    const b = reused ?? Buffer.allocUnsafeSlow(this.bufferBytes);
    this.refs.set(b.buffer, 1);
    this.held++;
    this.taken++;
    if (reused) this.reused++;
    return b;
  }

  /** One more holder of the backing of `b` (no-op for buffers the pool did not hand out). */
  retain(b: Buffer): void {
    const n = this.refs.get(b.buffer);
    if (n !== undefined) this.refs.set(b.buffer, n + 1);
  }

  /** One holder fewer; the last one returns the buffer to the free list. */
  release(b: Buffer): void {
    const ab = b.buffer;
    const n = this.refs.get(ab);
    if (n === undefined) return;
    if (n > 1) {
      this.refs.set(ab, n - 1);
      return;
    }
    this.refs.delete(ab);
    this.held--;
    const idle = this.free.length;
    if (idle >= this.keepIdle && (idle >= this.maxFree || this.held + idle >= this.maxTotal)) return;
    this.free.push(Buffer.from(ab as ArrayBuffer, 0, this.bufferBytes));
    if (this.free.length > this.keepIdle) this.armTrim(this.idleMs);
  }

  /** Drops every idle buffer (the GC has them) and stops the trim timer. */
  close(): void {
    this.trimTimer?.cancel();
    this.trimTimer = null;
    this.free.length = 0;
  }

  private armTrim(ms: number): void {
    if (this.trimTimer) return;
    this.trimTimer = this.clock.setTimer(ms, () => {
      this.trimTimer = null;
      const idleFor = this.clock.now() - this.lastTake;
      if (idleFor >= this.idleMs) this.free.length = Math.min(this.free.length, this.keepIdle);
      else if (this.free.length > this.keepIdle) this.armTrim(this.idleMs - idleFor);
    });
  }

  /** Holders of b's backing (0 when free or not from this pool); for tests and assertions. */
  holders(b: Buffer): number {
    return this.refs.get(b.buffer) ?? 0;
  }

  stats(): RangePoolStats {
    return { taken: this.taken, reused: this.reused, free: this.free.length };
  }
}
