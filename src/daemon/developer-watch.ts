// The daemon's watch over the developer rights (开发者权益包, pan/developer.ts): what `status` shows (days
// left, end, expired), the warning line at start and then once a day from DEVELOPER_WARN_DAYS before the
// end, and the server's word that they expired (a refused call, told by the API client). Owns no I/O but
// the log; time from the injected Clock. Invariants: at most one warning per day (the daily timer), and a
// user/info that shows rights running again (renewed) clears a refusal seen earlier and says so (onRenewed:
// the upload queue tries its blocked uploads again).

import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { UserInfo } from '../pan/api.js';
import { describeRights, developerRights, type DeveloperRights } from '../pan/developer.js';

const DAY_MS = 86_400_000;

export class DeveloperWatch {
  private endAt: number | null = null;
  private refusedAt: number | null = null;
  private timer: { cancel(): void } | null = null;
  private readonly renewed: Array<() => void> = [];

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Called when the rights run again after a refusal was seen (the upload queue's blocked uploads go). */
  onRenewed(fn: () => void): void {
    this.renewed.push(fn);
  }

  /** A user/info answer (at start, on statfs, after an offline probe). */
  update(info: Pick<UserInfo, 'developerEndAt'>): void {
    this.endAt = info.developerEndAt ?? null;
    if (this.endAt !== null && this.endAt > this.clock.now() && this.refusedAt !== null) {
      this.refusedAt = null; // renewed
      this.log.info({ op: 'developer', endAt: this.endAt }, 'developer rights (开发者权益包) renewed');
      for (const fn of this.renewed) fn();
    }
  }

  /** A call was refused because the rights expired (pan/transport.ts has logged the one error line). */
  refused(): void {
    this.refusedAt ??= this.clock.now();
  }

  rights(): DeveloperRights {
    return developerRights(this.endAt, this.clock.now(), this.refusedAt !== null);
  }

  /** The line at start (a warning when expiring or expired), then the daily check. */
  start(): void {
    this.check(true);
    this.schedule();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private schedule(): void {
    this.timer = this.clock.setTimer(DAY_MS, () => {
      this.check(false);
      this.schedule();
    });
  }

  private check(atStart: boolean): void {
    const r = this.rights();
    const fields = { op: 'developer', daysLeft: r.daysLeft, endAt: r.endAt, expired: r.expired };
    if (r.expired || r.expiring) this.log.warn(fields, `developer rights (开发者权益包): ${describeRights(r)}`);
    else if (atStart) this.log.info(fields, `developer rights (开发者权益包): ${describeRights(r)}`);
  }
}
