// The lean ranged-GET path (src/pan/cdn/lean-http.ts) against real local HTTP and HTTPS servers: what it
// parses itself, what it hands to undici, and how it fails. Everything goes through CdnClient.fetchRange
// (the only user), plus direct LeanRangeClient checks where the connection behaviour is the point.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CdnClient, type CdnClientOptions } from '../../../src/pan/cdn/cdn-client.js';
import { LeanRangeClient, LeanUnsupported } from '../../../src/pan/cdn/lean-http.js';

const data = Buffer.alloc(3 * 1024 * 1024 + 7);
for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 10)) & 0xff;

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
let handler: Handler;
let connections = 0;
let server: http.Server;
let base: string;
const dir = mkdtempSync(join(tmpdir(), 'pan123fs-lean-'));
const clients: CdnClient[] = [];

/** A 206 for the request's Range, like a CDN. */
const ranged: Handler = (req, res) => {
  const m = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range));
  const s = Number(m![1]);
  const e = Math.min(Number(m![2]), data.length - 1);
  res.writeHead(206, { 'content-range': `bytes ${s}-${e}/${data.length}`, 'content-length': e - s + 1 });
  res.end(data.subarray(s, e + 1));
};

function listen(s: http.Server): Promise<string> {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(String((s.address() as AddressInfo).port))));
}

beforeAll(async () => {
  server = http.createServer((req, res) => handler(req, res));
  server.on('connection', () => {
    connections++;
  });
  base = `http://127.0.0.1:${await listen(server)}`;
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  handler = ranged;
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

function client(extra: Partial<CdnClientOptions> = {}): CdnClient {
  const c = new CdnClient({
    retry: { baseMs: 2, capMs: 10 },
    downloadTimeoutMs: 2000,
    ...extra,
  });
  clients.push(c);
  return c;
}

describe('lean ranged GETs', () => {
  it('reads exact ranges over one kept-alive connection, without undici', async () => {
    const agents: string[] = [];
    handler = (req, res) => {
      agents.push(String(req.headers['user-agent']));
      ranged(req, res);
    };
    const c = client();
    const before = connections;
    for (const [s, e] of [
      [0, 0],
      [5, 1_000_000],
      [data.length - 1, data.length - 1],
      [1 << 20, 3 << 20],
    ] as const) {
      const b = await c.fetchRange(`${base}/cdn/f?sig=x`, s, e);
      expect(b.equals(data.subarray(s, e + 1))).toBe(true);
    }
    expect(connections - before).toBe(1);
    expect(agents).toEqual(Array(4).fill('pan123fs'));
  });

  it('follows a redirect to the CDN', async () => {
    handler = (req, res) => {
      if (req.url!.startsWith('/jump')) {
        res.writeHead(302, { location: '/cdn/real', 'content-length': 0 });
        res.end();
        return;
      }
      ranged(req, res);
    };
    const b = await client().fetchRange(`${base}/jump?x=1`, 10, 20);
    expect(b.equals(data.subarray(10, 21))).toBe(true);
  });

  it('hands a chunked body to undici and still returns the right bytes', async () => {
    handler = (req, res) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range))!;
      const s = Number(m[1]);
      const e = Number(m[2]);
      res.writeHead(206, { 'content-range': `bytes ${s}-${e}/${data.length}`, 'transfer-encoding': 'chunked' });
      res.write(data.subarray(s, s + 3));
      res.end(data.subarray(s + 3, e + 1));
    };
    const b = await client().fetchRange(`${base}/cdn/chunked`, 100, 200);
    expect(b.equals(data.subarray(100, 201))).toBe(true);
    const lean = new LeanRangeClient({ connectTimeoutMs: 1000 });
    await expect(
      lean.get({ url: new URL(`${base}/cdn/chunked`), start: 0, end: 9, into: Buffer.alloc(10), timeoutMs: 1000 }),
    ).rejects.toBeInstanceOf(LeanUnsupported);
    lean.close();
  });

  it('a connection reset mid-body is retried; a wrong Content-Range is an error; 403 is link-expired', async () => {
    let n = 0;
    handler = (req, res) => {
      if (req.url!.startsWith('/cdn/reset') && ++n === 1) {
        res.writeHead(206, { 'content-range': `bytes 0-99999/${data.length}`, 'content-length': 100000 });
        res.write(data.subarray(0, 5000), () => res.socket!.destroy());
        return;
      }
      if (req.url!.startsWith('/cdn/wrong')) {
        res.writeHead(206, { 'content-range': `bytes 1-10/${data.length}`, 'content-length': 10 });
        res.end(data.subarray(1, 11));
        return;
      }
      if (req.url!.startsWith('/cdn/gone')) {
        res.writeHead(403, { 'content-length': 7 });
        res.end('expired');
        return;
      }
      ranged(req, res);
    };
    const c = client();
    expect((await c.fetchRange(`${base}/cdn/reset`, 0, 99_999)).equals(data.subarray(0, 100_000))).toBe(true);
    expect(n).toBe(2);
    await expect(c.fetchRange(`${base}/cdn/wrong`, 0, 9)).rejects.toMatchObject({ kind: 'range' });
    await expect(c.fetchRange(`${base}/cdn/gone`, 0, 9)).rejects.toMatchObject({ kind: 'link-expired' });
    // the client is still usable after the connections it dropped
    expect((await c.fetchRange(`${base}/cdn/ok`, 7, 8)).equals(data.subarray(7, 9))).toBe(true);
  });

  it('a keep-alive connection the server closed while idle is replaced without an error', async () => {
    handler = ranged;
    const c = client();
    const oldTimeout = server.keepAliveTimeout;
    server.keepAliveTimeout = 50;
    try {
      const closed = new Promise<void>((r) => server.once('connection', (s) => s.once('close', () => r())));
      expect((await c.fetchRange(`${base}/cdn/a`, 0, 3)).equals(data.subarray(0, 4))).toBe(true);
      await closed; // the server has closed the idle connection
      expect((await c.fetchRange(`${base}/cdn/a`, 4, 7)).equals(data.subarray(4, 8))).toBe(true);
    } finally {
      server.keepAliveTimeout = oldTimeout;
    }
  });

  it('a stalled body times out; an abort ends the request at once', async () => {
    handler = (_req, res) => {
      res.writeHead(206, { 'content-range': `bytes 0-99/${data.length}`, 'content-length': 100 });
      res.write(data.subarray(0, 10)); // and never the rest
    };
    const lean = new LeanRangeClient({ connectTimeoutMs: 1000 });
    await expect(
      lean.get({ url: new URL(`${base}/cdn/stall`), start: 0, end: 99, into: Buffer.alloc(100), timeoutMs: 150 }),
    ).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    const ac = new AbortController();
    const p = lean.get({
      url: new URL(`${base}/cdn/stall`),
      start: 0,
      end: 99,
      into: Buffer.alloc(100),
      timeoutMs: 10_000,
      signal: ac.signal,
    });
    setTimeout(() => ac.abort(), 50);
    const t0 = Date.now();
    await expect(p).rejects.toThrow(/abort/i);
    expect(Date.now() - t0).toBeLessThan(2000);
    lean.close();
  });

  it('an already-aborted request fails without taking or opening a connection', async () => {
    handler = ranged;
    const lean = new LeanRangeClient({ connectTimeoutMs: 1000 });
    try {
      const url = new URL(`${base}/cdn/f`);
      await lean.get({ url, start: 0, end: 9, into: Buffer.alloc(10), timeoutMs: 2000 }); // one idle connection
      const before = connections;
      const ac = new AbortController();
      ac.abort();
      await expect(
        lean.get({ url, start: 0, end: 9, into: Buffer.alloc(10), timeoutMs: 2000, signal: ac.signal }),
      ).rejects.toThrow(/abort/i);
      const into = Buffer.alloc(10);
      await lean.get({ url, start: 10, end: 19, into, timeoutMs: 2000 }); // the idle connection is still there
      expect(into.equals(data.subarray(10, 20))).toBe(true);
      expect(connections).toBe(before);
    } finally {
      lean.close();
    }
  });
});

describe('lean response parsing', () => {
  it('reads a body straight into the destination (no user-space copy), then reuses the connection', async () => {
    const lean = new LeanRangeClient({ connectTimeoutMs: 1000 });
    try {
      const before = connections;
      for (const [s, e] of [
        [7, (3 << 20) + 6],
        [0, 99],
        [1 << 20, (2 << 20) - 1],
      ] as const) {
        const into = Buffer.alloc(e - s + 1, 0xee);
        const res = await lean.get({ url: new URL(`${base}/cdn/f`), start: s, end: e, into, timeoutMs: 2000 });
        expect(res).toMatchObject({ status: 206, filled: e - s + 1 });
        expect(into.equals(data.subarray(s, e + 1))).toBe(true);
      }
      expect(connections - before).toBe(1);
      // all but what arrived with each head (≤ one 256 KiB read) went straight into `into`
      expect(lean.stats.directBytes).toBeGreaterThan((3 << 20) + (1 << 20) - 3 * (256 << 10));
    } finally {
      lean.close();
    }
  });

  it('a head split across reads (even inside the blank line) and a body in the same read as the head', async () => {
    const pieces = [
      'HTTP/1.1 206 Partial Content\r\nContent-Ra',
      'nge: bytes 0-4/10\r\nContent-Length: 5\r\n\r',
      '\nab',
      'cde',
    ];
    const raw = net.createServer((sock) => {
      sock.once('data', async () => {
        for (const p of pieces) {
          sock.write(p);
          await new Promise((r) => setTimeout(r, 20));
        }
      });
    });
    const port = await new Promise<number>((r) =>
      raw.listen(0, '127.0.0.1', () => r((raw.address() as AddressInfo).port)),
    );
    const lean = new LeanRangeClient({ connectTimeoutMs: 1000 });
    try {
      const into = Buffer.alloc(5);
      const res = await lean.get({
        url: new URL(`http://127.0.0.1:${port}/x`),
        start: 0,
        end: 4,
        into,
        timeoutMs: 2000,
      });
      expect(res).toMatchObject({ status: 206, filled: 5, headers: { 'content-range': 'bytes 0-4/10' } });
      expect(into.toString()).toBe('abcde');
    } finally {
      lean.close();
      raw.close();
    }
  });
});

describe('lean ranged GETs over https', () => {
  let tlsServer: https.Server;
  let tlsBase: string;
  let ca: Buffer;
  beforeAll(async () => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
      ],
      { stdio: 'ignore' },
    );
    ca = readFileSync(cert);
    tlsServer = https.createServer({ key: readFileSync(key), cert: ca }, (req, res) => ranged(req, res));
    tlsBase = `https://localhost:${await listen(tlsServer)}`;
  });
  afterAll(() => {
    tlsServer.close();
  });

  it('reads ranges and verifies the certificate', async () => {
    const c = client({ tls: { ca } });
    const b = await c.fetchRange(`${tlsBase}/cdn/f`, 1000, 2_000_000);
    expect(b.equals(data.subarray(1000, 2_000_001))).toBe(true);
    const lean = new LeanRangeClient({ connectTimeoutMs: 1000, tls: { ca } });
    try {
      const into = Buffer.alloc(3 << 20);
      await lean.get({ url: new URL(`${tlsBase}/cdn/f`), start: 3, end: (3 << 20) + 2, into, timeoutMs: 2000 });
      expect(into.equals(data.subarray(3, (3 << 20) + 3))).toBe(true);
      expect(lean.stats.directBytes).toBeGreaterThan(2 << 20); // decrypted straight into `into`
    } finally {
      lean.close();
    }
    // without the CA the certificate is refused (no silent insecure fallback)
    await expect(client().fetchRange(`${tlsBase}/cdn/f`, 0, 9)).rejects.toMatchObject({ kind: 'transport' });
  });
});
