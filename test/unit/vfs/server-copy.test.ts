// Server-side copy (copy_file_range): the pure decision (vfs/server-copy.ts decideCopy) and PanVfs's
// copyFileRange over the FakePan: what is copied on the server (instant upload first, file/copy + rename
// when the server does not reuse), what falls back with ENOTSUP, and the > 4 GiB confirmation calls.
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CopyDestState,
  type CopySourceState,
  decideCopy,
  KERNEL_COPY_CAP_MIN,
} from '../../../src/vfs/server-copy.js';
import { expectFsError, flags, type Harness, makeHarness, md5, ROOT_ID, ramp, readAll, writeNew } from './harness.js';

const SRC: CopySourceState = { ino: 2, remoteId: '77', md5: 'a'.repeat(32), size: 1000, local: false };
const DST: CopyDestState = { ino: 3, empty: true, parentRemote: true };
const whole = { offIn: 0, offOut: 0, len: 1 << 30 };

describe('decideCopy', () => {
  it('copies the whole of an uploaded file with a known MD5 into an empty file', () => {
    expect(decideCopy(SRC, DST, whole, undefined)).toEqual({ kind: 'copy', bytes: 1000 });
    expect(decideCopy(SRC, DST, { offIn: 0, offOut: 0, len: 1000 }, undefined)).toEqual({ kind: 'copy', bytes: 1000 });
  });

  it('falls back for everything else, saying why', () => {
    const why = (s: Partial<CopySourceState>, d: Partial<CopyDestState>, r = whole) => {
      const x = decideCopy({ ...SRC, ...s }, { ...DST, ...d }, r, undefined);
      return x.kind === 'fallback' ? x.why : x.kind;
    };
    expect(why({}, {}, { offIn: 10, offOut: 0, len: 990 })).toMatch(/not starting at 0/);
    expect(why({}, {}, { offIn: 0, offOut: 5, len: 1000 })).toMatch(/not starting at 0/);
    expect(why({}, {}, { offIn: 0, offOut: 0, len: 999 })).toMatch(/a part/);
    expect(why({ local: true }, {})).toMatch(/not uploaded/);
    expect(why({ remoteId: null }, {})).toMatch(/not uploaded/);
    expect(why({ md5: null }, {})).toMatch(/MD5/);
    expect(why({ size: 0 }, {})).toMatch(/empty source/);
    expect(why({}, { empty: false })).toMatch(/destination has data/);
    expect(why({}, { parentRemote: false })).toMatch(/folder is not uploaded/);
    expect(why({ ino: 3 }, {})).toMatch(/one file/);
  });

  it('a file over the kernel cap: the first call copies it all, later ones at the offset reached confirm', () => {
    const big = { ...SRC, size: 5 * 2 ** 30 };
    const cap = 2 ** 32 - 4096;
    expect(cap).toBeGreaterThanOrEqual(KERNEL_COPY_CAP_MIN);
    expect(decideCopy(big, DST, { offIn: 0, offOut: 0, len: cap }, undefined)).toEqual({ kind: 'copy', bytes: cap });
    const copied = { srcIno: big.ino, size: big.size, done: cap };
    const rest = big.size - cap;
    expect(decideCopy(big, DST, { offIn: cap, offOut: cap, len: rest }, copied)).toEqual({
      kind: 'confirm',
      bytes: rest,
    });
    expect(decideCopy(big, DST, { offIn: cap, offOut: 0, len: rest }, copied).kind).toBe('fallback');
    expect(decideCopy({ ...big, ino: 9 }, DST, { offIn: cap, offOut: cap, len: rest }, copied).kind).toBe('fallback');
    expect(decideCopy(big, DST, { offIn: 0, offOut: 0, len: KERNEL_COPY_CAP_MIN - 1 }, undefined).kind).toBe(
      'fallback',
    );
  });
});

let h: Harness;
afterEach(() => h?.close());

const DATA = ramp(50_000, 11);
function seed(): Harness {
  return makeHarness({}, (pan) => {
    pan.addFile(ROOT_ID, 'src.bin', DATA);
    pan.addDir(ROOT_ID, 'dir');
  });
}

const dirId = (h: Harness) => h.pan.live(ROOT_ID).find((f) => f.name === 'dir')!.id;

/** cp: open the source, create the destination, copy_file_range once, close both */
async function cp(h: Harness, from: string, to: string, len = 1 << 30): Promise<number> {
  const fi = await h.vfs.open(from, flags.RDONLY);
  const fo = await h.vfs.create(to, 0o644);
  try {
    return await h.vfs.copyFileRange(from, fi, 0, to, fo, 0, len);
  } finally {
    await h.vfs.release(to, fo);
    await h.vfs.release(from, fi);
  }
}

describe('PanVfs.copyFileRange', () => {
  it('copies on the server by instant upload: no slice, a clean node, nothing queued, no staging left', async () => {
    h = seed();
    expect(await cp(h, '/src.bin', '/dir/copy.bin')).toBe(DATA.length);
    expect(h.uploads.enqueued).toEqual([]); // no upload: nothing sent
    expect(h.pan.calls.find((c) => c.method === 'uploadCreate')?.args).toMatchObject({
      filename: 'copy.bin',
      md5: md5(DATA),
      size: DATA.length,
    });
    expect(h.pan.live(dirId(h)).map((f) => [f.name, f.md5])).toEqual([['copy.bin', md5(DATA)]]);
    expect(await h.vfs.getattr('/dir/copy.bin')).toMatchObject({ size: DATA.length, md5: md5(DATA) });
    expect(h.uploads.enqueued).toEqual([]);
    expect(h.stagingFiles()).toEqual([]);
    expect(await readAll(h.vfs, '/dir/copy.bin')).toEqual(DATA);
    await h.vfs.rename('/dir/copy.bin', '/moved.bin'); // a normal node at once
    expect(h.pan.live(ROOT_ID).find((f) => f.name === 'moved.bin')?.md5).toBe(md5(DATA));
  });

  it('without reuse, file/copy makes the copy and renames it to the target name', async () => {
    h = seed();
    h.pan.instantUpload = false;
    expect(await cp(h, '/src.bin', '/dir/other.bin')).toBe(DATA.length);
    expect(h.pan.live(dirId(h)).map((f) => f.name)).toEqual(['other.bin']);
    expect(h.pan.count('copy')).toBe(1);
    expect(h.pan.count('rename')).toBe(1);
  });

  it('when no server way works, ENOTSUP (the kernel copies) and nothing is left on the server', async () => {
    h = seed();
    h.pan.instantUpload = false;
    // file/copy into the same folder clashes (strict): no copy remains
    await expectFsError(cp(h, '/src.bin', '/again.bin'), 'ENOTSUP');
    expect(
      h.pan
        .live(ROOT_ID)
        .map((f) => f.name)
        .sort(),
    ).toEqual(['dir', 'src.bin']);
  });

  it('falls back for a partial range, a local source and a destination with data', async () => {
    h = seed();
    await expectFsError(cp(h, '/src.bin', '/part.bin', 100), 'ENOTSUP');
    await writeNew(h.vfs, '/local.bin', ramp(10, 1)); // journaled, not uploaded
    await expectFsError(cp(h, '/local.bin', '/l2.bin'), 'ENOTSUP');
    const fi = await h.vfs.open('/src.bin', flags.RDONLY);
    const fo = await h.vfs.create('/data.bin', 0o644);
    await h.vfs.write('/data.bin', fo, Buffer.from('x'), 1, 0);
    await expectFsError(h.vfs.copyFileRange('/src.bin', fi, 0, '/data.bin', fo, 0, 1 << 30), 'ENOTSUP');
    await h.vfs.release('/data.bin', fo);
    await h.vfs.release('/src.bin', fi);
    expect(h.pan.count('uploadCreate')).toBe(0);
  });

  it('a destination renamed while the copy was made: the copy is trashed and the request falls back', async () => {
    h = seed();
    const gate = h.pan.gates.hold('uploadCreate');
    const copying = cp(h, '/src.bin', '/dir/x.bin');
    await gate.reached();
    await h.vfs.rename('/dir/x.bin', '/dir/y.bin');
    gate.open();
    await expectFsError(copying, 'ENOTSUP');
    expect(h.pan.live(dirId(h))).toEqual([]); // the copy went to the trash
    expect(h.pan.count('trash')).toBe(1);
  });
});
