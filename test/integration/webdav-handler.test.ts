// The WebDAV handler over an in-memory Vfs (test/helpers/mem-vfs.ts) on a loopback HTTP server: the
// cases litmus does not reach — a PUT body that breaks off, read-only mode, protected live properties,
// the FsError → HTTP map, Depth: infinity, and that GET streams in pieces instead of one buffer.
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { FsError, type FsErrorKind } from '../../src/core/errors.js';
import { statusOf, type DeadPropStore } from '../../src/webdav/handler.js';
import { startWebdavServer, type WebdavServer } from '../../src/webdav/server.js';
import type { Vfs } from '../../src/vfs/types.js';
import { MemVfs } from '../helpers/mem-vfs.js';
import { Deferred, until } from '../support/gate.js';

const silent = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  fatal() {},
  child() {
    return silent;
  },
} as never;

function memProps(): DeadPropStore {
  const m = new Map<number, Map<string, { ns: string; name: string; value: string }>>();
  return {
    list: (ino) => [...(m.get(ino)?.values() ?? [])],
    apply: (ino, changes) => {
      const cur = m.get(ino) ?? new Map();
      for (const c of changes)
        if (c.value === null) cur.delete(`${c.ns} ${c.name}`);
        else cur.set(`${c.ns} ${c.name}`, { ns: c.ns, name: c.name, value: c.value });
      m.set(ino, cur);
    },
    copy: (a, b) => m.set(b, new Map(m.get(a))),
  };
}

let server: WebdavServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function start(vfs: MemVfs, readOnly = false): Promise<WebdavServer> {
  server = await startWebdavServer(
    { listen: { host: '127.0.0.1', port: 0 }, readOnly, redirect: false },
    { vfs, deadProps: memProps(), clock: { now: () => Date.now() } as never, logger: silent },
    silent,
  );
  return server;
}

function call(
  s: WebdavServer,
  method: string,
  path: string,
  o: {
    headers?: Record<string, string | number>;
    body?: string;
    abortAfter?: { part: string; when: Promise<void> };
  } = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: s.port, path, method, headers: o.headers }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: b, headers: res.headers }));
    });
    req.on('error', reject);
    if (o.abortAfter !== undefined) {
      req.write(o.abortAfter.part);
      // break the body off once the server has written part of it into the file
      void o.abortAfter.when.then(() => {
        req.destroy();
        resolve({ status: 0, body: '', headers: {} });
      });
      return;
    }
    req.end(o.body);
  });
}

describe('WebDAV handler over a Vfs', () => {
  it.each([false, true])(
    'a failed GET (EIO, logged where found: %s) warns unless its cause was logged',
    async (logged) => {
      const vfs = new MemVfs();
      const warns: string[] = [];
      const logger = { ...(silent as object), warn: (_o: object, m: string) => warns.push(m), child: () => logger };
      server = await startWebdavServer(
        { listen: { host: '127.0.0.1', port: 0 }, readOnly: false, redirect: false },
        { vfs, deadProps: memProps(), clock: { now: () => Date.now() } as never, logger: logger as never },
        logger as never,
      );
      expect((await call(server, 'PUT', '/q.bin', { body: 'quota' })).status).toBe(201);
      vfs.read = async () => {
        const e = new FsError('EIO', 'read /q.bin: the daily download quota is used up (code 5113)');
        e.logged = logged;
        throw e;
      };
      expect((await call(server, 'GET', '/q.bin')).status).toBe(502);
      expect(warns).toEqual(logged ? [] : ['WebDAV request failed']);
    },
  );

  it('a new file whose PUT body breaks off is removed again', async () => {
    const vfs = new MemVfs();
    const wrote = new Deferred();
    const write = vfs.write.bind(vfs);
    vfs.write = (...a: Parameters<MemVfs['write']>) => write(...a).finally(() => wrote.resolve());
    let unlinked = false;
    const unlink = vfs.unlink.bind(vfs);
    vfs.unlink = (p: string) => unlink(p).finally(() => (unlinked = true));
    const s = await start(vfs);
    const part = { part: 'x'.repeat(100), when: wrote.promise };
    await call(s, 'PUT', '/cut.bin', { headers: { 'Content-Length': 1000 }, abortAfter: part });
    await until(() => unlinked, 'the handler to remove the broken-off file');
    expect((await call(s, 'HEAD', '/cut.bin')).status).toBe(404);
  });

  it('PUT then GET round-trips; GET of 9 MiB is streamed in several reads', async () => {
    const vfs = new MemVfs();
    const s = await start(vfs);
    const body = 'ab'.repeat(4.5 * 1024 * 1024);
    expect((await call(s, 'PUT', '/f.txt', { body })).status).toBe(201);
    expect((await call(s, 'PUT', '/f.txt', { body })).status).toBe(204);
    let reads = 0;
    const orig = vfs.read.bind(vfs);
    vfs.read = (...a: Parameters<MemVfs['read']>) => {
      reads++;
      return orig(...a);
    };
    const got = await call(s, 'GET', '/f.txt');
    expect(got.body === body).toBe(true);
    expect(reads).toBeGreaterThanOrEqual(3);
  });

  it('GET writes Vfs.readViews views as they are and releases every chunk, also when the client goes', async () => {
    const vfs = new MemVfs();
    const s = await start(vfs);
    const body = Buffer.alloc(9 * 1024 * 1024 + 77);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31 + (i >> 10)) & 0x7f; // ASCII: the PUT sends a string
    expect((await call(s, 'PUT', '/v.bin', { body: body.toString('latin1') })).status).toBe(201);
    let taken = 0;
    let released = 0;
    let copies = 0;
    const read = vfs.read.bind(vfs);
    vfs.read = (...a: Parameters<MemVfs['read']>) => {
      copies++;
      return read(...a);
    };
    (vfs as MemVfs & Pick<Vfs, 'readViews'>).readViews = async (path, fh, length, position) => {
      const buf = Buffer.alloc(length);
      const n = await read(path, fh, buf, length, position);
      taken++;
      let done = false;
      const half = n >> 1; // two views per chunk: the handler must write both and release once
      return {
        views: n > 0 ? [buf.subarray(0, half), buf.subarray(half, n)] : [],
        bytes: n,
        release: () => {
          if (!done) released++;
          done = true;
        },
      };
    };
    const got = await new Promise<Buffer>((resolve, reject) => {
      request({ host: '127.0.0.1', port: s.port, path: '/v.bin' }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve(Buffer.concat(parts)));
      })
        .on('error', reject)
        .end();
    });
    expect(got.equals(body)).toBe(true);
    expect(copies).toBe(0); // every byte went out as a view
    expect(taken).toBeGreaterThanOrEqual(3);
    await until(() => released === taken, 'every chunk of the GET released');
    const ranged = await call(s, 'GET', '/v.bin', { headers: { Range: 'bytes=0-9,5000000-5000009' } });
    expect(ranged.status).toBe(206);
    await until(() => released === taken, 'every chunk of the multi-range GET released');
    // a client that goes after the first bytes: what the socket still held is released too
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port: s.port, path: '/v.bin' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.on('close', () => resolve());
      req.end();
    });
    await until(() => released === taken, 'every chunk of the cut-off GET released');
  });

  it('read-only mode answers 403 to changes and leaves the tree alone', async () => {
    const vfs = new MemVfs();
    await vfs.mkdir('/d', 0o755);
    const s = await start(vfs, true);
    expect((await call(s, 'MKCOL', '/e')).status).toBe(403);
    expect((await call(s, 'PUT', '/x', { body: 'x' })).status).toBe(403);
    expect((await call(s, 'DELETE', '/d')).status).toBe(403);
    expect((await vfs.getattr('/d')).isDir).toBe(true);
    const opts = await call(s, 'OPTIONS', '/');
    expect(opts.headers.allow).toBe('OPTIONS, GET, HEAD, PROPFIND');
    expect(opts.headers.dav).toBe('1, 2');
  });

  it('PROPPATCH of a live property fails the whole request: 403 for it, 424 for the rest', async () => {
    const vfs = new MemVfs();
    const fh = await vfs.create('/p', 0o644);
    await vfs.release('/p', fh);
    const s = await start(vfs);
    const xml =
      '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>' +
      '<D:getetag>x</D:getetag><Z:mine>v</Z:mine></D:prop></D:set></D:propertyupdate>';
    const r = await call(s, 'PROPPATCH', '/p', { body: xml });
    expect(r.status).toBe(207);
    expect(r.body).toMatch(/<D:getetag\/><\/D:prop><D:status>HTTP\/1.1 403/);
    expect(r.body).toMatch(/<P:mine xmlns:P="urn:z"\/><\/D:prop><D:status>HTTP\/1.1 424/);
    const pf = await call(s, 'PROPFIND', '/p', {
      headers: { Depth: '0' },
      body: '<D:propfind xmlns:D="DAV:"><D:prop><Z:mine xmlns:Z="urn:z"/></D:prop></D:propfind>',
    });
    expect(pf.body).toMatch(/HTTP\/1.1 404/);
  });

  it('PROPFIND Depth: infinity (and no Depth) is 403 propfind-finite-depth', async () => {
    const s = await start(new MemVfs());
    for (const headers of [{ Depth: 'infinity' }, {}]) {
      const r = await call(s, 'PROPFIND', '/', { headers });
      expect(r.status).toBe(403);
      expect(r.body).toContain('<D:propfind-finite-depth/>');
    }
  });

  it('maps every Vfs error kind to an HTTP status', () => {
    const want: Partial<Record<FsErrorKind, number>> = {
      ENOENT: 404,
      EEXIST: 405,
      ENOTEMPTY: 409,
      EROFS: 403,
      ENOSPC: 507,
      EFBIG: 413,
      EINVAL: 400,
      EIO: 502,
      ETIMEDOUT: 504,
    };
    for (const [k, v] of Object.entries(want)) expect(statusOf(new FsError(k as FsErrorKind, k))).toBe(v);
  });
});
