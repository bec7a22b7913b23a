// `pan123fs install-service`: installs the systemd units, the fstab helper and the wrapper from wherever
// this copy of pan123fs lives (an `npm install -g` or a checkout) by running the packaged
// scripts/install-systemd.sh with this node. `--dest DIR` stages into DIR (no root, no systemctl).
// The script does the work; this command only finds it, so both ways stay one code path.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { UserFacingError } from '../core/user-error.js';
import { dieWith } from './errors.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/install-systemd.sh', import.meta.url));

export function registerInstallServiceCommand(program: Command): void {
  program
    .command('install-service')
    .description(
      'install the systemd units (system and user), the fstab helper mount.fuse.pan123fs and ' +
        '/usr/local/bin/pan123fs for this installation; needs root unless --dest stages into a directory',
    )
    .option('--dest <dir>', 'stage into this directory instead of / (packaging, tests)')
    .option('--bindir <dir>', 'where the pan123fs wrapper goes', '/usr/local/bin')
    .action(async (flags: { dest?: string; bindir: string }) => {
      if (!existsSync(SCRIPT)) dieWith(new UserFacingError(`install-service: ${SCRIPT} is missing from this install`));
      const env: NodeJS.ProcessEnv = { ...process.env, NODE: process.execPath, BINDIR: flags.bindir };
      if (flags.dest) env.DESTDIR = flags.dest;
      const code = await new Promise<number>((resolveP) => {
        const child = spawn('bash', [SCRIPT], { env, stdio: 'inherit' });
        child.on('error', () => resolveP(127));
        child.on('exit', (c) => resolveP(c ?? 1));
      });
      process.exitCode = code;
    });
}
