// In-memory block cache: a byte-bounded LRU (lru-cache, maxSize + sizeCalculation) of immutable block
// Buffers keyed by blockKey() = `${fileId}:${md5}:${index}`.
// Invariants: the sum of cached block lengths never exceeds maxBytes (lru-cache evicts before insert and
// refuses entries larger than the cap); cached Buffers are never mutated (readers get subarrays of them).

import { LRUCache } from 'lru-cache';
import { filePrefix } from './blocks.js';

/** 64 MiB: holds a 32 MiB read-ahead window plus recently read blocks. Measured (docs/READ-PATH.md):
 * V8 frees evicted block memory lazily, so RSS ≈ 60 MiB + ~3.5× this cap while streaming; 64 MiB keeps a
 * 2 GiB stream near the 300 MB budget, 128 MiB does not (~400 MiB). Re-reads at scale go to the disk cache. */
export const DEFAULT_MEM_CACHE_BYTES = 64 << 20;

export interface BlockCacheStats {
  hits: number;
  misses: number;
  bytes: number;
  maxBytes: number;
  blocks: number;
}

export class BlockCache {
  private readonly lru: LRUCache<string, Buffer> | null;
  private hits = 0;
  private misses = 0;

  constructor(readonly maxBytes: number = DEFAULT_MEM_CACHE_BYTES) {
    this.lru = maxBytes > 0
      ? new LRUCache<string, Buffer>({ maxSize: maxBytes, sizeCalculation: (b) => Math.max(1, b.length) })
      : null;
  }

  /** Looks up a block and counts a hit or miss. */
  get(key: string): Buffer | undefined {
    const b = this.lru?.get(key);
    if (b) this.hits++; else this.misses++;
    return b;
  }

  /** Presence check without touching recency or stats (used to plan read-ahead). */
  has(key: string): boolean {
    return this.lru?.has(key) ?? false;
  }

  set(key: string, block: Buffer): void {
    this.lru?.set(key, block);
  }

  delete(key: string): void {
    this.lru?.delete(key);
  }

  /** Forgets every block of a file id (all md5s). */
  dropFile(fileId: string): number {
    if (!this.lru) return 0;
    const prefix = filePrefix(fileId);
    const doomed = [...this.lru.keys()].filter((k) => k.startsWith(prefix));
    for (const k of doomed) this.lru.delete(k);
    return doomed.length;
  }

  clear(): void {
    this.lru?.clear();
  }

  stats(): BlockCacheStats {
    return {
      hits: this.hits, misses: this.misses, maxBytes: this.maxBytes,
      bytes: this.lru?.calculatedSize ?? 0, blocks: this.lru?.size ?? 0,
    };
  }
}
