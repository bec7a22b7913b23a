// RangeFetcher (src/pan/cdn/ranges.ts) on both socket paths, lean and undici: a range cut mid-body is
// resumed from its last final byte (the retry's Range starts there; the server sends each byte once), and
// redirects and statuses are judged in one place (the same answers on both paths).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CdnClient } from '../../../src/pan/cdn/cdn-client.js';
import { ramp } from '../../support/data.js';

const data = ramp(1 << 20, 7);

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
let handler: Handler;
let server: http.Server;
let base: string;
const clients: CdnClient[] = [];
/** every Range header received, and the body bytes the server handed to the socket */
let ranges: string[] = [];
let sent = 0;

function parse(req: http.IncomingMessage): [number, number] {
  const m = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range))!;
  return [Number(m[1]), Math.min(Number(m[2]), data.length - 1)];
}

/** A 206 for the request's Range that stops after `cut` body bytes and closes the connection cleanly. */
function cutAfter(cut: number): Handler {
  return (req, res) => {
    const [s, e] = parse(req);
    const n = Math.min(cut, e - s + 1);
    res.writeHead(206, { 'content-range': `bytes ${s}-${e}/${data.length}`, 'content-length': e - s + 1 });
    sent += n;
    res.write(data.subarray(s, s + n), () => res.socket?.end());
  };
}

const whole206: Handler = (req, res) => {
  const [s, e] = parse(req);
  res.writeHead(206, { 'content-range': `bytes ${s}-${e}/${data.length}`, 'content-length': e - s + 1 });
  sent += e - s + 1;
  res.end(data.subarray(s, e + 1));
};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    ranges.push(String(req.headers.range));
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  server.closeAllConnections();
  ranges = [];
  sent = 0;
});
afterAll(() => server.close());

function client(lean: boolean, attempts = 6): CdnClient {
  const c = new CdnClient({ leanRanges: lean, retry: { attempts, baseMs: 1, capMs: 2 }, downloadTimeoutMs: 2000 });
  clients.push(c);
  return c;
}

for (const lean of [true, false]) {
  describe(`RangeFetcher (${lean ? 'lean' : 'undici'} path)`, () => {
    it('a range cut mid-body is resumed after its final bytes, each byte sent once', async () => {
      let calls = 0;
      handler = (req, res) => (calls++ === 0 ? cutAfter(300_000)(req, res) : whole206(req, res));
      const into = Buffer.alloc(600_000);
      const seen: number[] = [];
      const got = await client(lean).fetchRange(`${base}/f`, 100_000, 699_999, undefined, into, (n) => {
        expect(into.subarray(0, n).equals(data.subarray(100_000, 100_000 + n))).toBe(true);
        seen.push(n);
      });
      expect(got.equals(data.subarray(100_000, 700_000))).toBe(true);
      expect(got.buffer).toBe(into.buffer);
      expect(ranges).toEqual(['bytes=100000-699999', 'bytes=400000-699999']);
      expect(sent).toBe(600_000);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
      expect(seen).toContain(300_000);
    });

    it('a range cut again and again still completes: each cut that brought bytes starts the count afresh', async () => {
      handler = cutAfter(100_000);
      const got = await client(lean, 2).fetchRange(`${base}/f`, 0, 549_999);
      expect(got.equals(data.subarray(0, 550_000))).toBe(true);
      expect(ranges.length).toBe(6);
      expect(sent).toBe(550_000);
    });

    it('a cut with no new bytes counts as a failed attempt', async () => {
      handler = cutAfter(0);
      await expect(client(lean, 3).fetchRange(`${base}/f`, 0, 9999)).rejects.toMatchObject({ kind: 'transport' });
      expect(ranges.length).toBe(3);
    });

    it('follows relative and absolute redirects, and refuses a sixth', async () => {
      handler = (req, res) => {
        const hop = Number(/\/r(\d+)/.exec(req.url ?? '')?.[1] ?? -1);
        if (hop >= 0 && hop < 3) {
          res.writeHead(302, { location: hop === 1 ? `${base}/r2` : `/r${hop + 1}`, 'content-length': 0 });
          res.end();
        } else whole206(req, res);
      };
      const got = await client(lean).fetchRange(`${base}/r0`, 10, 20);
      expect(got.equals(data.subarray(10, 21))).toBe(true);
      handler = (_req, res) => {
        res.writeHead(302, { location: `/loop${ranges.length}`, 'content-length': 0 });
        res.end();
      };
      ranges = [];
      await expect(client(lean, 1).fetchRange(`${base}/loop`, 0, 9)).rejects.toMatchObject({
        kind: 'range',
        message: expect.stringContaining('redirects'),
      });
      expect(ranges.length).toBe(6); // the first request + 5 redirects followed
    });

    it('a redirect to an expired link is link-expired, a 503 after a redirect is retried', async () => {
      let n = 0;
      handler = (req, res) => {
        if (req.url === '/a') {
          res.writeHead(307, { location: '/b', 'content-length': 0 });
          res.end();
        } else if (n++ === 0) {
          res.writeHead(503, { 'content-length': 0 });
          res.end();
        } else whole206(req, res);
      };
      expect((await client(lean).fetchRange(`${base}/a`, 0, 4)).equals(data.subarray(0, 5))).toBe(true);
      expect(ranges).toEqual(['bytes=0-4', 'bytes=0-4', 'bytes=0-4', 'bytes=0-4']);
      handler = (req, res) => {
        res.writeHead(req.url === '/a' ? 302 : 403, req.url === '/a' ? { location: '/b', 'content-length': 0 } : {});
        res.end();
      };
      await expect(client(lean).fetchRange(`${base}/a`, 0, 4)).rejects.toMatchObject({
        kind: 'link-expired',
        code: 403,
      });
    });
  });
}
