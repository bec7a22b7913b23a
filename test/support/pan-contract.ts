// The PanApi contract: what every implementation of the 123 Open API answers alike, written against the
// PanApi interface only. It runs against HttpPanClient + the emulator (test/integration/pan-contract.test.ts)
// and against the in-process FakePan (test/unit/pan/fake-pan-contract.test.ts), so the fake the unit tests
// use cannot drift from what the client really sees. A subject supplies the API, seeding, and two counters.
import { describe, expect, it } from 'vitest';
import type { PanApi } from '../../src/pan/api.js';
import { md5hex as md5, ramp } from './data.js';

export interface ContractSubject {
  api(): PanApi;
  /** the root folder's id */
  root: string;
  /** a folder `name` under the root holding these files */
  seedFolder(name: string, files: { name: string; data: Buffer }[]): Promise<void>;
  /** list page requests since the last reset */
  listPages: { reset(): void; count(): number };
  /** slice bytes the server received since the last reset */
  sliceBytes: { reset(): void; count(): number };
  /** the wait between two polls of upload_complete */
  pollPause(): Promise<void>;
  /** the subject answers "still verifying" this many times before completing (at least 1) */
  completePolls: number;
}

async function waitComplete(s: ContractSubject, api: PanApi, preuploadId: string) {
  for (let polls = 1; polls <= 60; polls++) {
    const r = await api.uploadComplete(preuploadId);
    if (r.completed) return { fileId: r.fileId, polls };
    await s.pollPause();
  }
  throw new Error('upload never completed');
}

async function upload(s: ContractSubject, api: PanApi, parentId: string, name: string, data: Buffer) {
  const cr = await api.uploadCreate({ parentId, filename: name, md5: md5(data), size: data.length });
  if (cr.reuse) return { fileId: cr.fileId, reuse: true, polls: 0 };
  for (let no = 1, off = 0; ; no++, off += cr.sliceSize) {
    const part = data.subarray(off, Math.min(off + cr.sliceSize, data.length));
    await api.uploadSlice({
      server: cr.servers[0]!,
      preuploadId: cr.preuploadId,
      sliceNo: no,
      sliceMd5: md5(part),
      data: part,
    });
    if (off + cr.sliceSize >= data.length) break;
  }
  return { ...(await waitComplete(s, api, cr.preuploadId)), reuse: false };
}

export function panContract(name: string, subject: () => ContractSubject): void {
  describe(`PanApi contract: ${name}`, () => {
    it('namespace: mkdir, detail, rename, move, trash, recover; clash, bad name and no-op answers', async () => {
      const s = subject();
      const c = s.api();
      const a = await c.mkdir(s.root, 'pc-a');
      const b = await c.mkdir(s.root, 'pc-b');
      expect(BigInt(a)).toBeGreaterThan(2n ** 53n); // ids beyond 2^53 survive the round trip
      await expect(c.mkdir(s.root, 'pc-a')).rejects.toMatchObject({ kind: 'name-clash' });
      const sub = await c.mkdir(a, '子目录');
      expect(await c.detail(sub)).toMatchObject({ id: sub, name: '子目录', isDir: true, parentId: a, trashed: false });
      await c.rename(sub, 'renamed');
      await c.rename(sub, 'renamed'); // same name again: fine
      await c.mkdir(a, 'other');
      await expect(c.rename(sub, 'other')).rejects.toMatchObject({ kind: 'name-clash' });
      await c.move([sub], b);
      await c.move([sub], b); // already there: success
      expect((await c.detail(sub)).parentId).toBe(b);
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

    it('lists 260 entries over 3 pages of 100, dropping trashed rows', async () => {
      const s = subject();
      const files = Array.from({ length: 260 }, (_, i) => ({
        name: `f${String(i).padStart(3, '0')}.txt`,
        data: Buffer.from(`file ${i}`),
      }));
      await s.seedFolder('pc-many', files);
      const c = s.api();
      const many = (await c.listAll(s.root)).find((e) => e.name === 'pc-many')!;
      s.listPages.reset();
      const rows = await c.listAll(many.id);
      expect(rows).toHaveLength(260);
      expect(new Set(rows.map((r) => r.name)).size).toBe(260);
      expect(s.listPages.count()).toBe(3);
      const first = await c.listPage(many.id);
      expect(first.entries).toHaveLength(100);
      expect(first.lastFileId).not.toBe('-1');
      await c.trash([rows[0]!.id, rows[259]!.id]);
      expect(await c.listAll(many.id)).toHaveLength(258);
      const f0 = rows.find((r) => r.name === 'f000.txt');
      expect(f0).toMatchObject({ md5: md5(Buffer.from('file 0')), size: 6, isDir: false, parentId: many.id });
      expect(f0!.createdAt).toBeGreaterThan(Date.UTC(2020, 0, 1));
    });

    it(
      'multi-slice upload polls through "still verifying" and round-trips by MD5; ' + 'instant upload sends no bytes',
      async () => {
        const s = subject();
        const c = s.api();
        const dir = await c.mkdir(s.root, 'pc-uploads');
        const cr = await c.uploadCreate({ parentId: dir, filename: 'probe.bin', md5: md5(ramp(1, 99)), size: 1 });
        if (cr.reuse) throw new Error('unexpected reuse');
        const data = ramp(2 * cr.sliceSize + 12345, 21);
        s.sliceBytes.reset();
        const up = await upload(s, c, dir, 'big.bin', data);
        expect(up.reuse).toBe(false);
        expect(up.polls).toBeGreaterThan(s.completePolls); // the "still verifying" answers, then done
        expect(s.sliceBytes.count()).toBe(data.length);
        expect(await c.detail(up.fileId)).toMatchObject({ md5: md5(data), size: data.length, name: 'big.bin' });
        s.sliceBytes.reset();
        const again = await upload(s, c, dir, 'copy.bin', data);
        expect(again.reuse).toBe(true);
        expect(again.fileId).not.toBe(up.fileId);
        expect(s.sliceBytes.count()).toBe(0);
        expect((await c.listAll(dir)).map((e) => e.name).sort()).toEqual(['big.bin', 'copy.bin']);
        await expect(upload(s, c, dir, 'big.bin', ramp(10, 3))).rejects.toMatchObject({ kind: 'name-clash' });
      },
    );

    it('file/copy: a new id with the same content and name; a clash in the target folder is refused', async () => {
      const s = subject();
      const c = s.api();
      const src = await c.mkdir(s.root, 'pc-copy-src');
      const dst = await c.mkdir(s.root, 'pc-copy-dst');
      const data = ramp(3000, 17);
      const up = await upload(s, c, src, 'orig.bin', data);
      s.sliceBytes.reset();
      const copy = await c.copy(up.fileId, dst);
      expect(copy).not.toBe(up.fileId);
      expect(await c.detail(copy)).toMatchObject({ name: 'orig.bin', parentId: dst, md5: md5(data), size: 3000 });
      expect(s.sliceBytes.count()).toBe(0);
      expect((await c.detail(up.fileId)).parentId).toBe(src); // the source stays
      await expect(c.copy(up.fileId, src)).rejects.toMatchObject({ kind: 'name-clash' }); // strict default
      await expect(c.copy(src, dst)).rejects.toMatchObject({ code: 1 }); // folders: not by the sync copy
      await expect(c.copy('123456789', dst)).rejects.toMatchObject({ kind: 'not-found' });
    });

    it('a wrong etag ends in upload-failed', async () => {
      const s = subject();
      const c = s.api();
      const data = ramp(1000, 9);
      const cr = await c.uploadCreate({
        parentId: s.root,
        filename: 'pc-liar.bin',
        md5: md5(ramp(1000, 8)),
        size: 1000,
      });
      if (cr.reuse) throw new Error('unexpected reuse');
      await expect(
        c.uploadSlice({ server: cr.servers[0]!, preuploadId: cr.preuploadId, sliceNo: 1, sliceMd5: md5(data), data }),
      ).resolves.toBeUndefined();
      await expect(waitComplete(s, c, cr.preuploadId)).rejects.toMatchObject({ kind: 'upload-failed' });
    });

    it('single-step upload into an upload domain', async () => {
      const s = subject();
      const c = s.api();
      const [server] = await c.uploadDomains();
      const data = ramp(5000, 5);
      const r = await c.uploadSingle({
        server: server!,
        parentId: s.root,
        filename: 'pc-single.bin',
        md5: md5(data),
        size: data.length,
        data,
      });
      expect(r.completed).toBe(true);
      expect((await c.detail(r.fileId)).md5).toBe(md5(data));
    });

    it('an unknown id is not-found (5066), naming the endpoint; the account answers', async () => {
      const s = subject();
      const c = s.api();
      await expect(c.downloadInfo('123456789')).rejects.toMatchObject({
        kind: 'not-found',
        code: 5066,
        endpoint: 'download_info',
      });
      const u = await c.userInfo();
      expect(u.uid).toMatch(/^\d+$/);
      expect(u.spacePermanent).toBeGreaterThan(0);
    });
  });
}
