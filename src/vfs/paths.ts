// Path helpers for the path-based Vfs: fuse gives absolute paths like "/a/b.txt".

import { FsError } from '../core/errors.js';

export function splitPath(path: string): string[] {
  if (!path.startsWith('/')) throw new FsError('EINVAL', `not an absolute path: ${path}`);
  return path.split('/').filter((p) => p.length > 0);
}

export function parentAndName(path: string): { parent: string; name: string } {
  const parts = splitPath(path);
  if (parts.length === 0) throw new FsError('EINVAL', 'the mount root has no parent');
  const name = parts.pop()!;
  return { parent: `/${parts.join('/')}`, name };
}
