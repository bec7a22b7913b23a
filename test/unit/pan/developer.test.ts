// The developer rights package (开发者权益包, issue 15): days left, the warning threshold, the rate tier an
// account gets, the words for an expiry, and the server answer read as "expired" (EACCES, not EIO).
import { describe, expect, it } from 'vitest';
import { DEVELOPER_WARN_DAYS, describeRights, developerRights, pickTier } from '../../../src/pan/developer.js';
import { ENDPOINTS } from '../../../src/pan/endpoints.js';
import { bodyError, kindForBody } from '../../../src/pan/wire-errors.js';
import { classify } from '../../../src/vfs/classify.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 2, 12);

describe('developerRights', () => {
  it('counts whole days left, rounded up; warns from 14 days before; expired at the end', () => {
    expect(developerRights(NOW + 30 * DAY, NOW)).toEqual({
      endAt: NOW + 30 * DAY,
      daysLeft: 30,
      expired: false,
      expiring: false,
    });
    expect(developerRights(NOW + DEVELOPER_WARN_DAYS * DAY, NOW).expiring).toBe(true);
    expect(developerRights(NOW + DEVELOPER_WARN_DAYS * DAY + 1, NOW).expiring).toBe(false);
    expect(developerRights(NOW + 1, NOW)).toMatchObject({ daysLeft: 1, expired: false, expiring: true });
    expect(developerRights(NOW, NOW)).toMatchObject({ daysLeft: 0, expired: true, expiring: false });
    expect(developerRights(NOW - 3 * DAY, NOW)).toMatchObject({ daysLeft: -3, expired: true });
  });

  it('no developerInfo: neither expiring nor expired, unless the server refused a call for it', () => {
    expect(developerRights(null, NOW)).toEqual({ endAt: null, daysLeft: null, expired: false, expiring: false });
    expect(developerRights(null, NOW, true).expired).toBe(true);
    expect(developerRights(NOW + 100 * DAY, NOW, true).expired).toBe(true);
  });

  it('says the days left and the end day (UTC+8), and where to renew once close or over', () => {
    expect(describeRights(developerRights(NOW + 100 * DAY, NOW))).toBe('100 days left (until 2027-03-12)');
    expect(describeRights(developerRights(NOW + 5 * DAY, NOW))).toMatch(
      /^5 days left \(until 2026-12-07\): renew the 开发者权益包 on the 123 Open platform \(www\.123pan\.com\/developer\)$/,
    );
    expect(describeRights(developerRights(NOW - DAY, NOW))).toMatch(/^expired on 2026-12-01: .*have expired/);
  });
});

describe('pickTier and the endpoint table', () => {
  it('developer while the rights run, else VIP, else free', () => {
    expect(pickTier({ vip: false, developerEndAt: NOW + DAY }, NOW)).toBe('developer');
    expect(pickTier({ vip: true, developerEndAt: NOW + DAY }, NOW)).toBe('developer');
    expect(pickTier({ vip: true, developerEndAt: NOW - 1 }, NOW)).toBe('vip');
    expect(pickTier({ vip: false, developerEndAt: null }, NOW)).toBe('free');
  });

  it('one table, three columns: the 2025 free and VIP columns and the 2026 developer column', () => {
    expect(ENDPOINTS.listV2.qps).toEqual({ free: 5, vip: 10, developer: 15 });
    expect(ENDPOINTS.move.qps).toEqual({ free: 3, vip: 10, developer: 20 });
    expect(ENDPOINTS.mkdir.qps).toEqual({ free: 5, vip: 20, developer: 20 });
    expect(ENDPOINTS.userInfo.qps).toEqual({ free: 10, vip: 10, developer: 10 });
    expect(ENDPOINTS.accessToken.qps).toEqual({ free: 8, vip: 10, developer: 10 });
    // rows in no developer table keep one value
    expect(ENDPOINTS.downloadInfo.qps).toEqual({ free: 5, vip: 5, developer: 5 });
  });
});

describe('the server saying the rights expired', () => {
  it('is kind developer-expired (not retried) and EACCES, not EIO', () => {
    for (const msg of [
      '开发者权益已过期，请续费开发者权益包后再使用',
      '开发者权益包已到期',
      'developer rights expired',
    ])
      expect(kindForBody(1, msg), msg).toEqual({ kind: 'developer-expired', retryable: false });
    const e = bodyError(1, '开发者权益已过期', 't', 'file/list.v2');
    expect(classify(e, 'readdir /').kind).toBe('EACCES');
    // other code-1 answers stay what they were
    expect(kindForBody(1, '服务器内部错误').kind).toBe('api');
    expect(kindForBody(1, '请求太频繁').kind).toBe('rate-limited');
  });
});
