// The paid developer tier (123open-api.md §11): the 开发者权益包 (developer rights package) that new 123
// Open credentials need since 2026, whose end is `developerInfo.endTime` of user/info. Owns: the days-left
// arithmetic, the warning threshold, the rate tier an account gets (pickTier), and the words a user reads
// when the rights end. Pure: time comes in as an argument.
// Invariants: an account without developerInfo (endAt null, older credentials) is never "expiring"; a
// day is 86 400 000 ms and days left round up, so "1 day left" lasts until the end itself.

import type { UserInfo } from './api.js';
import type { QpsTier } from './endpoints.js';

/** Warn from this many days before the end (status, doctor, a log line at start and daily). */
export const DEVELOPER_WARN_DAYS = 14;
/**
 * Where the package is bought and renewed: the 123 Open platform (123云盘开放平台). Without a scheme, so the
 * daemon's logger (which cuts the path off every http(s) URL) leaves it whole.
 */
export const DEVELOPER_RIGHTS_URL = 'www.123pan.com/developer';
export const DEVELOPER_EXPIRED_HELP =
  `the 123 Open developer rights (开发者权益包) of this account have expired: every API call fails until ` +
  `they are renewed on the 123 Open platform (${DEVELOPER_RIGHTS_URL})`;

const DAY_MS = 86_400_000;

export interface DeveloperRights {
  /** epoch ms of developerInfo.endTime; null when user/info has no developerInfo */
  endAt: number | null;
  /** whole days left, rounded up; 0 or less once ended; null without developerInfo */
  daysLeft: number | null;
  /** the end has passed, or the server said so */
  expired: boolean;
  /** within DEVELOPER_WARN_DAYS of the end (and not yet expired) */
  expiring: boolean;
}

export function developerRights(endAt: number | null, now: number, refused = false): DeveloperRights {
  if (endAt === null || !(endAt > 0)) return { endAt: null, daysLeft: null, expired: refused, expiring: false };
  const daysLeft = Math.ceil((endAt - now) / DAY_MS);
  const expired = refused || now >= endAt;
  return { endAt, daysLeft, expired, expiring: !expired && daysLeft <= DEVELOPER_WARN_DAYS };
}

/**
 * The QPS column for an account: the 2026 developer column while its developer rights run (the 2026 doc
 * has that one column, for accounts with the package), else the 2025 VIP column for a VIP, else the 2025
 * free column. Body code 429 back-off stays the guard if the server enforces less.
 */
export function pickTier(info: Pick<UserInfo, 'vip' | 'developerEndAt'>, now: number): QpsTier {
  if (info.developerEndAt !== null && info.developerEndAt > now) return 'developer';
  return info.vip ? 'vip' : 'free';
}

/** "2027-01-13" (UTC+8, the service's day) */
export function panDate(ms: number): string {
  return new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);
}

/** One line for status, doctor and the daemon's warning. */
export function describeRights(r: DeveloperRights): string {
  if (r.endAt === null)
    return r.expired ? DEVELOPER_EXPIRED_HELP : 'no developerInfo in user info (credentials from before 2026?)';
  if (r.expired) return `expired on ${panDate(r.endAt)}: ${DEVELOPER_EXPIRED_HELP}`;
  const left = `${r.daysLeft} day${r.daysLeft === 1 ? '' : 's'} left (until ${panDate(r.endAt)})`;
  return r.expiring ? `${left}: renew the 开发者权益包 on the 123 Open platform (${DEVELOPER_RIGHTS_URL})` : left;
}
