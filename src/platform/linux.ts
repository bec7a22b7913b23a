// Linux: FUSE through /dev/fuse and the setuid fusermount helper (fusermount3 from libfuse 3, fusermount
// from libfuse 2; Debian's fuse3 keeps a fusermount link), mounts read from /proc/self/mountinfo,
// read-ahead through /sys/class/bdi, XDG dirs (system dirs for root).

import { constants as fsc } from 'node:fs';
import { join } from 'node:path';
import {
  type CheckOutcome,
  type MountEntry,
  type Platform,
  type PlatformIo,
  PlatformError,
  safeAccountDir,
} from './types.js';

const UNMOUNT_TOOLS = ['fusermount3', 'fusermount'];

export function linuxPlatform(io: PlatformIo): Platform {
  let tool: string | undefined;
  const searchPath = () => [...(io.env.PATH ?? '').split(':'), '/bin', '/usr/bin'].filter(Boolean);
  return {
    name: 'linux',
    tested: true,
    fuseInstallHint: 'apt-get install -y fuse3',
    serviceManager: 'systemd',

    async checkFuse(): Promise<CheckOutcome> {
      if (await io.exists('/dev/fuse', fsc.R_OK | fsc.W_OK))
        return { ok: true, detail: '/dev/fuse present, readable and writable' };
      return {
        ok: false,
        detail: '/dev/fuse is missing or not accessible',
        fix:
          'modprobe fuse; in a container run with --device /dev/fuse --cap-add SYS_ADMIN; ' +
          'in a systemd unit keep DeviceAllow=/dev/fuse rw',
      };
    },

    async findUnmountTool() {
      for (const name of UNMOUNT_TOOLS)
        for (const dir of searchPath()) {
          const p = join(dir, name);
          if (await io.exists(p, fsc.X_OK)) {
            tool = name;
            return p;
          }
        }
      return undefined;
    },

    unmountCommand(mnt, lazy) {
      return { file: tool ?? 'fusermount', args: [lazy ? '-uz' : '-u', mnt] };
    },

    async unmount(mnt, lazy) {
      if (!tool) await this.findUnmountTool();
      const { file, args } = this.unmountCommand(mnt, lazy);
      const r = await io.exec(file, args);
      if (r.code !== 0) throw new PlatformError(`${file} ${args.join(' ')} failed: ${r.stderr.trim() || r.code}`);
    },

    async findMount(mnt) {
      const text = await io.readFile('/proc/self/mountinfo');
      let found: MountEntry | undefined;
      for (const line of text.split('\n')) {
        const f = line.split(' ');
        if (f.length < 5 || unescapeMountinfo(f[4] ?? '') !== mnt) continue;
        const sep = f.indexOf('-');
        found = { device: f[2] ?? '', fsType: sep > 0 ? (f[sep + 1] ?? '') : '' }; // the last one is on top
      }
      return found;
    },

    async setReadAhead(entry, kb) {
      await io.writeFile(`/sys/class/bdi/${entry.device}/read_ahead_kb`, String(kb));
      return 'set';
    },

    adaptMountOptions(base) {
      return base;
    },

    defaultDirs(clientId) {
      const account = safeAccountDir(clientId);
      if (io.uid === 0 && !io.env.XDG_CACHE_HOME)
        return { cacheDir: join('/var/cache/pan123fs', account), stateDir: '/var/lib/pan123fs' };
      const cache = io.env.XDG_CACHE_HOME || join(io.homedir, '.cache');
      const state = io.env.XDG_STATE_HOME || join(io.homedir, '.local', 'state');
      return { cacheDir: join(cache, 'pan123fs', account), stateDir: join(state, 'pan123fs') };
    },
  };
}

/** /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo. */
export function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
