import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { DownloadLink } from '../../../src/pan/api.js';
import { EXPIRY_MARGIN_MS, LinkCache, signDirectLink } from '../../../src/pan/cdn/download-urls.js';
import { PanError } from '../../../src/pan/errors.js';
import { PanRangeSource } from '../../../src/pan/cdn/range-source.js';
import { FakeClock } from '../../support/clock.js';

function fakeApi(clock: { now(): number }, ttl = 3600_000) {
  const calls = { download: 0, direct: 0 };
  return {
    calls,
    async downloadInfo(id: string): Promise<DownloadLink> {
      calls.download++;
      await new Promise((r) => setTimeout(r, 5));
      return { url: `https://cdn.example/${id}?v=${calls.download}`, expiresAt: clock.now() + ttl };
    },
    async directLink(id: string): Promise<DownloadLink> {
      calls.direct++;
      return { url: `https://vip.123pan.cn/1814435920/%E7%9B%B4%E9%93%BE/f%20${id}.bin`, expiresAt: clock.now() + ttl };
    },
  };
}

describe('signDirectLink', () => {
  it('signs the decoded path as <expire>-<rand>-<uid>-md5(path-expire-rand-uid-key)', () => {
    const url = signDirectLink(
      'https://vip.123pan.cn/1814435920/%E7%9B%B4%E9%93%BE/a%20b.txt',
      { key: 'K', uid: '1814435920' },
      1700000000,
      'r4nd',
    );
    const md5 = createHash('md5').update('/1814435920/直链/a b.txt-1700000000-r4nd-1814435920-K').digest('hex');
    expect(new URL(url).searchParams.get('auth_key')).toBe(`1700000000-r4nd-1814435920-${md5}`);
    expect(url.startsWith('https://vip.123pan.cn/1814435920/%E7%9B%B4%E9%93%BE/a%20b.txt?auth_key=')).toBe(true);
    expect(() => signDirectLink(url, { key: 'K', uid: '1' }, 1, 'a-b')).toThrow();
  });
});

describe('LinkCache', () => {
  it('caches until shortly before expiry; single-flight per file', async () => {
    const clock = new FakeClock('instant');
    const api = fakeApi(clock);
    const links = new LinkCache({ api, clock });
    const urls = await Promise.all(Array.from({ length: 10 }, () => links.get('7', 'download', null)));
    expect(new Set(urls).size).toBe(1);
    expect(api.calls.download).toBe(1);
    clock.advance(3600_000 - EXPIRY_MARGIN_MS - 1);
    await links.get('7', 'download', null);
    expect(api.calls.download).toBe(1);
    clock.advance(2);
    await links.get('7', 'download', null);
    expect(api.calls.download).toBe(2);
  });

  it('invalidate forces a fresh link', async () => {
    const clock = new FakeClock('instant');
    const api = fakeApi(clock);
    const links = new LinkCache({ api, clock });
    const a = await links.get('7', 'download', null);
    links.invalidate('7');
    const b = await links.get('7', 'download', null);
    expect(a).not.toBe(b);
  });

  it('signed direct links expire with their signature', async () => {
    const clock = new FakeClock('instant');
    const api = fakeApi(clock, 365 * 86400_000);
    const links = new LinkCache({ api, clock, signValiditySec: 600, rand: () => 'abc' });
    const u = await links.get('7', 'direct', { key: 'K', uid: '1814435920' });
    const exp = Number(new URL(u).searchParams.get('auth_key')!.split('-')[0]);
    expect(exp).toBe(Math.floor((clock.now() + 600_000) / 1000));
    clock.advance(600_000 - EXPIRY_MARGIN_MS + 1000);
    await links.get('7', 'direct', { key: 'K', uid: '1814435920' });
    expect(api.calls.direct).toBe(2);
  });
});

describe('PanRangeSource', () => {
  it('refreshes the link once on link-expired, then succeeds', async () => {
    const clock = new FakeClock('instant');
    const api = fakeApi(clock);
    const links = new LinkCache({ api, clock });
    const seen: string[] = [];
    const fetcher = {
      async fetchRange(url: string, start: number, end: number) {
        seen.push(`${url}:${start}-${end}`);
        if (url.endsWith('v=1')) throw new PanError({ kind: 'link-expired', message: '403' });
        return Buffer.alloc(end - start + 1, 1);
      },
    };
    const src = new PanRangeSource({ links, cdn: fetcher });
    const buf = await src.read({ id: '7', size: 100, md5: '' }, 90, 50);
    expect(buf.length).toBe(10);
    expect(seen).toEqual(['https://cdn.example/7?v=1:90-99', 'https://cdn.example/7?v=2:90-99']);
  });

  it('a second link-expired surfaces; reads at or past EOF are empty without requests', async () => {
    const clock = new FakeClock('instant');
    const api = fakeApi(clock);
    const links = new LinkCache({ api, clock });
    let n = 0;
    const src = new PanRangeSource({
      links,
      cdn: {
        async fetchRange() {
          n++;
          throw new PanError({ kind: 'link-expired', message: '403' });
        },
      },
    });
    await expect(src.read({ id: '7', size: 100, md5: '' }, 0, 10)).rejects.toMatchObject({ kind: 'link-expired' });
    expect(n).toBe(2);
    expect((await src.read({ id: '7', size: 100, md5: '' }, 100, 10)).length).toBe(0);
    expect(n).toBe(2);
  });
});
