// FileRef: what an open file is pinned to, shared by vfs/ (it captures one at open), data/ (caches key
// blocks by it) and pan/cdn/ (reads bytes of it). Invariant: bytes are identified by (id, md5); size
// bounds every read, so a read never goes past the size captured at open.

import type { FileId } from './ids.js';

export interface FileRef {
  id: FileId;
  size: number;
  /** lower-case hex MD5 of the content */
  md5: string;
}
