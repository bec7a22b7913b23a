import { describe, expect, it } from 'vitest';
import { buildMountOptions, MAX_REQUEST_BYTES, OP_TIMEOUTS_MS } from '../../../src/fuse/mount.js';

describe('fuse/mount options', () => {
  it('libfuse 3: 1 MiB requests and a bounded, never-retiring worker pool; no libfuse 2 options', () => {
    const o = buildMountOptions({});
    expect(o).toEqual(
      expect.arrayContaining([`max_write=${MAX_REQUEST_BYTES}`, 'max_threads=16', 'max_idle_threads=16']),
    );
    expect(MAX_REQUEST_BYTES).toBe(1 << 20);
    expect(o).not.toContain('big_writes'); // libfuse 3's fuse_new refuses it
  });

  it('libfuse 2 (upstream prebuilt fallback): big_writes, none of the libfuse 3 options', () => {
    const o = buildMountOptions({}, 2);
    expect(o).toContain('big_writes');
    expect(o.filter((x) => /^max_(write|threads|idle_threads)=/.test(x))).toEqual([]);
  });

  it('defaults carry the tuned options', () => {
    for (const o of [buildMountOptions({}), buildMountOptions({}, 2)])
      for (const want of [
        'max_background=64',
        'congestion_threshold=48',
        'auto_unmount',
        'use_ino',
        'default_permissions',
        'negative_timeout=1',
        'subtype=pan123fs',
        'fsname=pan123fs',
      ])
        expect(o).toContain(want);
    // page cache: per open (keep_cache / direct_io in the open reply) where the binding can; else auto_cache
    expect(buildMountOptions({})).not.toContain('auto_cache');
    expect(buildMountOptions({}, 3, undefined, false)).toContain('auto_cache');
    expect(buildMountOptions({}, 2)).toContain('auto_cache');
    const o = buildMountOptions({});
    expect(o).toEqual(expect.arrayContaining(['attr_timeout=60', 'entry_timeout=60', 'negative_timeout=1']));
    expect(o).not.toContain('allow_other');
  });

  it('0 timeouts, umask in octal, ro, allow_other, uid/gid', () => {
    const o = buildMountOptions({
      attrTimeoutSec: 0,
      entryTimeoutSec: 0,
      umask: 0o022,
      readOnly: true,
      allowOther: true,
      uid: 1000,
      gid: 0,
    });
    expect(o).toEqual(
      expect.arrayContaining([
        'attr_timeout=0',
        'entry_timeout=0',
        'umask=22',
        'ro',
        'allow_other',
        'uid=1000',
        'gid=0',
      ]),
    );
  });

  it('rejects an fsname that would smuggle options', () => {
    expect(() => buildMountOptions({ fsName: 'a b' })).toThrow(/invalid fsName/);
    expect(() => buildMountOptions({ fsName: 'x,debug' })).toThrow(/invalid fsName/);
    expect(buildMountOptions({ fsName: 'pan123fs:alice' })).toContain('fsname=pan123fs:alice');
  });

  it('network-bound ops wait longer than the 15 s fuse-native default', () => {
    expect(OP_TIMEOUTS_MS.read).toBeGreaterThanOrEqual(120_000);
    expect(OP_TIMEOUTS_MS.fsync).toBeGreaterThanOrEqual(OP_TIMEOUTS_MS.read!);
    expect(OP_TIMEOUTS_MS.default).toBeGreaterThan(15_000);
  });
});
