// The one place a PanError or a Node fs error becomes an FsError (ARCHITECTURE.md convention 1).
// Invariant: decided by PanError kind and flags and Node error codes only, never by message text (the
// server's text is read once, in pan/wire-errors.ts).

import { FsError, isFsError, type FsErrorKind } from '../core/errors.js';
import { offlineCause } from '../pan/connectivity.js';
import { PanError } from '../pan/errors.js';

const PAN_KIND_TO_FS: Record<PanError['kind'], FsErrorKind> = {
  api: 'EIO',
  auth: 'EACCES',
  'rate-limited': 'EAGAIN',
  'not-found': 'ENOENT',
  quota: 'EIO',
  'name-clash': 'EEXIST',
  'invalid-name': 'EINVAL',
  'too-large': 'EFBIG',
  space: 'ENOSPC',
  'link-expired': 'EIO',
  range: 'EIO',
  'upload-failed': 'EIO',
  'direct-link': 'EIO',
  // the account may no longer use the API: a permission answer, not an I/O error (docs/SEMANTICS.md)
  'developer-expired': 'EACCES',
  transport: 'EIO',
  aborted: 'EIO',
};

const NODE_CODES = new Set<FsErrorKind>([
  'ENOENT',
  'EEXIST',
  'ENOTDIR',
  'EISDIR',
  'ENOTEMPTY',
  'EINVAL',
  'ENAMETOOLONG',
  'EACCES',
  'EPERM',
  'EROFS',
  'ENOSPC',
  'EFBIG',
  'EIO',
  'ETIMEDOUT',
  'ENOTSUP',
  'EXDEV',
  'EBADF',
  'EAGAIN',
  'EBUSY',
  'EDQUOT',
  'ENETDOWN',
]);

export function classify(e: unknown, context: string): FsError {
  if (isFsError(e)) return e;
  if (offlineCause(e)) return new FsError('ENETDOWN', `${context}: ${(e as Error).message}`, e);
  if (e instanceof PanError) {
    const kind = e.kind === 'transport' && e.timedOut ? 'ETIMEDOUT' : PAN_KIND_TO_FS[e.kind];
    const err = new FsError(kind, `${context}: ${e.message}`, e);
    err.logged = e.logged;
    return err;
  }
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC') return new FsError('ENOSPC', `${context}: local disk full (staging/cache dir)`, e);
  if (code && NODE_CODES.has(code as FsErrorKind))
    return new FsError(code as FsErrorKind, `${context}: ${(e as Error).message}`, e);
  return new FsError('EIO', `${context}: ${(e as Error)?.message ?? String(e)}`, e);
}

/**
 * The data path's errors (read, fsync): as classify(), but "offline" is EIO there — what cat, cp and
 * editors expect of a read or fsync that cannot be served (docs/SEMANTICS.md "Offline").
 */
export function classifyData(e: unknown, context: string): FsError {
  const err = classify(e, context);
  if (err.kind !== 'ENETDOWN') return err;
  const eio = new FsError('EIO', err.message, err.cause);
  eio.logged = err.logged;
  return eio;
}
