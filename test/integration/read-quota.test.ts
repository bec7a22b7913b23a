// The download_info quota against the emulator in both its modes (issue 15): with no quota
// (downloadQuotaBytes 0, the default) reads never meet 5113; with one, the first 5113 closes the quota for
// every file (no download_info until Beijing midnight), links already fetched still read, and the
// quota is the figure the 5113 message names.
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { systemClock } from '../../src/core/clock.js';
import { CdnClient } from '../../src/pan/cdn/cdn-client.js';
import { DownloadQuota } from '../../src/pan/cdn/download-quota.js';
import { LinkCache } from '../../src/pan/cdn/download-urls.js';
import { PanRangeSource } from '../../src/pan/cdn/range-source.js';
import { ramp } from '../support/data.js';
import { emulatorClients } from './emulator-client.js';

const KiB = 1024;
const cdn = new CdnClient({ retry: { baseMs: 5, capMs: 50 } });
const emulatorClient = emulatorClients('read-quota');

/** A fresh emulator (its quota counts from 0) holding 4 files of 10 KiB, and a client. */
async function setup(downloadQuotaBytes: number) {
  const { emu, c, upload } = await emulatorClient({ downloadQuotaBytes });
  const refs: Array<{ id: string; size: number; md5: string }> = [];
  for (let i = 0; i < 4; i++) {
    const ref = await upload('0', `q${i}.bin`, ramp(10 * KiB, i + 1));
    if (ref.reused) throw new Error('unexpected reuse');
    refs.push(ref);
  }
  const quota = new DownloadQuota({ clock: systemClock, logger: silentLogger, vip: false });
  const src = new PanRangeSource({ links: new LinkCache({ api: c, quota }), cdn });
  return { emu, refs, quota, src };
}

afterAll(() => cdn.close());

describe('download quota (5113)', () => {
  it('no quota (downloadQuotaBytes 0, the default): reads go on past any amount', async () => {
    const { refs, quota, src } = await setup(0);
    for (let round = 0; round < 3; round++)
      for (const r of refs) expect((await src.read(r, 0, r.size)).length).toBe(r.size);
    expect(quota.status()).toMatchObject({ quotaSource: 'documented', exhaustedUntil: null });
  });

  it('a quota: the first 5113 closes it for every file; fetched links still read', async () => {
    const { emu, refs, quota, src } = await setup(16 * KiB);
    await src.read(refs[0]!, 0, refs[0]!.size);
    await src.read(refs[1]!, 0, refs[1]!.size); // 20 KiB of 16: the next download_info answers 5113
    emu.resetCounters();
    await expect(src.read(refs[2]!, 0, 100)).rejects.toMatchObject({ kind: 'quota', code: 5113, logged: true });
    await expect(src.read(refs[3]!, 0, 100)).rejects.toMatchObject({ kind: 'quota' });
    await expect(src.read(refs[2]!, 0, 100)).rejects.toMatchObject({ kind: 'quota' });
    expect(emu.counters().requests.download_info).toBe(1);
    expect((await src.read(refs[0]!, 0, refs[0]!.size)).length).toBe(refs[0]!.size);
    expect(quota.status()).toMatchObject({ quotaBytes: 16 * KiB, quotaSource: 'server' });
    expect(quota.status().exhaustedUntil).toBeGreaterThan(Date.now());
  });
});
