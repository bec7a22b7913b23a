// The narrow interfaces the read path needs from below (ARCHITECTURE.md convention 5). data/ knows nothing
// of HTTP or FUSE: pan/ implements RangeSource over ranged GETs with link caching, vfs/ wires it in.
// Invariant: a RangeSource answers exactly `length` bytes or throws (it has already retried).

import type { FileRef } from '../core/file-ref.js';

export type { FileRef } from '../core/file-ref.js';

export interface RangeSource {
  /**
   * Exact bytes [start, start+length); throws on failure (already retried). With `into` (≥ length bytes)
   * the bytes should land in it and the result be `into.subarray(0, length)`; a source may still return
   * another Buffer, which the caller then treats as its own.
   */
  read(ref: FileRef, start: number, length: number, signal?: AbortSignal, into?: Buffer): Promise<Buffer>;
}
