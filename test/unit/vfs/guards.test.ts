// Refusals that must happen before anything reaches the remote: name validation (EINVAL / ENAMETOOLONG)
// and the read-only mount (EROFS for every mutating op). Also: PanVfs throws only FsError, with the
// PanError kinds classified.
import { constants as C } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { FsError } from '../../../src/core/errors.js';
import { PanError, type PanErrorKind } from '../../../src/pan/errors.js';
import { classify } from '../../../src/vfs/classify.js';
import { ROOT_ID, expectFsError, flags, makeHarness, ramp, readAll, type Harness } from './harness.js';

let h: Harness;
afterEach(() => h?.close());

function seed(opts = {}): Harness {
  return makeHarness(opts, (pan) => {
    const d = pan.addDir(ROOT_ID, 'd');
    pan.addFile(d, 'f.txt', Buffer.from('content'));
    pan.addDir(ROOT_ID, 'empty');
    pan.addFile(ROOT_ID, 'top.txt', ramp(10));
  });
}

const BAD_NAMES: Array<[string, 'EINVAL' | 'ENAMETOOLONG']> = [
  ['a:b', 'EINVAL'],
  ['a*b', 'EINVAL'],
  ['a?b', 'EINVAL'],
  ['a"b', 'EINVAL'],
  ['a<b', 'EINVAL'],
  ['a>b', 'EINVAL'],
  ['a|b', 'EINVAL'],
  ['a\\b', 'EINVAL'],
  ['   ', 'EINVAL'],
  ['tab\there', 'EINVAL'],
  ['x'.repeat(256), 'ENAMETOOLONG'],
  ['x'.repeat(255), 'ENAMETOOLONG'], // "less than 255 characters" (issue 15)
  ['文'.repeat(86), 'ENAMETOOLONG'], // 86 characters but 258 UTF-8 bytes
];

describe('name validation', () => {
  it.each(BAD_NAMES)('create %j → %s before any remote call', async (name, kind) => {
    h = seed();
    await expectFsError(h.vfs.create(`/d/${name}`, 0o644), kind);
    expect(h.pan.calls).toEqual([]); // not even a listing
    expect(h.staging.created).toBe(0);
  });

  it.each(BAD_NAMES)('mkdir %j → %s before any remote call', async (name, kind) => {
    h = seed();
    await expectFsError(h.vfs.mkdir(`/d/${name}`, 0o755), kind);
    expect(h.pan.calls).toEqual([]);
  });

  it.each(BAD_NAMES)('rename to %j → %s with no remote change', async (name, kind) => {
    h = seed();
    await expectFsError(h.vfs.rename('/d/f.txt', `/d/${name}`), kind);
    expect(h.pan.mutations()).toEqual([]);
    expect((await h.vfs.getattr('/d/f.txt')).size).toBe(7);
  });

  const LONG = ['x'.repeat(256), '文'.repeat(86), `${'y'.repeat(300)}/f.txt`];
  it.each(LONG)('a missing name over 255 bytes (%#) is ENAMETOOLONG at lookup, not ENOENT', async (name) => {
    h = seed();
    const p = `/d/${name}`;
    await expectFsError(h.vfs.getattr(p), 'ENAMETOOLONG');
    await expectFsError(h.vfs.unlink(p), 'ENAMETOOLONG');
    await expectFsError(h.vfs.rmdir(p), 'ENAMETOOLONG');
    await expectFsError(h.vfs.truncate(p, 0), 'ENAMETOOLONG');
    await expectFsError(h.vfs.open(p, flags.RDONLY), 'ENAMETOOLONG');
    await expectFsError(h.vfs.rename(p, '/d/g.txt'), 'ENAMETOOLONG');
    expect(h.pan.mutations()).toEqual([]);
    await expectFsError(h.vfs.getattr('/d/missing.txt'), 'ENOENT');
  });

  it('a remote name over 255 bytes (123 counts characters) stays reachable', async () => {
    const long = '文'.repeat(100); // 100 characters, 300 UTF-8 bytes
    h = makeHarness({}, (pan) => {
      pan.addFile(pan.addDir(ROOT_ID, 'd'), long, Buffer.from('cjk'));
    });
    expect((await h.vfs.getattr(`/d/${long}`)).size).toBe(3);
  });

  it('accepts 254 ASCII characters, 85 three-byte characters, and names with spaces and dots', async () => {
    h = seed();
    for (const name of ['x'.repeat(254), '文'.repeat(85), ' leading and trailing ', '.hidden', 'a..b']) {
      const fh = await h.vfs.create(`/d/${name}`, 0o644);
      await h.vfs.release(`/d/${name}`, fh);
    }
    expect(h.uploads.enqueued).toHaveLength(5);
    await h.vfs.mkdir(`/d/${'y'.repeat(254)}`, 0o755);
  });
});

describe('read-only mount', () => {
  it('every mutating op is EROFS, with no remote call and no staging file', async () => {
    h = seed({ readOnly: true });
    const v = h.fs;
    await expectFsError(v.create('/d/new.txt', 0o644), 'EROFS');
    await expectFsError(v.mkdir('/d/newdir', 0o755), 'EROFS');
    await expectFsError(v.rmdir('/empty'), 'EROFS');
    await expectFsError(v.unlink('/d/f.txt'), 'EROFS');
    await expectFsError(v.rename('/d/f.txt', '/d/g.txt'), 'EROFS');
    await expectFsError(v.truncate('/d/f.txt', 0), 'EROFS');
    await expectFsError(v.open('/d/f.txt', flags.WRONLY), 'EROFS');
    await expectFsError(v.open('/d/f.txt', flags.RDWR), 'EROFS');
    await expectFsError(v.open('/d/f.txt', flags.RDONLY | C.O_TRUNC), 'EROFS');
    await expectFsError(v.chmod('/d/f.txt', 0o600), 'EROFS');
    await expectFsError(v.chown('/d/f.txt', 1, 1), 'EROFS');
    await expectFsError(v.utimens('/d/f.txt', 1, 1), 'EROFS');
    await expectFsError(v.access('/d/f.txt', C.W_OK), 'EROFS');
    expect(h.pan.mutations()).toEqual([]);
    expect(h.staging.created).toBe(0);
    expect(h.uploads.enqueued).toEqual([]);
    expect(h.stagingFiles()).toEqual([]);
  });

  it('reading still works', async () => {
    h = seed({ readOnly: true });
    expect(await readAll(h.vfs, '/d/f.txt')).toEqual(Buffer.from('content'));
    expect((await h.vfs.readdir('/')).map((e) => e.name)).toEqual(['d', 'empty', 'top.txt']);
    await h.vfs.access('/d/f.txt', C.R_OK);
    expect((await h.vfs.statfs('/')).total).toBeGreaterThan(0);
  });

  it('ftruncate through a read handle falls back to truncate and is EROFS', async () => {
    h = seed({ readOnly: true });
    const fh = await h.vfs.open('/d/f.txt', flags.RDONLY);
    await expectFsError(h.vfs.ftruncate('/d/f.txt', fh, 0), 'EROFS');
  });
});

describe('classification of remote errors', () => {
  const cases: Array<[PanErrorKind, string, FsError['kind'], { timedOut?: boolean }?]> = [
    ['not-found', 'file not found', 'ENOENT'],
    ['name-clash', '文件名重复', 'EEXIST'],
    ['transport', 'connect ECONNRESET', 'EIO'],
    ['transport', 'timed out, says only the text', 'EIO'], // classify reads flags, not message text
    ['transport', 'request timed out after 30s', 'ETIMEDOUT', { timedOut: true }],
    ['auth', 'token expired', 'EACCES'],
    ['rate-limited', 'too many requests', 'EAGAIN'],
    ['space', 'storage full', 'ENOSPC'],
    ['too-large', 'over 10 GiB', 'EFBIG'],
    ['invalid-name', 'bad name', 'EINVAL'],
    ['api', 'code 12345', 'EIO'],
  ];

  it.each(cases)(
    'a %s PanError (%s) from the remote answers %s through the vfs',
    async (kind, message, expected, o) => {
      h = seed();
      h.pan.failNext('mkdir', new PanError({ kind, message, ...o }));
      const e = await expectFsError(h.vfs.mkdir('/d/n', 0o755), expected);
      expect(e.cause).toBeInstanceOf(PanError);
    },
  );

  it('classify keeps FsErrors, maps Node errno codes, and turns anything else into EIO', () => {
    const fe = new FsError('ENOTEMPTY', 'x');
    expect(classify(fe, 'ctx')).toBe(fe);
    expect(classify(Object.assign(new Error('no space'), { code: 'ENOSPC' }), 'ctx').kind).toBe('ENOSPC');
    expect(classify(Object.assign(new Error('gone'), { code: 'ENOENT' }), 'ctx').kind).toBe('ENOENT');
    expect(classify(Object.assign(new Error('weird'), { code: 'EWEIRD' }), 'ctx').kind).toBe('EIO');
    expect(classify('a string', 'ctx').kind).toBe('EIO');
    expect(classify(undefined, 'ctx').kind).toBe('EIO');
  });
});
