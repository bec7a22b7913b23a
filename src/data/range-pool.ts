// RangePool: reuse of the range buffers that ranged reads (and disk-cache block loads) are received into. A
// fresh 8 MiB buffer per request cost ~0.9 CPU-s per GiB streamed (page faults on new memory and V8's
// "external memory pressure" collections), more than receiving the bytes; reusing a few buffers removes that.
// Sizes come in classes: bufferBytes and its halves down to MIN_CLASS_BYTES (4 MiB, 2, 1, 512 KiB, 256 KiB,
// 128, 64); take(n) hands out the smallest class that holds n, so a 1 MiB demand read or a 256 KiB disk
// block is a reused buffer too (issue 19: those were 4.4 GiB of fresh buffers in a 36 s load run, garbage
// that held ~100 MiB of RSS between collections). Below the smallest class the caller allocates.
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
// the pool did not hand out are no-ops (copies, tests' sources); idle buffers total at most maxFreeBytes.

/** The smallest pooled class: below it a buffer is cheap enough to allocate (and a class would waste more). */
export const MIN_CLASS_BYTES = 64 << 10;

export interface RangePoolStats {
  taken: number;
  reused: number;
  /** idle buffers, all classes */
  free: number;
  freeBytes: number;
}

export class RangePool {
  private readonly refs = new WeakMap<ArrayBufferLike, number>();
  /** class size → idle buffers of exactly that size */
  private readonly free = new Map<number, Buffer[]>();
  private freeBytes = 0;
  private taken = 0;
  private reused = 0;

  /** Idle buffers are kept up to `maxFreeBytes` (default two of bufferBytes: 8 MiB with the default request
   * size; in the RSS budget). */
  constructor(
    readonly bufferBytes: number,
    private readonly maxFreeBytes = 2 * bufferBytes,
  ) {}

  /** The class a buffer for `bytes` comes from: bufferBytes above its half, else the smallest power of two
   * ≥ bytes (so at most twice bytes); undefined when the pool does not serve that size (above bufferBytes,
   * below MIN_CLASS_BYTES). */
  classOf(bytes: number): number | undefined {
    if (bytes > this.bufferBytes || bytes <= 0) return undefined;
    if (bytes * 2 > this.bufferBytes) return this.bufferBytes;
    if (bytes < MIN_CLASS_BYTES) return undefined;
    return Math.min(this.bufferBytes, 2 ** Math.ceil(Math.log2(bytes)));
  }

  /** A buffer of classOf(bytes) bytes (≥ bytes; default: bufferBytes), owned by the caller (count 1); a fresh
   * one of exactly `bytes` when the pool has no class for it. */
  take(bytes = this.bufferBytes): Buffer {
    const size = this.classOf(bytes);
    if (size === undefined) return Buffer.allocUnsafeSlow(bytes);
    const reused = this.free.get(size)?.pop();
    if (reused) this.freeBytes -= size;
    const b = reused ?? Buffer.allocUnsafeSlow(size);
    this.refs.set(b.buffer, 1);
    this.taken++;
    if (reused) this.reused++;
    return b;
  }

  /** One more holder of the backing of `b` (no-op for buffers the pool did not hand out). */
  retain(b: Buffer): void {
    const n = this.refs.get(b.buffer);
    if (n !== undefined) this.refs.set(b.buffer, n + 1);
  }

  /** One holder fewer; the last one returns the buffer to its class's free list (while idle bytes fit). */
  release(b: Buffer): void {
    const ab = b.buffer;
    const n = this.refs.get(ab);
    if (n === undefined) return;
    if (n > 1) {
      this.refs.set(ab, n - 1);
      return;
    }
    this.refs.delete(ab);
    const size = ab.byteLength;
    if (this.freeBytes + size > this.maxFreeBytes) return;
    const list = this.free.get(size) ?? [];
    this.free.set(size, list);
    list.push(Buffer.from(ab as ArrayBuffer, 0, size));
    this.freeBytes += size;
  }

  /** Holders of b's backing (0 when free or not from this pool); for tests and assertions. */
  holders(b: Buffer): number {
    return this.refs.get(b.buffer) ?? 0;
  }

  stats(): RangePoolStats {
    let free = 0;
    for (const l of this.free.values()) free += l.length;
    return { taken: this.taken, reused: this.reused, free, freeBytes: this.freeBytes };
  }
}
