// Time formats of the wire (123open-api.md §2.1, §3.2): list/detail times are "YYYY-MM-DD HH:MM:SS" in
// UTC+8 without an offset; token expiry is RFC 3339 with "+08:00". Pure functions over epoch ms.

const CST_MS = 8 * 3600_000;

function cstParts(ms: number): string[] {
  const d = new Date(ms + CST_MS);
  const p = (n: number) => String(n).padStart(2, '0');
  return [
    String(d.getUTCFullYear()),
    p(d.getUTCMonth() + 1),
    p(d.getUTCDate()),
    p(d.getUTCHours()),
    p(d.getUTCMinutes()),
    p(d.getUTCSeconds()),
  ];
}

/** "2024-04-30 11:58:36" (Beijing time). */
export function formatCst(ms: number): string {
  const [y, mo, d, h, mi, s] = cstParts(ms);
  return `${y}-${mo}-${d} ${h}:${mi}:${s}`;
}

/** "2025-03-23T15:48:37+08:00". */
export function formatRfc3339Cst(ms: number): string {
  const [y, mo, d, h, mi, s] = cstParts(ms);
  return `${y}-${mo}-${d}T${h}:${mi}:${s}+08:00`;
}

/** The Beijing calendar day of ms, e.g. "2025-03-23" (the download quota is daily). */
export function cstDay(ms: number): string {
  return formatCst(ms).slice(0, 10);
}
