// The one filesystem error vocabulary. Every layer above pan/ throws FsError; fuse/errno.ts maps each kind
// to the platform errno (os.constants.errno). Code compares kinds, never message text.

export type FsErrorKind =
  | 'ENOENT'
  | 'EEXIST'
  | 'ENOTDIR'
  | 'EISDIR'
  | 'ENOTEMPTY'
  | 'EINVAL'
  | 'ENAMETOOLONG'
  | 'EACCES'
  | 'EPERM'
  | 'EROFS'
  | 'ENOSPC'
  | 'EFBIG'
  | 'EIO'
  | 'ETIMEDOUT'
  | 'ENOTSUP'
  | 'EXDEV'
  | 'EBADF'
  | 'EAGAIN'
  | 'ENOSYS'
  | 'EBUSY'
  | 'EDQUOT'
  // 123pan unreachable (offline) for a change that must reach it: mkdir, rename, unlink, rmdir of remote entries
  | 'ENETDOWN';

export class FsError extends Error {
  readonly kind: FsErrorKind;
  override readonly cause?: unknown;
  /** the cause was already logged where it was found (once per file): the adapters log this one quietly */
  logged = false;
  constructor(kind: FsErrorKind, message: string, cause?: unknown) {
    super(message);
    this.name = 'FsError';
    this.kind = kind;
    this.cause = cause;
  }
}

export function isFsError(e: unknown, kind?: FsErrorKind): e is FsError {
  return e instanceof FsError && (kind === undefined || e.kind === kind);
}

export function fsError(kind: FsErrorKind, message: string, cause?: unknown): FsError {
  return new FsError(kind, message, cause);
}
