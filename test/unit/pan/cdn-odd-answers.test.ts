// Odd CDN answers (issue 19 item 3): a ranged GET may get 200 instead of 206, a wrong length, an HTML or
// JSON body, a reset mid-body or a body that stops early. Each must end in a PanError for that read (or
// the right bytes), never in an uncaught exception that would end the daemon. Run on both paths: the lean
// socket client and undici (leanRanges: false).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CdnClient } from '../../../src/pan/cdn/cdn-client.js';
import { PanError } from '../../../src/pan/errors.js';

const data = Buffer.alloc(64 * 1024);
for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 8)) & 0xff;

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
let handler: Handler;
let server: http.Server;
let base: string;
const clients: CdnClient[] = [];
const uncaught: unknown[] = [];
const onUncaught = (e: unknown) => uncaught.push(e);

beforeAll(async () => {
  server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
});
afterAll(() => {
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
  server.closeAllConnections();
  server.close();
});

const json = Buffer.from(JSON.stringify({ code: 429, message: 'rate limited', pad: 'x'.repeat(80) }));
const html = Buffer.from(`<html><body>${'busy '.repeat(40)}</body></html>`);

/** name → handler; `ok` answers must give the right bytes, the others a PanError. */
const answers: Record<string, { h: Handler; ok?: boolean }> = {
  '200 with a short JSON body': {
    h: (_q, s) => {
      s.writeHead(200, { 'content-type': 'application/json', 'content-length': json.length });
      s.end(json);
    },
  },
  '200 with an HTML body': {
    h: (_q, s) => {
      s.writeHead(200, { 'content-type': 'text/html', 'content-length': html.length });
      s.end(html);
    },
  },
  '200 with a chunked JSON body (no length)': {
    h: (_q, s) => {
      s.writeHead(200, { 'content-type': 'application/json' });
      s.write(json.subarray(0, 10));
      s.end(json.subarray(10));
    },
  },
  '200 carrying the whole file': {
    ok: true,
    h: (_q, s) => {
      s.writeHead(200, { 'content-length': data.length });
      s.end(data);
    },
  },
  '206 with a JSON body of the wrong length': {
    h: (_q, s) => {
      s.writeHead(206, { 'content-range': `bytes 100-1099/${data.length}`, 'content-length': json.length });
      s.end(json);
    },
  },
  '206 with a longer body than asked (chunked)': {
    h: (_q, s) => {
      s.writeHead(206, { 'content-range': `bytes 100-1099/${data.length}` });
      s.write(data.subarray(100, 600));
      s.end(data.subarray(600, 3000));
    },
  },
  '206 with a wrong Content-Range': {
    h: (_q, s) => {
      s.writeHead(206, { 'content-range': `bytes 0-999/${data.length}`, 'content-length': 1000 });
      s.end(data.subarray(0, 1000));
    },
  },
  'a reset mid-body': {
    h: (_q, s) => {
      s.writeHead(206, { 'content-range': `bytes 100-1099/${data.length}`, 'content-length': 1000 });
      s.write(data.subarray(100, 400), () => s.socket?.destroy());
    },
  },
  'a body that stops early and closes': {
    h: (_q, s) => {
      s.writeHead(206, { 'content-range': `bytes 100-1099/${data.length}`, 'content-length': 1000 });
      s.write(data.subarray(100, 400), () => s.socket?.end());
    },
  },
  'a body that stops early and hangs': {
    h: (_q, s) => {
      s.writeHead(206, { 'content-range': `bytes 100-1099/${data.length}`, 'content-length': 1000 });
      s.write(data.subarray(100, 400));
    },
  },
  '200 with a large body that ignores Range': {
    h: (_q, s) => {
      s.writeHead(200, { 'content-length': 64 * 1024 * 1024 });
      s.write(data);
    },
  },
};

for (const lean of [true, false]) {
  describe(`odd CDN answers (${lean ? 'lean' : 'undici'} path)`, () => {
    for (const [name, { h, ok }] of Object.entries(answers)) {
      it(`${name}: ${ok ? 'the right bytes' : 'a PanError'}, nothing uncaught`, async () => {
        handler = h;
        const c = new CdnClient({
          leanRanges: lean,
          retry: { attempts: 2, baseMs: 1, capMs: 2 },
          downloadTimeoutMs: 300,
        });
        clients.push(c);
        const got = await c.fetchRange(`${base}/cdn/f?sig=x`, 100, 1099).then(
          (b) => b,
          (e: unknown) => e,
        );
        if (ok) expect(Buffer.isBuffer(got) && got.equals(data.subarray(100, 1100))).toBe(true);
        else expect(got).toBeInstanceOf(PanError);
        // let any late stream event (a destroy's error) fire before checking
        await new Promise((r) => setTimeout(r, 20));
        server.closeAllConnections();
        await new Promise((r) => setImmediate(r));
        expect(uncaught).toEqual([]);
      });
    }
  });
}
