// DownloadQuota: the daily cap on a non-VIP account's download_info traffic (code 5113, 123open-api.md §3.8,
// §11; "今日", so it resets at midnight Beijing time). Owns: the one "quota used up" state — global, not per
// file, since the cap is the account's —, closed by a 5113 until the next Beijing midnight; the one log line
// per closing (it names the quota and when it resets); the quota figure when known (named by the 5113
// message, else the documented 1 GB of a non-VIP account).
// Invariants: while closed, LinkCache never calls download_info (a read fails at once with kind 'quota',
// code 5113, marked logged, so the FUSE/WebDAV adapters log it quietly); a 5113 is never retried in a loop:
// the next call is after the reset (or, for a 5113 in the first minutes of a day, SKEW_RETRY_MS later: our
// clock may be ahead of 123's); links issued before the 5113 are left alone (LinkCache serves them).

import type { Clock } from '../../core/clock.js';
import { nextDayStart, PAN_DAY_UTC_OFFSET_MINUTES } from '../../core/daily-bytes.js';
import type { Logger } from '../../core/logger.js';
import { isPanError, PanError } from '../errors.js';
import { CODE_TRAFFIC, quotaBytesFromMessage } from '../wire-errors.js';

/** The documented cap of a non-VIP account (notice 33: 1 GB/day; read as 2^30, as 123 counts space). */
export const DOCUMENTED_NON_VIP_QUOTA_BYTES = 1024 ** 3;
/** A 5113 this soon after a Beijing midnight may be 123's previous day (clock skew): ask again sooner. */
export const SKEW_GRACE_MS = 15 * 60_000;
/** ... after this long (so at most 3 calls in the grace period). */
export const SKEW_RETRY_MS = 5 * 60_000;

export interface DownloadQuotaStatus {
  /** the daily quota in bytes, or null when unknown (a VIP account, or none seen) */
  quotaBytes: number | null;
  /** 'server': named by a 5113 message; 'documented': a non-VIP account's documented 1 GB */
  quotaSource: 'server' | 'documented' | null;
  /** epoch ms until which download_info is not asked (the quota is used up), or null */
  exhaustedUntil: number | null;
}

export interface DownloadQuotaOptions {
  clock: Clock;
  logger: Logger;
  /** the account is a VIP (no documented quota); false gives the documented 1 GB until a 5113 names one */
  vip?: boolean;
  /** bytes fetched today (for the log line) */
  fetchedToday?: () => number;
}

export class DownloadQuota {
  private until = 0;
  private serverBytes: number | null = null;
  private loggedFor = 0;

  constructor(private readonly o: DownloadQuotaOptions) {}

  /** Throws the quota error while the quota is used up; call before download_info. */
  check(): void {
    if (this.o.clock.now() < this.until) throw this.error();
  }

  /** The error to throw for a download_info failure: a 5113 closes the quota (logged once). */
  failed(e: unknown): unknown {
    if (!isPanError(e) || (e.kind !== 'quota' && e.code !== CODE_TRAFFIC)) return e;
    const now = this.o.clock.now();
    const reset = nextDayStart(now);
    const sinceMidnight = now - (reset - 86_400_000);
    this.until = sinceMidnight < SKEW_GRACE_MS ? now + SKEW_RETRY_MS : reset;
    this.serverBytes = quotaBytesFromMessage(e.message) ?? this.serverBytes;
    if (this.loggedFor !== reset) {
      this.loggedFor = reset;
      const q = this.quota();
      this.o.logger.warn(
        {
          op: 'read',
          code: CODE_TRAFFIC,
          quotaBytes: q.bytes,
          quotaSource: q.source,
          fetchedTodayBytes: this.o.fetchedToday?.(),
          until: beijing(this.until),
        },
        `123pan's daily download quota (${q.bytes === null ? 'size unknown' : human(q.bytes)}, code 5113) ` +
          `is used up: reads through download links answer EIO until ${beijing(this.until)} ` +
          (this.until === reset ? '(midnight Beijing time)' : "(asked again then: 123pan's day may start later)"),
      );
    }
    return this.error(e);
  }

  status(): DownloadQuotaStatus {
    const q = this.quota();
    return {
      quotaBytes: q.bytes,
      quotaSource: q.source,
      exhaustedUntil: this.o.clock.now() < this.until ? this.until : null,
    };
  }

  private quota(): { bytes: number | null; source: DownloadQuotaStatus['quotaSource'] } {
    if (this.serverBytes !== null) return { bytes: this.serverBytes, source: 'server' };
    if (this.o.vip === false) return { bytes: DOCUMENTED_NON_VIP_QUOTA_BYTES, source: 'documented' };
    return { bytes: null, source: null };
  }

  private error(cause?: unknown): PanError {
    return new PanError({
      kind: 'quota',
      code: CODE_TRAFFIC,
      endpoint: 'download_info',
      message: `download_info: 123pan's daily download quota is used up until ${beijing(this.until)} (code 5113)`,
      logged: true,
      cause,
    });
  }
}

/** An ISO-like local time in Beijing: 2026-12-03T00:00+08:00. */
function beijing(ms: number): string {
  const off = PAN_DAY_UTC_OFFSET_MINUTES * 60_000;
  return `${new Date(ms + off).toISOString().slice(0, 16)}+08:00`;
}

function human(n: number): string {
  for (const [u, p] of [
    ['TiB', 4],
    ['GiB', 3],
    ['MiB', 2],
    ['KiB', 1],
  ] as const)
    if (n >= 1024 ** p) return `${Number((n / 1024 ** p).toFixed(2))} ${u}`;
  return `${n} B`;
}
