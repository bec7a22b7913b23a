// The download_info quota (code 5113, issue 15): one 5113 closes it for the whole account until midnight
// Beijing time (one log line naming the quota and the reset), no download_info meanwhile, links already
// cached still served; a 5113 just after midnight is asked again 5 min later (clock skew).
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../../src/core/logger.js';
import type { DownloadLink } from '../../../src/pan/api.js';
import { DownloadQuota, SKEW_RETRY_MS } from '../../../src/pan/cdn/download-quota.js';
import { LinkCache } from '../../../src/pan/cdn/download-urls.js';
import { isPanError } from '../../../src/pan/errors.js';
import { bodyError, quotaBytesFromMessage } from '../../../src/pan/wire-errors.js';
import { classify } from '../../../src/vfs/classify.js';
import { FakeClock } from '../../support/clock.js';

// 2026-12-02 10:00 UTC = 18:00 Beijing time; the next Beijing midnight is 2026-12-02 16:00 UTC
const T = Date.UTC(2026, 11, 2, 10, 0, 0);
const MIDNIGHT = Date.UTC(2026, 11, 2, 16, 0, 0);

function recordingLogger(): Logger & { warns: Array<{ obj: object; msg?: string }> } {
  const warns: Array<{ obj: object; msg?: string }> = [];
  const noop = () => undefined;
  const l = {
    warns,
    trace: noop,
    debug: noop,
    info: noop,
    warn: (obj: object | string, msg?: string) =>
      warns.push(typeof obj === 'string' ? { obj: {}, msg: obj } : { obj, msg }),
    error: noop,
    fatal: noop,
    child: () => l,
  };
  return l as unknown as Logger & { warns: Array<{ obj: object; msg?: string }> };
}

function api(clock: FakeClock) {
  const s = { calls: 0, quotaHit: true };
  return {
    s,
    async downloadInfo(id: string): Promise<DownloadLink> {
      s.calls++;
      if (s.quotaHit && id !== 'cached')
        throw bodyError(5113, '您今日自用下载流量已超出1GB上限，请明日再试', 't', 'download_info');
      return { url: `https://cdn.example/${id}`, expiresAt: clock.now() + 3600_000 };
    },
    async directLink(): Promise<DownloadLink> {
      throw new Error('unused');
    },
  };
}

describe('DownloadQuota', () => {
  it('one 5113 closes download_info for every file until Beijing midnight, with one log line', async () => {
    const clock = new FakeClock('manual', T);
    const log = recordingLogger();
    const quota = new DownloadQuota({ clock, logger: log, vip: false, fetchedToday: () => 123 });
    const a = api(clock);
    const links = new LinkCache({ api: a, clock, quota });
    a.s.quotaHit = false;
    await links.get('cached', 'download', null);
    a.s.quotaHit = true;
    expect(quota.status()).toEqual({ quotaBytes: 1024 ** 3, quotaSource: 'documented', exhaustedUntil: null });

    const first = await links.get('1', 'download', null).catch((e: unknown) => e);
    expect(first).toMatchObject({ kind: 'quota', code: 5113, logged: true });
    for (const id of ['1', '2', '3', '1']) {
      await expect(links.get(id, 'download', null)).rejects.toMatchObject({ kind: 'quota', logged: true });
    }
    expect(a.s.calls).toBe(2); // the cached link's fetch and the one 5113: nothing asked after it
    expect(await links.get('cached', 'download', null)).toBe('https://cdn.example/cached');
    expect(log.warns).toHaveLength(1);
    expect(log.warns[0]!.msg).toContain('1 GiB');
    expect(log.warns[0]!.msg).toContain('until 2026-12-03T00:00+08:00 (midnight Beijing time)');
    expect(log.warns[0]!.obj).toMatchObject({ code: 5113, quotaBytes: 1024 ** 3, fetchedTodayBytes: 123 });
    expect(quota.status()).toEqual({ quotaBytes: 1024 ** 3, quotaSource: 'server', exhaustedUntil: MIDNIGHT });
    // the FUSE adapter logs it quietly: the quota's line was the one
    const fs = classify(first, 'read /a');
    expect(fs.kind).toBe('EIO');
    expect(fs.logged).toBe(true);

    await clock.advance(MIDNIGHT - 1 - clock.now());
    await expect(links.get('2', 'download', null)).rejects.toMatchObject({ kind: 'quota' });
    expect(a.s.calls).toBe(2);
    await clock.advance(1);
    a.s.quotaHit = false;
    expect(await links.get('2', 'download', null)).toBe('https://cdn.example/2');
    expect(a.s.calls).toBe(3);
    expect(quota.status().exhaustedUntil).toBeNull();
  });

  it('a 5113 in the first minutes of a Beijing day is asked again 5 min later, logged once', async () => {
    const clock = new FakeClock('manual', MIDNIGHT + 60_000);
    const log = recordingLogger();
    const quota = new DownloadQuota({ clock, logger: log, vip: true });
    const a = api(clock);
    const links = new LinkCache({ api: a, clock, quota });
    await expect(links.get('1', 'download', null)).rejects.toMatchObject({ kind: 'quota' });
    expect(quota.status().exhaustedUntil).toBe(MIDNIGHT + 60_000 + SKEW_RETRY_MS);
    await clock.advance(SKEW_RETRY_MS);
    await expect(links.get('1', 'download', null)).rejects.toMatchObject({ kind: 'quota' });
    expect(a.s.calls).toBe(2);
    expect(log.warns).toHaveLength(1);
    expect(log.warns[0]!.msg).toContain("asked again then: 123pan's day may start later");
  });

  it('other failures pass through and do not close it; VIP accounts have no known quota', async () => {
    const clock = new FakeClock('manual', T);
    const quota = new DownloadQuota({ clock, logger: recordingLogger(), vip: true });
    const e = bodyError(5066, '文件不存在', 't', 'download_info');
    expect(quota.failed(e)).toBe(e);
    expect(isPanError(quota.failed(e), 'not-found')).toBe(true);
    expect(quota.status()).toEqual({ quotaBytes: null, quotaSource: null, exhaustedUntil: null });
  });

  it('reads the figure of a 5113 message', () => {
    expect(quotaBytesFromMessage('您今日自用下载流量已超出1GB上限')).toBe(1024 ** 3);
    expect(quotaBytesFromMessage('超出 1.5 MB 上限')).toBe(1.5 * 1024 ** 2);
    expect(quotaBytesFromMessage('流量超限')).toBeNull();
  });
});
