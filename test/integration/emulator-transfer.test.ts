// Uploads, CDN downloads (fetch and curl), quotas, rate limits, fault injection and seeding over real HTTP.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/index.js';
import { FakeClock } from '../support/clock.js';
import { until } from '../support/gate.js';
import { md5, ramp, WireClient } from '../unit/emulator/wire-helpers.js';

const run = promisify(execFile);
let emu: EmulatorHandle;
let c: WireClient;
beforeAll(async () => {
  emu = await startEmulator({ rateLimitScale: 0, sliceSize: 1000, completePolls: 2 });
  c = new WireClient(emu.baseUrl);
  await c.login();
});
afterAll(async () => {
  await emu.close();
});

async function curl(args: string[]): Promise<{ status: number; headers: string; body: string }> {
  const { stdout } = await run('curl', ['-s', '-D', '-', ...args], { encoding: 'latin1', maxBuffer: 1 << 24 });
  const i = stdout.indexOf('\r\n\r\n');
  return {
    status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(stdout)![1]),
    headers: stdout.slice(0, i).toLowerCase(),
    body: stdout.slice(i + 4),
  };
}

describe('upload v2', () => {
  test('create → slices → 20103 (completePolls) → completed, content intact', async () => {
    const data = ramp(2500, 1);
    const up = await c.upload(0, 'u.bin', data);
    expect(up.polls.slice(0, 2)).toEqual([20103, 20103]);
    expect(up.polls[up.polls.length - 1]).toBe(0);
    const e = emu.tree().find((t) => t.id === String(up.fileID))!;
    expect([e.size, e.md5]).toEqual([2500, md5(data)]);
    expect(emu.counters().sliceBytesReceived).toBeGreaterThanOrEqual(2500);
  });
  // like the real server: once upload_complete was asked, the merge finishes whether or not the client polls
  // again (an emulator that created the file only on a later poll hid an abandoned merge's orphan file)
  test('the merge settles without further polls: one upload_complete (20103), and the file appears', async () => {
    const data = ramp(2100, 11);
    const cr = await c.post('/upload/v2/file/create', {
      parentFileID: 0,
      filename: 'unpolled.bin',
      etag: md5(data),
      size: 2100,
    });
    for (let i = 0; i < 3; i++)
      expect((await c.slice(cr.data.preuploadID, i + 1, data.subarray(i * 1000, (i + 1) * 1000))).code).toBe(0);
    expect((await c.post('/upload/v2/file/upload_complete', { preuploadID: cr.data.preuploadID })).code).toBe(20103);
    const e = await until(() => emu.tree().find((t) => t.name === 'unpolled.bin'), 'unpolled.bin to land', {
      timeoutMs: 2000,
      everyMs: 20,
    });
    expect(e).toMatchObject({ size: 2100, md5: md5(data), trashed: false });
    // the owed 20103 answers still come, then the same file id
    expect((await c.post('/upload/v2/file/upload_complete', { preuploadID: cr.data.preuploadID })).code).toBe(20103);
    const done = await c.post('/upload/v2/file/upload_complete', { preuploadID: cr.data.preuploadID });
    expect(done.data).toMatchObject({ completed: true });
    expect(String(done.data.fileID)).toBe(e!.id);
  });
  test('close() waits for a running merge: the file is there after a restart on the same data dir', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pan123fs-emu-merge-'));
    try {
      const e1 = await startEmulator({ dataDir, rateLimitScale: 0, sliceSize: 1000, completePolls: 5 });
      const c1 = new WireClient(e1.baseUrl);
      await c1.login();
      const data = ramp(2100, 12);
      const cr = await c1.post('/upload/v2/file/create', {
        parentFileID: 0,
        filename: 'closing.bin',
        etag: md5(data),
        size: 2100,
      });
      for (let i = 0; i < 3; i++)
        expect((await c1.slice(cr.data.preuploadID, i + 1, data.subarray(i * 1000, (i + 1) * 1000))).code).toBe(0);
      expect((await c1.post('/upload/v2/file/upload_complete', { preuploadID: cr.data.preuploadID })).code).toBe(20103);
      await e1.close(); // at once: the merge is still hashing
      const e2 = await startEmulator({ dataDir, rateLimitScale: 0 });
      try {
        expect(e2.tree().find((t) => t.name === 'closing.bin')).toMatchObject({
          size: 2100,
          md5: md5(data),
          trashed: false,
        });
      } finally {
        await e2.close();
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
  test('bad sliceMD5 and wrong slice size are refused', async () => {
    const data = ramp(1500, 2);
    const cr = await c.post('/upload/v2/file/create', {
      parentFileID: 0,
      filename: 'bad.bin',
      etag: md5(data),
      size: 1500,
    });
    expect(cr.data).toMatchObject({ fileID: 0, reuse: false, sliceSize: 1000, servers: [emu.baseUrl] });
    expect((await c.slice(cr.data.preuploadID, 1, data.subarray(0, 1000), md5('nope'))).code).not.toBe(0);
    expect((await c.slice(cr.data.preuploadID, 1, data.subarray(0, 999))).code).not.toBe(0);
    expect((await c.slice(cr.data.preuploadID, 3, data.subarray(0, 500))).code).not.toBe(0);
    expect((await c.slice(cr.data.preuploadID, 1, data.subarray(0, 1000))).code).toBe(0);
    // slice 2 missing → complete is an error, not 20103
    expect((await c.post('/upload/v2/file/upload_complete', { preuploadID: cr.data.preuploadID })).code).toBe(1);
  });
  test('refused and repeated slices never damage accepted bytes (slices are assembled in place)', async () => {
    const data = ramp(2500, 7);
    const id = (
      await c.post('/upload/v2/file/create', { parentFileID: 0, filename: 'inplace.bin', etag: md5(data), size: 2500 })
    ).data.preuploadID;
    expect((await c.slice(id, 1, data.subarray(0, 1000))).code).toBe(0);
    const junk = Buffer.alloc(1000, 0x5a);
    expect((await c.slice(id, 1, junk, md5('nope'))).code).not.toBe(0); // a bad repeat of an accepted slice
    expect((await c.slice(id, 1, junk)).code).toBe(0); // a well-formed repeat is accepted and ignored
    expect((await c.slice(id, 2, junk, md5(data.subarray(1000, 2000)))).code).not.toBe(0); // bad bytes, then good
    expect((await c.slice(id, 2, data.subarray(1000, 2000))).code).toBe(0);
    expect((await c.slice(id, 3, Buffer.alloc(600, 1))).code).not.toBe(0); // an over-long last slice, then right
    expect((await c.slice(id, 3, data.subarray(2000))).code).toBe(0);
    let r;
    for (let i = 0; i < 10; i++) {
      r = await c.post('/upload/v2/file/upload_complete', { preuploadID: id });
      if (r.code === 0 && r.data.completed) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(r!.data).toMatchObject({ completed: true });
    const e = emu.tree().find((t) => t.name === 'inplace.bin')!;
    expect([e.size, e.md5]).toEqual([2500, md5(data)]);
  });
  test('whole-file MD5 != etag → 文件上传失败 after 20103', async () => {
    const data = ramp(1200, 3);
    const err = await c.upload(0, 'wrong.bin', data, { etag: md5('something else') }).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.message2).toBe('文件上传失败');
    expect(emu.tree().some((t) => t.name === 'wrong.bin')).toBe(false);
  });
  test('name clash at create and at completion; duplicate 1 and 2', async () => {
    const d = await c.mkdir(0, 'dups');
    const first = await c.upload(d, 'a.txt', Buffer.from('one'));
    expect(
      await c.post('/upload/v2/file/create', { parentFileID: d, filename: 'a.txt', etag: md5('two'), size: 3 }),
    ).toMatchObject({ code: 1, message: '该目录下文件名重复无法创建' });
    const second = await c.upload(d, 'a.txt', Buffer.from('two'), { duplicate: 1 });
    expect(emu.tree().find((t) => t.id === String(second.fileID))!.name).toBe('a(1).txt');
    const third = await c.upload(d, 'a.txt', Buffer.from('three'), { duplicate: 2 });
    expect(third.fileID).not.toBe(first.fileID);
    expect(emu.tree().find((t) => t.id === String(first.fileID))!.trashed).toBe(true);
    // clash appearing between create and complete
    const cr = await c.post('/upload/v2/file/create', {
      parentFileID: d,
      filename: 'late.txt',
      etag: md5('late!'),
      size: 5,
    });
    await c.slice(cr.data.preuploadID, 1, Buffer.from('late!'));
    await c.mkdir(d, 'late.txt');
    let r;
    do {
      r = await c.post('/upload/v2/file/upload_complete', { preuploadID: cr.data.preuploadID });
    } while (r.code === 20103 || (r.code === 0 && !r.data.completed));
    expect(r).toMatchObject({ code: 1, message: '该目录下文件名重复无法创建' });
  });
  test('instant upload: reuse:true with a new id, counted', async () => {
    const before = emu.counters().instantUploadHits;
    const data = ramp(2500, 1); // same content as u.bin
    const r = await c.post('/upload/v2/file/create', {
      parentFileID: 0,
      filename: 'u-copy.bin',
      etag: md5(data),
      size: data.length,
    });
    expect(r.data.reuse).toBe(true);
    expect(r.data.fileID).toBeGreaterThan(0);
    expect(r.data).not.toHaveProperty('preuploadID');
    expect(emu.counters().instantUploadHits).toBe(before + 1);
  });
  test('zero-byte file: no slices, complete works, then instant', async () => {
    const up = await c.upload(0, 'empty.txt', Buffer.alloc(0));
    expect(up.reuse).toBe(false);
    expect(emu.tree().find((t) => t.id === String(up.fileID))!.size).toBe(0);
    expect((await c.upload(0, 'empty2.txt', Buffer.alloc(0))).reuse).toBe(true);
  });
  test('single/create, domain, too-large sizes', async () => {
    expect((await c.get('/upload/v2/file/domain')).data).toEqual([emu.baseUrl]);
    const data = ramp(4000, 9);
    const fd = new FormData();
    for (const [k, v] of Object.entries({
      parentFileID: '0',
      filename: 'single.bin',
      etag: md5(data),
      size: String(data.length),
    }))
      fd.set(k, v);
    fd.set('file', new Blob([data]), 'single.bin');
    const r = JSON.parse(
      await (
        await fetch(`${emu.baseUrl}/upload/v2/file/single/create`, { method: 'POST', headers: c.headers(), body: fd })
      ).text(),
    );
    expect(r.data.completed).toBe(true);
    expect(emu.tree().find((t) => t.id === String(r.data.fileID))!.md5).toBe(md5(data));
    expect(emu.counters().singleUploadBytes).toBe(4000);
    expect(
      (
        await c.post('/upload/v2/file/create', {
          parentFileID: 0,
          filename: 'huge',
          etag: md5('x'),
          size: 10 * 1024 ** 3 + 1,
        })
      ).code,
    ).toBe(1);
    expect(
      (
        await c.post('/upload/v2/file/create', {
          parentFileID: 0,
          filename: 'up',
          etag: md5('x').toUpperCase(),
          size: 1,
        })
      ).code,
    ).toBe(1);
  });
});

describe('CDN downloads', () => {
  let url: string;
  const data = ramp(10_000, 7);
  beforeAll(async () => {
    const up = await c.upload(0, 'range.bin', data);
    url = (await c.get(`/api/v1/file/download_info?fileId=${up.fileID}`)).data.downloadUrl;
  });
  test('full body, first byte, last byte, suffix, past end (curl)', async () => {
    const full = await curl([url]);
    expect([full.status, md5(Buffer.from(full.body, 'latin1'))]).toEqual([200, md5(data)]);
    expect(full.headers).toContain('accept-ranges: bytes');
    const first = await curl(['-H', 'Range: bytes=0-0', url]);
    expect([first.status, Buffer.from(first.body, 'latin1')[0]]).toEqual([206, data[0]]);
    expect(first.headers).toContain('content-range: bytes 0-0/10000');
    const last = await curl(['-H', 'Range: bytes=9999-9999', url]);
    expect([last.status, Buffer.from(last.body, 'latin1')[0]]).toEqual([206, data[9999]]);
    const suffix = await curl(['-H', 'Range: bytes=-100', url]);
    expect(Buffer.from(suffix.body, 'latin1').equals(data.subarray(9900))).toBe(true);
    expect(suffix.headers).toContain('content-range: bytes 9900-9999/10000');
    const past = await curl(['-H', 'Range: bytes=10000-', url]);
    expect(past.status).toBe(416);
    expect(past.headers).toContain('content-range: bytes */10000');
  });
  test('expired or tampered link → 403', async () => {
    emu.setConfig({ linkTtlSec: 0 });
    const up = emu.tree().find((t) => t.name === 'range.bin')!;
    const expired = (await c.get(`/api/v1/file/download_info?fileId=${up.id}`)).data.downloadUrl;
    emu.setConfig({ linkTtlSec: 7200 });
    expect((await fetch(expired)).status).toBe(403);
    expect((await fetch(url.replace(/s=[0-9a-f]/, 's=z'))).status).toBe(403);
  });
  test('a link lives at least linkTtlSec, even minted 5 ms before a whole second', async () => {
    // e= is whole seconds; rounding down would give this link 5 ms (issue found as a flaky read-wan test)
    const clock = new FakeClock('manual', Date.UTC(2026, 11, 4, 8, 0, 0) + 995);
    const e = await startEmulator({ rateLimitScale: 0, clock, linkTtlSec: 1 });
    try {
      const k = new WireClient(e.baseUrl);
      await k.login();
      const up = await k.upload(0, 'ttl.bin', ramp(100, 3));
      const link = (await k.get(`/api/v1/file/download_info?fileId=${up.fileID}`)).data.downloadUrl;
      clock.nowMs += 999;
      expect((await fetch(link)).status).toBe(200);
      clock.nowMs += 1006; // 2 s after the next whole second: dead
      expect((await fetch(link)).status).toBe(403);
    } finally {
      await e.close();
    }
  });
  test('daily quota → 5113 once exceeded', async () => {
    const e = await startEmulator({ rateLimitScale: 0, downloadQuotaBytes: 15_000 });
    const k = new WireClient(e.baseUrl);
    await k.login();
    const up = await k.upload(0, 'q.bin', data);
    const get = () => k.get(`/api/v1/file/download_info?fileId=${up.fileID}`);
    await (await fetch((await get()).data.downloadUrl)).arrayBuffer();
    await (await fetch((await get()).data.downloadUrl)).arrayBuffer();
    expect((await get()).code).toBe(5113);
    expect(e.counters().bytesServed).toBe(20_000);
    await e.close();
  });
  test('externalCdn (benchmarks): download_info points at <origin>/<blob path below data-dir/blobs>', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-xcdn-'));
    const e = await startEmulator({ rateLimitScale: 0, dataDir, externalCdn: 'http://127.0.0.1:18081/' });
    try {
      const w = new WireClient(e.baseUrl);
      await w.login();
      const data = ramp(3000, 9);
      const up = await w.upload(0, 'x.bin', data);
      const u = (await w.get(`/api/v1/file/download_info?fileId=${up.fileID}`)).data.downloadUrl as string;
      expect(u).toMatch(/^http:\/\/127\.0\.0\.1:18081\/[0-9a-f]{2}\/[0-9a-f]{32}-3000$/);
      const rel = u.slice('http://127.0.0.1:18081/'.length);
      expect(fs.readFileSync(path.join(dataDir, 'blobs', rel)).equals(data)).toBe(true);
    } finally {
      await e.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
  test('1 GiB streams whole with bounded memory', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-big-'));
    const chunk = ramp(1 << 20, 5);
    const fd = fs.openSync(path.join(dir, 'big.bin'), 'w');
    for (let i = 0; i < 1024; i++) fs.writeSync(fd, chunk);
    fs.closeSync(fd);
    await emu.seed(dir, '/bigseed');
    fs.rmSync(dir, { recursive: true, force: true });
    const id = emu.tree().find((t) => t.path === '/bigseed/big.bin')!.id;
    const u = (await c.get(`/api/v1/file/download_info?fileId=${id}`)).data.downloadUrl;
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{size_download}', u]);
    const secs = (performance.now() - t0) / 1000;
    expect(Number(stdout)).toBe(1024 ** 3);
    // Speed is the bench's to judge (npm run bench), not a timed test's: ~800 MiB/s alone, far less on a
    // loaded machine. This test checks the bytes and the memory bound.
    console.log(`emulator CDN: ${(1024 / secs).toFixed(0)} MiB/s`);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(200 * 1024 * 1024);
  });
});

describe('rate limits and faults', () => {
  test('over QPS → code 429 请求太频繁, counted', async () => {
    emu.setConfig({ rateLimitScale: 1, rateTier: 'free' }); // the 2025 free column
    const rs = await Promise.all(Array.from({ length: 10 }, () => c.list(0, 10)));
    emu.setConfig({ rateLimitScale: 0, rateTier: 'account' });
    const limited = rs.filter((r) => r.code === 429);
    expect(limited.length).toBe(5); // v2 list: 5 QPS for free users
    expect(limited[0]!.message).toBe('请求太频繁');
    expect(emu.counters().rateLimited).toBeGreaterThanOrEqual(5);
  });
  test('http500, code, delay, revoke-tokens', async () => {
    emu.setFaults([
      { match: 'user_info', kind: 'http500', count: 1 },
      { match: '/api/v1/file/detail', kind: 'code', code: 429, count: 1 },
    ]);
    expect((await c.raw('/api/v1/user/info', { headers: c.headers() })).status).toBe(500);
    expect((await c.get('/api/v1/user/info')).code).toBe(0);
    expect(await c.get('/api/v1/file/detail?fileID=1')).toMatchObject({ code: 429, message: '请求太频繁' });
    emu.setFaults([{ match: 'user_info', kind: 'delay', ms: 300, after: 1 }]);
    let t = performance.now();
    await c.get('/api/v1/user/info');
    expect(performance.now() - t).toBeLessThan(250);
    t = performance.now();
    await c.get('/api/v1/user/info');
    expect(performance.now() - t).toBeGreaterThanOrEqual(290);
    emu.setFaults([{ match: 'user_info', kind: 'revoke-tokens', count: 1 }]);
    expect((await c.get('/api/v1/user/info')).code).toBe(401);
    await c.login();
    emu.setFaults([]);
    expect((await c.get('/api/v1/user/info')).code).toBe(0);
  });
  test('reset on an API call and in the middle of a download body', async () => {
    emu.setFaults([{ match: 'user_info', kind: 'reset', count: 1 }]);
    await expect(fetch(`${emu.baseUrl}/api/v1/user/info`, { headers: c.headers() })).rejects.toThrow();
    const id = emu.tree().find((t) => t.name === 'range.bin')!.id;
    const u = (await c.get(`/api/v1/file/download_info?fileId=${id}`)).data.downloadUrl;
    emu.setFaults([{ match: 'cdn_download', kind: 'reset', afterBytes: 4096, count: 1 }]);
    const r = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{size_download}', u]).catch((e) => e);
    expect(Number(r.stdout)).toBe(4096);
    expect(r.code).not.toBe(0);
    emu.setFaults([{ match: '/upload/v2/file/slice', kind: 'http500', count: 1 }]);
    const cr = await c.post('/upload/v2/file/create', {
      parentFileID: 0,
      filename: 'f.bin',
      etag: md5('abc'),
      size: 3,
    });
    const sres = await fetch(`${emu.baseUrl}/upload/v2/file/slice`, {
      method: 'POST',
      headers: c.headers(),
      body: new FormData(),
    });
    expect(sres.status).toBe(500);
    expect((await c.slice(cr.data.preuploadID, 1, Buffer.from('abc'))).code).toBe(0);
  });
  test('admin API: counters, reset, tree, faults, config', async () => {
    const a = (p: string, init?: RequestInit) =>
      fetch(`${emu.baseUrl}/__emulator/${p}`, init).then((r) => r.json() as Promise<any>);
    expect((await a('counters')).requests.file_list).toBeGreaterThan(0);
    await a('counters/reset', { method: 'POST' });
    expect((await a('counters')).requests).toEqual({});
    expect((await a('tree')).some((t: any) => t.path === '/u.bin')).toBe(true);
    await a('faults', {
      method: 'POST',
      body: JSON.stringify([{ match: 'user_info', kind: 'code', code: 1, count: 1 }]),
    });
    expect((await c.get('/api/v1/user/info')).code).toBe(1);
    expect((await a('config', { method: 'POST', body: JSON.stringify({ completePolls: 3 }) })).completePolls).toBe(3);
    await a('config', { method: 'POST', body: JSON.stringify({ completePolls: 2 }) });
  });
});

describe('seed', () => {
  test('10,000 files import quickly and are downloadable', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-seed-'));
    for (let d = 0; d < 100; d++) {
      fs.mkdirSync(path.join(dir, `d${d}`));
      for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(dir, `d${d}`, `f${f}.txt`), `file ${d}/${f}\n`);
    }
    const e = await startEmulator({ rateLimitScale: 0 });
    const t0 = performance.now();
    await e.seed(dir);
    // a bound against a per-file quadratic, not a speed target (that is the bench's): ~1 s on a quiet
    // machine, 11.6 s once with the 2 cores shared by six test runs
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(e.tree().filter((t) => t.type === 'file').length).toBe(10_000);
    const k = new WireClient(e.baseUrl);
    await k.login();
    const id = e.tree().find((t) => t.path === '/d42/f7.txt')!.id;
    const u = (await k.get(`/api/v1/file/download_info?fileId=${id}`)).data.downloadUrl;
    expect(await (await fetch(u)).text()).toBe('file 42/7\n');
    await e.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
