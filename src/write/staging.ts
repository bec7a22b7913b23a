// StagingFile: the local file under <cacheDir>/staging/ that holds a file's whole content while it is
// written and until its upload commits. Random writes, appends, overwrites and truncates all work.
//
// Streaming MD5: while writes are strictly sequential from 0 (each write starts at the hashed length) the
// data is fed to an md5 as it arrives, so md5() at close costs nothing. Any other write, an overwrite, or a
// truncate (except to the current size, or to 0, which restarts the hash) invalidates it; md5() then
// re-reads the file in chunks and re-arms the streaming hash from that point (a later append streams again).
//
// Invariants:
//  - every operation runs through one FIFO chain, so the hash state, `size` and the bytes on disk always
//    describe the same sequence of operations (and a read sees every write issued before it);
//  - when the hash is valid, hashedLength === chainSize (the size at the chain's current position);
//  - write() copies the caller's buffer before returning control (fuse-native reuses its buffers).
//
// Coalescing: small writes that continue one another (a `cp` through FUSE arrives as 128 KiB writes) are
// copied into one COALESCE_BYTES buffer, the "tail", which goes to disk and to the hash as one operation
// when it is full or when any other operation needs the chain (read, truncate, md5, close, a write
// elsewhere). This turns 8 disk writes, 8 hash messages and 8 chain steps into one. A write answered from
// the tail has not reached the disk yet; a failed tail flush is reported to the operation that flushed
// it and, because the bytes are then missing from the file, makes md5()/md5WithSize() fail until a
// truncate to 0 redefines the content (so a file missing bytes is never uploaded).

import { randomUUID } from 'node:crypto';
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { hashHandle, readFully } from './md5.js';
import {
  LocalHash,
  RECYCLE_BYTES,
  hashBackpressure,
  newStreamHash,
  recycledBuffer,
  type StreamHash,
} from './stream-hash.js';

export const STAGING_SUBDIR = 'staging';

/** 1 MiB: eight 128 KiB FUSE writes per disk write and per hash message; the memory is per open file. */
export const COALESCE_BYTES = RECYCLE_BYTES; // the hash worker hands these back (stream-hash.ts)

interface Tail {
  buf: Buffer;
  offset: number;
  length: number;
}

export function stagingDir(cacheDir: string): string {
  return join(cacheDir, STAGING_SUBDIR);
}

export interface StagingStats {
  /** how many times md5() had to re-read the file */
  rehashes: number;
  /** bytes re-read by those rehashes */
  rehashedBytes: number;
  /** write operations that reached the disk (gathered writes count once) */
  diskWrites: number;
}

export class StagingFile {
  private fh: FileHandle | null;
  /** logical size once every queued operation has run (updated when an operation is queued) */
  private _size: number;
  /** size as seen by the operation chain at its current position (updated when an operation runs) */
  private chainSize: number;
  /** the streaming MD5 (on the hash worker thread), or null when writes were not sequential */
  private hash: StreamHash | null;
  private hashedLength = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private _lastMd5Streamed: boolean | null = null;
  /** sequential small writes gathered but not yet queued on the chain */
  private tail: Tail | null = null;
  /** bytes handed to the chain (tail flushes and large writes) and not yet written to disk */
  private _queuedBytes = 0;
  private queueWaiters: Array<{ limit: number; resolve(): void }> = [];
  /** set when a write to disk failed: the file lacks bytes that were acknowledged; cleared by truncate(0) */
  private failure: unknown = null;
  readonly stats: StagingStats = { rehashes: 0, rehashedBytes: 0, diskWrites: 0 };

  private constructor(
    readonly path: string,
    fh: FileHandle,
    size: number,
    hashValid: boolean,
  ) {
    this.fh = fh;
    this._size = size;
    this.chainSize = size;
    this.hash = hashValid ? newStreamHash() : null;
  }

  /** A new empty staging file `<cacheDir>/staging/<hint>-<uuid>` (the hint, e.g. the inode, helps debugging). */
  static async create(cacheDir: string, hint = 'f'): Promise<StagingFile> {
    const dir = stagingDir(cacheDir);
    await mkdir(dir, { recursive: true });
    const path = join(dir, `${hint}-${randomUUID()}`);
    const fh = await open(path, 'wx+');
    return new StagingFile(path, fh, 0, true);
  }

  /** Reopen a staging file left by an earlier run (resume). Its MD5 is unknown until md5() hashes it. */
  static async fromExisting(path: string): Promise<StagingFile> {
    const fh = await open(path, 'r+');
    try {
      const { size } = await fh.stat();
      return new StagingFile(path, fh, size, size === 0);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Logical size (after every operation issued so far has been applied). */
  get size(): number {
    return this._size;
  }

  /**
   * True while the streaming hash covers the whole file (md5() will not re-read it), as of the operations
   * that have run: gathered writes count once settled() resolved.
   */
  get md5IsStreaming(): boolean {
    return this.hash !== null;
  }

  /** The first failed disk write since the content was last fully defined (truncate to 0), else null. */
  get writeFailure(): unknown {
    return this.failure;
  }

  /** Resolves once every operation issued so far (gathered writes included) has run; never rejects. */
  settled(): Promise<void> {
    this.flushTail();
    return this.run(async () => undefined);
  }

  /** Whether the last md5() result came from the streaming hash (true) or a re-read (false); null before any. */
  get lastMd5Streamed(): boolean | null {
    return this._lastMd5Streamed;
  }

  /** Writes buf at offset (the data is copied synchronously). Resolves to the number of bytes written. */
  write(buf: Buffer | Uint8Array, offset: number): Promise<number> {
    if (!Number.isSafeInteger(offset) || offset < 0) return Promise.reject(new RangeError(`bad offset ${offset}`));
    const length = buf.length;
    if (length === 0) return this.run(async () => 0);
    // the size grows at once, so a caller that does not await (write-behind) sees it in getattr
    this._size = Math.max(this._size, offset + length);
    if (length < COALESCE_BYTES) {
      const t = this.tail;
      if (t && offset === t.offset + t.length && t.length + length <= t.buf.length) {
        t.buf.set(buf, t.length);
        t.length += length;
        return t.length === t.buf.length ? this.flushTail()!.then(() => length) : Promise.resolve(length);
      }
      const flushed = this.flushTail();
      const fresh: Tail = { buf: recycledBuffer(COALESCE_BYTES), offset, length };
      fresh.buf.set(buf, 0);
      this.tail = fresh;
      return flushed ? flushed.then(() => length) : Promise.resolve(length);
    }
    this.flushTail();
    if (length === COALESCE_BYTES) {
      // copy (the caller may reuse buf as soon as we return) into a recycled buffer the hash hands back
      const data = recycledBuffer(length);
      data.set(buf, 0);
      return this.queue(data, offset, length, true);
    }
    const data = Buffer.from(buf); // copy: the caller may reuse buf as soon as we return
    return this.queue(data, offset, data.length, false);
  }

  /** Bytes accepted by write() and not yet on disk, the gathered tail excluded (at most COALESCE_BYTES more). */
  get queuedBytes(): number {
    return this._queuedBytes;
  }

  /** Resolves once queuedBytes is at most `limit` (write-behind bound for callers that do not await). */
  queuedBelow(limit: number): Promise<void> {
    if (this._queuedBytes <= limit) return Promise.resolve();
    return new Promise((resolve) => this.queueWaiters.push({ limit, resolve }));
  }

  private queue(data: Buffer, offset: number, length: number, owned: boolean): Promise<number> {
    this._queuedBytes += length;
    return this.run(async () => {
      try {
        return await this.writeNow(data, offset, length, owned);
      } finally {
        this._queuedBytes -= length;
        if (this.queueWaiters.length > 0) {
          const ready = this.queueWaiters.filter((w) => this._queuedBytes <= w.limit);
          this.queueWaiters = this.queueWaiters.filter((w) => this._queuedBytes > w.limit);
          for (const w of ready) w.resolve();
        }
      }
    });
  }

  /** Queues the tail (if any) on the chain; the returned promise settles when it is on disk. */
  private flushTail(): Promise<number> | null {
    const t = this.tail;
    if (!t) return null;
    this.tail = null;
    const p = this.queue(t.buf, t.offset, t.length, true);
    p.catch(() => undefined); // callers may drop it: the failure is kept in `failure` and reported by reads and md5
    return p;
  }

  /** Inside the chain: bytes [0, length) of data at offset, to disk and (when sequential) to the hash. */
  private async writeNow(data: Buffer, offset: number, length: number, owned: boolean): Promise<number> {
    this.chainSize = Math.max(this.chainSize, offset + length);
    const streams = this.hash !== null && offset === this.hashedLength;
    if (!streams) this.dropHash();
    this.stats.diskWrites++;
    try {
      const fh = await this.handle();
      let done = 0;
      while (done < length) {
        const { bytesWritten } = await fh.write(data, done, length - done, offset + done);
        done += bytesWritten;
      }
    } catch (e) {
      this.dropHash(); // the disk no longer matches what was hashed
      this.failure ??= e;
      throw e;
    }
    if (streams && this.hash) {
      // after the disk write: the hash may take the buffer over
      this.hash.update(length === data.length ? data : data.subarray(0, length), owned);
      this.hashedLength += length;
      await hashBackpressure();
    }
    return length;
  }

  truncate(size: number): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0) return Promise.reject(new RangeError(`bad size ${size}`));
    this._size = size;
    this.flushTail();
    return this.run(async () => {
      if (size === 0) {
        this.failure = null;
        this.dropHash();
        this.hash = newStreamHash();
        this.hashedLength = 0;
      } else if (size !== this.chainSize) {
        this.dropHash();
      }
      this.chainSize = size;
      try {
        await (await this.handle()).truncate(size);
      } catch (e) {
        this.dropHash();
        throw e;
      }
    });
  }

  /** Up to `length` bytes at `offset`; shorter (possibly empty) at end of file. */
  read(offset: number, length: number): Promise<Buffer> {
    this.flushTail();
    return this.run(async () => {
      if (this.failure) throw this.failure; // acknowledged bytes are missing: no read may pretend otherwise
      const n = Math.max(0, Math.min(length, this.chainSize - offset));
      if (n === 0) return Buffer.alloc(0);
      return readFully(await this.handle(), offset, n);
    });
  }

  /** Lower-case hex MD5 of the current content: the streamed digest when valid, else a chunked re-read. */
  md5(): Promise<string> {
    return this.md5WithSize().then((r) => r.md5);
  }

  /** MD5 and size of the content at this point of the operation chain (both describe the same bytes). */
  md5WithSize(): Promise<{ md5: string; size: number }> {
    this.flushTail();
    return this.run(async () => {
      if (this.failure) throw this.failure;
      return { md5: await this.chainMd5(), size: this.chainSize };
    });
  }

  private async chainMd5(): Promise<string> {
    {
      if (this.hash) {
        try {
          const md5 = await this.hash.digest();
          this._lastMd5Streamed = true;
          return md5;
        } catch {
          this.dropHash(); // the hash worker failed: re-read the file instead
        }
      }
      const size = this.chainSize;
      const h = await hashHandle(await this.handle(), size);
      this.stats.rehashes++;
      this.stats.rehashedBytes += size;
      // re-arm streaming from here (in this thread): a later append continues this hash
      this.hash = new LocalHash(h);
      this.hashedLength = size;
      this._lastMd5Streamed = false;
      return h.copy().digest('hex');
    }
  }

  private dropHash(): void {
    this.hash?.dispose();
    this.hash = null;
  }

  /** Closes the descriptor; the file stays (a later operation reopens it). */
  close(): Promise<void> {
    const flushed = this.flushTail();
    const closed = this.run(() => this.closeNow());
    return flushed ? Promise.all([flushed, closed]).then(() => undefined) : closed;
  }

  /** Closes and deletes the file (a missing file is fine). */
  remove(): Promise<void> {
    this.tail = null; // the content is going away
    return this.run(async () => {
      await this.closeNow();
      await unlink(this.path).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    });
  }

  /** Inside the chain: drop the descriptor and the hash stream (freeing the worker's state). */
  private async closeNow(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    this.dropHash();
    await fh?.close();
  }

  private async handle(): Promise<FileHandle> {
    if (!this.fh) this.fh = await open(this.path, 'r+');
    return this.fh;
  }

  /** FIFO: each operation starts after the previous settled (a failure does not block later ones). */
  private run<T>(op: () => Promise<T>): Promise<T> {
    const p = this.chain.then(op, op);
    this.chain = p.catch(() => undefined);
    return p;
  }
}
