// `pan123fs serve webdav [options]`: the mount daemon without FUSE, serving the tree over WebDAV only
// (--webdav ADDR, default 127.0.0.1:8080). Same options, store, caches and upload queue as `mount`.

import type { Command } from 'commander';
import { resolveMountConfig } from '../config/resolve.js';
import { ConfigError } from '../config/parse.js';
import { UserFacingError } from '../core/user-error.js';
import { createLogger, Redactor } from '../daemon/logger.js';
import { runMount } from '../daemon/run-mount.js';
import { addTableOptions } from './options-to-flags.js';
import { dieWith } from './errors.js';

export const DEFAULT_WEBDAV_ADDRESS = '127.0.0.1:8080';

export function registerServeCommand(program: Command): void {
  const serve = program.command('serve').description('serve the account over a network protocol (no FUSE needed)');
  const cmd = serve
    .command('webdav')
    .description(
      `serve a 123pan account (or one folder of it) over WebDAV; default --webdav ${DEFAULT_WEBDAV_ADDRESS}`,
    );
  addTableOptions(cmd);
  cmd.action(async (flags: Record<string, unknown>) => {
    let cfg;
    try {
      cfg = await resolveMountConfig(flags, process.env, { webdavDefault: DEFAULT_WEBDAV_ADDRESS });
    } catch (e) {
      dieWith(e instanceof ConfigError ? new UserFacingError(e.message, 2) : e);
    }
    const redactor = new Redactor();
    redactor.addSecret(cfg.clientSecret);
    redactor.addSecret(cfg.directLinkKey);
    redactor.addSecret(cfg.webdav.password);
    const log = createLogger({ level: cfg.logLevel, redactor });
    try {
      const d = await runMount(null, cfg, log, undefined, redactor);
      process.exit(await d.done);
    } catch (e) {
      if (e instanceof UserFacingError) dieWith(e);
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
        dieWith(
          new UserFacingError(
            `cannot listen on --webdav ${cfg.webdav.listen?.host}:${cfg.webdav.listen?.port}: ${code}`,
          ),
        );
      log.error({ op: 'serve', err: e }, 'serve failed');
      dieWith(e);
    }
  });
}
