// A tiny programmable 123-Open-shaped HTTP server on loopback port 0 for pan/ unit tests.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export type Handler = (req: Seen, res: ServerResponse) => void | Promise<void>;

export interface FakeServer {
  baseUrl: string;
  seen: Seen[];
  count(path: string): number;
  route(path: string, h: Handler): void;
  close(): Promise<void>;
}

export function envelope(
  res: ServerResponse,
  code: number,
  data: unknown = null,
  message = code === 0 ? 'ok' : 'error',
  raw?: string,
): void {
  res.setHeader('content-type', 'application/json');
  res.end(raw ?? JSON.stringify({ code, message, data, 'x-traceID': `trace-${code}` }));
}

/** Routes: exact path → handler. /api/v1/access_token answers a fresh token by default. */
export async function startFake(): Promise<FakeServer> {
  const routes = new Map<string, Handler>();
  const seen: Seen[] = [];
  let tokenNo = 0;
  routes.set('/api/v1/access_token', (_req, res) => {
    tokenNo++;
    envelope(res, 0, { accessToken: `tok-${tokenNo}`, expiredAt: '2099-01-01T00:00:00+08:00' });
  });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const s: Seen = {
        method: req.method ?? '',
        path: u.pathname,
        query: u.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      seen.push(s);
      const h = routes.get(u.pathname);
      if (!h) {
        res.statusCode = 404;
        res.end('no route');
        return;
      }
      Promise.resolve(h(s, res)).catch((e) => {
        res.statusCode = 500;
        res.end(String(e));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    seen,
    count: (path) => seen.filter((s) => s.path === path).length,
    route: (path, h) => {
      routes.set(path, h);
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
