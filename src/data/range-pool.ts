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

export interface RangePoolStats {
  taken: number;
  reused: number;
  free: number;
}

export class RangePool {
  private readonly refs = new WeakMap<ArrayBufferLike, number>();
  private readonly free: Buffer[] = [];
  private taken = 0;
  private reused = 0;

  /** `maxFree` idle buffers are kept (2 × 4 MiB with the default request size; in the RSS budget: 6 idle
   * buffers with a 48 MiB memory cache peaked at 313 MB under the issue 19 load, 2 at 282–286 MB). */
  constructor(
    readonly bufferBytes: number,
    private readonly maxFree = 2,
  ) {}

  /** A buffer of bufferBytes, owned by the caller (count 1). */
  take(): Buffer {
    const reused = this.free.pop();
    const b = reused ?? Buffer.allocUnsafeSlow(this.bufferBytes);
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
    if (this.free.length < this.maxFree) this.free.push(Buffer.from(ab as ArrayBuffer, 0, this.bufferBytes));
  }

  /** Holders of b's backing (0 when free or not from this pool); for tests and assertions. */
  holders(b: Buffer): number {
    return this.refs.get(b.buffer) ?? 0;
  }

  stats(): RangePoolStats {
    return { taken: this.taken, reused: this.reused, free: this.free.length };
  }
}
