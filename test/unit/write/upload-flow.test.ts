import { describe, expect, it } from 'vitest';
import { isFsError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { PanError } from '../../../src/pan/errors.js';
import { EMPTY_MD5 } from '../../../src/write/md5.js';
import {
  MAX_UPLOAD_BYTES,
  UploadDomainCache,
  uploadFile,
  COMPLETE_UNEXPECTED_POLLS,
  isUploadRefused,
  type SliceSource,
  type UploadRequest,
} from '../../../src/write/upload-flow.js';
import { FakeClock } from './fake-clock.js';
import { FakePan, md5hex, ramp, transient } from './fake-pan.js';

function bufferSource(data: Buffer): SliceSource & { reads: Array<[number, number]> } {
  const reads: Array<[number, number]> = [];
  return {
    reads,
    read: async (off, len) => {
      reads.push([off, len]);
      return Buffer.from(data.subarray(off, off + len));
    },
  };
}

function req(data: Buffer, extra: Partial<UploadRequest> = {}): UploadRequest {
  return {
    parentId: '7',
    name: 'f.bin',
    source: bufferSource(data),
    size: data.length,
    md5: md5hex(data),
    logger: silentLogger,
    clock: new FakeClock('auto'),
    singleMaxBytes: 0,
    ...extra,
  };
}

describe('uploadFile', () => {
  it('instant upload (reuse): no slice, no complete, no byte sent', async () => {
    const pan = new FakePan();
    const data = ramp(5000, 1);
    pan.addFile('99', 'elsewhere.bin', data);
    const r = await uploadFile(pan, req(data));
    expect(r.instant).toBe(true);
    expect(r.bytesSent).toBe(0);
    expect(pan.count('uploadSlice')).toBe(0);
    expect(pan.count('uploadComplete')).toBe(0);
    expect(pan.files.get(r.fileId)).toMatchObject({ parentId: '7', name: 'f.bin', md5: md5hex(data) });
  });

  it('multi-slice: exact server slice sizes with their MD5s, all on servers[0], bounded parallelism', async () => {
    const pan = new FakePan();
    pan.sliceSize = 1000;
    pan.sliceDelayTicks = 3;
    const data = ramp(10_500, 2);
    const progress: number[] = [];
    const r = await uploadFile(pan, req(data, { sliceConcurrency: 3, onProgress: (n) => progress.push(n) }));
    expect(r.instant).toBe(false);
    expect(r.bytesSent).toBe(data.length);
    const slices = pan.calls.filter((c) => c.method === 'uploadSlice').map((c) => c.args);
    expect(slices.map((s) => s.sliceNo).sort((a, b) => (a as number) - (b as number))).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
    ]);
    for (const s of slices) {
      const n = s.sliceNo as number;
      const chunk = data.subarray((n - 1) * 1000, n * 1000);
      expect(s.length).toBe(n === 11 ? 500 : 1000);
      expect(s.sliceMd5).toBe(md5hex(chunk));
      expect(s.server).toBe(pan.servers[0]);
    }
    expect(pan.maxInflight).toBe(3);
    expect(progress.at(-1)).toBe(data.length);
    expect(pan.files.get(r.fileId)!.data).toEqual(data);
  });

  it('exactly one slice, and one slice + 1 byte', async () => {
    for (const [size, slices] of [
      [1024, 1],
      [1025, 2],
    ] as const) {
      const pan = new FakePan();
      const data = ramp(size, 3);
      const r = await uploadFile(pan, req(data));
      expect(pan.count('uploadSlice')).toBe(slices);
      expect(pan.files.get(r.fileId)!.data).toEqual(data);
      if (size === 1025)
        expect(
          pan.calls
            .filter((c) => c.method === 'uploadSlice')
            .map((c) => c.args.length)
            .sort(),
        ).toEqual([1, 1024]);
    }
  });

  it('retries failed slices on the same server with backoff', async () => {
    const pan = new FakePan();
    const clock = new FakeClock('auto');
    pan.fail(
      'uploadSlice',
      2,
      () => transient(),
      (a) => a.sliceNo === 2,
    );
    const data = ramp(3000, 4);
    const r = await uploadFile(pan, req(data, { clock }));
    const s2 = pan.calls.filter((c) => c.method === 'uploadSlice' && c.args.sliceNo === 2).map((c) => c.args.server);
    expect(s2).toEqual(['http://up-a', 'http://up-a', 'http://up-a']);
    expect(clock.sleeps).toEqual([1000, 2000]);
    expect(pan.files.get(r.fileId)!.data).toEqual(data);
  });

  it('a slice that keeps failing fails the upload; nothing is reported uploaded', async () => {
    const pan = new FakePan();
    pan.fail(
      'uploadSlice',
      100,
      () => transient(),
      (a) => a.sliceNo === 1,
    );
    await expect(uploadFile(pan, req(ramp(3000, 5)))).rejects.toMatchObject({ kind: 'transport' });
    expect(pan.count('uploadComplete')).toBe(0);
    expect(pan.files.size).toBe(0);
  });

  it('a non-retryable slice error is not retried', async () => {
    const pan = new FakePan();
    pan.fail('uploadSlice', 1, () => new PanError({ kind: 'auth', code: 401, message: 'token is expired' }));
    await expect(uploadFile(pan, req(ramp(3000, 5), { sliceConcurrency: 1 }))).rejects.toMatchObject({ kind: 'auth' });
    expect(pan.count('uploadSlice')).toBe(1);
  });

  it('polls complete through completed=false and transient errors, 1 s apart', async () => {
    const pan = new FakePan();
    pan.pendingPolls = 3;
    pan.fail('uploadComplete', 1, () => transient('502'));
    const clock = new FakeClock('auto');
    const data = ramp(2000, 6);
    const r = await uploadFile(pan, req(data, { clock }));
    expect(pan.count('uploadComplete')).toBe(5);
    expect(clock.sleeps).toEqual([1000, 1000, 1000, 1000]);
    expect(pan.files.get(r.fileId)!.data).toEqual(data);
  });

  it('gives up polling after the bound, with ETIMEDOUT', async () => {
    const pan = new FakePan();
    pan.pendingPolls = 1_000_000;
    const e = await uploadFile(pan, req(ramp(100, 7), { completeTimeoutMs: 30_000 })).catch((x) => x);
    expect(isFsError(e, 'ETIMEDOUT')).toBe(true);
    expect(pan.count('uploadComplete')).toBeLessThanOrEqual(31);
    expect(pan.files.size).toBe(0);
  });

  it('a final complete failure (文件上传失败) is an error', async () => {
    const pan = new FakePan();
    const data = ramp(2000, 8);
    await expect(uploadFile(pan, req(data, { md5: md5hex(ramp(2000, 9)) }))).rejects.toMatchObject({
      kind: 'upload-failed',
    });
  });

  it('odd upload_complete answers are "not yet": polling goes on, then completes', async () => {
    const pan = new FakePan();
    let odd = 3;
    const api = Object.assign(Object.create(pan) as FakePan, {
      uploadComplete: async (id: string) =>
        odd-- > 0 ? { completed: false, fileId: '0', unexpected: '服务繁忙' } : pan.uploadComplete(id),
    });
    const data = ramp(2000, 11);
    const r = await uploadFile(api, req(data));
    expect(pan.files.get(r.fileId)!.data).toEqual(data);
  });

  it(`${COMPLETE_UNEXPECTED_POLLS} odd answers in a row: the file is looked up, accepted when there`, async () => {
    const pan = new FakePan();
    let polls = 0;
    const api = Object.assign(Object.create(pan) as FakePan, {
      uploadComplete: async (id: string) => {
        if (polls++ === 0) await pan.uploadComplete(id); // the merge lands, the answers never say so
        return { completed: false, fileId: '0', unexpected: '服务繁忙' };
      },
    });
    const data = ramp(2000, 12);
    const r = await uploadFile(api, req(data, { clock: new FakeClock('instant') }));
    expect(polls).toBe(COMPLETE_UNEXPECTED_POLLS);
    expect(pan.files.get(r.fileId)).toMatchObject({ parentId: '7', name: 'f.bin', md5: md5hex(data) });
    // not there: the upload fails (and no other file of that name but another MD5 is taken for it)
    polls = 1;
    pan.addFile('7', 'g.bin', ramp(2000, 13));
    const e = await uploadFile(api, req(data, { name: 'g.bin', md5: md5hex(ramp(2000, 14)), duplicate: 2 })).catch(
      (x) => x,
    );
    expect(e.message).toMatch(/kept answering/);
    expect(isFsError(e, 'EIO')).toBe(true);
  });

  it('a final 文件上传失败 while the file landed anyway: found by name + MD5 and accepted', async () => {
    const pan = new FakePan();
    const api = Object.assign(Object.create(pan) as FakePan, {
      uploadComplete: async (id: string) => {
        await pan.uploadComplete(id);
        throw new PanError({ kind: 'upload-failed', code: 1, message: '文件上传失败' });
      },
    });
    const data = ramp(2000, 15);
    const r = await uploadFile(api, req(data));
    expect(pan.files.get(r.fileId)).toMatchObject({ name: 'f.bin', md5: md5hex(data), size: 2000 });
  });

  it('zero bytes: create; reuse when the server has the empty blob, else one empty slice and complete', async () => {
    const pan = new FakePan();
    const empty = Buffer.alloc(0);
    const r1 = await uploadFile(pan, req(empty));
    expect(r1.instant).toBe(false);
    expect(pan.calls.filter((c) => c.method === 'uploadSlice').map((c) => [c.args.sliceNo, c.args.length])).toEqual([
      [1, 0],
    ]);
    expect(pan.calls.find((c) => c.method === 'uploadCreate')!.args.md5).toBe(EMPTY_MD5);
    const r2 = await uploadFile(pan, req(empty, { name: 'g' }));
    expect(r2).toMatchObject({ instant: true, bytesSent: 0 });
    expect(pan.files.get(r2.fileId)!.size).toBe(0);
  });

  it('zero bytes: a refused empty slice falls back to the single-step upload', async () => {
    const pan = new FakePan();
    pan.fail('uploadSlice', 1, () => new PanError({ kind: 'api', code: 1, message: '分片大小错误' }));
    const r = await uploadFile(pan, req(Buffer.alloc(0)));
    expect(pan.calls.map((c) => c.method)).toEqual(['uploadCreate', 'uploadSlice', 'uploadDomains', 'uploadSingle']);
    expect(pan.files.get(r.fileId)).toMatchObject({ name: 'f.bin', size: 0 });
  });

  it('zero bytes: all paths refused → UploadRefused naming each cause; a transient error is no refusal', async () => {
    const pan = new FakePan();
    const no = (m: string) => () => new PanError({ kind: 'api', code: 1, message: m });
    pan.fail('uploadCreate', 1, no('create says no'));
    pan.fail('uploadSingle', 1, no('single says no'));
    const e = await uploadFile(pan, req(Buffer.alloc(0))).catch((x) => x);
    expect(isUploadRefused(e)).toBe(true);
    expect(e.message).toMatch(/create: create says no.*single-step upload: single says no/);
    expect(pan.count('uploadSlice')).toBe(0);
    pan.fail('uploadCreate', 1, no('create says no'));
    pan.fail('uploadSingle', 1, () => transient('reset'));
    const t = await uploadFile(pan, req(Buffer.alloc(0))).catch((x) => x);
    expect(isUploadRefused(t)).toBe(false);
    expect(t).toMatchObject({ kind: 'transport' });
  });

  it('over 10 GiB: EFBIG before any request', async () => {
    const pan = new FakePan();
    const e = await uploadFile(pan, { ...req(Buffer.alloc(0)), size: MAX_UPLOAD_BYTES + 1 }).catch((x) => x);
    expect(isFsError(e, 'EFBIG')).toBe(true);
    expect(pan.calls).toEqual([]);
  });

  it('uses uploadDomains when create gives no servers', async () => {
    const pan = new FakePan();
    pan.servers = [];
    await uploadFile(pan, req(ramp(1500, 10)));
    expect(pan.count('uploadDomains')).toBe(1);
    expect(new Set(pan.calls.filter((c) => c.method === 'uploadSlice').map((c) => c.args.server))).toEqual(
      new Set(['https://domain-1']),
    );
  });

  it('small files use the single-step upload: 1 call each (plus one cached domain lookup)', async () => {
    const pan = new FakePan();
    const clock = new FakeClock('auto');
    const domains = new UploadDomainCache(pan, clock);
    for (let i = 0; i < 3; i++) {
      const data = ramp(500, 20 + i);
      const r = await uploadFile(pan, req(data, { name: `s${i}`, singleMaxBytes: 1 << 20, domains, clock }));
      expect(pan.files.get(r.fileId)!.data).toEqual(data);
    }
    expect(pan.calls.map((c) => c.method)).toEqual(['uploadDomains', 'uploadSingle', 'uploadSingle', 'uploadSingle']);
    // the same three files through create + slice + complete:
    const pan2 = new FakePan();
    for (let i = 0; i < 3; i++) await uploadFile(pan2, req(ramp(500, 20 + i), { name: `s${i}` }));
    expect(pan2.calls.length).toBe(9);
  });

  it('a short read is an error, never a partial upload', async () => {
    const pan = new FakePan();
    const data = ramp(3000, 11);
    const src: SliceSource = { read: async (off, len) => data.subarray(off, Math.min(off + len, 2500)) };
    await expect(uploadFile(pan, { ...req(data), source: src })).rejects.toSatisfy((e: unknown) => isFsError(e, 'EIO'));
    expect(pan.count('uploadComplete')).toBe(0);
  });

  it('abort stops the upload', async () => {
    const pan = new FakePan();
    const ac = new AbortController();
    pan.onCall = (m) => {
      if (m === 'uploadSlice') ac.abort(new Error('stop'));
    };
    await expect(uploadFile(pan, req(ramp(5000, 12), { signal: ac.signal, sliceConcurrency: 1 }))).rejects.toThrow();
    expect(pan.count('uploadComplete')).toBe(0);
    expect(pan.count('uploadSlice')).toBe(1);
  });

  it('abort after all slices but before upload_complete: nothing is merged', async () => {
    const pan = new FakePan();
    const ac = new AbortController();
    const data = ramp(5000, 13);
    await expect(
      uploadFile(
        pan,
        req(data, {
          signal: ac.signal,
          onProgress: (n) => {
            if (n === data.length) ac.abort(new Error('stop'));
          },
        }),
      ),
    ).rejects.toThrow('stop');
    expect(pan.count('uploadComplete')).toBe(0);
  });

  // A merge once asked for finishes on the server whatever we do; abandoning it would leave a file we never
  // learn about (and, with duplicate 2, overwrite whatever took the name). So the abort waits for the id.
  it(
    'abort once upload_complete was called: polled to the end and the file id returned; ' + 'stopSignal stops it',
    async () => {
      const pan = new FakePan();
      pan.pendingPolls = 2;
      const ac = new AbortController();
      pan.onCall = (m) => {
        if (m === 'uploadComplete') ac.abort(new Error('stop'));
      };
      const data = ramp(3000, 14);
      const r = await uploadFile(pan, req(data, { signal: ac.signal }));
      expect(pan.count('uploadComplete')).toBe(3);
      expect(pan.files.get(r.fileId)!.data).toEqual(data);

      const pan2 = new FakePan();
      pan2.pendingPolls = 1_000;
      const stop = new AbortController();
      pan2.onCall = (m) => {
        if (m === 'uploadComplete' && pan2.count('uploadComplete') === 2) stop.abort(new Error('shutdown'));
      };
      await expect(uploadFile(pan2, req(data, { stopSignal: stop.signal }))).rejects.toThrow('shutdown');
      expect(pan2.count('uploadComplete')).toBe(2);
    },
  );
});
