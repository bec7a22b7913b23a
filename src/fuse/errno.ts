// The only errno table. Maps every FsErrorKind to the platform's negative errno, read from
// os.constants.errno (right on Linux and macOS) rather than fuse-native's hard-coded Linux numbers.
// The switch is exhaustive: adding a kind to core/errors.ts without a row here fails the type check.

import { constants } from 'node:os';
import type { FsErrorKind } from '../core/errors.js';
import { isFsError } from '../core/errors.js';

const E = constants.errno;

/** The positive errno for a kind. */
export function errnoOf(kind: FsErrorKind): number {
  switch (kind) {
    case 'ENOENT':
      return E.ENOENT;
    case 'EEXIST':
      return E.EEXIST;
    case 'ENOTDIR':
      return E.ENOTDIR;
    case 'EISDIR':
      return E.EISDIR;
    case 'ENOTEMPTY':
      return E.ENOTEMPTY;
    case 'EINVAL':
      return E.EINVAL;
    case 'ENAMETOOLONG':
      return E.ENAMETOOLONG;
    case 'EACCES':
      return E.EACCES;
    case 'EPERM':
      return E.EPERM;
    case 'EROFS':
      return E.EROFS;
    case 'ENOSPC':
      return E.ENOSPC;
    case 'EFBIG':
      return E.EFBIG;
    case 'EIO':
      return E.EIO;
    case 'ETIMEDOUT':
      return E.ETIMEDOUT;
    // Linux has no distinct ENOTSUP in os.constants (it equals EOPNOTSUPP there); macOS has both.
    case 'ENOTSUP':
      return E.ENOTSUP ?? E.EOPNOTSUPP;
    case 'EXDEV':
      return E.EXDEV;
    case 'EBADF':
      return E.EBADF;
    case 'EAGAIN':
      return E.EAGAIN;
    case 'ENOSYS':
      return E.ENOSYS;
    case 'EBUSY':
      return E.EBUSY;
    case 'EDQUOT':
      return E.EDQUOT;
    case 'ENETDOWN':
      return E.ENETDOWN;
    default:
      return assertNever(kind);
  }
}

function assertNever(k: never): never {
  throw new Error(`unmapped FsErrorKind ${String(k)}`);
}

/** What the kernel gets for a failure: -errno of an FsError, -EIO for anything else. */
export function negErrno(err: unknown): number {
  return isFsError(err) ? -errnoOf(err.kind) : -E.EIO;
}

/** Negative errnos the adapter answers itself, for ops the Vfs does not have. */
export const NEG = {
  EIO: -E.EIO,
  EPERM: -E.EPERM,
  EINVAL: -E.EINVAL,
  ENOTSUP: -(E.ENOTSUP ?? E.EOPNOTSUPP),
  ENOSYS: -E.ENOSYS,
  EEXIST: -E.EEXIST,
} as const;
