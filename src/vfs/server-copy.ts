// Server-side copy for copy_file_range (and WebDAV COPY): the decision whether a copy request can be made on
// the server instead of through the kernel's read/write copy (decideCopy, pure), the bookkeeping of a copy in
// progress, and the request itself (copyFileRange: the copy made through the writeback's fill).
//
// The rule (docs/SEMANTICS.md, "Server-side copy"): the whole of a remote file with a known MD5, copied into
// a new or emptied file of the same mount from offset 0 to offset 0, is copied on the server; the
// destination then is a normal uploaded node. Anything else answers ENOTSUP (EOPNOTSUPP), on which the
// kernel (fuse_copy_file_range → splice_copy_file_range) copies through read/write itself, and coreutils cp
// falls back to read/write on older kernels. ENOSYS is never answered: the kernel would switch the op off
// for the mount's lifetime.
//
// Files over 4 GiB: one FUSE request carries at most UINT_MAX & PAGE_MASK bytes (the reply's size is 32
// bits), so `cp` sends several. The first (offsets 0, len at that cap) copies the whole file; each later one
// at the offset reached so far is confirmed without a server call. A caller that stops after the first
// request gets the whole file (the price of copying on the server; documented).
//
// Invariants: decideCopy is pure; nothing here answers before the copy is committed in the store (ls,
// rename and unlink see a normal node at once); a copy whose destination changed while it was made is
// trashed and the request falls back.

import { FsError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { NodeStore } from '../meta/node-store.js';
import type { Handle } from './handles.js';
import type { RemoteCopyPort } from './ports.js';
import type { Writeback } from './writeback.js';

/** The smallest per-request cap a kernel applies (UINT_MAX & PAGE_MASK, 64 KiB pages; 4 KiB: 2^32 - 4096). */
export const KERNEL_COPY_CAP_MIN = 2 ** 32 - 2 ** 16;

export interface CopySourceState {
  ino: number;
  remoteId: string | null;
  md5: string | null;
  size: number;
  /** the source has local content (written, or not uploaded yet) */
  local: boolean;
}

export interface CopyDestState {
  ino: number;
  /** an empty file written through this handle only, with nothing journaled (Writeback.emptyForCopy) */
  empty: boolean;
  /** the destination's folder exists remotely */
  parentRemote: boolean;
}

/** What this handle already got by a server-side copy (the confirmation of later requests). */
export interface CopiedState {
  srcIno: number;
  size: number;
  /** bytes confirmed so far (kernel offsets) */
  done: number;
}

export interface CopyRange {
  offIn: number;
  offOut: number;
  len: number;
}

export type CopyDecision =
  | { kind: 'copy'; bytes: number }
  | { kind: 'confirm'; bytes: number }
  | { kind: 'fallback'; why: string };

export function decideCopy(
  src: CopySourceState,
  dst: CopyDestState,
  r: CopyRange,
  copied: CopiedState | undefined,
): CopyDecision {
  if (copied) {
    if (copied.srcIno === src.ino && r.offIn === copied.done && r.offOut === copied.done)
      return { kind: 'confirm', bytes: Math.max(0, Math.min(r.len, copied.size - r.offIn)) };
    return { kind: 'fallback', why: 'not the continuation of the server-side copy this handle made' };
  }
  if (src.ino === dst.ino) return { kind: 'fallback', why: 'source and destination are one file' };
  if (r.offIn !== 0 || r.offOut !== 0) return { kind: 'fallback', why: 'a range not starting at 0' };
  if (src.local || src.remoteId === null) return { kind: 'fallback', why: 'the source is not uploaded yet' };
  if (!src.md5) return { kind: 'fallback', why: 'the MD5 of the source is unknown' };
  if (src.size === 0) return { kind: 'fallback', why: 'an empty source' };
  if (r.len < src.size && r.len < KERNEL_COPY_CAP_MIN) return { kind: 'fallback', why: 'a part of the source' };
  if (!dst.empty) return { kind: 'fallback', why: 'the destination has data or other users' };
  if (!dst.parentRemote) return { kind: 'fallback', why: 'the destination folder is not uploaded yet' };
  return { kind: 'copy', bytes: Math.min(r.len, src.size) };
}

/** The answer that makes the kernel copy through read/write itself. */
export function fallbackError(path: string, why: string): FsError {
  return new FsError('ENOTSUP', `${path}: no server-side copy (${why}); the kernel copies through read/write`);
}

export interface CopyDeps {
  store: NodeStore;
  writeback: Writeback;
  /** without it every copy goes through read/write */
  copier?: RemoteCopyPort;
  logger: Logger;
}

/**
 * One copy_file_range request from handle `hi` into handle `ho` (open for writing): the byte count the
 * kernel asked for when the copy was made (or confirmed) on the server; ENOTSUP (fallbackError) otherwise.
 * On success `ho` holds the copied state and no local content.
 */
export async function copyFileRange(
  deps: CopyDeps,
  hi: Handle,
  ho: Handle,
  paths: { in: string; out: string },
  r: CopyRange,
): Promise<number> {
  const { store, writeback, logger } = deps;
  const pathOut = paths.out;
  const srcRow = store.get(hi.ino);
  const dstRow = store.get(ho.ino);
  if (!srcRow || !dstRow) throw fallbackError(pathOut, 'the source or the destination is gone');
  const dstParent = dstRow.parentIno === null ? undefined : store.get(dstRow.parentIno);
  const d = decideCopy(
    {
      ino: hi.ino,
      remoteId: srcRow.remoteId,
      md5: srcRow.md5,
      size: srcRow.size,
      local: !!hi.local || writeback.get(hi.ino) !== undefined || srcRow.dirty,
    },
    { ino: ho.ino, empty: !!ho.local && writeback.emptyForCopy(ho.local), parentRemote: !!dstParent?.remoteId },
    r,
    ho.copied,
  );
  if (d.kind === 'confirm') {
    ho.copied!.done += d.bytes;
    return d.bytes;
  }
  if (d.kind === 'fallback') throw fallbackError(pathOut, d.why);
  const copier = deps.copier;
  if (!copier) throw fallbackError(pathOut, 'server-side copies are off');
  const src = { id: srcRow.remoteId!, name: srcRow.name, md5: srcRow.md5!, size: srcRow.size };
  const target = { parentIno: dstRow.parentIno, name: dstRow.name };
  const to = { parentId: dstParent!.remoteId!, name: target.name };
  let made: { fileId: string; via: string } | undefined;
  const outcome = await writeback
    .fillByServerCopy(
      ho.local!,
      async () => {
        await writeback.renaming(ho.ino, to);
        made = await copier.copy(src, to, dstRow.remoteId !== null);
        return { fileId: made.fileId, md5: src.md5, size: src.size };
      },
      () => {
        const now = store.get(ho.ino);
        return now?.parentIno === target.parentIno && now.name === target.name;
      },
    )
    .catch((e: unknown) => {
      logger.warn(
        { op: 'copy_file_range', from: paths.in, path: pathOut, err: String(e) },
        'server-side copy failed; the kernel copies through read/write',
      );
      throw fallbackError(pathOut, 'the server-side copy failed');
    });
  if (outcome !== 'done') {
    if (made) {
      const id = made.fileId;
      await copier
        .trash(id)
        .catch((e) => logger.warn({ op: 'copy_file_range', fileId: id, err: String(e) }, 'trash failed'));
    }
    throw fallbackError(pathOut, 'the destination changed while it was copied');
  }
  ho.local = undefined;
  ho.copied = { srcIno: hi.ino, size: src.size, done: d.bytes };
  logger.info(
    { op: 'copy_file_range', from: paths.in, path: pathOut, size: src.size, via: made?.via },
    'copied on the server',
  );
  return d.bytes;
}
