// `pan123fs cleanup-mount [MOUNTPOINT] [--config FILE]`: what a service runs before (and after) the
// daemon: clears a dead FUSE mount ("Transport endpoint is not connected", left by a daemon killed with
// SIGKILL together with its auto_unmount helper) and creates the mountpoint directory when missing.
// Never touches a live mount: a running daemon's mount is left alone (the mount then fails with a clear
// "already mounted" message).

import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '../config/parse.js';
import { resolveMountConfig } from '../config/resolve.js';
import { UserFacingError } from '../core/user-error.js';
import { clearStaleMount } from '../fuse/mount.js';
import { addTableOptions } from './options-to-flags.js';
import { dieWith } from './errors.js';

export async function cleanupMount(mountpoint: string): Promise<{ cleared: boolean; created: boolean }> {
  const mp = resolve(mountpoint);
  const cleared = await clearStaleMount(mp);
  const created = (await mkdir(mp, { recursive: true, mode: 0o755 })) !== undefined;
  return { cleared, created };
}

export function registerCleanupCommand(program: Command): void {
  const cmd = program
    .command('cleanup-mount')
    .description(
      'clear a stale (disconnected) mount at MOUNTPOINT (default: the config\'s "mountpoint") and create the ' +
        'directory if missing; the systemd units run it as ExecStartPre/ExecStopPost',
    )
    .argument('[mountpoint]');
  addTableOptions(cmd, ['config', 'mountpoint', 'clientId', 'clientSecret', 'clientSecretFile']);
  cmd.action(async (arg: string | undefined, flags: Record<string, unknown>) => {
    try {
      let mp = arg;
      if (!mp) {
        const cfg = await resolveMountConfig(flags, process.env).catch((e) => {
          throw e instanceof ConfigError ? new UserFacingError(`config: ${e.message}`, 2) : e;
        });
        mp = cfg.mountpoint;
      }
      if (!mp) throw new UserFacingError('no mountpoint: pass MOUNTPOINT, or put "mountpoint" in the config file', 2);
      const r = await cleanupMount(mp);
      if (r.cleared) process.stdout.write(`pan123fs: cleared a stale mount at ${resolve(mp)}\n`);
      if (r.created) process.stdout.write(`pan123fs: created mountpoint ${resolve(mp)}\n`);
    } catch (e) {
      dieWith(e);
    }
  });
}
