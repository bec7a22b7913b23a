// uploadFile with the real HTTP client against the emulator playing the doubtful answers of the real
// service (issue 15, 123open-api.md §11): upload_complete's other "not yet" answers, an error answer while
// the file lands anyway, a final failure; zero-byte files refused per path; several upload hosts.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { isFsError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import {
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  startEmulator,
  type EmulatorHandle,
} from '../../src/emulator/index.js';
import { HttpPanClient } from '../../src/pan/http-pan-client.js';
import {
  COMPLETE_UNEXPECTED_POLLS,
  isUploadRefused,
  uploadFile,
  type UploadRequest,
} from '../../src/write/upload-flow.js';
import { FakeClock } from '../support/clock.js';
import { ramp } from '../support/data.js';

const SLICE = 64 * 1024;
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

let dir: string;
let emu: EmulatorHandle;
let pan: HttpPanClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pan123fs-odd-'));
  emu = await startEmulator({ dataDir: join(dir, 'emu'), sliceSize: SLICE, rateLimitScale: 0, uploadServers: 3 });
  pan = new HttpPanClient({
    apiBase: emu.baseUrl,
    clientId: DEFAULT_CLIENT_ID,
    clientSecret: DEFAULT_CLIENT_SECRET,
    stateDir: join(dir, 'state'),
    rateLimitScale: 0,
  });
});

afterEach(() => {
  emu.setConfig({ completeMode: 'verifying', completePolls: 1, zeroByteRefuse: '', instantUpload: 1 });
  emu.resetCounters();
});

afterAll(async () => {
  await pan?.close();
  await emu?.close();
  await rm(dir, { recursive: true, force: true });
});

function req(name: string, data: Buffer, extra: Partial<UploadRequest> = {}): UploadRequest {
  return {
    parentId: '0',
    name,
    size: data.length,
    md5: md5(data),
    logger: silentLogger,
    // sleeps resolve at once: 60 polls "1 s apart" take a few ms (the emulator runs on real time)
    clock: new FakeClock('instant'),
    singleMaxBytes: 0,
    duplicate: 2,
    source: { read: async (off, len) => Buffer.from(data.subarray(off, off + len)) },
    ...extra,
  };
}

const live = (name: string) => emu.tree().filter((e) => e.name === name && !e.trashed);
const calls = (ep: string) => emu.counters().requests[ep] ?? 0;

describe('upload_complete answers', () => {
  for (const [i, mode] of (['verifying', 'not-completed', 'message'] as const).entries()) {
    it(`${mode} for 3 polls: polled through, then completed`, async () => {
      emu.setConfig({ completeMode: mode, completePolls: 3 });
      const data = ramp(2 * SLICE + 7, 30 + i);
      const r = await uploadFile(pan, req(`poll-${mode}`, data));
      expect(calls('upload_complete')).toBeGreaterThanOrEqual(4);
      expect(live(`poll-${mode}`)).toMatchObject([{ id: r.fileId, md5: md5(data), size: data.length }]);
      expect(calls('file_list')).toBe(0); // no lookup needed
    });
  }

  it('an error answer on every poll while the file lands: found by the lookup and accepted', async () => {
    emu.setConfig({ completeMode: 'error-lands' });
    const data = ramp(SLICE + 3, 40);
    const r = await uploadFile(pan, req('lands.bin', data));
    expect(calls('upload_complete')).toBe(COMPLETE_UNEXPECTED_POLLS);
    expect(calls('file_list')).toBeGreaterThanOrEqual(1);
    expect(live('lands.bin')).toMatchObject([{ id: r.fileId, md5: md5(data) }]);
  });

  it('文件上传失败 while the file landed: accepted; a real failure (no file) is upload-failed', async () => {
    emu.setConfig({ completeMode: 'fail-lands' });
    const data = ramp(SLICE + 5, 41);
    const r = await uploadFile(pan, req('fail-lands.bin', data));
    expect(live('fail-lands.bin')).toMatchObject([{ id: r.fileId, md5: md5(data) }]);
    emu.setConfig({ completeMode: 'fail' });
    const other = ramp(SLICE + 5, 42);
    const e = await uploadFile(pan, req('fails.bin', other)).catch((x) => x);
    expect(e).toMatchObject({ kind: 'upload-failed' });
    expect(live('fails.bin')).toEqual([]);
    expect(calls('file_list')).toBeGreaterThanOrEqual(2); // looked up both times
  });

  it('the strict default still fails fast on a wrong MD5 (文件上传失败), after one lookup', async () => {
    const data = ramp(SLICE, 43);
    const e = await uploadFile(pan, req('wrong.bin', data, { md5: md5(ramp(SLICE, 44)) })).catch((x) => x);
    expect(e).toMatchObject({ kind: 'upload-failed' });
    expect(live('wrong.bin')).toEqual([]);
  });
});

describe('zero-byte files', () => {
  const empty = Buffer.alloc(0);

  it('no empty blob yet: create → one empty slice → complete', async () => {
    emu.setConfig({ instantUpload: 0 });
    const r = await uploadFile(pan, req('z-slice', empty));
    expect(live('z-slice')).toMatchObject([{ id: r.fileId, size: 0, md5: md5(empty) }]);
    expect([calls('upload_slice'), calls('upload_single')]).toEqual([1, 0]);
    expect(calls('upload_complete')).toBeGreaterThanOrEqual(1);
  });

  it('the empty MD5 is known: instant, no byte sent', async () => {
    const r = await uploadFile(pan, req('z-instant', empty));
    expect(r.instant).toBe(true);
    expect(emu.counters().instantUploadHits).toBe(1);
    expect(calls('upload_slice')).toBe(0);
  });

  it('reuse refused: the empty slice; reuse and slice refused: the single-step upload', async () => {
    emu.setConfig({ zeroByteRefuse: 'reuse' });
    await uploadFile(pan, req('z-noreuse', empty));
    expect(emu.counters().instantUploadHits).toBe(0);
    expect([calls('upload_slice'), calls('upload_single')]).toEqual([1, 0]);
    emu.resetCounters();
    emu.setConfig({ zeroByteRefuse: 'reuse,slice' });
    const r = await uploadFile(pan, req('z-single', empty));
    expect([calls('upload_slice'), calls('upload_single')]).toEqual([1, 1]);
    expect(live('z-single')).toMatchObject([{ id: r.fileId, size: 0 }]);
  });

  it('every path refused: UploadRefused naming each cause, and no file', async () => {
    emu.setConfig({ zeroByteRefuse: 'reuse,slice,single' });
    const e = await uploadFile(pan, req('z-none', empty)).catch((x) => x);
    expect(isUploadRefused(e)).toBe(true);
    expect(isFsError(e, 'EIO')).toBe(true);
    expect(e.message).toMatch(/empty slice: .*分片大小错误.*single-step upload: .*文件大小不能为0/);
    expect(live('z-none')).toEqual([]);
  });
});

describe('upload hosts', () => {
  it('create answers 3 servers; every slice of a file goes to servers[0]', async () => {
    const created = await pan.uploadCreate({ parentId: '0', filename: 'probe', md5: md5(ramp(9, 1)), size: 9 });
    expect(created.reuse).toBe(false);
    if (created.reuse) return;
    expect(created.servers).toHaveLength(3);
    expect(new Set(created.servers).size).toBe(3);
    emu.resetCounters();
    const data = ramp(5 * SLICE + 1, 45);
    const r = await uploadFile(pan, req('hosts.bin', data, { sliceConcurrency: 3, clock: systemClock }));
    expect(live('hosts.bin')).toMatchObject([{ id: r.fileId, md5: md5(data) }]);
    const hosts = emu.counters().uploadHosts;
    expect(Object.keys(hosts)).toEqual([new URL(emu.baseUrl).host]);
    expect(hosts[new URL(emu.baseUrl).host]).toBe(6);
  });
});
