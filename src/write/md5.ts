// Chunked MD5 over a file, and a file-backed SliceSource. Hashing a multi-GiB file in one synchronous
// call would block the event loop for seconds; here every chunk is one awaited read followed by one
// short hash.update, so other callbacks run between chunks.
//
// Invariants: never reads past `size`; a file shorter than expected is an error (never hash or upload a
// partial file as if it were whole).

import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';

/** 1 MiB: one hash.update of 1 MiB takes ~2 ms, short enough to keep the event loop responsive. */
export const HASH_CHUNK_BYTES = 1 << 20;

export const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

export function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/** md5Hex of a large buffer in HASH_CHUNK_BYTES steps, yielding between them (a 16 MiB slice would
 * otherwise hold the event loop — and every FUSE request — for tens of milliseconds). */
export async function md5HexYielding(data: Buffer): Promise<string> {
  const h = createHash('md5');
  for (let off = 0; off < data.length; off += HASH_CHUNK_BYTES) {
    h.update(data.subarray(off, off + HASH_CHUNK_BYTES));
    if (off + HASH_CHUNK_BYTES < data.length) await new Promise<void>((r) => setImmediate(r));
  }
  return h.digest('hex');
}

/** Reads exactly `length` bytes at `offset` (fewer only at EOF), into `into` when given (≥ length bytes). */
export async function readFully(fh: FileHandle, offset: number, length: number, into?: Buffer): Promise<Buffer> {
  const buf = into ? into.subarray(0, length) : Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** Feeds bytes [0, size) of an open file into `hash` in chunks; throws if the file is shorter. */
export async function hashHandle(
  fh: FileHandle,
  size: number,
  hash: Hash = createHash('md5'),
  signal?: AbortSignal,
): Promise<Hash> {
  for (let off = 0; off < size; off += HASH_CHUNK_BYTES) {
    signal?.throwIfAborted();
    const want = Math.min(HASH_CHUNK_BYTES, size - off);
    const chunk = await readFully(fh, off, want);
    if (chunk.length !== want)
      throw new Error(`file shrank while hashing: expected ${size} bytes, got ${off + chunk.length}`);
    hash.update(chunk);
  }
  return hash;
}

/** MD5 (lower-case hex) of the first `size` bytes of the file at `path` (default: its whole length). */
export async function md5OfFile(path: string, size?: number, signal?: AbortSignal): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const len = size ?? (await fh.stat()).size;
    return (await hashHandle(fh, len, undefined, signal)).digest('hex');
  } finally {
    await fh.close();
  }
}

/** What uploadFile reads slices from; with `into` (≥ length bytes) the bytes go there (a SliceMemory buffer). */
export interface SliceSource {
  read(offset: number, length: number, into?: Buffer): Promise<Buffer>;
}

/** A read-only SliceSource over a local file (a staging file being uploaded). */
export class FileSliceSource implements SliceSource {
  private constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    /** the file's size on disk (more than `size` when opened with a limit) */
    readonly fileSize: number,
  ) {}

  /** The file, or only its first `limit` bytes. */
  static async open(path: string, limit = Number.POSITIVE_INFINITY): Promise<FileSliceSource> {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      return new FileSliceSource(fh, Math.min(size, limit), size);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    const buf = await readFully(this.fh, offset, length, into);
    if (buf.length !== length)
      throw new Error(`short read at ${offset}: wanted ${length} bytes, got ${buf.length} (file changed?)`);
    return buf;
  }

  md5(signal?: AbortSignal): Promise<string> {
    return hashHandle(this.fh, this.size, undefined, signal).then((h) => h.digest('hex'));
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
