// The narrow interfaces the read path needs from below (ARCHITECTURE.md convention 5). data/ knows nothing
// of HTTP or FUSE: pan/ implements RangeSource over ranged GETs with link caching, vfs/ wires it in.
// Invariants: a RangeSource answers exactly `length` bytes or throws (it has already retried); bytes it
// reports through onProgress are final.

import type { FileRef } from '../core/file-ref.js';

export type { FileRef } from '../core/file-ref.js';

export interface RangeSource {
  /**
   * Exact bytes [start, start+length); throws on failure (already retried). With `into` (≥ length bytes)
   * the bytes should land in it and the result be `into.subarray(0, length)`; a source may still return
   * another Buffer, which the caller then treats as its own. `onProgress(filled)`, with `into` only: the
   * first `filled` bytes of `into` hold their final bytes (monotonic; a retry may rewrite them, always with
   * the same bytes: the ref pins the content). Readers are answered from them before the range completes.
   */
  read(
    ref: FileRef,
    start: number,
    length: number,
    signal?: AbortSignal,
    into?: Buffer,
    onProgress?: (filled: number) => void,
  ): Promise<Buffer>;
  /**
   * Optional hint at open: the file will be read soon (a source may fetch its download link now, so the
   * first read waits for one round trip, not two). Never throws; no bytes are fetched.
   */
  prepare?(ref: FileRef): void;
}
