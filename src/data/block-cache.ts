// In-memory block cache: an LRU (a Map in recency order) of immutable block Buffers keyed by
// blockKey() = `${fileId}:${md5}:${index}`, bounded by the memory the blocks actually pin.
// Blocks may be views into a larger buffer (the prefetcher caches the blocks of one ranged read as
// subarrays of the response buffer instead of copying them). The cost of a block is therefore charged
// per backing ArrayBuffer: the first cached view of a backing pays its whole byteLength, further views
// of it are free, and the backing stops counting when its last view leaves.
// Invariants: the pinned bytes (sum of byteLength over backings with ≥ 1 cached view) never exceed
// maxBytes after set() or get() returns; a backing larger than maxBytes/BIG_BACKING_DIV is never pinned (the
// block is copied instead), and a block whose backing is mostly unused by the cache is copied out
// when it is hit (compaction), so a few surviving blocks never keep whole multi-MiB responses alive;
// cached Buffers are never mutated (readers get subarrays of them).
// Recency: a block's first hit leaves it where it is (in arrival order); only a second hit makes it most
// recently used. A stream's read-ahead arrives ahead of its reads, so a block just read by a sequential
// reader is older than the unread read-ahead and goes first; promoting on the first hit evicted unread
// read-ahead once the cache was under ~2.5 windows (a 48 MiB cache refetched 1.09-1.16x of a cold 1 GiB dd).

import { DEFAULTS } from '../core/defaults.js';
import { filePrefix } from './blocks.js';
import type { RangePool } from './range-pool.js';

/** 48 MiB: holds a 24 MiB read-ahead window plus recently read blocks. The cap counts real pinned
 * memory, so RSS ≈ baseline + this + in-flight ranges + garbage awaiting V8's next mark-compact
 * (see docs/READ-PATH.md "Memory"). Re-reads at scale go to the disk cache. 64 MiB (and 6 idle range
 * buffers) peaked at 312 MB under the issue 19 load, 48 MiB with 2 idle at 282–286 MB (target < 300). */
export const DEFAULT_MEM_CACHE_BYTES = DEFAULTS.memCacheBytes;

/** A view is cached as is only if its backing is at most maxBytes/4: one 8 MiB response in a 64 MiB
 * cache is fine, one response filling a small cache would make every other block unstorable. */
const BIG_BACKING_DIV = 4;
/** Copy a hit block out of its backing when the cache uses less than 1/4 of that backing: bounds the
 * waste of a response kept alive by one or two popular blocks to a factor 4, only for those blocks. */
const COMPACT_BELOW = 4;

export interface BlockCacheStats {
  hits: number;
  misses: number;
  bytes: number;
  maxBytes: number;
  blocks: number;
}

interface Backing {
  live: number;
  liveBytes: number;
  view: Buffer;
}

export class BlockCache {
  /** key → block; Map order is recency order (first = least recently used). */
  private readonly lru = new Map<string, Buffer>();
  private readonly backings = new Map<ArrayBufferLike, Backing>();
  /** cached blocks not hit yet: their first hit does not promote them */
  private readonly fresh = new Set<string>();
  private pinned = 0;
  private hits = 0;
  private misses = 0;

  /** With a pool, a cached backing is one holder of its range buffer (range-pool.ts). */
  constructor(
    readonly maxBytes: number = DEFAULT_MEM_CACHE_BYTES,
    private readonly pool?: RangePool,
  ) {}

  /** Looks up a block, marks it most recently used and counts a hit or miss. */
  get(key: string): Buffer | undefined {
    let b = this.lru.get(key);
    if (!b) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    const first = this.fresh.delete(key);
    const bk = this.backings.get(b.buffer)!;
    if (bk.liveBytes * COMPACT_BELOW < b.buffer.byteLength) {
      // the copy is a new entry, so it moves to the recent end even on a first hit (rare: a mostly evicted
      // backing)
      this.lru.delete(key);
      this.unpin(b);
      b = owned(b);
      this.pin(b);
      this.lru.set(key, b);
      this.evict(); // the copy may add a block's worth while the old backing is still pinned by siblings
      return b;
    }
    if (!first) {
      this.lru.delete(key);
      this.lru.set(key, b);
    }
    return b;
  }

  /** Presence check without touching recency or stats (used to plan read-ahead). */
  has(key: string): boolean {
    return this.lru.has(key);
  }

  set(key: string, block: Buffer): void {
    if (this.maxBytes <= 0) return;
    this.delete(key);
    let b = block;
    if (
      !this.backings.has(b.buffer) &&
      b.buffer.byteLength * BIG_BACKING_DIV > this.maxBytes &&
      b.buffer.byteLength > b.length
    )
      b = owned(b);
    if (!this.backings.has(b.buffer) && b.buffer.byteLength > this.maxBytes) return;
    this.pin(b);
    this.lru.set(key, b);
    this.fresh.add(key);
    this.evict();
  }

  delete(key: string): void {
    const b = this.lru.get(key);
    if (!b) return;
    this.lru.delete(key);
    this.fresh.delete(key);
    this.unpin(b);
  }

  /** Forgets every block of a file id (all md5s). */
  dropFile(fileId: string): number {
    const prefix = filePrefix(fileId);
    const doomed = [...this.lru.keys()].filter((k) => k.startsWith(prefix));
    for (const k of doomed) this.delete(k);
    return doomed.length;
  }

  clear(): void {
    for (const bk of this.backings.values()) this.pool?.release(bk.view);
    this.lru.clear();
    this.fresh.clear();
    this.backings.clear();
    this.pinned = 0;
  }

  stats(): BlockCacheStats {
    return { hits: this.hits, misses: this.misses, maxBytes: this.maxBytes, bytes: this.pinned, blocks: this.lru.size };
  }

  /** Drops least recently used blocks until the pinned bytes fit. */
  private evict(): void {
    for (const [k, v] of this.lru) {
      if (this.pinned <= this.maxBytes) break;
      this.lru.delete(k);
      this.fresh.delete(k);
      this.unpin(v);
    }
  }

  private pin(b: Buffer): void {
    const bk = this.backings.get(b.buffer);
    if (bk) {
      bk.live++;
      bk.liveBytes += b.length;
      return;
    }
    this.backings.set(b.buffer, { live: 1, liveBytes: b.length, view: b });
    this.pinned += b.buffer.byteLength;
    this.pool?.retain(b);
  }

  private unpin(b: Buffer): void {
    const bk = this.backings.get(b.buffer)!;
    bk.live--;
    bk.liveBytes -= b.length;
    if (bk.live > 0) return;
    this.backings.delete(b.buffer);
    this.pinned -= b.buffer.byteLength;
    this.pool?.release(b);
  }
}

/** A copy of b that owns exactly its own memory. */
function owned(b: Buffer): Buffer {
  const c = Buffer.allocUnsafeSlow(b.length);
  b.copy(c);
  return c;
}
