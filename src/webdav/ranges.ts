// HTTP Range requests (RFC 9110 §14): `bytes=` sets of first-last, first- and -suffix ranges.
// Invariant: returned ranges are inclusive, within [0, size); several are sorted, and overlapping or adjacent
// ranges are merged (RFC 9110 allows it and it keeps a multipart answer small).

export interface ByteRange {
  start: number;
  /** inclusive */
  end: number;
}

/** null: ignore the header (not a bytes range, or malformed: serve the whole file); [] unsatisfiable. */
export function parseRange(header: string, size: number): ByteRange[] | null {
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!m) return null;
  const out: ByteRange[] = [];
  for (const part of m[1]!.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const r = /^(\d*)\s*-\s*(\d*)$/.exec(p);
    if (!r || (r[1] === '' && r[2] === '')) return null;
    if (r[1] === '') {
      const n = Number(r[2]);
      if (n === 0) continue;
      out.push({ start: Math.max(0, size - n), end: size - 1 });
    } else {
      const start = Number(r[1]);
      const end = r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1);
      if (r[2] !== '' && Number(r[2]) < start) return null;
      if (start >= size) continue;
      out.push({ start, end });
    }
  }
  if (out.length > 100) return null; // a range flood: serve the whole thing once instead
  return merge(out);
}

function merge(rs: ByteRange[]): ByteRange[] {
  if (rs.length < 2) return rs;
  const sorted = [...rs].sort((a, b) => a.start - b.start);
  const merged: ByteRange[] = [];
  for (const r of sorted) {
    const last = merged[merged.length - 1];
    if (last && r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  return merged;
}
