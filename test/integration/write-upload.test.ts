// uploadFile with the real HTTP client against the emulator on a loopback port: multi-slice, instant,
// zero-byte, single-step, and slice faults.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import {
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  startEmulator,
  type EmulatorHandle,
} from '../../src/emulator/index.js';
import { HttpPanClient } from '../../src/pan/http-pan-client.js';
import { uploadFile, UploadDomainCache, type UploadRequest } from '../../src/write/upload-flow.js';
import { ramp } from '../support/data.js';

const SLICE = 64 * 1024;
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

let dir: string;
let emu: EmulatorHandle;
let pan: HttpPanClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pan123fs-wint-'));
  emu = await startEmulator({ dataDir: join(dir, 'emu'), sliceSize: SLICE, completePolls: 1, rateLimitScale: 0 });
  pan = new HttpPanClient({
    apiBase: emu.baseUrl,
    clientId: DEFAULT_CLIENT_ID,
    clientSecret: DEFAULT_CLIENT_SECRET,
    stateDir: join(dir, 'state'),
    rateLimitScale: 0,
  });
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
    clock: systemClock,
    singleMaxBytes: 0,
    source: { read: async (off, len) => Buffer.from(data.subarray(off, off + len)) },
    ...extra,
  };
}

function remote(name: string) {
  return emu.tree().find((e) => e.name === name && !e.trashed);
}

describe('uploadFile against the emulator', () => {
  it('uploads in server-sized slices, polls complete, and the content matches', async () => {
    const data = ramp(3 * SLICE + 1, 1);
    const r = await uploadFile(pan, req('multi.bin', data));
    expect(r).toMatchObject({ instant: false, bytesSent: data.length });
    expect(remote('multi.bin')).toMatchObject({ id: r.fileId, size: data.length, md5: md5(data) });
  });

  it('the same content again is an instant upload with no byte sent', async () => {
    const data = ramp(3 * SLICE + 1, 1);
    const before = emu.counters().sliceBytesReceived;
    const r = await uploadFile(pan, req('again.bin', data));
    expect(r).toMatchObject({ instant: true, bytesSent: 0 });
    expect(emu.counters().sliceBytesReceived).toBe(before);
    expect(remote('again.bin')).toMatchObject({ id: r.fileId, md5: md5(data) });
  });

  it('zero-byte file', async () => {
    const r = await uploadFile(pan, req('empty.txt', Buffer.alloc(0)));
    expect(remote('empty.txt')).toMatchObject({ id: r.fileId, size: 0 });
  });

  it('overwrites with duplicate 2', async () => {
    const v2 = ramp(1000, 2);
    const r = await uploadFile(pan, req('multi.bin', v2, { duplicate: 2 }));
    expect(remote('multi.bin')).toMatchObject({ id: r.fileId, md5: md5(v2) });
  });

  it('small file through the single-step upload', async () => {
    const data = ramp(5000, 3);
    const before = emu.counters().singleUploadBytes;
    const r = await uploadFile(
      pan,
      req('small.txt', data, { singleMaxBytes: 1 << 20, domains: new UploadDomainCache(pan, systemClock) }),
    );
    expect(emu.counters().singleUploadBytes - before).toBe(data.length);
    expect(remote('small.txt')).toMatchObject({ id: r.fileId, md5: md5(data) });
  });

  it('survives slice failures', async () => {
    emu.setFaults([{ match: '/upload/v2/file/slice', kind: 'http500', count: 3 }]);
    try {
      const data = ramp(2 * SLICE + 5, 4);
      const r = await uploadFile(pan, req('faulty.bin', data));
      expect(remote('faulty.bin')).toMatchObject({ id: r.fileId, md5: md5(data) });
    } finally {
      emu.setFaults([]);
    }
  });
});
