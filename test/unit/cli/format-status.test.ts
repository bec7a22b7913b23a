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

  it('says so when no stream is open', () => {
    expect(formatStatus({ ...base, streams: [] })).toContain('streams   none open');
  });
});
