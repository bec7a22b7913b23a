import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { FsError, type FsErrorKind } from '../../../src/core/errors.js';
import { errnoOf, negErrno } from '../../../src/fuse/errno.js';

// Every kind in core/errors.ts; the type below fails to compile when a kind is added and not listed here.
const ALL = {
  ENOENT: 1,
  EEXIST: 1,
  ENOTDIR: 1,
  EISDIR: 1,
  ENOTEMPTY: 1,
  EINVAL: 1,
  ENAMETOOLONG: 1,
  EACCES: 1,
  EPERM: 1,
  EROFS: 1,
  ENOSPC: 1,
  EFBIG: 1,
  EIO: 1,
  ETIMEDOUT: 1,
  ENOTSUP: 1,
  EXDEV: 1,
  EBADF: 1,
  EAGAIN: 1,
  ENOSYS: 1,
  EBUSY: 1,
  EDQUOT: 1,
} satisfies Record<FsErrorKind, 1>;

describe('fuse/errno', () => {
  it('maps every FsErrorKind to the platform errno of the same name', () => {
    for (const kind of Object.keys(ALL) as FsErrorKind[]) {
      const want = (constants.errno as Record<string, number>)[kind];
      expect(errnoOf(kind), kind).toBe(want);
      expect(errnoOf(kind)).toBeGreaterThan(0);
    }
  });

  it('negErrno: FsError → -errno, anything else → -EIO', () => {
    expect(negErrno(new FsError('ENOENT', 'x'))).toBe(-constants.errno.ENOENT);
    expect(negErrno(new Error('boom'))).toBe(-constants.errno.EIO);
    expect(negErrno('string')).toBe(-constants.errno.EIO);
    expect(negErrno(undefined)).toBe(-constants.errno.EIO);
  });
});
