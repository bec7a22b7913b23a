// Issue 18: the platform seam. The macOS implementation cannot run here, so these tests run it with an
// injected io and check what it would do: the commands, the parsing of `mount`, the options, the dirs.
import { constants as fsc } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { darwinPlatform, MACFUSE_BUNDLE, parseMountLine } from '../../../src/platform/darwin.js';
import { platformFor } from '../../../src/platform/index.js';
import { linuxPlatform, unescapeMountinfo } from '../../../src/platform/linux.js';
import type { ExecResult, PlatformIo } from '../../../src/platform/types.js';

function fakeIo(o: Partial<PlatformIo> & { files?: Record<string, string>; present?: string[] } = {}) {
  const calls: { file: string; args: string[] }[] = [];
  const writes: Record<string, string> = {};
  const answers: ExecResult[] = [];
  const io: PlatformIo = {
    exec: async (file, args) => {
      calls.push({ file, args });
      return answers.shift() ?? { code: 0, stdout: '', stderr: '' };
    },
    readFile: async (p) => {
      const f = o.files?.[p];
      if (f === undefined) throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
      return f;
    },
    writeFile: async (p, d) => {
      writes[p] = d;
    },
    exists: async (p) => (o.present ?? []).includes(p),
    env: o.env ?? { PATH: '/usr/bin:/bin' },
    homedir: o.homedir ?? '/home/u',
    uid: o.uid ?? 1000,
  };
  return { io, calls, writes, answers };
}

describe('platform choice', () => {
  it('linux and darwin have implementations; other systems are refused with a clear message', () => {
    expect(platformFor('linux', fakeIo().io).name).toBe('linux');
    expect(platformFor('darwin', fakeIo().io).name).toBe('darwin');
    expect(platformFor('darwin', fakeIo().io).tested).toBe(false);
    expect(() => platformFor('win32', fakeIo().io)).toThrow(/Linux and macOS, not on win32/);
  });
});

describe('linux', () => {
  it('prefers fusermount3 and unmounts lazily with -uz', async () => {
    const f = fakeIo({ present: ['/usr/bin/fusermount3', '/bin/fusermount'] });
    const p = linuxPlatform(f.io);
    expect(await p.findUnmountTool()).toBe('/usr/bin/fusermount3');
    await p.unmount('/mnt/a b', true);
    expect(f.calls).toEqual([{ file: 'fusermount3', args: ['-uz', '/mnt/a b'] }]);
    expect(p.unmountCommand('/m', false)).toEqual({ file: 'fusermount3', args: ['-u', '/m'] });
  });

  it('falls back to fusermount (libfuse 2) and reports a failed unmount with its stderr', async () => {
    const f = fakeIo({ present: ['/bin/fusermount'] });
    const p = linuxPlatform(f.io);
    f.answers.push({ code: 1, stdout: '', stderr: 'fusermount: entry for /m not found\n' });
    await expect(p.unmount('/m', false)).rejects.toThrow('fusermount -u /m failed: fusermount: entry for /m not found');
  });

  it('finds the top-most mount in mountinfo, with escaped spaces', async () => {
    const mountinfo = [
      '22 1 8:1 / / rw - ext4 /dev/sda1 rw',
      '40 22 0:50 / /mnt/my\\040disk rw,nosuid - fuse.pan123fs pan123fs rw',
      '41 40 0:51 / /mnt/my\\040disk rw - fuse.pan123fs pan123fs rw',
    ].join('\n');
    const p = linuxPlatform(fakeIo({ files: { '/proc/self/mountinfo': mountinfo } }).io);
    expect(await p.findMount('/mnt/my disk')).toEqual({ device: '0:51', fsType: 'fuse.pan123fs' });
    expect(await p.findMount('/mnt/other')).toBeUndefined();
    expect(unescapeMountinfo('a\\011b\\134c')).toBe('a\tb\\c');
  });

  it('sets read-ahead through the bdi of the mount', async () => {
    const f = fakeIo();
    expect(await linuxPlatform(f.io).setReadAhead({ device: '0:51', fsType: 'fuse' }, 512)).toBe('set');
    expect(f.writes).toEqual({ '/sys/class/bdi/0:51/read_ahead_kb': '512' });
  });

  it('XDG dirs for users, system dirs for root', () => {
    const user = linuxPlatform(fakeIo({ env: { XDG_CACHE_HOME: '/c' } }).io).defaultDirs('id/1');
    expect(user).toEqual({ cacheDir: '/c/pan123fs/id_1', stateDir: '/home/u/.local/state/pan123fs' });
    const root = linuxPlatform(fakeIo({ uid: 0, env: {} }).io).defaultDirs('abc');
    expect(root).toEqual({ cacheDir: '/var/cache/pan123fs/abc', stateDir: '/var/lib/pan123fs' });
  });

  it('checks /dev/fuse for read and write', async () => {
    const seen: (number | undefined)[] = [];
    const f = fakeIo();
    f.io.exists = async (_p, mode) => {
      seen.push(mode);
      return false;
    };
    const r = await linuxPlatform(f.io).checkFuse();
    expect(r.ok).toBe(false);
    expect(r.fix).toContain('modprobe fuse');
    expect(seen).toEqual([fsc.R_OK | fsc.W_OK]);
  });
});

describe('darwin (untested on a real Mac: what it would do)', () => {
  it('unmounts with umount, and lazily with diskutil unmount force', async () => {
    const f = fakeIo();
    const p = darwinPlatform(f.io);
    await p.unmount('/Users/u/123 Pan', false);
    await p.unmount('/Users/u/123 Pan', true);
    expect(f.calls).toEqual([
      { file: '/sbin/umount', args: ['/Users/u/123 Pan'] },
      { file: '/usr/sbin/diskutil', args: ['unmount', 'force', '/Users/u/123 Pan'] },
    ]);
  });

  it('finds a mount from `mount` output (no /proc), paths with spaces included', async () => {
    const f = fakeIo();
    f.answers.push({
      code: 0,
      stdout: [
        '/dev/disk3s1s1 on / (apfs, sealed, local, read-only, journaled)',
        'pan123fs@macfuse0 on /Users/u/123 Pan (macfuse, nodev, nosuid, synchronous, mounted by u)',
        'map auto_home on /System/Volumes/Data/home (autofs, automounted, nobrowse)',
      ].join('\n'),
      stderr: '',
    });
    expect(await darwinPlatform(f.io).findMount('/Users/u/123 Pan')).toEqual({
      device: 'pan123fs@macfuse0',
      fsType: 'macfuse',
    });
    expect(f.calls).toEqual([{ file: '/sbin/mount', args: [] }]);
    expect(parseMountLine('garbage')).toBeUndefined();
  });

  it('has no read-ahead knob: it says so instead of writing /sys', async () => {
    const f = fakeIo();
    expect(await darwinPlatform(f.io).setReadAhead({ device: 'x', fsType: 'macfuse' }, 512)).toBe('unsupported');
    expect(f.writes).toEqual({});
  });

  it('mount options: drops the Linux-only ones, adds volname, noappledouble, noapplexattr, iosize, never local', () => {
    const p = darwinPlatform(fakeIo().io);
    const base = ['fsname=pan123fs', 'auto_unmount', 'big_writes', 'max_background=64', 'use_ino'];
    const opts = p.adaptMountOptions(base, { volname: '123云盘', ioSizeBytes: 1048576 });
    expect(opts).toEqual([
      'fsname=pan123fs',
      'max_background=64',
      'use_ino',
      'volname=123云盘',
      'noappledouble',
      'noapplexattr',
      'iosize=1048576',
    ]);
    expect(opts).not.toContain('local');
    expect(linuxPlatform(fakeIo().io).adaptMountOptions(base, { volname: 'x', ioSizeBytes: 1 })).toEqual(base);
  });

  it('dirs under ~/Library (and /Library for root)', () => {
    expect(darwinPlatform(fakeIo({ homedir: '/Users/u' }).io).defaultDirs('id')).toEqual({
      cacheDir: '/Users/u/Library/Caches/pan123fs/id',
      stateDir: '/Users/u/Library/Application Support/pan123fs',
    });
    expect(darwinPlatform(fakeIo({ uid: 0 }).io).defaultDirs('id').stateDir).toBe(
      '/Library/Application Support/pan123fs',
    );
  });

  it('checks for the macFUSE bundle and names the install command', async () => {
    expect((await darwinPlatform(fakeIo({ present: [MACFUSE_BUNDLE] }).io).checkFuse()).ok).toBe(true);
    const missing = await darwinPlatform(fakeIo().io).checkFuse();
    expect(missing.ok).toBe(false);
    expect(missing.fix).toContain('brew install --cask macfuse');
    expect(darwinPlatform(fakeIo().io).serviceManager).toBe('launchd');
  });
});
