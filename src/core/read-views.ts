// ReadViews: the bytes of a read handed out as views of the read path's cached blocks, never copied (a
// WebDAV GET writes them straight to its socket). Shared by data/ (which makes them) and vfs/ (which passes
// them on).
// Invariants: the views stay valid until release(): the range buffers under them are held (data/range-pool.ts)
// until then, so a socket may still write them after the read returned; release() is idempotent; a view is
// never written to. Forgetting release() costs buffer reuse, never wrong bytes.

export interface ReadViews {
  views: Buffer[];
  /** the sum of the views' lengths (0 at EOF) */
  bytes: number;
  release(): void;
}
