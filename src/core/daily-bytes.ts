// DailyBytes: a byte count that starts again at 0 each day, on the day of 123pan's daily allowances (the
// free tier's 1 GB/day own-download traffic, code 5113: "今日", Beijing time, UTC+8). The daemon holds ONE
// instance for bytes fetched from the CDN (daemon/traffic.ts counts every ranged read into it): that is
// both `status`'s "fetched today" and the number the download quota is measured against. Pure: time comes
// from the injected Clock; nothing is persisted (a restart starts the day at 0: the figure is what this
// daemon fetched, a lower bound of what the account used).

import type { Clock } from './clock.js';

/** 123pan's day: Beijing time (UTC+8, no daylight saving). */
export const PAN_DAY_UTC_OFFSET_MINUTES = 8 * 60;

/** Epoch ms of the next midnight (start of the next day) in a zone `utcOffsetMinutes` east of UTC. */
export function nextDayStart(now: number, utcOffsetMinutes = PAN_DAY_UTC_OFFSET_MINUTES): number {
  const day = 86_400_000;
  const off = utcOffsetMinutes * 60_000;
  return Math.floor((now + off) / day) * day + day - off;
}

export interface DayCount {
  /** YYYY-MM-DD in the counter's time zone */
  day: string;
  bytes: number;
}

export class DailyBytes {
  private day = '';
  private bytes = 0;

  constructor(
    private readonly clock: Clock,
    private readonly utcOffsetMinutes = PAN_DAY_UTC_OFFSET_MINUTES,
  ) {}

  add(n: number): void {
    if (!(n > 0)) return;
    this.roll();
    this.bytes += n;
  }

  /** Today's count (0 right after midnight in the counter's time zone). */
  today(): DayCount {
    this.roll();
    return { day: this.day, bytes: this.bytes };
  }

  private roll(): void {
    const d = new Date(this.clock.now() + this.utcOffsetMinutes * 60_000).toISOString().slice(0, 10);
    if (d === this.day) return;
    this.day = d;
    this.bytes = 0;
  }
}
