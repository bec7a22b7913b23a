// Block fetching shared by every handle of a FileReader: memory cache → in-flight → disk cache → source.
// Owns the in-flight table (single flight per block key), request coalescing (a run of missing blocks is
// one ranged read of up to maxRequestBytes), the concurrency/in-flight-bytes limits for read-ahead, and
// cancellation.
// Invariants:
//  - at most one fetch (network or disk) per block key at a time; later callers join it;
//  - a demand fetch whose first block starts before the read starts at the read's page instead (after a
//    jump, the bytes ahead of the read in its block cost up to 252 KiB of transfer before its own: 56 ms
//    at 4 MB/s, issue 13): that block is headless, [block start, page) is never fetched. A headless block
//    is never cached (memory or disk) and is in flight only in `partials`, where a read joins it only if
//    it needs no byte before the page; any other read fetches the block itself (whole: a block is fetched
//    headless at most once in a while, so a reader going back and forth in it gets it cached). Its range
//    buffer keeps the block-aligned layout and the whole range's size (in-flight bytes count it): the
//    head's bytes there are unset, and no one who could read them is ever handed the block;
//  - a block enters the memory/disk cache only after its whole range arrived with the exact length, and
//    only if the file was not dropped meanwhile; a failure caches nothing and clears its in-flight
//    entries, so the next read retries;
//  - cached blocks are views into the range buffer (no copy); the block cache charges and bounds the
//    memory those views pin, and copies out a block that would keep a mostly evicted response alive;
//  - a fetch is aborted when every owner (handle that started or joined it) has released it;
//  - read-ahead respects maxConcurrentFetches and maxInflightBytes; demand reads are never held back;
//  - in-flight bytes are the memory the fetches hold, not the bytes they asked for: a range of at least
//    half a pooled buffer takes (and counts) a whole one, a smaller range its own buffer of its exact size
//    (8 streams ramping up in 256 KiB-1 MiB requests held 4 MiB buffers each: ~4x what was counted, issue
//    19's 343 MiB peak). One Prefetcher serves every handle of the daemon (FUSE and WebDAV), so the
//    limit is a budget shared by all streams.

import { FsError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { BlockCache } from './block-cache.js';
import { blockKey, blockLength, filePrefix, PAGE_BYTES } from './blocks.js';
import type { DiskCache } from './disk-cache.js';
import type { RangePool } from './range-pool.js';
import type { FileRef, RangeSource } from './range-source.js';

/** 4 MiB per request: a full default window (32 MiB) is then 8 requests in flight, twice the connections a
 * link needs when one connection carries a quarter of it, so one connection's first-byte gap between
 * requests is covered by the others (fake time, 30 ms / 25 MB/s per connection / 100 MB/s: steady state
 * 0.92 of the link with 8 MiB, 0.99 with 4 MiB; 50 ms / 10 / 100 MB/s: 0.38 → 0.72). Still large enough
 * that per-request latency is amortised on loopback. */
export const DEFAULT_MAX_REQUEST_BYTES = 4 << 20;
/** 16 requests in flight: 64 MiB at 4 MiB each, a full 64 MiB read-ahead window (a large memory cache). */
export const DEFAULT_MAX_CONCURRENT_FETCHES = 16;
/** Headless fetches remembered (block keys, oldest forgotten first): a later miss of one is fetched whole. */
const HEADLESS_MEMORY = 4096;

interface Job {
  readonly ctrl: AbortController;
  readonly owners: Set<FetchOwner>;
  /** byte range of the request, from its first block's start */
  readonly start: number;
  readonly length: number;
  /** [start, start+skip) is not fetched (a headless first block; 0: a whole range) */
  readonly skip: number;
  /** reads waiting on this range right now: a jump never cancels it while one is (cancelAhead) */
  demands: number;
  /** the (pooled) buffer the source fills; with it, reads are answered from the bytes already in */
  readonly buf: Buffer | undefined;
  /** bytes of buf from skip up to filled are final (RangeSource onProgress) */
  filled: number;
  /** reads waiting for part of this range: resolved as soon as their bytes are in */
  readonly waiters: Waiter[];
}

interface Waiter {
  /** filled must reach this (relative to job.start) */
  need: number;
  /** the block's offset and length within the range */
  off: number;
  len: number;
  resolve(b: Buffer): void;
  reject(e: unknown): void;
}

interface Pending {
  readonly promise: Promise<Buffer>;
  readonly job: Job | null; // null for a disk load (never aborted; at most 16 read at once, disk-cache.ts)
}

/** One per read handle: the fetches it started or joined, released together when it closes. */
export class FetchOwner {
  readonly jobs = new Set<Job>();
}

export interface PrefetcherOptions {
  blockSize: number;
  maxRequestBytes: number;
  maxConcurrentFetches: number;
  maxInflightBytes: number;
  /** read-ahead blocks at or past this offset are not written to the disk cache (demand blocks always are) */
  streamHeadBytes?: number;
  /** ranges of half to all of pool.bufferBytes are received into pooled buffers (range-pool.ts), others
   * into a buffer of their own size */
  pool?: RangePool;
  logger: Logger;
}

export type BlockPart = Buffer | Promise<Buffer>;
/** An in-flight range a read waits on (opaque outside the prefetcher): see demand() / undemand(). */
export type Demand = object;

const noop = (): void => undefined;

export class Prefetcher {
  private readonly inflight = new Map<string, Pending>();
  /** headless first blocks in flight, by block key (only reads needing no byte before job.skip join) */
  private readonly partials = new Map<string, Pending>();
  /** block keys fetched headless lately, oldest first: the next fetch of one is whole */
  private readonly headless = new Set<string>();
  private readonly generation = new Map<string, number>();
  private readonly jobs = new Set<Job>();
  private activeFetches = 0;
  private inflightBytes = 0;
  private diskReady: boolean;
  private closed = false;
  private s = { fetchRequests: 0, bytesFetched: 0, fetchErrors: 0, fetchesAborted: 0, fetchesCancelled: 0 };

  constructor(
    private readonly source: RangeSource,
    private readonly mem: BlockCache,
    private readonly disk: DiskCache | null,
    private readonly o: PrefetcherOptions,
  ) {
    this.diskReady = !disk?.enabled;
    void disk?.ready.then(() => {
      this.diskReady = true;
    });
  }

  /** Resolves when lookups may consult the disk cache (immediately if there is none). */
  whenReady(): Promise<void> | null {
    return this.diskReady ? null : this.disk!.ready;
  }

  /**
   * The blocks [first, last] of ref for a read that needs them now: cached Buffers or promises. With the
   * read's byte range [pos, end), a block still arriving resolves as soon as the read's own bytes are in
   * (a view of the range buffer whose bytes past them may not be final yet: copy only [pos, end)).
   */
  demand(
    ref: FileRef,
    first: number,
    last: number,
    owner: FetchOwner,
    pos?: number,
    end?: number,
    held?: Demand[],
  ): BlockPart[] {
    const bs = this.o.blockSize;
    const parts: (BlockPart | undefined)[] = [];
    for (let i = first; i <= last; i++) {
      const key = blockKey(ref, i);
      const need = Math.max(i * bs, pos ?? 0); // the first byte of block i the read needs
      parts.push(this.mem.get(key) ?? this.lookup(ref, i, owner, true) ?? this.joinPartial(key, need, owner));
    }
    let runStart = -1;
    for (let i = first; i <= last + 1; i++) {
      if (i <= last && parts[i - first] === undefined) {
        if (runStart < 0) runStart = i;
        continue;
      }
      // a run starting in the read's first block starts at the read's page (see the header)
      if (runStart >= 0)
        this.fetchRun(ref, runStart, i - 1, owner, true, undefined, runStart === first ? pos : undefined);
      runStart = -1;
    }
    return parts.map((p, k) => {
      if (p instanceof Buffer) return p;
      const key = blockKey(ref, first + k);
      const pending = this.inflight.get(key) ?? this.partials.get(key);
      const job = pending?.job;
      if (!job) return p ?? pending!.promise;
      if (held) {
        job.demands++; // a read waits on it: never cancelled by a jump until undemand()
        held.push(job);
      }
      return pos !== undefined && end !== undefined && job.buf
        ? this.partial(job, ref, first + k, end)
        : (p ?? pending.promise);
    });
  }

  /** Block `index` of an in-flight job, as soon as its bytes up to `end` (file offset) are in. */
  private partial(job: Job, ref: FileRef, index: number, end: number): Promise<Buffer> {
    const bs = this.o.blockSize;
    const off = index * bs - job.start;
    const len = blockLength(ref.size, bs, index);
    const need = Math.min(end, index * bs + len) - job.start;
    if (job.filled >= need) return Promise.resolve(job.buf!.subarray(off, off + len));
    return new Promise<Buffer>((resolve, reject) => job.waiters.push({ need, off, len, resolve, reject }));
  }

  /** The read that demand() gave these to has finished. */
  undemand(held: Demand[]): void {
    for (const job of held as Job[]) job.demands--;
  }

  /**
   * The handle jumped: its ranges outside [keepStart, keepEnd) that no read is waiting on are of no use
   * now. The handle lets go of them; a range no other handle holds is aborted.
   */
  cancelAhead(owner: FetchOwner, keepStart: number, keepEnd: number): void {
    for (const job of owner.jobs) {
      if (job.demands > 0 || (job.start < keepEnd && job.start + job.length > keepStart)) continue;
      job.owners.delete(owner);
      owner.jobs.delete(job);
      if (job.owners.size === 0) {
        this.s.fetchesCancelled++;
        job.ctrl.abort(new FsError('EIO', 'read-ahead cancelled by a seek'));
      }
    }
  }

  /** Read-ahead for byte range [start, end) (block aligned), in requests of ≤ requestBytes (and ≤
   * maxRequestBytes). Returns how far it got within the limits. Bytes before `from` (the reader's
   * position) are not wanted: a headless block in flight that has every byte from there counts. */
  prefetch(ref: FileRef, start: number, end: number, owner: FetchOwner, requestBytes?: number, from = 0): number {
    const bs = this.o.blockSize;
    const first = Math.floor(start / bs);
    const last = Math.ceil(end / bs) - 1;
    let runStart = -1;
    for (let i = first; i <= last + 1; i++) {
      const key = blockKey(ref, i);
      const present =
        i > last ||
        this.mem.has(key) ||
        this.lookup(ref, i, owner, false) !== undefined ||
        this.joinPartial(key, Math.max(i * bs, from), owner) !== undefined;
      if (!present) {
        if (runStart < 0) runStart = i;
        continue;
      }
      if (runStart < 0) continue;
      const stopped = this.fetchRun(ref, runStart, i - 1, owner, false, requestBytes);
      if (stopped >= 0) return stopped * bs;
      runStart = -1;
    }
    return end;
  }

  /** The handle is gone: abort every fetch no other handle is interested in. */
  release(owner: FetchOwner): void {
    for (const job of owner.jobs) {
      job.owners.delete(owner);
      if (job.owners.size === 0) {
        this.s.fetchesAborted++;
        job.ctrl.abort(new FsError('EIO', 'read handle closed'));
      }
    }
    owner.jobs.clear();
  }

  /** Forget everything about a file id: cached blocks, in-flight entries (results will not be cached). */
  dropFile(fileId: string): void {
    this.generation.set(fileId, (this.generation.get(fileId) ?? 0) + 1);
    const prefix = filePrefix(fileId);
    for (const key of [...this.inflight.keys()]) if (key.startsWith(prefix)) this.inflight.delete(key);
    for (const key of [...this.partials.keys()]) if (key.startsWith(prefix)) this.partials.delete(key);
    this.mem.dropFile(fileId);
    this.disk?.dropFile(fileId);
  }

  close(): void {
    this.closed = true;
    for (const job of this.jobs) job.ctrl.abort(new FsError('EIO', 'reader closed'));
  }

  stats() {
    return { ...this.s, inflightFetches: this.activeFetches, inflightBytes: this.inflightBytes };
  }

  /** Joins an in-flight fetch of the block, or starts a disk load; undefined when neither applies. `urgent`: a
   * read waits for the block now (a disk load of it queued as read-ahead goes first then). */
  private lookup(ref: FileRef, index: number, owner: FetchOwner, urgent: boolean): Promise<Buffer> | undefined {
    const key = blockKey(ref, index);
    const p = this.inflight.get(key);
    if (p?.job?.ctrl.signal.aborted) this.inflight.delete(key);
    else if (p) {
      if (p.job) {
        p.job.owners.add(owner);
        owner.jobs.add(p.job);
      } else if (urgent) this.disk?.expedite(ref, index);
      return p.promise;
    }
    return this.disk?.has(ref, index) ? this.loadFromDisk(ref, index, owner, urgent) : undefined;
  }

  /** Joins the headless fetch of a block if it has every byte from `need` (file offset) on. */
  private joinPartial(key: string, need: number, owner: FetchOwner): Promise<Buffer> | undefined {
    const p = this.partials.get(key);
    const job = p?.job;
    if (!job || job.ctrl.signal.aborted || job.start + job.skip > need) return undefined;
    job.owners.add(owner);
    owner.jobs.add(job);
    return p.promise;
  }

  /** Fetches blocks [first, last] in requests of ≤ maxRequestBytes. For read-ahead, stops at the limits
   * and returns the first block not issued; returns -1 when everything was issued. `from`: the first byte
   * wanted (in block `first`): the first request may start at its page. */
  private fetchRun(
    ref: FileRef,
    first: number,
    last: number,
    owner: FetchOwner,
    isDemand: boolean,
    requestBytes = this.o.maxRequestBytes,
    from?: number,
  ): number {
    const per = Math.max(1, Math.floor(Math.min(requestBytes, this.o.maxRequestBytes) / this.o.blockSize));
    const most = Math.max(1, Math.floor(this.o.maxRequestBytes / this.o.blockSize));
    for (let a = first, b = 0; a <= last; a = b + 1) {
      b = Math.min(last, a + per - 1);
      if (last - b < per && last - a < most) b = last; // no small remainder: the last request takes it
      const bytes = Math.min(ref.size, (b + 1) * this.o.blockSize) - a * this.o.blockSize;
      if (
        !isDemand &&
        (this.closed ||
          this.activeFetches >= this.o.maxConcurrentFetches ||
          this.inflightBytes + this.held(bytes) > this.o.maxInflightBytes)
      )
        return a;
      this.startFetch(
        ref,
        a,
        b,
        owner,
        isDemand || a * this.o.blockSize < (this.o.streamHeadBytes ?? Number.MAX_SAFE_INTEGER),
        a === first ? from : undefined,
      );
    }
    return -1;
  }

  /** Memory a fetch of `length` bytes holds while in flight: see pooled(). */
  private held(length: number): number {
    return this.pooled(length) ? this.o.pool!.bufferBytes : length;
  }

  /** A range of at least half a pooled buffer is received into one (reused, so no page faults on fresh
   * memory); a smaller one into a buffer of its own size, so a 256 KiB range does not hold 4 MiB. */
  private pooled(length: number): boolean {
    const pool = this.o.pool;
    return pool !== undefined && length <= pool.bufferBytes && length * 2 >= pool.bufferBytes;
  }

  /** Fetches blocks [first, last] as one range; from `from`'s page on when given and inside block
   * `first` (a headless first block, see the header), unless that block was fetched headless lately. */
  private startFetch(
    ref: FileRef,
    first: number,
    last: number,
    owner: FetchOwner,
    toDisk: boolean,
    from?: number,
  ): void {
    const bs = this.o.blockSize;
    const start = first * bs;
    const length = Math.min(ref.size, (last + 1) * bs) - start;
    const key0 = blockKey(ref, first);
    const page = from === undefined ? 0 : Math.floor((from - start) / PAGE_BYTES) * PAGE_BYTES;
    const skip = page > 0 && page < blockLength(ref.size, bs, first) && !this.headless.has(key0) ? page : 0;
    if (skip > 0) {
      this.headless.add(key0);
      if (this.headless.size > HEADLESS_MEMORY) this.headless.delete(this.headless.values().next().value!);
    }
    const pool = this.o.pool;
    // without a pool (tests) the source allocates; else a pooled buffer or one of exactly this size. The
    // buffer is laid out from the first block's start either way (a headless block's head stays unset).
    const into = !pool ? undefined : this.pooled(length) ? pool.take() : Buffer.allocUnsafeSlow(length);
    const heldBytes = into ? into.length : length;
    const job: Job = {
      ctrl: new AbortController(),
      owners: new Set([owner]),
      start,
      length,
      skip,
      demands: 0,
      buf: into,
      filled: skip,
      waiters: [],
    };
    const onProgress = (got: number): void => {
      const filled = skip + got;
      if (filled <= job.filled || job.ctrl.signal.aborted) return;
      job.filled = Math.min(filled, length);
      if (job.waiters.length === 0) return;
      const still: Waiter[] = [];
      for (const w of job.waiters) {
        if (w.need <= job.filled) w.resolve(into!.subarray(w.off, w.off + w.len));
        else still.push(w);
      }
      job.waiters.splice(0, job.waiters.length, ...still);
    };
    owner.jobs.add(job);
    this.jobs.add(job);
    this.activeFetches++;
    this.inflightBytes += heldBytes;
    this.s.fetchRequests++;
    const gen = this.generation.get(ref.id) ?? 0;
    const keys: string[] = [];
    for (let i = first; i <= last; i++) keys.push(blockKey(ref, i));
    const blocks: Buffer[] = [];
    // Cache, then clear the in-flight entries, and only then settle the block promises: a waiter that
    // retries right after a failure must start a new fetch, not join the failed one.
    const dst = skip > 0 ? into?.subarray(skip) : into;
    const want = length - skip;
    const done = new Promise<Buffer>((r) =>
      r(this.source.read(ref, start + skip, want, job.ctrl.signal, dst, into ? onProgress : undefined)),
    )
      .then(
        (buf) => {
          if (buf.length !== want)
            throw new FsError('EIO', `source returned ${buf.length} bytes for a ${want}-byte range`);
          this.s.bytesFetched += want;
          const cache = (this.generation.get(ref.id) ?? 0) === gen && !this.closed;
          const own = laidOut(buf, into, skip);
          for (let i = first; i <= last; i++) {
            const off = (i - first) * bs;
            const block = own.subarray(off, off + blockLength(ref.size, bs, i));
            blocks.push(block);
            if (cache && (i > first || skip === 0)) {
              this.mem.set(keys[i - first]!, block);
              if (toDisk) this.disk?.put(ref, i, block);
            }
          }
        },
        (err: unknown) => {
          if (!job.ctrl.signal.aborted) {
            this.s.fetchErrors++;
            this.o.logger.debug({ op: 'read', fileId: ref.id, start, length, err }, 'range fetch failed');
          }
          throw err;
        },
      )
      .finally(() => {
        // the fetch's own hold ends one macrotask later, after every waiter took its own (range-pool.ts)
        if (into) setImmediate(() => pool!.release(into));
        this.activeFetches--;
        this.inflightBytes -= heldBytes;
        this.jobs.delete(job);
        for (const o of job.owners) o.jobs.delete(job);
        for (const key of keys) if (this.inflight.get(key)?.job === job) this.inflight.delete(key);
        if (this.partials.get(key0)?.job === job) this.partials.delete(key0);
      });
    // reads still waiting on part of the range get the final blocks (the source may have answered with
    // another buffer than `into`), or the error once the in-flight entries are gone
    void done.then(
      () => {
        for (const w of job.waiters.splice(0)) w.resolve(blocks[Math.floor(w.off / bs)]!);
      },
      (err: unknown) => {
        for (const w of job.waiters.splice(0)) w.reject(err);
      },
    );
    keys.forEach((key, k) => {
      const promise = done.then(() => blocks[k]!);
      promise.catch(noop);
      (k === 0 && skip > 0 ? this.partials : this.inflight).set(key, { promise, job });
    });
  }

  private loadFromDisk(ref: FileRef, index: number, owner: FetchOwner, urgent: boolean): Promise<Buffer> {
    const key = blockKey(ref, index);
    const len = blockLength(ref.size, this.o.blockSize, index);
    const gen = this.generation.get(ref.id) ?? 0;
    const pending: Pending = {
      job: null,
      promise: this.disk!.get(ref, index, len, urgent).then((buf) => {
        if (this.inflight.get(key) === pending) this.inflight.delete(key);
        if (!buf) return this.refetch(ref, index, owner);
        if ((this.generation.get(ref.id) ?? 0) === gen) this.mem.set(key, buf);
        return buf;
      }),
    };
    pending.promise.catch(noop);
    this.inflight.set(key, pending);
    return pending.promise;
  }

  /** A disk entry vanished or was corrupt: fetch the block from the source (joining any fetch). */
  private refetch(ref: FileRef, index: number, owner: FetchOwner): Promise<Buffer> {
    const key = blockKey(ref, index);
    const cached = this.mem.get(key);
    if (cached) return Promise.resolve(cached);
    const joined = this.inflight.get(key);
    if (joined && !joined.job?.ctrl.signal.aborted) return joined.promise;
    this.startFetch(ref, index, index, owner, true); // it was on disk: keep it there
    return this.inflight.get(key)!.promise;
  }
}

/** The range's bytes laid out from its first block's start, `skip` bytes in: `into` when the source filled
 * it in place, else a buffer of the range's own (owned(); a headless block's head is left unset). */
function laidOut(buf: Buffer, into: Buffer | undefined, skip: number): Buffer {
  if (into && buf.buffer === into.buffer && buf.byteOffset === into.byteOffset + skip)
    return into.subarray(0, skip + buf.length);
  if (skip === 0) return owned(buf);
  const c = Buffer.allocUnsafeSlow(skip + buf.length);
  buf.copy(c, skip);
  return c;
}

/** buf itself when it owns exactly its memory (what pan's RangeSource returns), else one copy that does:
 * blocks are views of it, so it must not share an ArrayBuffer with unrelated data (a source may return a
 * subarray of something larger, or a small Buffer from Node's shared pool). */
function owned(buf: Buffer): Buffer {
  if (buf.byteOffset === 0 && buf.buffer.byteLength === buf.length) return buf;
  const c = Buffer.allocUnsafeSlow(buf.length);
  buf.copy(c);
  return c;
}
