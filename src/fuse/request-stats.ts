// Counts of the kernel requests the op table answered: per op, and for read/write the request sizes the
// kernel asked for (so `status --json` and the e2e tests can see 1 MiB requests and "no LOOKUP during
// ls -l"). Owned by one mount; updated on the main thread only (fuse-native runs every op there), so
// plain counters suffice. Invariant: counting never changes an answer and never throws.

/** Request sizes above this are impossible on libfuse 2 (its cap); the e2e tests count them. */
export const LIBFUSE2_MAX_REQUEST = 128 * 1024;

export interface SizeStats {
  /** requests */
  count: number;
  /** bytes the kernel asked for (read) or sent (write) */
  bytes: number;
  /** the largest request */
  max: number;
  /** requests larger than 128 KiB (libfuse 2's cap) */
  over128KiB: number;
  /** request count per size in bytes (a handful of distinct sizes in practice) */
  sizes: Record<string, number>;
}

export interface RequestStatsSnapshot {
  /** requests per op (getattr counts the kernel's LOOKUPs too: libfuse's high-level API answers a LOOKUP
   * with a getattr of the path) */
  ops: Record<string, number>;
  read: SizeStats;
  write: SizeStats;
}

const MAX_DISTINCT_SIZES = 64;

function emptySizes(): SizeStats {
  return { count: 0, bytes: 0, max: 0, over128KiB: 0, sizes: {} };
}

export class RequestStats {
  private ops: Record<string, number> = {};
  private read = emptySizes();
  private write = emptySizes();

  op(name: string): void {
    this.ops[name] = (this.ops[name] ?? 0) + 1;
  }

  size(kind: 'read' | 'write', len: number): void {
    const s = kind === 'read' ? this.read : this.write;
    s.count++;
    s.bytes += len;
    if (len > s.max) s.max = len;
    if (len > LIBFUSE2_MAX_REQUEST) s.over128KiB++;
    const key = String(len);
    if (key in s.sizes || Object.keys(s.sizes).length < MAX_DISTINCT_SIZES) s.sizes[key] = (s.sizes[key] ?? 0) + 1;
  }

  snapshot(): RequestStatsSnapshot {
    const copy = (s: SizeStats): SizeStats => ({ ...s, sizes: { ...s.sizes } });
    return { ops: { ...this.ops }, read: copy(this.read), write: copy(this.write) };
  }
}
