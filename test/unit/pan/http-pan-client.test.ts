import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../../src/core/logger.js';
import { isPanError, type PanError } from '../../../src/pan/errors.js';
import { HttpPanClient, type HttpPanClientOptions } from '../../../src/pan/http-pan-client.js';
import { preferHttps } from '../../../src/pan/upload-calls.js';
import { MockAgent } from 'undici';
import { isTokenRevoked, tokenFilePath, TokenRevokedError } from '../../../src/pan/auth.js';
import { CdnClient, type CdnClientOptions } from '../../../src/pan/cdn/cdn-client.js';
import { envelope, startFake, type FakeServer } from './fake-server.js';
import { FakeClock } from '../../support/clock.js';

function captureLogger(lines: string[]): Logger {
  const log = (o: unknown, m?: string) => {
    lines.push(JSON.stringify(o) + (m ?? ''));
  };
  const l: Logger = { trace: log, debug: log, info: log, warn: log, error: log, fatal: log, child: () => l } as Logger;
  return l;
}

let srv: FakeServer;
let stateDir: string;
const clients: { close(): Promise<void> }[] = [];

function client(extra: Partial<HttpPanClientOptions> = {}): HttpPanClient {
  const c = new HttpPanClient({
    apiBase: srv.baseUrl,
    clientId: 'cid',
    clientSecret: 'sekrit',
    stateDir,
    rateLimitScale: 0,
    retry: { baseMs: 2, capMs: 10 },
    ...extra,
  });
  clients.push(c);
  return c;
}

function cdn(extra: Partial<CdnClientOptions> = {}): CdnClient {
  const c = new CdnClient({ retry: { baseMs: 2, capMs: 10 }, ...extra });
  clients.push(c);
  return c;
}

const USER = {
  uid: 1814435920,
  nickname: 'n',
  spaceUsed: 1,
  spacePermanent: 6_900_000_000_000_000,
  spaceTemp: 0,
  spaceTempExpr: 0,
  vip: false,
  directTraffic: 5,
};

beforeEach(async () => {
  srv = await startFake();
  stateDir = await mkdtemp(join(tmpdir(), 'pan-unit-'));
  srv.route('/api/v1/user/info', (_r, res) => envelope(res, 0, USER));
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await srv.close();
});

describe('auth', () => {
  it('50 concurrent calls trigger exactly one token request', async () => {
    const c = client();
    const infos = await Promise.all(Array.from({ length: 50 }, () => c.userInfo()));
    expect(infos[49]!.uid).toBe('1814435920');
    expect(srv.count('/api/v1/access_token')).toBe(1);
    const tok = srv.seen.find((s) => s.path === '/api/v1/access_token')!;
    expect(tok.headers.platform).toBe('open_platform');
    expect(tok.headers.authorization).toBeUndefined();
    expect(JSON.parse(tok.body.toString())).toEqual({ clientID: 'cid', clientSecret: 'sekrit' });
    const call = srv.seen.find((s) => s.path === '/api/v1/user/info')!;
    expect(call.headers.authorization).toBe('Bearer tok-1');
    expect(call.headers.platform).toBe('open_platform');
  });

  it('persists the token with mode 0600 and reuses it across client instances', async () => {
    await client().userInfo();
    const file = tokenFilePath(stateDir, srv.baseUrl, 'cid');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).not.toContain('sekrit');
    await client().userInfo();
    expect(srv.count('/api/v1/access_token')).toBe(1);
    expect(srv.seen.filter((s) => s.path === '/api/v1/user/info').map((s) => s.headers.authorization)).toEqual([
      'Bearer tok-1',
      'Bearer tok-1',
    ]);
  });

  it('refreshes a saved token that is within 5 min of expiry', async () => {
    const file = tokenFilePath(stateDir, srv.baseUrl, 'cid');
    await writeFile(file, JSON.stringify({ clientId: 'cid', accessToken: 'old', expiresAt: Date.now() + 60_000 }));
    await client().userInfo();
    expect(srv.count('/api/v1/access_token')).toBe(1);
  });

  it('body code 401 → one refresh → retry', async () => {
    srv.route('/api/v1/user/info', (r, res) =>
      r.headers.authorization === 'Bearer tok-1'
        ? envelope(res, 401, null, 'token is expired')
        : envelope(res, 0, USER),
    );
    const clock = new FakeClock('instant', Date.now());
    const c = client({ clock });
    await c.tokens.get(); // tok-1
    clock.advance(61_000); // past the minute between two fetches
    await expect(c.userInfo()).resolves.toMatchObject({ nickname: 'n' });
    expect(srv.count('/api/v1/access_token')).toBe(2);
    expect(srv.count('/api/v1/user/info')).toBe(2);
    expect(c.tokens.status()).toMatchObject({ state: 'ok', fetched: 2, refused: 1, adopted: 0 });
  });

  it('a burst of 50 calls refused with the same token triggers exactly one refresh', async () => {
    const clock = new FakeClock('instant', Date.now());
    const c = client({ clock });
    await c.userInfo(); // tok-1
    clock.advance(61_000);
    srv.route('/api/v1/user/info', (r, res) =>
      r.headers.authorization === 'Bearer tok-1'
        ? envelope(res, 401, null, 'token is expired')
        : envelope(res, 0, USER),
    );
    await Promise.all(Array.from({ length: 50 }, () => c.userInfo()));
    expect(srv.count('/api/v1/access_token')).toBe(2);
    expect(srv.seen.filter((r) => r.headers.authorization === 'Bearer tok-2')).toHaveLength(50);
  });

  it('a token refused within a minute of its fetch was revoked by another client: no fetch for a minute', async () => {
    const lines: string[] = [];
    const clock = new FakeClock('instant', Date.now());
    const c = client({ clock, logger: captureLogger(lines) });
    await c.userInfo(); // tok-1
    clock.advance(10_000);
    srv.route('/api/v1/user/info', (r, res) =>
      r.headers.authorization === 'Bearer tok-1'
        ? envelope(res, 401, null, 'token is expired')
        : envelope(res, 0, USER),
    );
    const errs = await Promise.all(Array.from({ length: 20 }, () => c.userInfo().catch((e: unknown) => e)));
    for (const e of errs) expect(isTokenRevoked(e)).toBe(true);
    expect(errs[0]).toMatchObject({ kind: 'auth', endpoint: 'access_token' });
    expect(srv.count('/api/v1/access_token')).toBe(1);
    const st = c.tokens.status();
    expect(st).toMatchObject({ state: 'revoked', fetched: 1, refused: 1 });
    expect(Date.parse(st.nextRefreshAt!) - Date.parse(st.revokedAt!)).toBe(50_000);
    expect(lines.filter((l) => l.includes('revoked by another client'))).toHaveLength(1);
    clock.advance(49_000); // still inside the minute: the error at once, no fetch
    await expect(c.userInfo()).rejects.toBeInstanceOf(TokenRevokedError);
    expect(srv.count('/api/v1/access_token')).toBe(1);
    clock.advance(1_000); // the minute is over: one fetch
    await expect(c.userInfo()).resolves.toMatchObject({ nickname: 'n' });
    expect(srv.count('/api/v1/access_token')).toBe(2);
    expect(c.tokens.status()).toMatchObject({ state: 'ok', fetched: 2, refused: 1, revokedAt: st.revokedAt });
  });

  it('a token that keeps being refused surfaces as auth after one refresh', async () => {
    srv.route('/api/v1/user/info', (_r, res) => envelope(res, 401, null, 'token is expired'));
    const file = tokenFilePath(stateDir, srv.baseUrl, 'cid');
    await writeFile(file, JSON.stringify({ clientId: 'cid', accessToken: 'old', expiresAt: Date.now() + 86400_000 }));
    const err = await client()
      .userInfo()
      .catch((e: unknown) => e);
    expect(isPanError(err, 'auth')).toBe(true);
    expect(srv.count('/api/v1/access_token')).toBe(1); // old → tok-1, refused: no second fetch within the minute
  });

  it('re-reads the token file before fetching: a token another process saved is taken instead', async () => {
    const clock = new FakeClock('instant', Date.now());
    const a = client({ clock });
    const b = client({ clock });
    await a.userInfo();
    await b.userInfo(); // b loaded a's tok-1 from the file
    expect(srv.count('/api/v1/access_token')).toBe(1);
    clock.advance(120_000);
    srv.route('/api/v1/user/info', (r, res) =>
      r.headers.authorization === 'Bearer tok-1'
        ? envelope(res, 401, null, 'token is expired')
        : envelope(res, 0, USER),
    );
    await a.userInfo(); // tok-1 refused: a fetches tok-2 and saves it
    expect(srv.count('/api/v1/access_token')).toBe(2);
    await b.userInfo(); // tok-1 refused: b finds tok-2 in the file, no fetch
    expect(srv.count('/api/v1/access_token')).toBe(2);
    expect(b.tokens.status()).toMatchObject({ state: 'ok', fetched: 0, adopted: 1, refused: 1 });
    // tok-2 is refused within a minute of a's fetch: b counts the minute from the file's obtainedAt
    srv.route('/api/v1/user/info', (r, res) =>
      r.headers.authorization === 'Bearer tok-3'
        ? envelope(res, 0, USER)
        : envelope(res, 401, null, 'token is expired'),
    );
    await expect(b.userInfo()).rejects.toBeInstanceOf(TokenRevokedError);
    expect(srv.count('/api/v1/access_token')).toBe(2);
  });

  it('status: failing while no token can be fetched; ok once another process saved one', async () => {
    srv.route('/api/v1/access_token', (_r, res) => envelope(res, 1, null, 'clientSecret错误'));
    const clock = new FakeClock('instant', Date.now());
    const c = client({ clock });
    await expect(c.userInfo()).rejects.toMatchObject({ kind: 'auth' });
    expect(c.tokens.status()).toMatchObject({ state: 'failing', lastError: expect.stringContaining('clientSecret') });
    const file = tokenFilePath(stateDir, srv.baseUrl, 'cid');
    await writeFile(
      file,
      JSON.stringify({
        clientId: 'cid',
        accessToken: 'saved',
        expiresAt: clock.now() + 86400_000,
        obtainedAt: clock.now(),
      }),
    );
    clock.advance(1500); // past the failure back-off
    await expect(c.userInfo()).resolves.toMatchObject({ nickname: 'n' });
    expect(c.tokens.status()).toMatchObject({ state: 'ok', fetched: 0, adopted: 1 });
    expect(srv.seen.at(-1)!.headers.authorization).toBe('Bearer saved');
  });

  it('a refused token the file still holds is not taken again', async () => {
    const clock = new FakeClock('instant', Date.now());
    const c = client({ clock });
    await c.userInfo();
    clock.advance(61_000);
    srv.route('/api/v1/user/info', (r, res) =>
      r.headers.authorization === 'Bearer tok-2'
        ? envelope(res, 0, USER)
        : envelope(res, 401, null, 'token is expired'),
    );
    await expect(c.userInfo()).resolves.toMatchObject({ nickname: 'n' }); // the file held tok-1: fetched tok-2
    expect(srv.count('/api/v1/access_token')).toBe(2);
  });

  it('near expiry inside the minute: keeps the valid token instead of fetching twice', async () => {
    let n = 0;
    const clock = new FakeClock('instant', Date.now());
    srv.route('/api/v1/access_token', (_r, res) => {
      n++;
      // every token expires 3 min after it is issued: within the 5 min refresh margin at once
      envelope(res, 0, { accessToken: `short-${n}`, expiredAt: new Date(clock.now() + 180_000).toISOString() });
    });
    const c = client({ clock });
    await Promise.all(Array.from({ length: 10 }, () => c.userInfo()));
    clock.advance(30_000);
    await c.userInfo();
    expect(n).toBe(1);
    clock.advance(31_000);
    await c.userInfo();
    expect(n).toBe(2);
  });

  it('a failed token fetch does not wedge: later calls retry after the back-off window', async () => {
    let fail = true;
    srv.route('/api/v1/access_token', (_r, res) =>
      fail
        ? envelope(res, 1, null, 'clientSecret错误')
        : envelope(res, 0, { accessToken: 'good', expiredAt: '2099-01-01T00:00:00+08:00' }),
    );
    const clock = new FakeClock('instant', Date.now());
    const c = client({ clock });
    await expect(c.userInfo()).rejects.toMatchObject({ kind: 'auth', code: 1, endpoint: 'access_token' });
    fail = false;
    // within the back-off window: the last error, at once, without a request
    await expect(c.userInfo()).rejects.toMatchObject({ endpoint: 'access_token' });
    expect(srv.count('/api/v1/access_token')).toBe(1);
    clock.advance(1500);
    await expect(c.userInfo()).resolves.toMatchObject({ nickname: 'n' });
    expect(srv.count('/api/v1/access_token')).toBe(2);
  });
});

describe('retries and errors', () => {
  it('body 429 backs off and retries; logs endpoint, code, attempt, never the token', async () => {
    let n = 0;
    srv.route('/api/v1/user/info', (_r, res) =>
      ++n <= 2 ? envelope(res, 429, null, '请求太频繁') : envelope(res, 0, USER),
    );
    const lines: string[] = [];
    await client({ logger: captureLogger(lines) }).userInfo();
    expect(n).toBe(3);
    const retries = lines.filter((l) => l.includes('retrying'));
    expect(retries).toHaveLength(2);
    expect(retries[0]).toContain('"endpoint":"user/info"');
    expect(retries[0]).toContain('"code":429');
    expect(retries[0]).toContain('"traceId":"trace-429"');
    expect(lines.join('\n')).not.toMatch(/tok-1|sekrit/);
  });

  it('HTTP 503 and HTTP 429 + Retry-After are retried', async () => {
    let n = 0;
    srv.route('/api/v1/user/info', (_r, res) => {
      n++;
      if (n === 1) {
        res.statusCode = 503;
        res.end('busy');
        return;
      }
      if (n === 2) {
        res.statusCode = 429;
        res.setHeader('retry-after', '0');
        res.end();
        return;
      }
      envelope(res, 0, USER);
    });
    await client().userInfo();
    expect(n).toBe(3);
  });

  it('gives up after the configured attempts with a typed error', async () => {
    srv.route('/api/v1/user/info', (_r, res) => envelope(res, 429, null, '请求太频繁'));
    const err = await client({ retry: { attempts: 3, baseMs: 1, capMs: 2 } })
      .userInfo()
      .catch((e: unknown) => e);
    expect(isPanError(err, 'rate-limited')).toBe(true);
    expect(srv.count('/api/v1/user/info')).toBe(3);
  });

  it('non-retryable codes surface at once with code, message, traceId, endpoint', async () => {
    srv.route('/api/v1/file/download_info', (_r, res) => envelope(res, 5066, null, '文件不存在'));
    const err = (await client()
      .downloadInfo('42')
      .catch((e: unknown) => e)) as PanError;
    expect(err.kind).toBe('not-found');
    expect(err.code).toBe(5066);
    expect(err.traceId).toBe('trace-5066');
    expect(err.endpoint).toBe('download_info');
    expect(err.message).toContain('文件不存在');
    expect(srv.count('/api/v1/file/download_info')).toBe(1);
    expect(srv.seen.find((s) => s.path === '/api/v1/file/download_info')!.query.get('fileId')).toBe('42');
  });

  it('maps 5113 to quota and clash messages to name-clash', async () => {
    srv.route('/api/v1/file/download_info', (_r, res) => envelope(res, 5113, null, '您今日自用下载流量已超出1GB上限'));
    srv.route('/upload/v1/file/mkdir', (_r, res) => envelope(res, 1, null, '该目录下已经有同名文件夹,无法进行创建'));
    const c = client();
    expect(((await c.downloadInfo('1').catch((e: unknown) => e)) as PanError).kind).toBe('quota');
    expect(((await c.mkdir('0', 'x').catch((e: unknown) => e)) as PanError).kind).toBe('name-clash');
  });

  it('rejects a bad name before any request', async () => {
    const c = client();
    for (const bad of ['a:b', '   ', 'x'.repeat(256), 'a/b', '']) {
      const err = (await c.mkdir('0', bad).catch((e: unknown) => e)) as PanError;
      expect(err.kind).toBe('invalid-name');
    }
    await expect(c.rename('1', 'q?')).rejects.toMatchObject({ kind: 'invalid-name' });
    await expect(
      c.uploadCreate({ parentId: '0', filename: 'a|b', md5: 'd41d8cd98f00b204e9800998ecf8427e', size: 0 }),
    ).rejects.toMatchObject({ kind: 'invalid-name' });
    expect(srv.seen).toHaveLength(0);
  });

  it('a connection refused is retried and then reported as transport', async () => {
    const dead = await startFake();
    const url = dead.baseUrl;
    await dead.close();
    const c = client({ apiBase: url, retry: { attempts: 2, baseMs: 1, capMs: 2 } });
    await expect(c.userInfo()).rejects.toMatchObject({ kind: 'transport' });
  });
});

describe('endpoints', () => {
  it('lists every page with the cursor, drops trashed rows, keeps big ids exact', async () => {
    const big = '9007199254740993';
    srv.route('/api/v2/file/list', (r, res) => {
      const last = r.query.get('lastFileId');
      const row = (id: string, trashed = 0) =>
        `{"fileId":${id},"filename":"f${id}","type":0,"size":3,"etag":"ABC","status":0,"parentFileId":7,` +
        `"trashed":${trashed},"createAt":"2024-04-30 11:58:36","updateAt":"2024-04-30 11:58:37"}`;
      if (!last)
        return envelope(
          res,
          0,
          null,
          'ok',
          `{"code":0,"message":"ok","data":{"lastFileId":${big},"fileList":[${row('1')},${row('2', 1)}]},` +
            '"x-traceID":""}',
        );
      expect(last).toBe(big);
      envelope(
        res,
        0,
        null,
        'ok',
        `{"code":0,"message":"ok","data":{"lastFileId":-1,"fileList":[${row(big)}]},"x-traceID":""}`,
      );
    });
    const rows = await client().listAll('7');
    expect(rows.map((r) => r.id)).toEqual(['1', big]);
    expect(rows[0]).toMatchObject({
      md5: 'abc',
      parentId: '7',
      isDir: false,
      createdAt: Date.UTC(2024, 3, 30, 3, 58, 36),
      updatedAt: Date.UTC(2024, 3, 30, 3, 58, 37),
    });
    const q = srv.seen[1]!.query;
    expect([q.get('parentFileId'), q.get('limit'), q.get('lastFileId')]).toEqual(['7', '100', null]);
  });

  it('stops listing on an unchanged cursor', async () => {
    srv.route('/api/v2/file/list', (_r, res) =>
      envelope(res, 0, {
        lastFileId: 5,
        fileList: [{ fileId: 5, filename: 'a', type: 1, size: 0, etag: '', parentFileId: 0, trashed: 0 }],
      }),
    );
    const rows = await client().listAll('0');
    expect(rows).toHaveLength(1);
    expect(srv.count('/api/v2/file/list')).toBe(2);
  });

  it('sends ids as raw JSON numbers and reads detail keys', async () => {
    srv.route('/api/v1/file/move', (_r, res) => envelope(res, 0));
    srv.route('/api/v1/file/detail', (_r, res) =>
      envelope(res, 0, {
        fileID: 14749954,
        filename: 'k.exe',
        type: 0,
        size: 10,
        etag: 'ab',
        status: 2,
        parentFileID: 14749926,
        createAt: '2025-02-28 09:25:54',
        trashed: 0,
      }),
    );
    const c = client();
    await c.move(['9223372036854775807'], '0');
    const body = srv.seen.find((s) => s.path === '/api/v1/file/move')!.body.toString();
    expect(body).toBe('{"fileIDs":[9223372036854775807],"toParentFileID":0}');
    const d = await c.detail('14749954');
    expect(d).toMatchObject({ id: '14749954', parentId: '14749926', name: 'k.exe' });
    expect(d.updatedAt).toBe(d.createdAt);
    expect(srv.seen.find((s) => s.path === '/api/v1/file/detail')!.query.get('fileID')).toBe('14749954');
  });

  it('a retried create that clashes with its own landed instant upload answers reuse', async () => {
    let n = 0;
    srv.route('/upload/v2/file/create', (_r, res) => {
      if (++n === 1) {
        res.socket?.destroy();
        return;
      }
      envelope(res, 1, null, '该目录下文件名重复无法创建');
    });
    const md5 = 'd41d8cd98f00b204e9800998ecf8427e';
    srv.route('/api/v2/file/list', (_r, res) =>
      envelope(res, 0, {
        lastFileId: -1,
        fileList: [{ fileId: 88, filename: 'e', type: 0, size: 0, etag: md5, parentFileId: 0, trashed: 0 }],
      }),
    );
    expect(await client().uploadCreate({ parentId: '0', filename: 'e', md5, size: 0 })).toEqual({
      reuse: true,
      fileId: '88',
    });
  });

  it('a first-attempt clash is not second-guessed', async () => {
    srv.route('/upload/v1/file/mkdir', (_r, res) => envelope(res, 1, null, '该目录下已经有同名文件夹,无法进行创建'));
    await expect(client().mkdir('0', 'd')).rejects.toMatchObject({ kind: 'name-clash' });
    expect(srv.count('/api/v2/file/list')).toBe(0);
  });

  it('the total time budget bounds retries', async () => {
    srv.route('/api/v1/user/info', (_r, res) => envelope(res, 429, null, '请求太频繁'));
    const clock = new FakeClock('instant', Date.now());
    const err = await client({
      clock,
      retry: { attempts: 100, baseMs: 1000, capMs: 1000, maxElapsedMs: 3000, random: () => 0.999 },
    })
      .userInfo()
      .catch((e: unknown) => e);
    expect(isPanError(err, 'rate-limited')).toBe(true);
    expect(srv.count('/api/v1/user/info')).toBeLessThanOrEqual(4);
  });

  it('a move answering 文件已在当前文件夹中 is success', async () => {
    srv.route('/api/v1/file/move', (_r, res) => envelope(res, 1, null, '文件已在当前文件夹中，请选择其他文件夹'));
    await expect(client().move(['5'], '3')).resolves.toBeUndefined();
  });

  it('a retried mkdir that clashes returns the existing folder id', async () => {
    let n = 0;
    srv.route('/upload/v1/file/mkdir', (_r, res) => {
      if (++n === 1) {
        res.statusCode = 502;
        res.end('bad gateway');
        return;
      }
      envelope(res, 1, null, '该目录下已经有同名文件夹,无法进行创建');
    });
    srv.route('/api/v2/file/list', (_r, res) =>
      envelope(res, 0, {
        lastFileId: -1,
        fileList: [{ fileId: 77, filename: 'd', type: 1, size: 0, etag: '', parentFileId: 0, trashed: 0 }],
      }),
    );
    expect(await client().mkdir('0', 'd')).toBe('77');
  });

  it('a rename clash on a file that already has the name is success', async () => {
    srv.route('/api/v1/file/name', (_r, res) => envelope(res, 1, null, '当前目录有重名文件'));
    srv.route('/api/v1/file/detail', (_r, res) =>
      envelope(res, 0, { fileID: 5, filename: 'new', type: 0, size: 1, etag: 'a', parentFileID: 0, trashed: 0 }),
    );
    await expect(client().rename('5', 'new')).resolves.toBeUndefined();
    await expect(client().rename('5', 'other')).rejects.toMatchObject({ kind: 'name-clash' });
  });

  it('user/info: spaceTempExpr as string or number', async () => {
    srv.route('/api/v1/user/info', (_r, res) => envelope(res, 0, { ...USER, spaceTempExpr: '2025-01-01 08:00:00' }));
    const u = await client().userInfo();
    expect(u.spaceTempExpireAt).toBe(Date.UTC(2025, 0, 1));
    expect(u.spacePermanent).toBe(6_900_000_000_000_000);
  });

  it('direct-link failure becomes kind direct-link with the root-folder hint', async () => {
    srv.route('/api/v1/direct-link/url', (_r, res) => envelope(res, 1, null, '该文件未在直链空间'));
    const err = (await client()
      .directLink('9')
      .catch((e: unknown) => e)) as PanError;
    expect(err.kind).toBe('direct-link');
    expect(err.message).toMatch(/直链空间/);
    expect(err.message).toMatch(/--root-folder-id/);
    expect(srv.seen.find((s) => s.path === '/api/v1/direct-link/url')!.query.get('fileID')).toBe('9');
  });

  it('upload create: reuse, reuse with fileID 0, empty servers → domain', async () => {
    const md5 = 'D41D8CD98F00B204E9800998ECF8427E';
    let mode = 0;
    srv.route('/upload/v2/file/create', (_r, res) => {
      if (mode === 0) return envelope(res, 0, { fileID: 123, reuse: true });
      envelope(res, 0, { fileID: 0, reuse: mode === 1, preuploadID: 'pre', sliceSize: 1024, servers: [] });
    });
    srv.route('/upload/v2/file/domain', (_r, res) => envelope(res, 0, [srv.baseUrl]));
    const c = client();
    expect(await c.uploadCreate({ parentId: '0', filename: 'a', md5, size: 0 })).toEqual({
      reuse: true,
      fileId: '123',
    });
    const body = JSON.parse(srv.seen.at(-1)!.body.toString());
    expect(body).toEqual({ parentFileID: 0, filename: 'a', etag: md5.toLowerCase(), size: 0 });
    mode = 1;
    expect(await c.uploadCreate({ parentId: '0', filename: 'a', md5, size: 5 })).toEqual({
      reuse: false,
      preuploadId: 'pre',
      sliceSize: 1024,
      servers: [srv.baseUrl],
    });
  });

  it('upload slice is multipart with preuploadID, sliceNo, sliceMD5 and the slice bytes', async () => {
    srv.route('/upload/v2/file/slice', (r, res) => {
      const ct = String(r.headers['content-type']);
      expect(ct).toMatch(/^multipart\/form-data; boundary=/);
      expect(r.headers.platform).toBe('open_platform');
      expect(r.headers.authorization).toBe('Bearer tok-1');
      const text = r.body.toString('latin1');
      expect(text).toContain('name="preuploadID"\r\n\r\npre\r\n');
      expect(text).toContain('name="sliceNo"\r\n\r\n2\r\n');
      expect(text).toContain('name="sliceMD5"\r\n\r\nabc\r\n');
      expect(text).toContain('name="slice"; filename=');
      expect(text).toContain('\r\n\r\nHELLO\r\n--');
      envelope(res, 0);
    });
    await client().uploadSlice({
      server: srv.baseUrl,
      preuploadId: 'pre',
      sliceNo: 2,
      sliceMd5: 'ABC',
      data: Buffer.from('HELLO'),
    });
    expect(srv.count('/upload/v2/file/slice')).toBe(1);
  });

  it('upload complete: 20103, completed=false, merging messages and odd errors poll; 文件上传失败 is final', async () => {
    const answers: Array<[number, unknown, string]> = [
      [20103, null, '文件正在校验中,请间隔1秒后再试'],
      [0, { completed: false, fileID: 0 }, 'ok'],
      [1, null, '文件处理中'],
      [2, null, '请间隔1秒后再试'],
      [1, null, '服务繁忙'],
      [0, null, 'ok'],
      [0, { completed: true, fileID: 99 }, 'ok'],
      [1, null, '文件上传失败'],
      [1, null, '该目录下文件名重复无法创建'],
    ];
    srv.route('/upload/v2/file/upload_complete', (_r, res) => {
      const [c, d, m] = answers.shift()!;
      envelope(res, c, d, m);
    });
    const c = client();
    const notYet = { completed: false, fileId: '0' };
    expect(await c.uploadComplete('p')).toEqual(notYet);
    expect(await c.uploadComplete('p')).toEqual(notYet);
    expect(await c.uploadComplete('p')).toEqual(notYet);
    expect(await c.uploadComplete('p')).toEqual(notYet);
    expect(await c.uploadComplete('p')).toMatchObject({ ...notYet, unexpected: expect.stringMatching(/服务繁忙/) });
    expect(await c.uploadComplete('p')).toEqual(notYet);
    expect(await c.uploadComplete('p')).toEqual({ completed: true, fileId: '99' });
    await expect(c.uploadComplete('p')).rejects.toMatchObject({ kind: 'upload-failed' });
    await expect(c.uploadComplete('p')).rejects.toMatchObject({ kind: 'name-clash' });
  });

  it('http:// upload servers become https:// when the API is https (same host), else stay', () => {
    expect(preferHttps(['http://up.example', 'HTTP://b:8080/x', 'https://c'], 'https://open-api.123pan.com')).toEqual([
      'https://up.example',
      'https://b:8080/x',
      'https://c',
    ]);
    expect(preferHttps(['http://127.0.0.1:9'], 'http://127.0.0.1:9')).toEqual(['http://127.0.0.1:9']);
  });

  it("over an https API, create's http:// server gets the slice (and the token) over https", async () => {
    const mock = new MockAgent();
    mock.disableNetConnect();
    const ok = (data: unknown) => ({ code: 0, message: 'ok', data, 'x-traceID': 't' });
    const api = mock.get('https://open-api.test');
    api
      .intercept({ path: '/api/v1/access_token', method: 'POST' })
      .reply(200, ok({ accessToken: 'tok', expiredAt: '2099-01-01T00:00:00+08:00' }));
    api.intercept({ path: '/upload/v2/file/create', method: 'POST' }).reply(
      200,
      ok({
        fileID: 0,
        reuse: false,
        preuploadID: 'p1',
        sliceSize: 16,
        servers: ['http://up.test', 'http://up2.test'],
      }),
    );
    let sliceAuth: unknown;
    mock
      .get('https://up.test')
      .intercept({ path: '/upload/v2/file/slice', method: 'POST' })
      .reply(200, (o) => {
        sliceAuth =
          (o.headers as Record<string, string>).authorization ?? (o.headers as Record<string, string>).Authorization;
        return ok(null);
      });
    const c = client({ apiBase: 'https://open-api.test', dispatcher: mock });
    const created = await c.uploadCreate({
      parentId: '0',
      filename: 'a',
      md5: 'd41d8cd98f00b204e9800998ecf8427f',
      size: 3,
    });
    expect(created).toMatchObject({ reuse: false, servers: ['https://up.test', 'https://up2.test'] });
    if (created.reuse) throw new Error('unreachable');
    await c.uploadSlice({
      server: created.servers[0]!,
      preuploadId: 'p1',
      sliceNo: 1,
      sliceMd5: 'a',
      data: Buffer.from('abc'),
    });
    expect(sliceAuth).toBe('Bearer tok');
    mock.assertNoPendingInterceptors();
    await mock.close();
  });

  it('too-large uploads are refused locally', async () => {
    const c = client();
    await expect(
      c.uploadCreate({ parentId: '0', filename: 'a', md5: 'd41d8cd98f00b204e9800998ecf8427e', size: 11 * 1024 ** 3 }),
    ).rejects.toMatchObject({ kind: 'too-large' });
    expect(srv.seen).toHaveLength(0);
  });
});

describe('CdnClient.fetchRange', () => {
  const data = Buffer.from('0123456789abcdefghij');
  beforeEach(() => {
    srv.route('/cdn/file', (r, res) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(String(r.headers.range));
      expect(r.headers.authorization).toBeUndefined();
      const s = Number(m![1]);
      const e = Math.min(Number(m![2]), data.length - 1);
      if (s >= data.length) {
        res.statusCode = 416;
        res.end();
        return;
      }
      res.statusCode = 206;
      res.setHeader('content-range', `bytes ${s}-${e}/${data.length}`);
      res.end(data.subarray(s, e + 1));
    });
  });

  it('reads first byte, last byte and a middle range', async () => {
    const c = cdn();
    const url = `${srv.baseUrl}/cdn/file?sign=secret`;
    expect((await c.fetchRange(url, 0, 0)).toString()).toBe('0');
    expect((await c.fetchRange(url, 19, 19)).toString()).toBe('j');
    expect((await c.fetchRange(url, 3, 7)).toString()).toBe('34567');
  });

  it('past end → range; mismatched Content-Range → range; 403 → link-expired; 5xx retried', async () => {
    const c = cdn();
    await expect(c.fetchRange(`${srv.baseUrl}/cdn/file`, 25, 30)).rejects.toMatchObject({ kind: 'range' });
    await expect(c.fetchRange(`${srv.baseUrl}/cdn/file`, 15, 30)).rejects.toMatchObject({ kind: 'range' });
    srv.route('/cdn/gone', (_r, res) => {
      res.statusCode = 403;
      res.end('expired');
    });
    await expect(c.fetchRange(`${srv.baseUrl}/cdn/gone`, 0, 1)).rejects.toMatchObject({ kind: 'link-expired' });
    // any other 4xx is a dead link too (refreshed once by the range source); 416 and 429 are not
    for (const [status, kind] of [
      [400, 'link-expired'],
      [401, 'link-expired'],
      [451, 'link-expired'],
      [416, 'range'],
    ] as const) {
      srv.route(`/cdn/s${status}`, (_r, res) => {
        res.statusCode = status;
        res.end();
      });
      await expect(c.fetchRange(`${srv.baseUrl}/cdn/s${status}`, 0, 1)).rejects.toMatchObject({ kind, code: status });
    }
    let n = 0;
    srv.route('/cdn/flaky', (_r, res) => {
      if (++n === 1) {
        res.statusCode = 500;
        res.end();
        return;
      }
      res.statusCode = 206;
      res.setHeader('content-range', 'bytes 0-1/20');
      res.end('01');
    });
    expect((await c.fetchRange(`${srv.baseUrl}/cdn/flaky`, 0, 1)).toString()).toBe('01');
  });

  it('accepts 200 with the whole file, and slices a small 200', async () => {
    srv.route('/cdn/whole', (_r, res) => {
      res.statusCode = 200;
      res.end(data);
    });
    const c = cdn();
    expect((await c.fetchRange(`${srv.baseUrl}/cdn/whole`, 0, 19)).equals(data)).toBe(true);
    expect((await c.fetchRange(`${srv.baseUrl}/cdn/whole`, 5, 6)).toString()).toBe('56');
  });

  it('never logs the URL or its query', async () => {
    const lines: string[] = [];
    let n = 0;
    srv.route('/cdn/flaky2', (_r, res) => {
      if (++n === 1) {
        res.statusCode = 503;
        res.end();
        return;
      }
      res.statusCode = 206;
      res.setHeader('content-range', 'bytes 0-0/20');
      res.end('0');
    });
    await cdn({ logger: captureLogger(lines) }).fetchRange(`${srv.baseUrl}/cdn/flaky2?auth_key=SECRETKEY`, 0, 0);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toMatch(/SECRETKEY|flaky2/);
  });
});
