// Contract tests: the real HttpPanClient against the emulator over loopback (port 0): the shared PanApi
// contract (test/support/pan-contract.ts, also run against the in-process FakePan) and the client's own
// behaviour against the emulator (tokens, retries, rate limits, CDN ranges, links, counters).
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/index.js';
import { LinkCache } from '../../src/pan/cdn/download-urls.js';
import { isPanError, type PanError } from '../../src/pan/errors.js';
import { HttpPanClient, type HttpPanClientOptions } from '../../src/pan/http-pan-client.js';
import { PanRangeSource } from '../../src/pan/cdn/range-source.js';
import { CdnClient } from '../../src/pan/cdn/cdn-client.js';
import { FakeClock } from '../support/clock.js';
import { ramp } from '../support/data.js';
import { panContract } from '../support/pan-contract.js';

const MiB = 1024 * 1024;
const SLICE = MiB; // small slices keep the multi-slice test fast
const DL_KEY = 'contract-key';

let emu: EmulatorHandle;
let stateDir: string;
const clients: HttpPanClient[] = [];
/** the CDN side (ranged GETs on the links the API client hands out) */
const cdn = new CdnClient({ retry: { baseMs: 5, capMs: 50 } });

function client(extra: Partial<HttpPanClientOptions> = {}): HttpPanClient {
  const c = new HttpPanClient({
    apiBase: emu.baseUrl,
    clientId: 'pan123fs-demo',
    clientSecret: 'pan123fs-demo-secret',
    stateDir,
    rateLimitScale: 0,
    retry: { baseMs: 5, capMs: 50 },
    ...extra,
  });
  clients.push(c);
  return c;
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

async function waitComplete(c: HttpPanClient, preuploadId: string): Promise<{ fileId: string; polls: number }> {
  for (let polls = 1; polls <= 60; polls++) {
    const r = await c.uploadComplete(preuploadId);
    if (r.completed) return { fileId: r.fileId, polls };
    await systemClock.sleep(20);
  }
  throw new Error('upload never completed');
}

async function upload(
  c: HttpPanClient,
  parentId: string,
  name: string,
  data: Buffer,
): Promise<{ fileId: string; reuse: boolean; polls: number }> {
  const cr = await c.uploadCreate({ parentId, filename: name, md5: md5(data), size: data.length });
  if (cr.reuse) return { fileId: cr.fileId, reuse: true, polls: 0 };
  for (let no = 1, off = 0; off < data.length || no === 1; no++, off += cr.sliceSize) {
    const part = data.subarray(off, Math.min(off + cr.sliceSize, data.length));
    await c.uploadSlice({
      server: cr.servers[0]!,
      preuploadId: cr.preuploadId,
      sliceNo: no,
      sliceMd5: md5(part),
      data: part,
    });
    if (off + cr.sliceSize >= data.length) break;
  }
  return { ...(await waitComplete(c, cr.preuploadId)), reuse: false };
}

beforeAll(async () => {
  emu = await startEmulator({
    sliceSize: SLICE,
    rateLimitScale: 0,
    completePolls: 2,
    directLinkKey: DL_KEY,
    idBase: 9007199254741000n,
  });
  stateDir = await mkdtemp(join(tmpdir(), 'pan-contract-'));
});
afterEach(() => emu.setFaults([]));
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await cdn.close();
  await emu?.close();
});

describe('pan client ↔ emulator', () => {
  it('token: one issued and reused across client restarts; refreshed on 401', async () => {
    emu.resetCounters();
    const clock = new FakeClock('instant', Date.now()); // the client's: a refresh needs a minute since the last
    const a = client({ clock });
    await Promise.all(Array.from({ length: 20 }, () => a.userInfo()));
    await client({ clock }).userInfo();
    expect(emu.counters().tokensIssued).toBe(1);
    clock.advance(61_000);
    emu.setFaults([{ match: 'user_info', kind: 'code', code: 401, count: 1 }]);
    await a.userInfo();
    expect(emu.counters().tokensIssued).toBe(2);
    clock.advance(61_000);
    emu.setFaults([{ match: 'user_info', kind: 'revoke-tokens', count: 1 }]);
    const u = await client({ clock }).userInfo();
    expect(emu.counters().tokensIssued).toBe(3);
    expect(u.uid).toBe('1814435920');
    expect(u.spacePermanent).toBeGreaterThan(0);
    expect(u.spaceTempExpireAt).toBe(0);
  });

  it('namespace: mkdir, detail, rename, move, trash, recover, infos; clash and no-op answers', async () => {
    const c = client();
    const a = await c.mkdir('0', 'contract-a');
    const b = await c.mkdir('0', 'contract-b');
    expect(BigInt(a)).toBeGreaterThan(2n ** 53n); // ids beyond 2^53 survive the round trip
    await expect(c.mkdir('0', 'contract-a')).rejects.toMatchObject({ kind: 'name-clash', code: 1 });
    const sub = await c.mkdir(a, '子目录');
    expect(await c.detail(sub)).toMatchObject({ id: sub, name: '子目录', isDir: true, parentId: a, trashed: false });
    await c.rename(sub, 'renamed');
    await c.rename(sub, 'renamed'); // same name again: fine
    await c.mkdir(a, 'other');
    await expect(c.rename(sub, 'other')).rejects.toMatchObject({ kind: 'name-clash' });
    await c.move([sub], b);
    await c.move([sub], b); // 文件已在当前文件夹中 → success
    expect((await c.detail(sub)).parentId).toBe(b);
    expect((await c.infos([sub, b])).map((e) => e.id).sort()).toEqual([sub, b].sort());
    await c.trash([sub]);
    expect((await c.listAll(b)).map((e) => e.id)).not.toContain(sub);
    expect(await c.recover([sub])).toEqual([]); // back in its old place
    expect((await c.listAll(b)).map((e) => e.id)).toContain(sub);
    await c.trash([sub]);
    const taker = await c.mkdir(b, 'renamed'); // its name is taken meanwhile: it cannot come back there
    expect(await c.recover([sub])).toEqual([sub]);
    expect((await c.listAll(b)).map((e) => e.id)).toEqual([taker]);
    await expect(c.mkdir(a, 'bad:name')).rejects.toMatchObject({ kind: 'invalid-name' });
  });

  it('lists 260 entries over 3 pages, dropping trashed rows', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pan-seed-'));
    await mkdir(join(dir, 'many'));
    await Promise.all(
      Array.from({ length: 260 }, (_, i) =>
        writeFile(join(dir, 'many', `f${String(i).padStart(3, '0')}.txt`), `file ${i}`),
      ),
    );
    await emu.seed(dir);
    const c = client();
    const many = (await c.listAll('0')).find((e) => e.name === 'many')!;
    emu.resetCounters();
    const rows = await c.listAll(many.id);
    expect(rows).toHaveLength(260);
    expect(new Set(rows.map((r) => r.name)).size).toBe(260);
    expect(emu.counters().requests.file_list).toBe(3);
    const first = await c.listPage(many.id);
    expect(first.entries).toHaveLength(100);
    expect(first.lastFileId).not.toBe('-1');
    await c.trash([rows[0]!.id, rows[259]!.id]);
    expect(await c.listAll(many.id)).toHaveLength(258);
    expect(rows[0]).toMatchObject({ md5: md5(Buffer.from('file 0')), size: 6, isDir: false });
    expect(rows[0]!.createdAt).toBeGreaterThan(Date.UTC(2020, 0, 1));
  });

  it('429 and HTTP 500 are backed off and retried', async () => {
    const c = client();
    emu.setFaults([
      { match: 'user_info', kind: 'code', code: 429, count: 2 },
      { match: 'file_detail', kind: 'http500', count: 1 },
    ]);
    emu.resetCounters();
    await c.userInfo();
    await c.detail((await c.listAll('0'))[0]!.id);
    expect(emu.counters().requests.user_info).toBe(3);
    expect(emu.counters().requests.file_detail).toBe(2);
  });

  it('the client-side limiter keeps a burst under the server limit (no 429)', async () => {
    emu.setConfig({ rateLimitScale: 1 });
    try {
      const c = client({ rateLimitScale: 1 });
      emu.resetCounters();
      await Promise.all(Array.from({ length: 8 }, () => c.listPage('0')));
      expect(emu.counters().rateLimited).toBe(0);
    } finally {
      emu.setConfig({ rateLimitScale: 0 });
    }
  });

  it('a name of 255 characters is refused before any request, in both emulator modes', async () => {
    const c = client();
    for (const nameMaxChars of [254, 255]) {
      emu.setConfig({ nameMaxChars });
      emu.resetCounters();
      await expect(c.mkdir('0', 'n'.repeat(255))).rejects.toMatchObject({ kind: 'invalid-name' });
      expect(emu.counters().requests.mkdir).toBeUndefined();
    }
    emu.setConfig({ nameMaxChars: 254 });
    const id = await c.mkdir('0', 'n'.repeat(254));
    expect((await c.detail(id)).name).toHaveLength(254);
  });

  it('file/copy: counted; copyNameClash 1 suffixes the name; instantUpload 0 makes create send bytes', async () => {
    const c = client();
    const dir = await c.mkdir('0', 'copies');
    const data = ramp(4000, 77);
    const up = await upload(c, dir, 'c.bin', data);
    emu.resetCounters();
    await expect(c.copy(up.fileId, dir)).rejects.toMatchObject({ kind: 'name-clash' });
    emu.setConfig({ copyNameClash: 1, instantUpload: 0 });
    try {
      const copy = await c.copy(up.fileId, dir);
      expect(await c.detail(copy)).toMatchObject({ name: 'c(1).bin', md5: md5(data), parentId: dir });
      expect(emu.counters().copies).toBe(1);
      const cr = await c.uploadCreate({ parentId: dir, filename: 'd.bin', md5: md5(data), size: data.length });
      expect(cr.reuse).toBe(false);
      expect(emu.counters().instantUploadHits).toBe(0);
    } finally {
      emu.setConfig({ copyNameClash: 0, instantUpload: 1 });
    }
  });

  it('multi-slice upload polls through 20103 and round-trips by MD5; instant upload sends no bytes', async () => {
    const c = client();
    const dir = await c.mkdir('0', 'uploads');
    const data = ramp(2 * MiB + 12345);
    emu.resetCounters();
    const up = await upload(c, dir, 'big.bin', data);
    expect(up.reuse).toBe(false);
    expect(up.polls).toBeGreaterThanOrEqual(3); // two 20103 answers, then done
    expect(emu.counters().sliceBytesReceived).toBe(data.length);
    const d = await c.detail(up.fileId);
    expect(d).toMatchObject({ md5: md5(data), size: data.length, name: 'big.bin' });
    const link = await c.downloadInfo(up.fileId);
    expect(md5(await cdn.fetchRange(link.url, 0, data.length - 1))).toBe(md5(data));

    emu.resetCounters();
    const again = await upload(c, dir, 'copy.bin', data);
    expect(again.reuse).toBe(true);
    expect(emu.counters().sliceBytesReceived).toBe(0);
    expect(emu.counters().instantUploadHits).toBe(1);
    await expect(upload(c, dir, 'big.bin', ramp(10, 3))).rejects.toMatchObject({ kind: 'name-clash' });
  });

  it('a wrong etag ends in upload-failed', async () => {
    const c = client();
    const data = ramp(1000, 9);
    const cr = await c.uploadCreate({ parentId: '0', filename: 'liar.bin', md5: md5(ramp(1000, 8)), size: 1000 });
    if (cr.reuse) throw new Error('unexpected reuse');
    await expect(
      c.uploadSlice({ server: cr.servers[0]!, preuploadId: cr.preuploadId, sliceNo: 1, sliceMd5: md5(data), data }),
    ).resolves.toBeUndefined();
    await expect(waitComplete(c, cr.preuploadId)).rejects.toMatchObject({ kind: 'upload-failed' });
  });

  it('single-step upload and upload domains', async () => {
    const c = client();
    const [server] = await c.uploadDomains();
    const data = ramp(5000, 5);
    const r = await c.uploadSingle({
      server: server!,
      parentId: '0',
      filename: 'single.bin',
      md5: md5(data),
      size: data.length,
      data,
    });
    expect(r.completed).toBe(true);
    expect((await c.detail(r.fileId)).md5).toBe(md5(data));
  });

  it('ranges: first byte, last byte, past end; a reset mid-body is retried', async () => {
    const c = client();
    const data = ramp(300_000, 7);
    const { fileId } = await upload(c, '0', 'ranges.bin', data);
    const { url } = await c.downloadInfo(fileId);
    expect((await cdn.fetchRange(url, 0, 0))[0]).toBe(data[0]);
    expect((await cdn.fetchRange(url, data.length - 1, data.length - 1))[0]).toBe(data[data.length - 1]);
    expect((await cdn.fetchRange(url, 1000, 70_999)).equals(data.subarray(1000, 71_000))).toBe(true);
    await expect(cdn.fetchRange(url, data.length, data.length + 10)).rejects.toMatchObject({ kind: 'range' });
    emu.setFaults([{ match: 'cdn_download', kind: 'reset', afterBytes: 1000, count: 1 }]);
    expect((await cdn.fetchRange(url, 0, 99_999)).equals(data.subarray(0, 100_000))).toBe(true);
  });

  it.each([403, 400])('an expired download link (HTTP %i) is refreshed once by PanRangeSource', async (status) => {
    // 2 s: the emulator's links live 2 to 3 s, so they are dead after the 3.1 s sleep
    emu.setConfig({ linkTtlSec: 2, expiredLinkStatus: status });
    try {
      const c = client({ linkTtlMs: 3600_000 });
      const data = ramp(4096, 11);
      const { fileId } = await upload(c, '0', `expiring-${status}.bin`, data);
      const src = new PanRangeSource({ links: new LinkCache({ api: c }), cdn });
      const ref = { id: fileId, size: data.length, md5: md5(data) };
      expect((await src.read(ref, 0, 10)).equals(data.subarray(0, 10))).toBe(true);
      await systemClock.sleep(3100);
      emu.resetCounters();
      expect((await src.read(ref, 4000, 500)).equals(data.subarray(4000))).toBe(true);
      expect(emu.counters().requests.download_info).toBe(1);
    } finally {
      emu.setConfig({ linkTtlSec: 7200, expiredLinkStatus: 403 });
    }
  });

  it('direct links: signed reads inside a direct-link space; root files get kind direct-link', async () => {
    const c = client();
    const space = await c.mkdir('0', 'dlspace');
    emu.enableDirectLink('/dlspace');
    const data = ramp(70_000, 13);
    const { fileId } = await upload(c, space, 'in space.bin', data);
    const uid = (await c.userInfo()).uid;
    const signed = new PanRangeSource({
      links: new LinkCache({ api: c }),
      cdn,
      mode: 'direct',
      signing: { key: DL_KEY, uid },
    });
    expect(
      (await signed.read({ id: fileId, size: data.length, md5: md5(data) }, 5, 1000)).equals(data.subarray(5, 1005)),
    ).toBe(true);
    const wrongKey = new PanRangeSource({
      links: new LinkCache({ api: c }),
      cdn,
      mode: 'direct',
      signing: { key: 'nope', uid },
    });
    await expect(wrongKey.read({ id: fileId, size: data.length, md5: md5(data) }, 0, 10)).rejects.toMatchObject({
      kind: 'link-expired',
    });
    const root = await upload(c, '0', 'at-root.bin', ramp(100, 1));
    const err = (await c.directLink(root.fileId).catch((e: unknown) => e)) as PanError;
    expect(isPanError(err, 'direct-link')).toBe(true);
    expect(err.message).toContain('--root-folder-id');
  });

  it('errors are typed: not-found, quota', async () => {
    const c = client();
    await expect(c.downloadInfo('123456789')).rejects.toMatchObject({
      kind: 'not-found',
      code: 5066,
      endpoint: 'download_info',
    });
    emu.setFaults([{ match: 'download_info', kind: 'code', code: 5113, count: 1 }]);
    await expect(c.downloadInfo('123456789')).rejects.toMatchObject({ kind: 'quota', code: 5113 });
  });
});

// the shared contract, after the tests above (the token test counts the tokens issued from a fresh state)
panContract('HttpPanClient ↔ emulator', () => ({
  api: () => client(),
  root: '0',
  async seedFolder(name, files) {
    const dir = await mkdtemp(join(tmpdir(), 'pan-seed-'));
    await mkdir(join(dir, name));
    await Promise.all(files.map((f) => writeFile(join(dir, name, f.name), f.data)));
    await emu.seed(dir);
  },
  listPages: { reset: () => emu.resetCounters(), count: () => emu.counters().requests.file_list ?? 0 },
  sliceBytes: { reset: () => emu.resetCounters(), count: () => emu.counters().sliceBytesReceived },
  pollPause: () => systemClock.sleep(20),
  completePolls: 2,
}));
