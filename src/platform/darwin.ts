// macOS with macFUSE (UNTESTED: we cannot run macOS here; every command below is what macFUSE's docs and
// working clients use, and unit tests check that we build exactly these). No /proc and no /sys: mounts
// come from `mount` output, there is no bdi read-ahead knob (the iosize mount option sets the request
// size instead), unmounting is umount (diskutil unmount force when lazy), dirs live under ~/Library.
// macFUSE has no fusermount, so libfuse's auto_unmount is dropped; launchd restarts the agent instead.

import { join } from 'node:path';
import {
  type CheckOutcome,
  type MountEntry,
  type Platform,
  type PlatformIo,
  PlatformError,
  safeAccountDir,
} from './types.js';

/** Where macFUSE installs its file system bundle (macFUSE 4.x). */
export const MACFUSE_BUNDLE = '/Library/Filesystems/macfuse.fs';

/** Options libfuse on Linux understands and macFUSE does not. */
const LINUX_ONLY = new Set(['auto_unmount', 'big_writes', 'congestion_threshold']);

export function darwinPlatform(io: PlatformIo): Platform {
  return {
    name: 'darwin',
    tested: false,
    fuseInstallHint: 'brew install --cask macfuse (then allow its system extension and reboot)',
    serviceManager: 'launchd',

    async checkFuse(): Promise<CheckOutcome> {
      if (await io.exists(MACFUSE_BUNDLE)) return { ok: true, detail: `macFUSE installed (${MACFUSE_BUNDLE})` };
      return {
        ok: false,
        detail: `macFUSE is not installed (${MACFUSE_BUNDLE} missing)`,
        fix: 'brew install --cask macfuse, allow the system extension in System Settings, reboot',
      };
    },

    async findUnmountTool() {
      return (await io.exists('/sbin/umount')) ? '/sbin/umount' : undefined;
    },

    unmountCommand(mnt, lazy) {
      return lazy
        ? { file: '/usr/sbin/diskutil', args: ['unmount', 'force', mnt] }
        : { file: '/sbin/umount', args: [mnt] };
    },

    async unmount(mnt, lazy) {
      const { file, args } = this.unmountCommand(mnt, lazy);
      const r = await io.exec(file, args);
      if (r.code !== 0) throw new PlatformError(`${file} ${args.join(' ')} failed: ${r.stderr.trim() || r.code}`);
    },

    async findMount(mnt) {
      const r = await io.exec('/sbin/mount', []);
      if (r.code !== 0) throw new PlatformError(`mount failed: ${r.stderr.trim() || r.code}`);
      let found: MountEntry | undefined;
      for (const line of r.stdout.split('\n')) {
        const m = parseMountLine(line);
        if (m && m.path === mnt) found = { device: m.device, fsType: m.fsType };
      }
      return found;
    },

    async setReadAhead() {
      return 'unsupported';
    },

    adaptMountOptions(base, o) {
      const kept = base.filter((opt) => !LINUX_ONLY.has(opt.split('=')[0] ?? opt));
      return [
        ...kept,
        `volname=${o.volname}`,
        'noappledouble', // no ._ files for every file Finder touches: each would be an upload
        'noapplexattr', // no com.apple.* xattrs (123 stores none)
        `iosize=${o.ioSizeBytes}`,
        // not `local`: it would invite Spotlight and Time Machine to crawl a network drive's every byte
      ];
    },

    defaultDirs(clientId) {
      const account = safeAccountDir(clientId);
      const lib = io.uid === 0 ? '/Library' : join(io.homedir, 'Library');
      return {
        cacheDir: join(lib, 'Caches', 'pan123fs', account),
        stateDir: join(lib, 'Application Support', 'pan123fs'),
      };
    },
  };
}

/** One line of macOS `mount`: "DEVICE on PATH (TYPE, opt, opt…)"; PATH may hold spaces. */
export function parseMountLine(line: string): { device: string; path: string; fsType: string } | undefined {
  const m = /^(.+?) on (.+) \(([^,)]+)(?:,[^)]*)?\)$/.exec(line.trim());
  return m ? { device: m[1]!, path: m[2]!, fsType: m[3]! } : undefined;
}
