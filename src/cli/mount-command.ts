// `pan123fs mount MOUNTPOINT [options]`: resolves the configuration from the option table and runs the
// daemon in the foreground until SIGINT/SIGTERM (or an unmount), then exits.

import { resolve } from 'node:path';
import type { Command } from 'commander';
import { resolveMountConfig } from '../config/resolve.js';
import { ConfigError } from '../config/parse.js';
import { UserFacingError } from '../core/user-error.js';
import { createLogger, Redactor } from '../daemon/logger.js';
import { runMount } from '../daemon/run-mount.js';
import { MountError } from '../fuse/mount.js';
import { addTableOptions } from './options-to-flags.js';
import { dieWith } from './errors.js';

export function registerMountCommand(program: Command): void {
  const cmd = program
    .command('mount')
    .description('mount a 123pan account (or one folder of it) at MOUNTPOINT; runs in the foreground')
    .argument('[mountpoint]', 'an existing, empty directory (default: --mountpoint / "mountpoint" in the config file)');
  addTableOptions(cmd);
  cmd.action(async (mountpointArg: string | undefined, flags: Record<string, unknown>) => {
    let cfg;
    try {
      cfg = await resolveMountConfig(flags, process.env);
    } catch (e) {
      dieWith(e instanceof ConfigError ? new UserFacingError(e.message, 2) : e);
    }
    const mountpoint = mountpointArg ?? cfg.mountpoint;
    if (!mountpoint)
      dieWith(
        new UserFacingError('no mountpoint: pass MOUNTPOINT, --mountpoint, or put "mountpoint" in the config file', 2),
      );
    const redactor = new Redactor();
    redactor.addSecret(cfg.clientSecret);
    redactor.addSecret(cfg.directLinkKey);
    redactor.addSecret(cfg.webdav.password);
    const log = createLogger({ level: cfg.logLevel, redactor });
    try {
      const d = await runMount(resolve(mountpoint), cfg, log, undefined, redactor);
      const code = await d.done;
      process.exit(code);
    } catch (e) {
      if (e instanceof MountError || e instanceof UserFacingError) dieWith(new UserFacingError(e.message));
      log.error({ op: 'mount', err: e }, 'mount failed');
      dieWith(e);
    }
  });
}
