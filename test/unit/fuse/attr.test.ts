import { constants } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveTimes, statfsBlockSize, toFuseStat, toFuseStatFs } from '../../../src/fuse/attr.js';
import type { Stat } from '../../../src/vfs/types.js';

const base: Stat = {
  ino: 7,
  isDir: false,
  size: 1025,
  perm: 0o644,
  uid: 1000,
  gid: 100,
  nlink: 1,
  mtimeMs: 2000,
  ctimeMs: 3000,
  atimeMs: 1000,
};

describe('fuse/attr', () => {
  it('file stat: S_IFREG | perm, blocks = ceil(size/512), ms times', () => {
    const s = toFuseStat(base);
    expect(s.mode).toBe(constants.S_IFREG | 0o644);
    expect(s.blocks).toBe(3);
    expect([s.atime, s.mtime, s.ctime]).toEqual([1000, 2000, 3000]);
    expect([s.ino, s.uid, s.gid, s.size]).toEqual([7, 1000, 100, 1025]);
  });

  it('dir stat: S_IFDIR, file-type bits in perm are ignored', () => {
    const s = toFuseStat({ ...base, isDir: true, perm: 0o100755 });
    expect(s.mode).toBe(constants.S_IFDIR | 0o755);
  });

  it('statfs counts fit in 32 bits for a 10 PiB account', () => {
    const total = 10 * 2 ** 50;
    const s = toFuseStatFs({ total, used: 2 ** 40, free: total - 2 ** 40, files: 5, filesFree: 2 ** 40, nameMax: 255 });
    for (const k of ['blocks', 'bfree', 'bavail', 'files', 'ffree', 'favail'] as const)
      expect(s[k]).toBeLessThan(2 ** 32);
    expect(s.bsize).toBe(s.frsize);
    expect(s.blocks * s.frsize).toBeGreaterThanOrEqual(total);
    expect(s.bfree * s.frsize).toBeLessThanOrEqual(total - 2 ** 40);
    expect(s.namemax).toBe(255);
  });

  it('statfs block size is 1 MiB for ordinary totals', () => {
    expect(statfsBlockSize(2 * 2 ** 40)).toBe(1 << 20);
    expect(statfsBlockSize(2 ** 60)).toBeGreaterThan(1 << 20);
  });

  it('resolveTimes fills an omitted (null) time from the current stat', async () => {
    await expect(resolveTimes(5, 6, () => Promise.reject(new Error('not needed')))).resolves.toEqual([5, 6]);
    await expect(resolveTimes(null, 6, async () => base)).resolves.toEqual([1000, 6]);
    await expect(resolveTimes(5, null, async () => base)).resolves.toEqual([5, 2000]);
  });
});
