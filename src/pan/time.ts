// Wire times → epoch milliseconds. Owns: the 123 formats. List/detail times are "YYYY-MM-DD HH:MM:SS"
// without an offset, in Beijing time (UTC+8, no DST) (123open-api.md §3.2); the old v1 list appends
// " +0800 CST"; the token's expiredAt is RFC 3339 with +08:00 (§2.1). Invariant: unparseable input gives
// NaN from the strict parsers and 0 from wireTimeMs (the API field is informational there).

const CST_OFFSET_MS = 8 * 3600_000; // UTC+8, China has no DST
const LOCAL_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:\s*\+0800(?:\s+CST)?)?$/;

/** "2024-04-30 11:58:36" (UTC+8) → epoch ms; NaN when it does not match. */
export function parseCstTime(s: string): number {
  const m = LOCAL_RE.exec(s.trim());
  if (!m) return NaN;
  const [, y, mo, d, h, mi, se] = m.map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, se!) - CST_OFFSET_MS;
}

/** RFC 3339 ("2025-03-23T15:48:37+08:00"); a missing offset means UTC+8. NaN when unparseable. */
export function parseRfc3339(s: string): number {
  const t = s.trim();
  if (/[zZ]$|[+-]\d{2}:?\d{2}$/.test(t) && t.includes('T')) return Date.parse(t);
  return parseCstTime(t);
}

/** Any wire time field (string in either format, epoch seconds or ms as a number) → epoch ms, else 0. */
export function wireTimeMs(v: unknown): number {
  if (typeof v === 'bigint') v = Number(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v <= 0) return 0;
    return v < 1e11 ? v * 1000 : v; // < 1e11 can only be seconds (1e11 s is year 5138)
  }
  if (typeof v !== 'string' || v.trim() === '') return 0;
  if (/^\d+$/.test(v.trim())) return wireTimeMs(Number(v.trim()));
  const ms = parseRfc3339(v);
  return Number.isFinite(ms) ? ms : 0;
}
