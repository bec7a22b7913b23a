// Last-resort cleanup: when the process is dying from an uncaught exception or unhandled rejection,
// lazily unmount every mount this process made, so no "Transport endpoint is not connected" is left,
// then exit non-zero. The synchronous unmount here is deliberate and the only one allowed: the
// event loop is finished anyway. Everywhere else unmounting is async (mount.ts).

import { execFileSync } from 'node:child_process';
import type { Logger } from '../core/logger.js';
import { currentPlatform } from '../platform/index.js';

const mounts = new Set<string>();
let installed = false;

export function trackMount(mountpoint: string): void {
  mounts.add(mountpoint);
}
export function untrackMount(mountpoint: string): void {
  mounts.delete(mountpoint);
}
export function trackedMounts(): string[] {
  return [...mounts];
}

/** Install once, early in the daemon. `exit` is injectable for tests. */
export function installCrashGuard(logger: Logger, exit: (code: number) => void = (c) => process.exit(c)): void {
  if (installed) return;
  installed = true;
  const die = (kind: string) => (err: unknown) => {
    logger.fatal(
      { err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) },
      `${kind}: unmounting and exiting`,
    );
    for (const m of mounts) {
      try {
        const { file, args } = currentPlatform().unmountCommand(m, true); // fusermount3 -uz; macOS: diskutil
        execFileSync(file, args, { stdio: 'ignore', timeout: 10_000 });
      } catch {
        /* best effort */
      }
    }
    mounts.clear();
    exit(1);
  };
  process.on('uncaughtException', die('uncaught exception'));
  process.on('unhandledRejection', die('unhandled rejection'));
}
