// The daemon's watch over the developer rights (issue 15): a line at start, a warning from 14 days before
// the end and then once a day, a refusal by the server counted as expired until a renewal shows up.
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../../src/core/logger.js';
import { DeveloperWatch } from '../../../src/daemon/developer-watch.js';
import { FakeClock } from '../../support/clock.js';

const DAY = 86_400_000;

function recorder() {
  const lines: Array<{ level: string; msg: string }> = [];
  const mk = (level: string) => (_o: object | string, msg?: string) => lines.push({ level, msg: msg ?? '' });
  const l = { trace: mk('trace'), debug: mk('debug'), info: mk('info'), warn: mk('warn'), error: mk('error') } as never;
  const log = { ...(l as object), fatal: mk('fatal'), child: () => log } as unknown as Logger;
  return { lines, log };
}

describe('DeveloperWatch', () => {
  it('20 days left: one info line at start, no warning until 14 days before, then one a day', async () => {
    const clock = new FakeClock('manual');
    const { lines, log } = recorder();
    const w = new DeveloperWatch(clock, log);
    w.update({ developerEndAt: clock.now() + 20 * DAY });
    w.start();
    expect(lines).toEqual([{ level: 'info', msg: expect.stringContaining('20 days left') }]);
    for (let d = 1; d <= 5; d++) await clock.advance(DAY);
    expect(lines.filter((l) => l.level === 'warn')).toEqual([]); // 15 days left
    await clock.advance(DAY);
    expect(lines.filter((l) => l.level === 'warn')).toEqual([
      { level: 'warn', msg: expect.stringMatching(/14 days left .*renew the 开发者权益包/) },
    ]);
    await clock.advance(DAY);
    expect(lines.filter((l) => l.level === 'warn').length).toBe(2); // daily
    expect(w.rights()).toMatchObject({ daysLeft: 13, expiring: true, expired: false });
    w.stop();
    await clock.advance(3 * DAY);
    expect(lines.filter((l) => l.level === 'warn').length).toBe(2);
  });

  it('expiring at start: the first line is a warning', () => {
    const clock = new FakeClock('manual');
    const { lines, log } = recorder();
    const w = new DeveloperWatch(clock, log);
    w.update({ developerEndAt: clock.now() + 3 * DAY });
    w.start();
    w.stop();
    expect(lines).toEqual([{ level: 'warn', msg: expect.stringContaining('3 days left') }]);
  });

  it('a refusal counts as expired until user/info shows the rights running again, then says renewed', () => {
    const clock = new FakeClock('manual');
    const { log } = recorder();
    const w = new DeveloperWatch(clock, log);
    let renewals = 0;
    w.onRenewed(() => renewals++);
    w.update({ developerEndAt: clock.now() + 100 * DAY }); // the server ended them early
    expect(renewals).toBe(0); // no refusal seen yet: nothing renewed
    w.refused();
    expect(w.rights().expired).toBe(true);
    w.update({ developerEndAt: clock.now() + 365 * DAY }); // renewed
    expect(w.rights()).toMatchObject({ expired: false, daysLeft: 365 });
    expect(renewals).toBe(1); // blocked uploads go again
    w.update({ developerEndAt: clock.now() + 365 * DAY });
    expect(renewals).toBe(1);
  });
});
