// Bounded on-disk block cache under one directory (fs/promises only; nothing here blocks the event loop
// beyond a CRC of one block).
// Layout: one file per block, `<file>_<md5>_<index>_<crc32 hex>.blk`, where <file>/<md5> are the id and md5
// when they are plain [0-9A-Za-z-] and `~<sha256 prefix>` otherwise. The name is the whole index: at start
// the directory is listed and the in-memory LRU order is seeded by mtime (hits touch mtime, throttled).
// Invariants:
//  - a block file appears only by rename of a fully written temp file (`.<stem>.<rand>.tmp`), and its CRC
//    and length are checked on every read, so a crash or a torn write is a miss, never wrong bytes;
//  - the index is updated synchronously; eviction drops the entry first and unlinks afterwards, so a read
//    racing an eviction either already has the file open or sees ENOENT, which is a miss;
//  - total indexed bytes ≤ maxBytes after every insert; maxBytes 0 disables the cache (no I/O at all);
//  - writes are best effort: queued bytes are capped, beyond that a block is simply not cached on disk;
//    store() (pinning) is the exception: it waits for its write and is not capped;
//  - blocks of pinned file ids (setPinned) are never evicted: they count against maxBytes, and the caller
//    (vfs/pins.ts) refuses a pin whose data would not fit, so unpinned blocks make room for them;
//  - at most MAX_CONCURRENT_READS reads hold a block buffer at once; the others wait in a queue without
//    one, urgent ones (a reader waits) before read-ahead ones. A read's buffer is handed out before its
//    file is closed (the close queues in libuv's pool behind everything else).

import { promises as fsp } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import type { RangePool } from './range-pool.js';
import type { FileRef } from './range-source.js';

/** 32 MiB of queued writes: a slow disk costs cache misses later, not unbounded memory now. */
const MAX_PENDING_WRITE_BYTES = 32 << 20;
/** Touch a hit file's mtime at most once a minute: keeps the LRU order across restarts at low I/O cost. */
const TOUCH_INTERVAL_MS = 60_000;
/** 16 reads of a 256 KiB block at once (4 MiB): libuv's pool has 4 threads, so more would only wait there,
 * each holding its block. Unbounded, a reader starting on a file whose head is on disk asked for its whole
 * window (up to 64 MiB) at once: 57 MiB of finished reads waited for their close at a 367 MiB peak under
 * load (docs/BENCHMARKS.md, memory under load). */
export const MAX_CONCURRENT_READS = 16;
/** Parallel stats while rebuilding the index: fast on SSDs without flooding the libuv pool (4 threads). */
const SCAN_CONCURRENCY = 16;

const BLOCK_RE = /^([0-9A-Za-z~-]+)_([0-9A-Za-z~-]*)_(\d+)_([0-9a-f]{8})\.blk$/;
const TMP_RE = /^\..*\.tmp$/;

interface Entry {
  name: string;
  size: number;
  crc: number;
  touchedAt: number;
}

export interface DiskCacheOptions {
  dir: string;
  maxBytes: number;
  logger?: Logger;
  clock?: Clock;
  /** a queued write holds its block's range buffer (range-pool.ts) until it finished */
  pool?: RangePool;
}

export interface DiskCacheStats {
  hits: number;
  misses: number;
  bytes: number;
  maxBytes: number;
  files: number;
  writes: number;
  skippedWrites: number;
  errors: number;
}

function seg(s: string): string {
  return /^[0-9A-Za-z-]{0,64}$/.test(s) ? s : `~${createHash('sha256').update(s).digest('hex').slice(0, 32)}`;
}

/** The file-name stem of a block: stable across restarts, distinct per (id, md5, index). */
export function diskStem(ref: FileRef, index: number): string {
  return `${seg(ref.id)}_${seg(ref.md5)}_${index}`;
}

/** The key of one file version in bytesByFile(). */
export function cachedKey(ref: { id: string; md5: string }): string {
  return `${seg(ref.id)}_${seg(ref.md5)}`;
}

export class DiskCache {
  /** Resolves once the index is rebuilt; lookups before that wait for it. */
  readonly ready: Promise<void>;
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly log: Logger;
  private readonly clock: Clock;
  /** stem → entry; Map order is LRU order (first = least recently used). */
  private readonly index = new Map<string, Entry>();
  private readonly writing = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  private readonly dropGen = new Map<string, number>();
  private pendingBytes = 0;
  private totalBytes = 0;
  private closed = false;
  /** The directory could not be used: behave as disabled. */
  private broken = false;
  private s = { hits: 0, misses: 0, writes: 0, skippedWrites: 0, errors: 0 };
  private readonly pool: RangePool | undefined;
  /** file segments (seg(id)) whose blocks eviction skips */
  private pinned = new Set<string>();
  /** reads holding a buffer now, and those waiting for a turn (by stem; urgent first) */
  private reading = 0;
  private readonly urgentQueue = new Map<string, (() => void)[]>();
  private readonly aheadQueue = new Map<string, (() => void)[]>();

  constructor(opts: DiskCacheOptions) {
    this.dir = opts.dir;
    this.maxBytes = Math.max(0, opts.maxBytes);
    this.log = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
    this.pool = opts.pool;
    this.ready = this.maxBytes > 0 ? this.rebuild() : Promise.resolve();
  }

  get enabled(): boolean {
    return this.maxBytes > 0 && !this.closed && !this.broken;
  }

  has(ref: FileRef, index: number): boolean {
    return this.index.has(diskStem(ref, index));
  }

  /** The block's bytes, or undefined on a miss (absent, evicted meanwhile, wrong length or CRC). `urgent`: a
   * reader waits for it (read-ahead otherwise); it goes before every queued read-ahead read. */
  async get(ref: FileRef, index: number, expectedLength: number, urgent = true): Promise<Buffer | undefined> {
    if (!this.enabled) return undefined;
    await this.ready;
    const stem = diskStem(ref, index);
    if (!this.index.has(stem)) {
      this.s.misses++;
      return undefined;
    }
    await this.turn(stem, urgent);
    try {
      return await this.readBlock(stem, expectedLength);
    } finally {
      this.reading--;
      this.next();
    }
  }

  /** A reader now waits for a read-ahead read of this block still in the queue: it goes first. */
  expedite(ref: FileRef, index: number): void {
    const stem = diskStem(ref, index);
    const waiting = this.aheadQueue.get(stem);
    if (!waiting) return;
    this.aheadQueue.delete(stem);
    this.urgentQueue.set(stem, [...(this.urgentQueue.get(stem) ?? []), ...waiting]);
  }

  /** Reads waiting for a turn (for tests and status). */
  get queuedReads(): number {
    let n = 0;
    for (const q of [this.urgentQueue, this.aheadQueue]) for (const w of q.values()) n += w.length;
    return n;
  }

  /** Resolves when this read may hold a buffer: at once below the limit, else when next() gives it a turn. */
  private turn(stem: string, urgent: boolean): Promise<void> {
    if (this.reading < MAX_CONCURRENT_READS) {
      this.reading++;
      return Promise.resolve();
    }
    const queue = urgent ? this.urgentQueue : this.aheadQueue;
    return new Promise<void>((resolve) => {
      const waiting = queue.get(stem);
      if (waiting) waiting.push(resolve);
      else queue.set(stem, [resolve]);
    });
  }

  /** Gives freed turns to waiting reads, urgent ones first, each in the order it came. */
  private next(): void {
    while (this.reading < MAX_CONCURRENT_READS) {
      const queue = this.urgentQueue.size > 0 ? this.urgentQueue : this.aheadQueue;
      const first = queue.entries().next();
      if (first.done) return;
      const [stem, waiting] = first.value;
      const go = waiting.shift()!;
      if (waiting.length === 0) queue.delete(stem);
      this.reading++;
      go();
    }
  }

  private async readBlock(stem: string, expectedLength: number): Promise<Buffer | undefined> {
    const e = this.index.get(stem);
    if (!e) {
      this.s.misses++; // evicted while it waited
      return undefined;
    }
    this.index.delete(stem);
    this.index.set(stem, e);
    let buf: Buffer;
    try {
      buf = await readWhole(join(this.dir, e.name), expectedLength);
    } catch (err) {
      // ENOENT: evicted (or removed by hand) after the lookup; anything else is the disk: say so, then miss
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.s.errors++;
        this.log.warn({ op: 'disk-cache', file: e.name, err }, 'cache block unreadable, dropped; fetching it again');
      }
      this.forget(stem, e);
      this.s.misses++;
      return undefined;
    }
    if (buf.length !== expectedLength || e.size !== expectedLength || crc32(buf) >>> 0 !== e.crc) {
      this.log.warn(
        { op: 'disk-cache', file: e.name, size: buf.length, expectedLength },
        'corrupt cache block dropped',
      );
      this.s.errors++;
      this.forget(stem, e);
      this.s.misses++;
      return undefined;
    }
    this.s.hits++;
    this.touch(e);
    return buf;
  }

  /** Best-effort asynchronous store; returns immediately. `block` must not be mutated afterwards. */
  put(ref: FileRef, index: number, block: Buffer): void {
    if (!this.enabled || block.length > this.maxBytes) return;
    const stem = diskStem(ref, index);
    if (this.index.has(stem) || this.writing.has(stem)) return;
    if (this.pendingBytes + block.length > MAX_PENDING_WRITE_BYTES) {
      this.s.skippedWrites++;
      return;
    }
    const fileSeg = seg(ref.id);
    const gen = this.dropGen.get(fileSeg) ?? 0;
    this.writing.add(stem);
    this.pendingBytes += block.length;
    this.pool?.retain(block);
    const p = this.ready
      .then(() => this.write(stem, fileSeg, gen, block))
      .finally(() => {
        this.pool?.release(block);
        this.writing.delete(stem);
        this.pendingBytes -= block.length;
        this.pending.delete(p);
      });
    this.pending.add(p);
  }

  /** The file ids whose blocks are kept out of eviction (replaces the previous set). */
  setPinned(fileIds: Iterable<string>): void {
    this.pinned = new Set([...fileIds].map(seg));
  }

  get capacity(): number {
    return this.maxBytes;
  }

  /** Real on-disk bytes per file version, keyed by cachedKey(ref). */
  bytesByFile(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [stem, e] of this.index) {
      const k = stem.slice(0, stem.lastIndexOf('_'));
      out.set(k, (out.get(k) ?? 0) + e.size);
    }
    return out;
  }

  /** Writes a block and waits until it is indexed (pinning); false if the cache is off or the write failed. */
  async store(ref: FileRef, index: number, block: Buffer): Promise<boolean> {
    if (!this.enabled || block.length > this.maxBytes) return false;
    await this.ready;
    const stem = diskStem(ref, index);
    if (this.index.has(stem)) return true;
    if (this.writing.has(stem)) {
      await this.flush(); // a put() of the same block is under way
      return this.index.has(stem);
    }
    const fileSeg = seg(ref.id);
    this.writing.add(stem);
    try {
      await this.write(stem, fileSeg, this.dropGen.get(fileSeg) ?? 0, block);
    } finally {
      this.writing.delete(stem);
    }
    return this.index.has(stem);
  }

  /** Forgets (and deletes) every block of a file id, except those of `keepMd5` if given. */
  dropFile(fileId: string, keepMd5?: string): void {
    const fileSeg = seg(fileId);
    const keep = keepMd5 === undefined ? undefined : `${fileSeg}_${seg(keepMd5)}_`;
    if (keep === undefined) this.dropGen.set(fileSeg, (this.dropGen.get(fileSeg) ?? 0) + 1);
    for (const [stem, e] of this.index) {
      if (stem.startsWith(`${fileSeg}_`) && (keep === undefined || !stem.startsWith(keep))) this.forget(stem, e);
    }
  }

  /** Waits until every write queued so far has landed (or failed). */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Waits for queued writes; later puts are ignored. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.pending]);
  }

  stats(): DiskCacheStats {
    return { ...this.s, bytes: this.totalBytes, maxBytes: this.maxBytes, files: this.index.size };
  }

  private async write(stem: string, fileSeg: string, gen: number, block: Buffer): Promise<void> {
    if (this.broken || this.index.has(stem)) return;
    const crc = crc32(block) >>> 0;
    const name = `${stem}_${crc.toString(16).padStart(8, '0')}.blk`;
    const tmp = join(this.dir, `.${stem}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await fsp.writeFile(tmp, block);
      await fsp.rename(tmp, join(this.dir, name));
    } catch (err) {
      this.s.errors++;
      this.log.warn({ op: 'disk-cache', err }, 'cache write failed');
      await fsp.unlink(tmp).catch(() => undefined);
      return;
    }
    if ((this.dropGen.get(fileSeg) ?? 0) !== gen || this.index.has(stem)) {
      await fsp.unlink(join(this.dir, name)).catch(() => undefined);
      return;
    }
    this.s.writes++;
    this.insert(stem, { name, size: block.length, crc, touchedAt: this.clock.now() });
    this.evict();
  }

  private insert(stem: string, e: Entry): void {
    this.index.set(stem, e);
    this.totalBytes += e.size;
  }

  private forget(stem: string, e: Entry): void {
    if (this.index.get(stem) !== e) return;
    this.index.delete(stem);
    this.totalBytes -= e.size;
    void fsp.unlink(join(this.dir, e.name)).catch(() => undefined);
  }

  private evict(): void {
    for (const [stem, e] of this.index) {
      if (this.totalBytes <= this.maxBytes) break;
      if (this.pinned.size > 0 && this.pinned.has(stem.slice(0, stem.indexOf('_')))) continue;
      this.forget(stem, e);
    }
  }

  private touch(e: Entry): void {
    const now = this.clock.now();
    if (now - e.touchedAt < TOUCH_INTERVAL_MS) return;
    e.touchedAt = now;
    const t = new Date(now);
    void fsp.utimes(join(this.dir, e.name), t, t).catch(() => undefined);
  }

  private async rebuild(): Promise<void> {
    try {
      await fsp.mkdir(this.dir, { recursive: true });
      const names = await fsp.readdir(this.dir);
      const found: { stem: string; e: Entry; mtimeMs: number }[] = [];
      for (let i = 0; i < names.length; i += SCAN_CONCURRENCY) {
        await Promise.all(
          names.slice(i, i + SCAN_CONCURRENCY).map(async (name) => {
            const full = join(this.dir, name);
            if (TMP_RE.test(name)) {
              await fsp.unlink(full).catch(() => undefined);
              return;
            }
            const m = BLOCK_RE.exec(name);
            if (!m) return;
            const st = await fsp.stat(full).catch(() => null);
            if (!st?.isFile()) return;
            const stem = `${m[1]}_${m[2]}_${m[3]}`;
            found.push({
              stem,
              mtimeMs: st.mtimeMs,
              e: { name, size: st.size, crc: parseInt(m[4]!, 16), touchedAt: st.mtimeMs },
            });
          }),
        );
      }
      found.sort((a, b) => a.mtimeMs - b.mtimeMs);
      for (const f of found) {
        const old = this.index.get(f.stem);
        if (old) this.forget(f.stem, old);
        this.insert(f.stem, f.e);
      }
      this.evict();
      this.log.debug(
        { op: 'disk-cache', dir: this.dir, files: this.index.size, bytes: this.totalBytes },
        'disk cache index rebuilt',
      );
    } catch (err) {
      this.log.warn({ op: 'disk-cache', dir: this.dir, err }, 'disk cache unavailable; continuing without it');
      this.broken = true;
    }
  }
}

/** The first `length` bytes of a file (fewer if it is shorter), in a buffer of its own; the file is closed
 * after the buffer is handed back, not before. */
async function readWhole(path: string, length: number): Promise<Buffer> {
  const fh = await fsp.open(path, 'r');
  try {
    const buf = Buffer.allocUnsafeSlow(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await fh.read(buf, got, length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === length ? buf : buf.subarray(0, got);
  } finally {
    void fh.close().catch(() => undefined);
  }
}
