// Block geometry shared by the caches and the prefetcher: a file is cut into fixed-size blocks, block i
// covers [i*blockSize, min(size, (i+1)*blockSize)). A block is named by (fileId, md5, index), so bytes
// of a file that changed (new md5) can never be served for the old one.

import type { FileRef } from './range-source.js';

/** 256 KiB: a random 4 KiB read costs at most 256 KiB of transfer and, at 4 MB/s per connection, ~65 ms
 * after the first byte (1 MiB blocks: 262 ms; seek p50 was 4.2x the latency on the slow WAN profile,
 * docs/BENCHMARKS.md); 2 kernel reads (128 KiB) per block; big HTTP ranges come from coalescing many
 * blocks per request rather than from big blocks. */
export const DEFAULT_BLOCK_SIZE = 256 << 10;

/** 4 KiB, the kernel's page: a demand fetch that starts inside a block starts at the read's page. */
export const PAGE_BYTES = 4096;

export function blockKey(ref: FileRef, index: number): string {
  return `${ref.id}:${ref.md5}:${index}`;
}

/** Prefix shared by every block key of a file id (all md5s). */
export function filePrefix(fileId: string): string {
  return `${fileId}:`;
}

export function blockCount(size: number, blockSize: number): number {
  return Math.ceil(size / blockSize);
}

/** Byte length of block `index` (the last block may be partial). */
export function blockLength(size: number, blockSize: number, index: number): number {
  return Math.max(0, Math.min(blockSize, size - index * blockSize));
}

export function assertBlockSize(blockSize: number): void {
  if (!Number.isSafeInteger(blockSize) || blockSize < 4096) {
    throw new RangeError(`blockSize must be an integer ≥ 4096, got ${blockSize}`);
  }
}
