// The WebDAV listener: node:http (or node:https with --webdav-tls-cert/key) in front of WebdavHandler,
// with HTTP Basic auth when a user is configured. Loopback by default; config/webdav.ts refuses a LAN
// address without credentials, and this warns when credentials would cross the network in clear text.
// Invariants: request bodies are never buffered here (the handler streams them); no request timeout
// (a 10 GiB PUT or a paused video may take hours), but idle keep-alive sockets and slow headers are cut.

import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/logger.js';
import { isLoopback, type WebdavConfig } from '../config/webdav.js';
import { MAX_UPLOAD_BYTES, WebdavHandler, type WebdavHandlerDeps } from './handler.js';

export interface WebdavServer {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  handler: WebdavHandler;
  close(): Promise<void>;
}

function sameSecret(a: string, b: string): boolean {
  // hash first: timingSafeEqual needs equal lengths, and the length must not leak either
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** the decoded request path for a debug line (never the query) */
function safeTarget(url: string | undefined): string {
  const p = (url ?? '/').split('?')[0]!;
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

export async function startWebdavServer(
  cfg: WebdavConfig,
  deps: Omit<WebdavHandlerDeps, 'readOnly' | 'redirect'> & { readOnly?: boolean },
  log: Logger,
): Promise<WebdavServer> {
  if (!cfg.listen) throw new Error('startWebdavServer without an address');
  const handler = new WebdavHandler({
    ...deps,
    readOnly: cfg.readOnly || Boolean(deps.readOnly),
    redirect: cfg.redirect,
  });
  const authorized = (req: IncomingMessage): boolean => {
    if (cfg.user === undefined) return true;
    const h = req.headers.authorization;
    const m = h ? /^Basic\s+(\S+)$/i.exec(h) : null;
    if (!m) return false;
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) return false;
    return sameSecret(decoded.slice(0, i), cfg.user) && sameSecret(decoded.slice(i + 1), cfg.password ?? '');
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    res.setHeader('Server', 'pan123fs');
    if (!authorized(req)) {
      if (req.headers.authorization)
        log.warn({ op: 'webdav auth', remote: req.socket.remoteAddress }, 'WebDAV login refused');
      res.statusCode = 401;
      res.setHeader('WWW-Authenticate', 'Basic realm="pan123fs", charset="UTF-8"');
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.setHeader('Connection', 'close');
      res.end('authentication required\n');
      return;
    }
    const t0 = Date.now();
    res.on('finish', () =>
      log.debug(
        { op: `webdav ${req.method}`, target: safeTarget(req.url), status: res.statusCode, ms: Date.now() - t0 },
        'WebDAV request',
      ),
    );
    void handler.handle(req, res);
  };
  const server: Server = cfg.tls
    ? createHttpsServer({ cert: cfg.tls.cert, key: cfg.tls.key }, onRequest)
    : createHttpServer(onRequest);
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 30_000;
  // Expect: 100-continue: refuse a too large or unauthorized PUT before the client sends the body
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const len = Number(req.headers['content-length'] ?? 0);
    if (authorized(req) && len > MAX_UPLOAD_BYTES) {
      void handler.handle(req, res); // answers 413 without reading
      return;
    }
    if (authorized(req)) res.writeContinue();
    onRequest(req, res);
  });
  const { host, port } = cfg.listen;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const scheme = cfg.tls ? 'https' : 'http';
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${scheme}://${shownHost}:${addr.port}`;
  if (!cfg.tls && !isLoopback(host))
    log.warn(
      { op: 'webdav', address: `${host}:${addr.port}` },
      'WebDAV is served over plain HTTP on a network address: the password and the files ' +
        'cross the network unencrypted (use --webdav-tls-cert/--webdav-tls-key, or a TLS reverse proxy)',
    );
  log.info(
    {
      op: 'webdav',
      address: `${host}:${addr.port}`,
      tls: Boolean(cfg.tls),
      readOnly: cfg.readOnly,
      auth: cfg.user !== undefined,
    },
    'WebDAV server listening',
  );
  return {
    url,
    port: addr.port,
    handler,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
