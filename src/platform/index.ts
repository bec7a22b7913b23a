// Picks the platform implementation by process.platform, with real I/O. Tests call linuxPlatform or
// darwinPlatform with an injected PlatformIo instead. Any other OS is refused with a clear message.

import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { homedir } from 'node:os';
import { darwinPlatform } from './darwin.js';
import { linuxPlatform } from './linux.js';
import { type Platform, type PlatformIo, PlatformError } from './types.js';

export { type Platform, type PlatformIo, type MountEntry, PlatformError } from './types.js';

export function realIo(): PlatformIo {
  return {
    exec: (file, args) =>
      new Promise((resolve) => {
        execFile(file, args, { timeout: 30_000 }, (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
          resolve({ code, stdout: String(stdout), stderr: String(stderr || (err && !stderr ? err.message : '')) });
        });
      }),
    readFile: (p) => fsp.readFile(p, 'utf8'),
    writeFile: (p, d) => fsp.writeFile(p, d),
    exists: (p, mode) =>
      fsp.access(p, mode).then(
        () => true,
        () => false,
      ),
    env: process.env,
    homedir: homedir(),
    uid: process.getuid?.() ?? 0,
  };
}

export function platformFor(name: NodeJS.Platform, io: PlatformIo): Platform {
  if (name === 'linux') return linuxPlatform(io);
  if (name === 'darwin') return darwinPlatform(io);
  throw new PlatformError(`pan123fs runs on Linux and macOS, not on ${name}`);
}

let current: Platform | undefined;

/** The platform this process runs on (one instance: it caches which unmount tool it found). */
export function currentPlatform(): Platform {
  current ??= platformFor(process.platform, realIo());
  return current;
}
