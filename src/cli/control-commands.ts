// `pan123fs status`, `refresh`, `unmount`: clients of the daemon's control socket.

import { resolve } from 'node:path';
import type { Command } from 'commander';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { controlRequest, controlSocketPath } from '../daemon/control.js';
import { defaultStateDir } from '../config/resolve.js';
import type { DaemonStatus } from '../daemon/status-types.js';
import { UserFacingError } from '../core/user-error.js';
import { dieWith } from './errors.js';
import { formatStatus } from './format-status.js';

export async function sockets(stateDir: string, mountpoint?: string): Promise<string[]> {
  if (mountpoint) return [controlSocketPath(stateDir, resolve(mountpoint))];
  const names = await readdir(stateDir).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith('control-') && n.endsWith('.sock')).map((n) => join(stateDir, n));
}

export async function ask(
  sock: string,
  req: object,
  timeoutMs?: number,
  onProgress?: Parameters<typeof controlRequest>[3],
  // biome-ignore lint/suspicious/noExplicitAny: a JSON answer whose shape the caller knows
): Promise<any> {
  try {
    return await controlRequest(sock, req, timeoutMs, onProgress);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED')
      throw new UserFacingError(
        `no pan123fs daemon answers at ${sock} (is the mount running? pass --state-dir if it uses another one)`,
      );
    throw e;
  }
}

export function registerControlCommands(program: Command): void {
  program
    .command('status')
    .description('show mounts, account, caches and the upload queue of running daemons')
    .argument('[mountpoint]')
    .option('--json', 'machine-readable output')
    .option('--state-dir <dir>', 'state dir of the daemon (default as for mount)')
    .action(async (mountpoint: string | undefined, o: { json?: boolean; stateDir?: string }) => {
      try {
        const socks = await sockets(o.stateDir ?? defaultStateDir(), mountpoint);
        if (socks.length === 0) throw new UserFacingError('no running pan123fs mount found');
        const all: DaemonStatus[] = [];
        for (const s of socks) {
          const r = await ask(s, { cmd: 'status' }).catch((e) => (mountpoint ? Promise.reject(e) : null));
          if (r?.ok) all.push(r.status);
        }
        if (all.length === 0) throw new UserFacingError('no running pan123fs mount answered');
        process.stdout.write(
          o.json ? `${JSON.stringify(mountpoint ? all[0] : all, null, 2)}\n` : all.map(formatStatus).join('\n'),
        );
      } catch (e) {
        dieWith(e);
      }
    });

  program
    .command('refresh')
    .description('drop cached listings so remote changes made elsewhere appear now')
    .argument('<path>', 'a directory inside a pan123fs mount')
    .option('-r, --recursive', 'also every directory below it')
    .option('--state-dir <dir>')
    .action(async (path: string, o: { recursive?: boolean; stateDir?: string }) => {
      try {
        const abs = resolve(path);
        const socks = await sockets(o.stateDir ?? defaultStateDir());
        for (const s of socks) {
          const st = await ask(s, { cmd: 'status' }).catch(() => null);
          const mp: string | undefined = st?.status?.mountpoint;
          if (!mp || (abs !== mp && !abs.startsWith(`${mp}/`))) continue;
          const r = await ask(s, { cmd: 'refresh', path: abs.slice(mp.length) || '/', recursive: !!o.recursive });
          if (!r.ok) throw new UserFacingError(r.error);
          process.stdout.write(`refreshed ${r.dirs} director${r.dirs === 1 ? 'y' : 'ies'}\n`);
          return;
        }
        throw new UserFacingError(`${abs} is not inside a running pan123fs mount`);
      } catch (e) {
        dieWith(e);
      }
    });

  program
    .command('unmount')
    .description('finish pending uploads, then unmount')
    .argument('<mountpoint>')
    .option('--state-dir <dir>')
    .action(async (mountpoint: string, o: { stateDir?: string }) => {
      try {
        const [s] = await sockets(o.stateDir ?? defaultStateDir(), mountpoint);
        const r = await ask(s!, { cmd: 'unmount' });
        if (!r.ok) throw new UserFacingError(r.error);
        process.stdout.write(`unmounting ${resolve(mountpoint)} (pending uploads finish first)\n`);
      } catch (e) {
        dieWith(e);
      }
    });
}
