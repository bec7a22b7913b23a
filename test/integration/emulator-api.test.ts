// The emulator over real HTTP (loopback, port 0): envelope, headers, tokens, listing, tree operations,
// int64 ids, persistence, direct links.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/index.js';
import { md5, ramp, WireClient } from '../unit/emulator/wire-helpers.js';

let emu: EmulatorHandle;
let c: WireClient;
beforeAll(async () => {
  emu = await startEmulator({ rateLimitScale: 0, sliceSize: 1024 });
  c = new WireClient(emu.baseUrl);
  await c.login();
});
afterAll(async () => {
  await emu.close();
});

describe('envelope and headers', () => {
  test('success envelope shape', async () => {
    const r = await c.raw('/api/v1/user/info', { headers: c.headers() });
    expect(r.status).toBe(200);
    const b = JSON.parse(r.text);
    expect(Object.keys(b).sort()).toEqual(['code', 'data', 'message', 'x-traceID']);
    expect([b.code, b.message, typeof b['x-traceID']]).toEqual([0, 'ok', 'string']);
    expect(b.data.spaceTempExpr).toBe(0);
  });
  test('business errors are HTTP 200 with data null', async () => {
    const r = await c.raw('/api/v1/file/detail?fileID=123', { headers: c.headers() });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ code: 5066, data: null });
  });
  test('missing Platform header is refused (code 1), on access_token too', async () => {
    const r = await c.get('/api/v1/user/info', { authorization: `Bearer ${c.token}` });
    expect(r.code).toBe(1);
    const t = await c.raw('/api/v1/access_token', {
      method: 'POST',
      body: JSON.stringify({ clientID: c.clientID, clientSecret: c.clientSecret }),
    });
    expect(JSON.parse(t.text).code).toBe(1);
  });
  test('missing or malformed token → 401', async () => {
    expect((await c.get('/api/v1/user/info', { platform: 'open_platform' })).code).toBe(401);
    expect((await c.get('/api/v1/user/info', { platform: 'open_platform', authorization: c.token })).code).toBe(401);
  });
  test('bad credentials → code 1', async () => {
    const r = await new WireClient(emu.baseUrl, 'pan123fs-demo', 'wrong').post('/api/v1/access_token', {
      clientID: 'pan123fs-demo',
      clientSecret: 'wrong',
    });
    expect(r.code).toBe(1);
  });
  test('access_token answers an RFC 3339 +08:00 expiry ~30 days out; body keys any case', async () => {
    const r = await c.post('/api/v1/access_token', { clientid: c.clientID, CLIENTSECRET: c.clientSecret });
    expect(r.data.expiredAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
    const days = (Date.parse(r.data.expiredAt) - Date.now()) / 86400_000;
    expect(days).toBeGreaterThan(29.9);
    c.token = r.data.accessToken;
  });
  test('a 4th token revokes the oldest, which gets 401 token is expired', async () => {
    const clients = Array.from({ length: 4 }, () => new WireClient(emu.baseUrl));
    for (const k of clients) await k.login();
    const first = await clients[0]!.get('/api/v1/user/info');
    expect([first.code, first.message]).toEqual([401, 'token is expired']);
    for (const k of clients.slice(1)) expect((await k.get('/api/v1/user/info')).code).toBe(0);
    c = clients[3]!;
  });
  test('query names are case-sensitive: wrong case is missing', async () => {
    expect((await c.get('/api/v1/file/detail?fileId=1')).code).toBe(1);
    expect((await c.get('/api/v1/file/download_info?fileID=1')).code).toBe(1);
    expect((await c.get('/api/v2/file/list?parentFileID=0&limit=10')).code).toBe(1);
    expect((await c.get('/api/v2/file/list?parentFileId=0')).code).toBe(1); // limit is required
    expect((await c.get('/api/v2/file/list?parentFileId=0&limit=10')).code).toBe(0);
  });
});

describe('tree over the wire', () => {
  test('250+ entries paginate by cursor, -1 at the end, limit capped at 100, trashed rows listed', async () => {
    const d = await c.mkdir(0, 'many');
    const ids: number[] = [];
    for (let i = 0; i < 260; i++) ids.push(await c.mkdir(String(d), `d${i}`)); // numeric string id accepted
    await c.post('/api/v1/file/trash', { fileIDs: [ids[5]] });
    const seen: any[] = [];
    let cursor: number | undefined;
    let pages = 0;
    for (;;) {
      const r = await c.list(d, 1000, cursor);
      expect(r.code).toBe(0);
      expect(r.data.fileList.length).toBeLessThanOrEqual(100);
      seen.push(...r.data.fileList);
      pages++;
      if (r.data.lastFileId === -1) break;
      cursor = r.data.lastFileId;
    }
    expect(pages).toBe(3);
    expect(seen.map((e) => e.fileId)).toEqual(ids);
    expect(seen.find((e) => e.fileId === ids[5]).trashed).toBe(1);
    expect((await c.get(`/api/v2/file/list?parentFileId=${d}&limit=100&trashed=false`)).data.fileList[5].trashed).toBe(
      1,
    );
    expect(Object.keys(seen[0]).sort()).toEqual(
      [
        'category',
        'createAt',
        'etag',
        'fileId',
        'filename',
        'parentFileId',
        'punishFlag',
        's3KeyFlag',
        'size',
        'status',
        'storageNode',
        'trashed',
        'type',
        'updateAt',
      ].sort(),
    );
    expect(seen[0].createAt).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  });
  test('names of 255 characters: refused by default ("less than 255"), accepted with nameMaxChars 255', async () => {
    const a = await c.mkdir(0, 'long-names');
    expect(await c.post('/upload/v1/file/mkdir', { parentID: a, name: 'x'.repeat(255) })).toMatchObject({ code: 1 });
    expect((await c.post('/upload/v1/file/mkdir', { parentID: a, name: 'x'.repeat(254) })).code).toBe(0);
    emu.setConfig({ nameMaxChars: 255 });
    try {
      expect((await c.post('/upload/v1/file/mkdir', { parentID: a, name: 'y'.repeat(255) })).code).toBe(0);
      expect(await c.post('/upload/v1/file/mkdir', { parentID: a, name: 'y'.repeat(256) })).toMatchObject({ code: 1 });
    } finally {
      emu.setConfig({ nameMaxChars: 254 });
    }
  });
  test('mkdir/rename/move errors carry the documented messages', async () => {
    const a = await c.mkdir(0, 'ops');
    const b = await c.mkdir(a, 'b');
    await c.mkdir(a, 'c');
    expect(await c.post('/upload/v1/file/mkdir', { parentID: a, name: 'b' })).toMatchObject({
      code: 1,
      message: '该目录下已经有同名文件夹,无法进行创建',
    });
    expect(await c.post('/upload/v1/file/mkdir', { parentID: a, name: 'x?y' })).toMatchObject({
      code: 1,
      message: '文件名要小于256个字符且不能包含以下任何字符："\\/:*?|><',
    });
    expect(await c.send('PUT', '/api/v1/file/name', { fileId: b, fileName: 'c' })).toMatchObject({
      code: 1,
      message: '当前目录有重名文件',
    });
    expect(await c.post('/api/v1/file/move', { fileIDs: [b], toParentFileID: a })).toMatchObject({
      code: 1,
      message: '文件已在当前文件夹中，请选择其他文件夹',
    });
    expect((await c.post('/api/v1/file/move', { fileIDs: [a], toParentFileID: b })).code).toBe(1);
    expect((await c.post('/api/v1/file/delete', { fileIDs: [b] })).code).toBe(1);
    expect((await c.post('/api/v1/file/trash', { fileIDs: [b] })).code).toBe(0);
    expect((await c.post('/api/v1/file/delete', { fileIDs: [b] })).code).toBe(0);
    expect((await c.get(`/api/v1/file/detail?fileID=${b}`)).code).toBe(5066);
    const br = await c.post('/api/v1/file/rename', { renameList: [`${a}|ops2`, `${a}|bad:name`] });
    expect(br.data.successList.length + br.data.failList.length).toBe(2);
  });
  test('infos answers data.list; detail answers accumulated folder size and no updateAt', async () => {
    const a = await c.mkdir(0, 'sized');
    const up = await c.upload(a, 'f.bin', ramp(3000));
    const d = await c.get(`/api/v1/file/detail?fileID=${a}`);
    expect(d.data.size).toBe(3000);
    expect(d.data).not.toHaveProperty('updateAt');
    expect(Object.keys(d.data).sort()).toEqual([
      'createAt',
      'etag',
      'fileID',
      'filename',
      'parentFileID',
      'size',
      'status',
      'trashed',
      'type',
    ]);
    const i = await c.post('/api/v1/file/infos', { fileIds: [up.fileID, a] });
    expect(i.data.list.map((e: any) => e.fileId).sort()).toEqual([a, up.fileID].sort());
  });
});

describe('int64 ids and persistence', () => {
  test('ids above 2^53 round-trip exactly and the tree survives a restart', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-persist-'));
    const base = 2n ** 53n + 7n;
    let e = await startEmulator({ dataDir, idBase: base, rateLimitScale: 0, sliceSize: 1024 });
    let k = new WireClient(e.baseUrl);
    await k.login();
    const r = await k.post('/upload/v1/file/mkdir', { parentID: 0, name: 'big' });
    const raw = JSON.stringify(r); // parsed as double: check the raw text instead
    const text = (await k.raw(`/api/v2/file/list?parentFileId=0&limit=10`, { headers: k.headers() })).text;
    expect(text).toContain(`"fileId":${base}`);
    expect(raw).toBeTruthy();
    // child created with the exact id sent as a raw JSON number and as a string
    const m1 = (
      await k.raw('/upload/v1/file/mkdir', {
        method: 'POST',
        headers: k.headers(),
        body: `{"parentID":${base},"name":"kid"}`,
      })
    ).text;
    expect(m1).toContain(`"dirID":${base + 1n}`);
    const m2 = (
      await k.raw('/upload/v1/file/mkdir', {
        method: 'POST',
        headers: k.headers(),
        body: `{"parentID":"${base + 1n}","name":"grandkid"}`,
      })
    ).text;
    expect(m2).toContain(`"dirID":${base + 2n}`);
    const det = (await k.raw(`/api/v1/file/detail?fileID=${base + 2n}`, { headers: k.headers() })).text;
    expect(det).toContain(`"parentFileID":${base + 1n}`);
    const up = await k.upload(0, 'keep.bin', ramp(5000, 3));
    await e.close();
    e = await startEmulator({ dataDir, rateLimitScale: 0 });
    k = new WireClient(e.baseUrl);
    await k.login();
    expect(
      e
        .tree()
        .map((t) => t.path)
        .sort(),
    ).toEqual(['/big', '/big/kid', '/big/kid/grandkid', '/keep.bin']);
    expect(e.tree().find((t) => t.name === 'grandkid')!.id).toBe(String(base + 2n));
    const di = await k.get(`/api/v1/file/download_info?fileId=${up.fileID}`);
    const body = Buffer.from(await (await fetch(di.data.downloadUrl)).arrayBuffer());
    expect(md5(body)).toBe(md5(ramp(5000, 3)));
    await e.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
});

describe('direct links', () => {
  test('only under an enabled space directly below the root; auth_key over ONE form of the path', async () => {
    const key = 'sekret';
    const e = await startEmulator({ rateLimitScale: 0, directLinkKey: key, uid: 4242 });
    const k = new WireClient(e.baseUrl);
    await k.login();
    const top = await k.mkdir(0, '直链 space');
    const sub = await k.mkdir(top, 'sub dir');
    const f = await k.upload(sub, 'a b#.txt', Buffer.from('hello direct'));
    const rootFile = await k.upload(0, 'root.txt', Buffer.from('root'));
    expect((await k.get(`/api/v1/direct-link/url?fileID=${f.fileID}`)).code).toBe(1); // not enabled yet
    expect((await k.post('/api/v1/direct-link/enable', { fileID: sub })).code).toBe(1); // not under root
    expect(await k.post('/api/v1/direct-link/enable', { fileID: top })).toMatchObject({
      code: 0,
      data: { filename: '直链 space' },
    });
    expect((await k.get(`/api/v1/direct-link/url?fileId=${f.fileID}`)).code).toBe(1); // wrong-case name
    expect((await k.get(`/api/v1/direct-link/url?fileID=${rootFile.fileID}`)).code).toBe(1);
    expect((await k.get(`/api/v1/direct-link/url?fileID=${sub}`)).code).toBe(1); // folders have none
    const u = (await k.get(`/api/v1/direct-link/url?fileID=${f.fileID}`)).data.url as string;
    const url = new URL(u);
    expect(url.pathname).toBe(
      `/dl/4242/${encodeURIComponent('直链 space')}/${encodeURIComponent('sub dir')}/${encodeURIComponent('a b#.txt')}`,
    );
    expect((await fetch(u)).status).toBe(403);
    const sign = (p: string, ts: number) => {
      const rand = crypto.randomUUID().replace(/-/g, '');
      return `${ts}-${rand}-4242-${md5(`${p}-${ts}-${rand}-4242-${key}`)}`;
    };
    const ts = Math.floor(Date.now() / 1000) + 60;
    const decoded = decodeURIComponent(url.pathname);
    // strict: the decoded path by default, only the percent-encoded one with directLinkSignedPath 'encoded'
    for (const [form, good, bad] of [
      ['decoded', decoded, url.pathname],
      ['encoded', url.pathname, decoded],
    ] as const) {
      e.setConfig({ directLinkSignedPath: form });
      const r = await fetch(`${u}?auth_key=${sign(good, ts)}`, { headers: { range: 'bytes=6-' } });
      expect([r.status, await r.text()]).toEqual([206, 'direct']);
      expect((await fetch(`${u}?auth_key=${sign(bad, ts)}`)).status).toBe(403);
    }
    e.setConfig({ directLinkSignedPath: 'decoded' });
    expect((await fetch(`${u}?auth_key=${sign(decoded, ts - 120)}`)).status).toBe(403);
    expect((await fetch(`${u}?auth_key=${sign('/other', ts)}`)).status).toBe(403);
    expect(e.counters().directLinkBytesServed).toBe(12);
    await k.post('/api/v1/direct-link/disable', { fileID: top });
    expect((await fetch(`${u}?auth_key=${sign(url.pathname, ts)}`)).status).toBe(404);
    await e.close();
  });
});
