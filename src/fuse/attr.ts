// Translation of Vfs values to fuse-native's shapes: Stat → stat object, StatFs → statfs object, and the
// utimens time arguments back. Pure functions, no I/O.
// Invariants: mode always carries exactly one of S_IFDIR / S_IFREG; statfs counts fit in 32 bits
// (fuse-native 2.2.6 passes statfs fields as uint32, so 2^33 blocks would arrive as 0).

import { constants } from 'node:fs';
import type { Stat, StatFs } from '../vfs/types.js';

const S_IFDIR = constants.S_IFDIR ?? 0o040000;
const S_IFREG = constants.S_IFREG ?? 0o100000;
const UINT32_MAX = 0xffff_ffff;
/** Base statfs block size: 1 MiB keeps counts below 2^32 up to 4 PiB; larger totals scale it up. */
const BASE_FRSIZE = 1 << 20;
/** st_blksize: the I/O size we like (the kernel sends at most 128 KiB per request anyway). */
const PREFERRED_IO = 128 * 1024;

export interface FuseStat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  dev: number;
  nlink: number;
  ino: number;
  rdev: number;
  blksize: number;
  blocks: number;
  atime: number;
  mtime: number;
  ctime: number;
}

export interface FuseStatFs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  fsid: number;
  flag: number;
  namemax: number;
}

export function toFuseStat(st: Stat): FuseStat {
  return {
    mode: (st.isDir ? S_IFDIR : S_IFREG) | (st.perm & 0o7777),
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    dev: 0,
    nlink: st.nlink,
    ino: st.ino,
    rdev: 0,
    blksize: PREFERRED_IO,
    blocks: Math.ceil(st.size / 512),
    atime: st.atimeMs,
    mtime: st.mtimeMs,
    ctime: st.ctimeMs,
  };
}

/** Smallest power-of-two block size ≥ 1 MiB for which every byte count fits in 32 bits. */
export function statfsBlockSize(totalBytes: number): number {
  let bs = BASE_FRSIZE;
  while (Math.ceil(totalBytes / bs) > UINT32_MAX) bs *= 2;
  return bs;
}

export function toFuseStatFs(s: StatFs): FuseStatFs {
  const bs = statfsBlockSize(Math.max(s.total, s.used, s.free));
  const clamp = (n: number) => Math.min(UINT32_MAX, Math.max(0, Math.floor(n)));
  const free = clamp(s.free / bs);
  return {
    bsize: bs,
    frsize: bs,
    blocks: clamp(Math.ceil(s.total / bs)),
    bfree: free,
    bavail: free,
    files: clamp(s.files),
    ffree: clamp(s.filesFree),
    favail: clamp(s.filesFree),
    fsid: 0,
    flag: 0,
    namemax: clamp(s.nameMax),
  };
}

/**
 * utimens times as the patched binding delivers them: ms since the epoch, or null for UTIME_OMIT
 * ("leave this one alone"). Returns the ms to store, filling an omitted time from the current stat.
 */
export function resolveTimes(
  atimeMs: number | null,
  mtimeMs: number | null,
  current: () => Promise<Stat>,
): Promise<[number, number]> {
  if (atimeMs !== null && mtimeMs !== null) return Promise.resolve([atimeMs, mtimeMs]);
  return current().then((st) => [atimeMs ?? st.atimeMs, mtimeMs ?? st.mtimeMs]);
}
