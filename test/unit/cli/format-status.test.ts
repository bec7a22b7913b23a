// The human `pan123fs status`: today's traffic and one line per open read stream (issue 13).
import { describe, expect, it } from 'vitest';
import { formatStatus } from '../../../src/cli/format-status.js';
import type { DaemonStatus } from '../../../src/daemon/status-types.js';

const MiB = 1024 * 1024;
const base: DaemonStatus = {
  mountpoint: '/mnt/pan',
  pid: 1,
  startedAt: Date.now(),
  apiBase: 'https://open-api.123pan.com',
  rootFolderId: '0',
  readOnly: false,
  account: { uid: '1', nickname: 'n', spaceUsed: 0, spaceTotal: 0 },
  read: {},
  uploads: { items: [], totals: { files: 0, bytes: 0, sentBytes: 0, bytesPerSec: 0 } },
  openHandles: 0,
  fuseThreads: null,
};

describe('formatStatus', () => {
  it('shows bytes fetched vs served today and each stream with its rate', () => {
    const out = formatStatus({
      ...base,
      traffic: { day: '2026-12-02', utcOffsetMinutes: 480, fetchedBytes: 110 * MiB, servedBytes: 100 * MiB },
      streams: [
        {
          name: '/films/a.mkv',
          fileId: '9',
          size: 1000 * MiB,
          openedAt: 0,
          bytesServed: 250 * MiB,
          bytesPerSec: 12.5 * MiB,
          position: 250 * MiB,
          windowBytes: 32 * MiB,
        },
      ],
    });
    expect(out).toContain('today     110.0 MiB fetched, 100.0 MiB served, 1.10 fetched per byte served (2026-12-02');
    expect(out).toContain('streams   1 open');
    expect(out).toMatch(/12\.5 MiB\/s +25% of +1000\.0 MiB, 250\.0 MiB read, window 32\.0 MiB {2}\/films\/a\.mkv/);
  });

  it('shows today next to the download quota, and when a used-up quota resets (issue 15)', () => {
    const traffic = { day: '2026-12-02', utcOffsetMinutes: 480, fetchedBytes: 300 * MiB, servedBytes: 300 * MiB };
    const documented = formatStatus({
      ...base,
      traffic: { ...traffic, quota: { quotaBytes: 1024 * MiB, quotaSource: 'documented', exhaustedUntil: null } },
    });
    expect(documented).toContain('300.0 MiB fetched of the 1.0 GiB download quota (documented for non-VIP), 300.0');
    expect(documented).not.toContain('used up');
    const used = formatStatus({
      ...base,
      traffic: {
        ...traffic,
        quota: { quotaBytes: 1024 * MiB, quotaSource: 'server', exhaustedUntil: Date.UTC(2026, 11, 2, 16) },
      },
    });
    expect(used).toContain('300.0 MiB fetched of the 1.0 GiB download quota, 300.0');
    expect(used).toContain('quota     used up (code 5113): reads answer EIO until 2026-12-03 00:00 Beijing time');
    expect(formatStatus({ ...base, traffic })).toContain('300.0 MiB fetched, 300.0 MiB served');
  });

  it('says so when no stream is open', () => {
    expect(formatStatus({ ...base, streams: [] })).toContain('streams   none open');
  });

  it('says when the access token was revoked by another client, and when the next refresh may be made', () => {
    const revoked = formatStatus({
      ...base,
      token: {
        state: 'revoked',
        fetched: 2,
        adopted: 0,
        refused: 1,
        revokedAt: '2026-12-02T08:00:10.000Z',
        nextRefreshAt: '2026-12-02T08:01:00.000Z',
      },
    });
    expect(revoked).toContain(
      'token     revoked by another client at 2026-12-02T08:00:10.000Z; next refresh at 2026-12-02T08:01:00.000Z',
    );
    const ok = formatStatus({
      ...base,
      token: {
        state: 'ok',
        expiresAt: '2027-01-01T00:00:00.000Z',
        fetched: 3,
        adopted: 0,
        refused: 2,
        revokedAt: '2026-12-02T08:00:10.000Z',
      },
    });
    expect(ok).toContain(
      'token     ok, expires 2027-01-01T00:00:00.000Z; revoked 2 time(s), last at 2026-12-02T08:00:10.000Z',
    );
    expect(formatStatus({ ...base, token: { state: 'none', fetched: 0, adopted: 0, refused: 0 } })).not.toContain(
      'token ',
    );
  });
});

describe('formatStatus: developer rights', () => {
  const DAY = 86_400_000;
  it('shows the days left and the rate tier; a warning when close to the end or expired', () => {
    const endAt = Date.UTC(2027, 0, 13, 4);
    const ok = formatStatus({
      ...base,
      developer: { endAt, daysLeft: 42, expired: false, expiring: false },
      rateTier: 'developer',
    });
    expect(ok).toContain('  developer 42 days left (until 2027-01-13); rate tier developer');
    const close = formatStatus({ ...base, developer: { endAt, daysLeft: 3, expired: false, expiring: true } });
    expect(close).toMatch(/developer WARNING 3 days left \(until 2027-01-13\): renew the 开发者权益包/);
    const over = formatStatus({
      ...base,
      developer: { endAt: endAt - 50 * DAY, daysLeft: -8, expired: true, expiring: false },
    });
    expect(over).toMatch(/developer WARNING expired on 2026-11-24: .*have expired/);
  });
});

describe('formatStatus: change polling', () => {
  it('shows each polled folder with the age of its listing and when its next poll is due', () => {
    const now = Date.now();
    const out = formatStatus({
      ...base,
      polling: {
        intervalMs: 60_000,
        folders: [
          { path: '/', why: 'root', listedAt: now - 12_000, ageMs: 12_000, nextPollAt: now + 48_000 },
          { path: '/music', why: 'recent', listedAt: now - 75_000, ageMs: 75_000, nextPollAt: now - 15_000 },
          { path: '/new', why: 'uploads', listedAt: null, ageMs: null, nextPollAt: now },
        ],
      },
    });
    expect(out).toContain('polling   every 60 s, 3 folder(s)');
    expect(out).toMatch(/listed 12 s ago, next poll in 48 s +\/ \(root\)/);
    expect(out).toMatch(/listed 75 s ago, next poll due now +\/music \(recent\)/);
    expect(out).toMatch(/not listed yet, next poll due now +\/new \(uploads\)/);
    expect(formatStatus({ ...base, polling: null })).not.toContain('polling');
  });
});
