// Links the real CDN may treat less kindly than the emulator's defaults (issue 15), each against the
// emulator in both its modes: direct-link auth_key signed over ONE form of the path (decoded by default,
// percent-encoded with directLinkSignedPath 'encoded'), and an expired download link answering 403 text
// or another 4xx (400, 401, a 429 that retries do not get past) as an HTML page.
import { afterAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import type { Logger } from '../../src/core/logger.js';
import type { EmulatorOptions } from '../../src/emulator/types.js';
import { CdnClient } from '../../src/pan/cdn/cdn-client.js';
import { LinkCache } from '../../src/pan/cdn/download-urls.js';
import { PanRangeSource } from '../../src/pan/cdn/range-source.js';
import { ramp } from '../support/data.js';
import { emulatorClients } from './emulator-client.js';

const KEY = 'links-key';
const cdn = new CdnClient({ retry: { baseMs: 5, capMs: 20, attempts: 3 } });
const emulatorClient = emulatorClients('read-links');
const setup = (opts: EmulatorOptions = {}) => emulatorClient({ directLinkKey: KEY, ...opts });

afterAll(() => cdn.close());

function infoLogger(lines: string[]): Logger {
  const noop = () => undefined;
  const l: Logger = {
    trace: noop,
    debug: noop,
    info: ((o: object, m?: string) => lines.push(m ?? JSON.stringify(o))) as Logger['info'],
    warn: noop,
    error: noop,
    fatal: noop,
    child: () => l,
  };
  return l;
}

describe('direct-link signing over one form of the path', () => {
  it.each(['decoded', 'encoded'] as const)('the CDN checks the %s path: reads succeed', async (form) => {
    const { emu, c, upload } = await setup({ directLinkSignedPath: form });
    const space = await c.mkdir('0', '直链 space');
    emu.enableDirectLink('/直链 space');
    const a = ramp(20_000, 3);
    const b = ramp(20_000, 4);
    const fa = await upload(space, 'a 文件.bin', a);
    const fb = await upload(space, 'b file.bin', b);
    const uid = (await c.userInfo()).uid;
    const lines: string[] = [];
    const links = new LinkCache({ api: c, logger: infoLogger(lines) });
    const src = new PanRangeSource({ links, cdn, mode: 'direct', signing: { key: KEY, uid } });
    emu.resetCounters();
    expect((await src.read(fa, 100, 5000)).equals(a.subarray(100, 5100))).toBe(true);
    // decoded (what we sign first): one GET; encoded: a 403, then the same link signed over the encoded path
    expect(emu.counters().requests.direct_link_download).toBe(form === 'decoded' ? 1 : 2);
    expect(links.signForm()).toBe(form);
    emu.resetCounters();
    expect((await src.read(fb, 0, b.length)).equals(b)).toBe(true);
    expect(emu.counters().requests.direct_link_download).toBe(1); // learned: signed right the first time
    expect(emu.counters().requests.direct_link_url).toBe(1); // no link refresh was needed
    expect(lines.filter((l) => l.includes('percent-encoded'))).toHaveLength(form === 'encoded' ? 1 : 0);
  });

  it('a wrong key still fails (other form, then one refresh), as link-expired', async () => {
    const { emu, c, upload } = await setup({ directLinkSignedPath: 'encoded' });
    const space = await c.mkdir('0', 'dl');
    emu.enableDirectLink('/dl');
    const f = await upload(space, 'x y.bin', ramp(1000, 5));
    const uid = (await c.userInfo()).uid;
    const src = new PanRangeSource({
      links: new LinkCache({ api: c }),
      cdn,
      mode: 'direct',
      signing: { key: 'no', uid },
    });
    emu.resetCounters();
    await expect(src.read(f, 0, 10)).rejects.toMatchObject({ kind: 'link-expired', code: 403 });
    expect(emu.counters().requests.direct_link_download).toBe(3);
    expect(emu.counters().requests.direct_link_url).toBe(2);
  });
});

describe('an expired download link', () => {
  it.each([
    [403, 0],
    [400, 1],
    [401, 1],
    [429, 1],
  ])('HTTP %i (html %i) is refreshed once, then reads', async (status, html) => {
    const { emu, c, upload } = await setup({ expiredLinkStatus: status, expiredLinkHtml: html, linkTtlSec: 2 });
    const data = ramp(4096, 11);
    const f = await upload('0', `exp-${status}.bin`, data);
    // the client believes links live an hour; the emulator's die after 2 s
    const src = new PanRangeSource({ links: new LinkCache({ api: c }), cdn });
    expect((await src.read(f, 0, 10)).equals(data.subarray(0, 10))).toBe(true);
    await systemClock.sleep(3100);
    emu.resetCounters();
    expect((await src.read(f, 4000, 500)).equals(data.subarray(4000))).toBe(true);
    expect(emu.counters().requests.download_info).toBe(1);
  });

  it('a link that stays dead fails cleanly after one refresh', async () => {
    const { emu, c, upload } = await setup({ expiredLinkStatus: 401, expiredLinkHtml: 1, linkTtlSec: 0 });
    const f = await upload('0', 'dead.bin', ramp(100, 2));
    const src = new PanRangeSource({ links: new LinkCache({ api: c }), cdn });
    emu.resetCounters();
    await expect(src.read(f, 0, 10)).rejects.toMatchObject({ kind: 'link-expired', code: 401 });
    expect(emu.counters().requests.download_info).toBe(2);
    expect(emu.counters().requests.cdn_download).toBe(2);
  });
});
