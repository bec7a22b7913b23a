// `pan123fs pin`, `unpin`, `cache`: cache control through the running daemon's control socket
// (daemon/control.ts; the daemon side is vfs/pins.ts). Paths are absolute or relative paths inside a mount.

import { resolve } from 'node:path';
import type { Command } from 'commander';
import { defaultStateDir } from '../config/resolve.js';
import { UserFacingError } from '../core/user-error.js';
import type { CacheEntry, PinProgress, PinResult } from '../daemon/control.js';
import { ask, sockets } from './control-commands.js';
import { dieWith } from './errors.js';
import { humanBytes } from './format-status.js';

/** A pin of a big folder may take long: the socket waits this long without a progress line. */
const PIN_IDLE_TIMEOUT_MS = 10 * 60_000;

/** The daemon whose mount holds `path`, and the path inside it. */
async function locate(path: string, stateDir: string): Promise<{ sock: string; rel: string }> {
  const abs = resolve(path);
  for (const sock of await sockets(stateDir)) {
    const st = await ask(sock, { cmd: 'status' }).catch(() => null);
    const mp: string | undefined = st?.status?.mountpoint;
    if (mp && (abs === mp || abs.startsWith(`${mp}/`))) return { sock, rel: abs.slice(mp.length) || '/' };
  }
  throw new UserFacingError(`${abs} is not inside a running pan123fs mount`);
}

function pct(done: number, total: number): string {
  return `${total > 0 ? Math.floor((done * 100) / total) : 100}%`;
}

export function registerCacheCommands(program: Command): void {
  program
    .command('pin')
    .description('fetch files or folders into the disk cache and keep them there (readable offline)')
    .argument('<paths...>', 'files or folders inside a pan123fs mount')
    .option('--state-dir <dir>')
    .action(async (paths: string[], o: { stateDir?: string }) => {
      try {
        const tty = process.stderr.isTTY;
        for (const path of paths) {
          const { sock, rel } = await locate(path, o.stateDir ?? defaultStateDir());
          let lastLine = 0;
          const show = (p: PinProgress) => {
            const line =
              `pinning ${path}: ${p.filesDone}/${p.files} files, ` +
              `${humanBytes(p.bytesDone)} of ${humanBytes(p.bytes)} (${pct(p.bytesDone, p.bytes)})`;
            if (tty) process.stderr.write(`\r${line}\x1b[K`);
            else if (Date.now() - lastLine >= 2000 || p.bytesDone === p.bytes) {
              lastLine = Date.now();
              process.stderr.write(`${line}\n`);
            }
          };
          const r = await ask(sock, { cmd: 'pin', path: rel }, PIN_IDLE_TIMEOUT_MS, show);
          if (tty) process.stderr.write('\n');
          if (!r.ok) throw new UserFacingError(`pin ${path}: ${r.error}`);
          const p = r.pinned as PinResult;
          process.stdout.write(
            `pinned ${path}: ${p.files} file${p.files === 1 ? '' : 's'}, ${humanBytes(p.bytes)} cached` +
              (p.localFiles ? ` (${p.localFiles} not uploaded yet, kept in staging)` : '') +
              '\n',
          );
        }
      } catch (e) {
        dieWith(e);
      }
    });

  program
    .command('unpin')
    .description('let pinned files leave the disk cache again (LRU)')
    .argument('<paths...>', 'pinned files or folders inside a pan123fs mount')
    .option('--state-dir <dir>')
    .action(async (paths: string[], o: { stateDir?: string }) => {
      try {
        for (const path of paths) {
          const { sock, rel } = await locate(path, o.stateDir ?? defaultStateDir());
          const r = await ask(sock, { cmd: 'unpin', path: rel });
          if (!r.ok) throw new UserFacingError(`unpin ${path}: ${r.error}`);
          process.stdout.write(`unpinned ${path}\n`);
        }
      } catch (e) {
        dieWith(e);
      }
    });

  program
    .command('cache')
    .description('list cached and pinned files: path, size, bytes on disk, pinned')
    .argument('[path]', 'a file or folder inside a pan123fs mount (default: the current directory)', '.')
    .option('--all', 'also files with nothing cached')
    .option('--json', 'machine-readable output')
    .option('--state-dir <dir>')
    .action(async (path: string, o: { all?: boolean; json?: boolean; stateDir?: string }) => {
      try {
        const { sock, rel } = await locate(path, o.stateDir ?? defaultStateDir());
        const r = await ask(sock, { cmd: 'cache', path: rel, all: !!o.all });
        if (!r.ok) throw new UserFacingError(`cache ${path}: ${r.error}`);
        const entries = r.entries as CacheEntry[];
        if (o.json) {
          process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
          return;
        }
        const rows = entries.map((e) => [
          humanBytes(e.size),
          humanBytes(e.cachedBytes),
          pct(e.cachedBytes, e.size),
          e.pinned ? 'pinned' : '-',
          e.path,
        ]);
        const head = ['SIZE', 'CACHED', '%', 'PIN', 'PATH'];
        const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
        const fmt = (row: string[]) => row.map((c, i) => (i === row.length - 1 ? c : c.padStart(w[i]!))).join('  ');
        const total = entries.reduce((a, e) => a + e.cachedBytes, 0);
        process.stdout.write(
          `${[head, ...rows].map(fmt).join('\n')}\n${entries.length} files, ${humanBytes(total)} on disk\n`,
        );
      } catch (e) {
        dieWith(e);
      }
    });
}
