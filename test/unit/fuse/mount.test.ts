import { describe, expect, it } from 'vitest';
import { buildMountOptions, OP_TIMEOUTS_MS } from '../../../src/fuse/mount.js';

describe('fuse/mount options', () => {
  it('defaults carry the tuned options', () => {
    const o = buildMountOptions({});
    for (const want of [
      'big_writes',
      'max_background=64',
      'congestion_threshold=48',
      'auto_cache',
      'auto_unmount',
      'use_ino',
      'default_permissions',
      'negative_timeout=1',
      'subtype=pan123fs',
      'fsname=pan123fs',
    ])
      expect(o).toContain(want);
    expect(o).toContain('attr_timeout=5');
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
