// The read path's façade for vfs/: FileReader owns the caches and the prefetcher; each open file gets a
// ReadHandle with its own ReadWindow (access-pattern detection) and FetchOwner (its fetches, aborted on
// close unless another handle still wants them).
// Invariants:
//  - a handle is pinned to the FileRef given at open: reads never go past ref.size and bytes are always
//    those of (id, md5);
//  - read() returns ≤ length bytes (0 at/after EOF); a block-contained read is a zero-copy subarray of a
//    cached block, which callers must treat as read-only and copy out (fuse/ copies into the kernel buf);
//  - memory is bounded by memCacheBytes + maxInflightBytes (read-ahead is held back at the limits; the
//    window is also capped at half the memory cache so a stream never evicts its own unread blocks);
//  - errors from the source reject the read unchanged (vfs/classify maps them); nothing is cached on error.

import type { ReadViews } from '../core/read-views.js';
import { FsError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import { RateMeter } from '../core/rate-meter.js';
import { BlockCache, DEFAULT_MEM_CACHE_BYTES } from './block-cache.js';
import { assertBlockSize, blockCount, blockLength, DEFAULT_BLOCK_SIZE } from './blocks.js';
import { cachedKey, DiskCache } from './disk-cache.js';
import { RangePool } from './range-pool.js';
import {
  DEFAULT_MAX_CONCURRENT_FETCHES,
  DEFAULT_MAX_REQUEST_BYTES,
  FetchOwner,
  Prefetcher,
  type BlockPart,
  type Demand,
} from './prefetcher.js';
import type { FileRef, RangeSource } from './range-source.js';
import { DEFAULT_INITIAL_READ_AHEAD, DEFAULT_MAX_READ_AHEAD, ReadWindow } from './read-window.js';

export type { FileRef, RangeSource } from './range-source.js';

/**
 * 32 MiB: read-ahead below this offset goes to the disk cache, beyond it only to memory (scan resistance:
 * copying a 10 GiB file out of the mount would otherwise flush a 10 GiB cache, and writing the stream to
 * disk cost as much CPU as reading it: 5.1 vs 2.9 CPU-s per GiB, docs/BENCHMARKS.md). File heads (what
 * thumbnailers and `file` read) and every block a reader asked for stay cacheable.
 */
export const STREAM_HEAD_BYTES = 32 << 20;

/** 10 GiB on disk: a few films / datasets survive restarts, small next to today's disks. */
export const DEFAULT_DISK_CACHE_BYTES = 10 * 1024 ** 3;

export interface ReaderOptions {
  blockSize?: number;
  memCacheBytes?: number;
  /** null/undefined: no disk cache. */
  diskCacheDir?: string | null;
  diskCacheBytes?: number;
  /**
   * Read-ahead of a sequential stream past streamHeadBytes is kept in memory only (false, the default) or
   * also written to the disk cache (true). Blocks read on demand and the head of every file always are.
   */
  cacheStreams?: boolean;
  maxReadAheadBytes?: number;
  initialReadAheadBytes?: number;
  maxConcurrentFetches?: number;
  /** Largest single ranged read; default 4 MiB (DEFAULT_MAX_REQUEST_BYTES). */
  maxRequestBytes?: number;
  logger?: Logger;
  clock?: Clock;
  /** also counts every byte served to a reader (the daemon's "served today", core/daily-bytes.ts) */
  served?: { add(bytes: number): void };
}

/** One open read handle, for `pan123fs status`: what it read and how fast. */
export interface StreamStats {
  /** what the opener called it (vfs: the path), else the file id */
  name: string;
  fileId: string;
  size: number;
  openedAt: number;
  /** bytes served to this handle's reads */
  bytesServed: number;
  /** over the last 5 s */
  bytesPerSec: number;
  /** furthest byte read so far */
  position: number;
  /** its read-ahead window now (0: random reads) */
  windowBytes: number;
}

export type { ReadViews } from '../core/read-views.js';

export interface ReadHandle {
  /** ≤ length bytes from position (0 bytes at/after EOF), in a Buffer of the caller's own. */
  read(position: number, length: number, signal?: AbortSignal): Promise<Buffer>;
  /** The same bytes copied into `into` (the FUSE reply buffer); resolves to the count. No extra copy. */
  readInto(position: number, length: number, into: Buffer, signal?: AbortSignal): Promise<number>;
  /** The same bytes as views of the cached blocks, not copied (a WebDAV GET writes them to its socket). */
  readViews(position: number, length: number, signal?: AbortSignal): Promise<ReadViews>;
  close(): void;
}

export interface ReadStats {
  openHandles: number;
  memHits: number;
  memMisses: number;
  diskHits: number;
  diskMisses: number;
  bytesFetched: number;
  bytesServed: number;
  fetchRequests: number;
  fetchErrors: number;
  fetchesAborted: number;
  /** read-ahead ranges aborted because their handle jumped elsewhere (cancelAhead) */
  fetchesCancelled: number;
  inflightFetches: number;
  inflightBytes: number;
  memCacheBytes: number;
  memCacheMaxBytes: number;
  memCacheBlocks: number;
  diskCacheBytes: number;
  diskCacheMaxBytes: number;
  diskCacheFiles: number;
}

export class FileReader {
  private readonly pool: RangePool;
  private readonly mem: BlockCache;
  private readonly disk: DiskCache | null;
  private readonly fetcher: Prefetcher;
  private readonly blockSize: number;
  private readonly windowOpts: { initialReadAheadBytes: number; maxReadAheadBytes: number };
  private readonly handles = new Set<Handle>();
  private readonly log: Logger;
  private bytesServed = 0;
  private readonly maxRequestBytes: number;
  private readonly clock: Clock;
  private readonly served: { add(bytes: number): void } | undefined;
  private closed = false;

  constructor(
    private readonly source: RangeSource,
    opts: ReaderOptions = {},
  ) {
    this.blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
    assertBlockSize(this.blockSize);
    this.log = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
    this.served = opts.served;
    const memBytes = opts.memCacheBytes ?? DEFAULT_MEM_CACHE_BYTES;
    const maxRequestBytes = Math.max(this.blockSize, opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES);
    this.maxRequestBytes = maxRequestBytes;
    const maxAhead = Math.max(
      this.blockSize,
      Math.min(opts.maxReadAheadBytes ?? DEFAULT_MAX_READ_AHEAD, Math.floor(memBytes / 2)),
    );
    // idle range buffers beyond 2 only within one stream's working set: the cache plus a window in flight
    this.pool = new RangePool(maxRequestBytes, {
      clock: this.clock,
      maxTotal: Math.ceil((memBytes + maxAhead) / maxRequestBytes) + 2,
    });
    this.mem = new BlockCache(memBytes, this.pool);
    const diskBytes = opts.diskCacheBytes ?? DEFAULT_DISK_CACHE_BYTES;
    this.disk =
      opts.diskCacheDir && diskBytes > 0
        ? new DiskCache({
            dir: opts.diskCacheDir,
            maxBytes: diskBytes,
            logger: this.log,
            clock: opts.clock ?? systemClock,
            pool: this.pool,
          })
        : null;
    this.windowOpts = {
      maxReadAheadBytes: maxAhead,
      initialReadAheadBytes: Math.min(maxAhead, opts.initialReadAheadBytes ?? DEFAULT_INITIAL_READ_AHEAD),
    };
    const maxConcurrentFetches = Math.max(1, opts.maxConcurrentFetches ?? DEFAULT_MAX_CONCURRENT_FETCHES);
    this.fetcher = new Prefetcher(source, this.mem, this.disk, {
      blockSize: this.blockSize,
      maxRequestBytes,
      maxConcurrentFetches,
      logger: this.log,
      pool: this.pool,
      streamHeadBytes: opts.cacheStreams ? Number.MAX_SAFE_INTEGER : STREAM_HEAD_BYTES,
      // In flight never exceeds one read-ahead window (plus demand reads, which are never held back).
      maxInflightBytes: Math.max(maxRequestBytes, Math.min(maxAhead, maxConcurrentFetches * maxRequestBytes)),
    });
  }

  /** Cheap: no bytes are fetched; the source may prepare (pan/: fetch the download link now). The handle is
   * pinned to this ref (id, md5, size); `name` labels it in streams(). */
  open(ref: FileRef, name?: string): ReadHandle {
    if (this.closed) throw new FsError('EIO', 'file reader is closed');
    if (!Number.isSafeInteger(ref.size) || ref.size < 0) throw new FsError('EINVAL', `bad file size ${ref.size}`);
    const h = new Handle(
      this,
      { ...ref },
      this.fetcher,
      new ReadWindow({ blockSize: this.blockSize, ...this.windowOpts }),
      this.blockSize,
      this.pool,
      { name: name ?? ref.id, openedAt: this.clock.now(), meter: new RateMeter(this.clock) },
    );
    this.handles.add(h);
    this.source.prepare?.(ref); // e.g. the download link, fetched now rather than at the first read
    return h;
  }

  stats(): ReadStats {
    const m = this.mem.stats();
    const d = this.disk?.stats();
    const f = this.fetcher.stats();
    return {
      openHandles: this.handles.size,
      memHits: m.hits,
      memMisses: m.misses,
      diskHits: d?.hits ?? 0,
      diskMisses: d?.misses ?? 0,
      bytesFetched: f.bytesFetched,
      bytesServed: this.bytesServed,
      fetchRequests: f.fetchRequests,
      fetchErrors: f.fetchErrors,
      fetchesAborted: f.fetchesAborted,
      fetchesCancelled: f.fetchesCancelled,
      inflightFetches: f.inflightFetches,
      inflightBytes: f.inflightBytes,
      memCacheBytes: m.bytes,
      memCacheMaxBytes: m.maxBytes,
      memCacheBlocks: m.blocks,
      diskCacheBytes: d?.bytes ?? 0,
      diskCacheMaxBytes: d?.maxBytes ?? 0,
      diskCacheFiles: d?.files ?? 0,
    };
  }

  /** The open handles, oldest first. */
  streams(): StreamStats[] {
    return [...this.handles].map((h) => h.stats());
  }

  /** Aborts all fetches, closes handles, waits for queued disk writes. */
  async close(): Promise<void> {
    this.closed = true;
    for (const h of [...this.handles]) h.close();
    this.fetcher.close();
    this.mem.clear();
    await this.disk?.close();
    this.pool.close();
  }

  /** Bytes the disk cache can hold (0: no disk cache). */
  diskCapacity(): number {
    return this.disk?.enabled ? this.disk.capacity : 0;
  }

  /** Keeps the blocks of these file ids out of disk-cache eviction (pins, vfs/pins.ts). */
  setPinned(fileIds: Iterable<string>): void {
    this.disk?.setPinned(fileIds);
  }

  /** Real on-disk bytes of each file version; look up with cachedBytes(). */
  diskUsage(): (ref: { id: string; md5: string }) => number {
    const m = this.disk?.bytesByFile() ?? new Map<string, number>();
    return (ref) => m.get(cachedKey(ref)) ?? 0;
  }

  /**
   * Fetches every block of the file not yet on disk straight into the disk cache, in ranges of up to
   * maxRequestBytes, waiting for each write (pinning). `onProgress(bytes)` reports bytes cached so far.
   * Resolves to the bytes on disk at the end; throws when the source fails or there is no disk cache.
   */
  async cacheWhole(ref: FileRef, onProgress?: (bytes: number) => void, signal?: AbortSignal): Promise<number> {
    const disk = this.disk;
    if (!disk?.enabled) throw new FsError('ENOSPC', 'no disk cache (--cache-max-size 0)');
    await disk.ready;
    const bs = this.blockSize;
    const n = blockCount(ref.size, bs);
    const perRequest = Math.max(1, Math.floor(this.maxRequestBytes / bs));
    let done = 0;
    for (let i = 0; i < n; ) {
      if (disk.has(ref, i)) {
        done += blockLength(ref.size, bs, i);
        i++;
        continue;
      }
      let j = i;
      while (j < n && j - i < perRequest && !disk.has(ref, j)) j++;
      const start = i * bs;
      const len = Math.min(ref.size, j * bs) - start;
      const buf = await this.source.read(ref, start, len, signal);
      for (let k = i; k < j; k++) {
        const off = (k - i) * bs;
        const block = Buffer.from(buf.subarray(off, off + blockLength(ref.size, bs, k)));
        if (!(await disk.store(ref, k, block))) throw new FsError('EIO', 'could not write the disk cache');
      }
      done += len;
      onProgress?.(done);
      i = j;
    }
    onProgress?.(done);
    return done;
  }

  /** Forget cached blocks of a file (all versions), e.g. after it was overwritten. */
  dropFile(fileId: string): void {
    this.fetcher.dropFile(fileId);
  }

  /** @internal */
  onServed(bytes: number): void {
    this.bytesServed += bytes;
    this.served?.add(bytes);
  }
  /** @internal */
  onClosed(h: Handle): void {
    this.handles.delete(h);
  }
}

class Handle implements ReadHandle {
  private readonly owner = new FetchOwner();
  private closed = false;
  private served = 0;
  private furthest = 0;

  constructor(
    private readonly reader: FileReader,
    private readonly ref: FileRef,
    private readonly fetcher: Prefetcher,
    private readonly window: ReadWindow,
    private readonly blockSize: number,
    private readonly pool: RangePool,
    private readonly info: { name: string; openedAt: number; meter: RateMeter },
  ) {}

  stats(): StreamStats {
    return {
      name: this.info.name,
      fileId: this.ref.id,
      size: this.ref.size,
      openedAt: this.info.openedAt,
      bytesServed: this.served,
      bytesPerSec: this.info.meter.perSec(),
      position: this.furthest,
      windowBytes: this.window.windowBytes,
    };
  }

  async read(position: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const end = this.check(position, length);
    const out = Buffer.allocUnsafe(Math.max(0, end - position));
    if (out.length === 0) return out;
    const n = await this.readInto(position, length, out, signal);
    return n === out.length ? out : out.subarray(0, n);
  }

  async readInto(position: number, length: number, into: Buffer, signal?: AbortSignal): Promise<number> {
    const end = Math.min(this.check(position, length), position + into.length);
    if (position >= end) return 0;
    const ready = this.fetcher.whenReady();
    if (ready) await ready;
    const bs = this.blockSize;
    const first = Math.floor(position / bs);
    const demanded: Demand[] = [];
    const parts = this.plan(position, end, demanded);
    // Hold every block's range buffer until its bytes are copied out: cached blocks now, fetched ones as
    // soon as their fetch resolves (before the fetch's own hold ends, range-pool.ts).
    const held: Buffer[] = [];
    let finished = false; // a fetch resolving after an abort ended this read must not take a hold
    const hold = (b: Buffer): Buffer => {
      if (!finished) {
        this.pool.retain(b);
        held.push(b);
      }
      return b;
    };
    const mine = parts.map((p): BlockPart => (p instanceof Buffer ? hold(p) : (p as Promise<Buffer>).then(hold)));
    try {
      const blocks = mine.every((p): p is Buffer => p instanceof Buffer) ? mine : await waitAll(mine, signal);
      const n = copyOut(blocks, position - first * bs, end - position, into);
      this.onServed(position, n);
      return n;
    } finally {
      finished = true;
      for (const b of held) this.pool.release(b);
      this.fetcher.undemand(demanded);
    }
  }

  async readViews(position: number, length: number, signal?: AbortSignal): Promise<ReadViews> {
    const end = this.check(position, length);
    if (position >= end) return { views: [], bytes: 0, release: () => undefined };
    const { blocks, offset, held } = await this.blocksFor(position, end, signal);
    const views = sliceOut(blocks, offset, end - position);
    this.onServed(position, end - position);
    let released = false;
    return {
      views,
      bytes: end - position,
      release: () => {
        if (released) return;
        released = true;
        for (const b of held) this.pool.release(b);
      },
    };
  }

  private onServed(position: number, n: number): void {
    this.reader.onServed(n);
    this.served += n;
    this.furthest = Math.max(this.furthest, position + n);
    this.info.meter.add(n);
  }

  /** Demands the blocks of [position, end) and steers the window and the read-ahead; returns the parts. */
  private plan(position: number, end: number, demanded: Demand[]): BlockPart[] {
    const bs = this.blockSize;
    const first = Math.floor(position / bs);
    const last = Math.floor((end - 1) / bs);
    const parts = this.fetcher.demand(this.ref, first, last, this.owner, position, end, demanded);
    const starved = !parts.every((p) => p instanceof Buffer);
    const plan = this.window.onRead(position, end, this.ref.size, starved);
    // a jump: read-ahead of the old run that no read asked for is of no use now (demand() has already
    // marked what this read needs)
    if (plan.jumped) this.fetcher.cancelAhead(this.owner, first * bs, end);
    if (plan.prefetch) {
      const { start, end: stop } = plan.prefetch;
      const reached = this.fetcher.prefetch(this.ref, start, stop, this.owner, plan.requestBytes, end);
      if (reached < stop) this.window.issuedTo(reached);
    }
    return parts;
  }

  /**
   * The blocks holding [position, end), each one's range buffer held (the caller releases `held`), with the
   * offset of `position` in the first. Demands them, steers the window and the read-ahead on the way.
   */
  private async blocksFor(
    position: number,
    end: number,
    signal?: AbortSignal,
  ): Promise<{ blocks: Buffer[]; offset: number; held: Buffer[] }> {
    const ready = this.fetcher.whenReady();
    if (ready) await ready;
    const bs = this.blockSize;
    const first = Math.floor(position / bs);
    const demanded: Demand[] = [];
    const parts = this.plan(position, end, demanded);
    // Hold every block's range buffer until the caller is done with its bytes: cached blocks now, fetched
    // ones as soon as their fetch resolves (before the fetch's own hold ends, range-pool.ts).
    const held: Buffer[] = [];
    let finished = false; // a fetch resolving after an abort ended this read must not take a hold
    const hold = (b: Buffer): Buffer => {
      if (!finished) {
        this.pool.retain(b);
        held.push(b);
      }
      return b;
    };
    const mine = parts.map((p): BlockPart => (p instanceof Buffer ? hold(p) : (p as Promise<Buffer>).then(hold)));
    try {
      const blocks = mine.every((p): p is Buffer => p instanceof Buffer) ? mine : await waitAll(mine, signal);
      return { blocks, offset: position - first * bs, held };
    } catch (e) {
      for (const b of held) this.pool.release(b);
      throw e;
    } finally {
      finished = true;
      this.fetcher.undemand(demanded);
    }
  }

  /** Validates a read; the end of the range clipped to the file size. */
  private check(position: number, length: number): number {
    if (this.closed) throw new FsError('EBADF', 'read on a closed handle');
    if (!Number.isSafeInteger(position) || position < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new FsError('EINVAL', `bad read range ${position}+${length}`);
    }
    return Math.min(this.ref.size, position + length);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fetcher.release(this.owner);
    this.reader.onClosed(this);
  }
}

/** All parts, rejecting early with the signal's reason when it aborts (the fetches continue for others). */
function waitAll(parts: BlockPart[], signal?: AbortSignal): Promise<Buffer[]> {
  const all = Promise.all(parts);
  if (!signal) return all;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    all.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Views of [offset, offset+length) across consecutive blocks (no copy). */
function sliceOut(blocks: Buffer[], offset: number, length: number): Buffer[] {
  const views: Buffer[] = [];
  let left = length;
  let off = offset;
  for (const b of blocks) {
    if (left <= 0) break;
    const n = Math.min(b.length - off, left);
    if (n > 0) views.push(b.subarray(off, off + n));
    left -= n;
    off = 0;
  }
  if (left !== 0) throw new FsError('EIO', `assembled ${length - left} of ${length} bytes`);
  return views;
}

/** Copies [offset, offset+length) across consecutive blocks into `out`; returns the bytes copied. A reply
 * buffer the binding already detached (the request timed out) takes 0 bytes: the result is then short. */
function copyOut(blocks: Buffer[], offset: number, length: number, out: Buffer): number {
  let written = 0;
  let off = offset;
  for (const b of blocks) {
    if (written >= out.length) break;
    written += b.copy(out, written, off, Math.min(b.length, off + length - written));
    off = 0;
    if (written === length) break;
  }
  if (written !== length && out.length >= length) throw new FsError('EIO', `assembled ${written} of ${length} bytes`);
  return written;
}
