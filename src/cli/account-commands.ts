// Account commands over the same client as the mount (issue 18): `share`, `fetch` (offline download),
// `link` and `export-strm`. Each takes the mount's options (--config, --client-id, …), reuses the
// daemon's token file in the state dir (123 keeps only 3 live tokens per client id), and resolves paths
// inside the drive from the configured root folder; a path under the configured mountpoint is accepted
// too (~/123pan/video/a.mp4 means /video/a.mp4). Output: one result line on stdout, progress on stderr.

import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve as resolvePath } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, parseDuration } from '../config/parse.js';
import { type MountConfig, resolveMountConfig } from '../config/resolve.js';
import { UserFacingError } from '../core/user-error.js';
import type { RemoteEntry } from '../pan/api.js';
import { signDirectLink } from '../pan/cdn/download-urls.js';
import type { HttpPanClient } from '../pan/http-pan-client.js';
import { clientFromConfig } from '../daemon/pan-client.js';
import { dieWith } from './errors.js';
import { addTableOptions } from './options-to-flags.js';

/** Media that Emby/Jellyfin play from .strm files. */
const STRM_EXTENSIONS = /\.(mp4|mkv|avi|mov|m4v|ts|webm|flv|wmv|mpg|mpeg|rmvb|iso|mp3|flac|m4a)$/i;
const POLL_MS = 1000;

interface Ctx {
  cfg: MountConfig;
  pan: HttpPanClient;
}

async function withClient(flags: Record<string, unknown>, fn: (c: Ctx) => Promise<void>): Promise<void> {
  let cfg: MountConfig;
  try {
    cfg = await resolveMountConfig(flags, process.env);
  } catch (e) {
    dieWith(e instanceof ConfigError ? new UserFacingError(e.message, 2) : e);
  }
  await mkdir(cfg.stateDir, { recursive: true, mode: 0o700 });
  const pan = clientFromConfig(cfg);
  try {
    await fn({ cfg, pan });
  } catch (e) {
    dieWith(e instanceof UserFacingError ? e : new UserFacingError(e instanceof Error ? e.message : String(e)));
  } finally {
    await pan.close();
  }
}

/** Drive path segments of PATH: absolute in the drive, or a local path under the configured mountpoint. */
export function driveSegments(path: string, mountpoint: string | undefined): string[] {
  let p = path;
  if (mountpoint) {
    const rel = relative(resolvePath(mountpoint), resolvePath(path));
    if (!rel.startsWith('..') && resolvePath(path).startsWith(resolvePath(mountpoint))) p = rel;
  }
  return p.split('/').filter((s) => s !== '' && s !== '.');
}

async function lookup(c: Ctx, path: string): Promise<RemoteEntry | { id: string; isDir: true; name: string }> {
  const segs = driveSegments(path, c.cfg.mountpoint);
  let cur: RemoteEntry | { id: string; isDir: true; name: string } = { id: c.cfg.rootFolderId, isDir: true, name: '' };
  for (const [i, seg] of segs.entries()) {
    if (!cur.isDir) throw new UserFacingError(`${segs.slice(0, i).join('/')} is a file, not a folder`);
    const next: RemoteEntry | undefined = (await c.pan.listAll(cur.id)).find((e) => e.name === seg);
    if (!next) throw new UserFacingError(`no such file or folder in the drive: /${segs.slice(0, i + 1).join('/')}`);
    cur = next;
  }
  return cur;
}

async function linkFor(c: Ctx, id: string, validSec?: number): Promise<string> {
  if (!c.cfg.directLink) return (await c.pan.downloadInfo(id)).url;
  const link = (await c.pan.directLink(id)).url;
  if (!c.cfg.directLinkKey) return link;
  const uid = (await c.pan.userInfo()).uid;
  const expireTs = Math.floor(Date.now() / 1000) + (validSec ?? 30 * 60);
  return signDirectLink(link, { key: c.cfg.directLinkKey, uid }, expireTs, randomBytes(8).toString('hex'));
}

function durationArg(v: string, what: string): number {
  try {
    return parseDuration(v);
  } catch (e) {
    throw new UserFacingError(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function intArg(v: string, what: string): number {
  if (!/^\d+$/.test(v)) throw new UserFacingError(`${what} must be a whole number`, 2);
  return Number(v);
}

export function registerAccountCommands(program: Command): void {
  const share = program
    .command('share')
    .description('create a 123 share link for PATH (a file or folder in the drive) and print it')
    .argument('<path>')
    .option('--days <n>', 'valid for 1, 7 or 30 days, or 0 for ever', '7')
    .option('--password <code>', 'extraction code (提取码): 4 letters or digits');
  addTableOptions(share);
  share.action(async (path: string, flags: Record<string, unknown>) =>
    withClient(flags, async (c) => {
      const e = await lookup(c, path);
      if (e.id === '0' || e.id === c.cfg.rootFolderId) throw new UserFacingError('the root folder cannot be shared');
      const r = await c.pan.account.createShare({
        name: e.name,
        fileIds: [e.id],
        days: intArg(String(flags.days), '--days'),
        password: flags.password as string | undefined,
      });
      process.stdout.write(`${r.url}${flags.password ? `  (提取码 ${flags.password})` : ''}\n`);
    }),
  );

  const fetchCmd = program
    .command('fetch')
    .description('start a 123 offline download of URL into the drive folder DIR and show its progress')
    .argument('<url>')
    .argument('<dir>')
    .option('--name <file>', 'name of the file it makes (default: the last part of the URL)')
    .option('--no-wait', 'print the task id and return at once')
    .option('--timeout <duration>', 'stop waiting after this long (the task goes on at 123)', '2h');
  addTableOptions(fetchCmd);
  fetchCmd.action(async (url: string, dir: string, flags: Record<string, unknown>) =>
    withClient(flags, async (c) => {
      const limit = durationArg(String(flags.timeout), '--timeout'); // refused before any task starts
      const d = await lookup(c, dir);
      if (!d.isDir) throw new UserFacingError(`${dir} is a file, not a folder`);
      const task = await c.pan.account.startOfflineDownload({
        url,
        dirId: d.id,
        fileName: flags.name as string | undefined,
      });
      if (flags.wait === false) {
        process.stdout.write(`${task}\n`);
        return;
      }
      const deadline = Date.now() + limit;
      for (;;) {
        const p = await c.pan.account.offlineProgress(task);
        process.stderr.write(`\rfetch: ${p.state} ${p.percent}%   `);
        if (p.state === 'done') break;
        if (p.state === 'failed') {
          process.stderr.write('\n');
          throw new UserFacingError(`offline download ${task} failed on 123's side (the URL may be unreachable)`);
        }
        if (Date.now() >= deadline) {
          process.stderr.write('\n');
          throw new UserFacingError(
            `offline download ${task} still ${p.state} at ${p.percent}% after ${String(flags.timeout)}: ` +
              `it goes on at 123; the file appears in ${dir} when it is done`,
          );
        }
        await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
      }
      process.stderr.write('\n');
      process.stdout.write(`done: ${url} -> ${dir}\n`);
    }),
  );

  const link = program
    .command('link')
    .description(
      'print a link players can open for the file at PATH: a direct link with --direct-link (signed when ' +
        '--direct-link-key is set; needs a 直链空间 folder), else a download link (valid about 2 hours)',
    )
    .argument('<path>')
    .option('--valid <seconds>', 'lifetime of a signed direct link', '1800');
  addTableOptions(link);
  link.action(async (path: string, flags: Record<string, unknown>) =>
    withClient(flags, async (c) => {
      const e = await lookup(c, path);
      if (e.isDir) throw new UserFacingError(`${path} is a folder: links are for files`);
      process.stdout.write(`${await linkFor(c, e.id, intArg(String(flags.valid), '--valid'))}\n`);
    }),
  );

  const strm = program
    .command('export-strm')
    .description(
      'write a .strm file with a link for every media file under the drive folder DIR into OUT, for ' +
        'Emby/Jellyfin; run it again to refresh the links (direct links keep working, download links expire)',
    )
    .argument('<dir>')
    .argument('<out>')
    .option('--valid <seconds>', 'lifetime of signed direct links', String(30 * 86400));
  addTableOptions(strm);
  strm.action(async (dir: string, out: string, flags: Record<string, unknown>) =>
    withClient(flags, async (c) => {
      const top = await lookup(c, dir);
      if (!top.isDir) throw new UserFacingError(`${dir} is a file, not a folder`);
      const valid = intArg(String(flags.valid), '--valid');
      if (!c.cfg.directLink)
        process.stderr.write('export-strm: download links expire after about 2 hours; --direct-link lasts\n');
      let written = 0;
      const walk = async (id: string, rel: string[]): Promise<void> => {
        for (const e of await c.pan.listAll(id)) {
          if (e.isDir) await walk(e.id, [...rel, e.name]);
          else if (STRM_EXTENSIONS.test(e.name)) {
            const folder = join(out, ...rel);
            await mkdir(folder, { recursive: true });
            await writeFile(
              join(folder, `${e.name.replace(/\.[^.]+$/, '')}.strm`),
              `${await linkFor(c, e.id, valid)}\n`,
            );
            written++;
          }
        }
      };
      await walk(top.id, []);
      process.stdout.write(`${written} .strm files in ${out}\n`);
    }),
  );
}
