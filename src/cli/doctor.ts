// `pan123fs doctor [--config FILE] [flags]`: checks everything a mount needs, one line each, and for each
// failure the command that fixes it. Exit 1 when any check failed (warnings do not fail).
// Checks: config, /dev/fuse, fusermount, libfuse 2, the fuse-native binding, allow_other permission,
// mountpoint, credentials (token + user info), the developer rights' days left (开发者权益包), the mount root
// and direct links, cache-dir free space.
// Every probe of the machine or the API goes through DoctorDeps, so the unit tests pass fakes.

import { execFile } from 'node:child_process';
import { constants as fsc, promises as fsp } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '../config/parse.js';
import { resolveMountConfig, type MountConfig } from '../config/resolve.js';
import type { PanAccount, PanLinks, PanTree, UserInfo } from '../pan/api.js';
import { clientFromConfig } from '../daemon/pan-client.js';
import { systemClock } from '../core/clock.js';
import {
  DEVELOPER_EXPIRED_HELP,
  DEVELOPER_RIGHTS_URL,
  describeRights,
  developerRights,
  pickTier,
} from '../pan/developer.js';
import { isPanError } from '../pan/errors.js';
import { describeBinding, loadFuseNative, type BindingInfo } from '../fuse/binding.js';
import { isMounted } from '../fuse/mount.js';
import { addTableOptions } from './options-to-flags.js';
import { humanBytes } from './format-status.js';
import { dieWith } from './errors.js';
import { currentPlatform, type Platform } from '../platform/index.js';
import { isTokenRevoked } from '../pan/auth.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';
export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

type Pan = PanAccount &
  Pick<PanTree, 'detail' | 'listPage'> &
  Pick<PanLinks, 'directLink'> & {
    token(): Promise<string>;
    close(): Promise<void>;
  };

export interface DoctorDeps {
  uid: number;
  /** resolves to true when the path is accessible with the given fs.constants mode */
  access(path: string, mode: number): Promise<boolean>;
  /** mode bits of a file, undefined when it does not exist */
  fileMode(path: string): Promise<number | undefined>;
  readText(path: string): Promise<string | undefined>;
  /** stdout of a command, undefined when it failed or does not exist */
  run(cmd: string, args: string[]): Promise<string | undefined>;
  binding(): BindingInfo;
  /** free bytes (for unprivileged users) on the file system holding path */
  freeBytes(path: string): Promise<number>;
  mountState(path: string): Promise<'missing' | 'not-dir' | 'empty' | 'not-empty' | 'mounted' | 'stale'>;
  pan(cfg: MountConfig): Pan;
  path: string;
  /** the OS seam; only macOS changes a check here (macFUSE instead of /dev/fuse) */
  platform?: Platform;
  /** epoch ms now (the developer rights' days left); default Date.now via the system clock */
  now?: () => number;
}

const FUSE_INSTALL = 'apt-get install -y fuse3 libfuse3-3 (Debian/Ubuntu) or dnf install fuse3 fuse3-libs (Fedora)';
/** Below this much free space the staging files of a few uploads no longer fit. */
const MIN_FREE_BYTES = 512 * 1024 ** 2;

export async function checkDevFuse(d: DoctorDeps): Promise<CheckResult> {
  if (d.platform?.name === 'darwin') {
    // macOS (untested on a Mac): the macFUSE bundle, not /dev/fuse
    const r = await d.platform.checkFuse();
    return { name: 'macFUSE', status: r.ok ? 'ok' : 'fail', detail: r.detail, ...(r.fix ? { fix: r.fix } : {}) };
  }
  return d.access('/dev/fuse', fsc.R_OK | fsc.W_OK).then((ok) =>
    ok
      ? { name: '/dev/fuse', status: 'ok', detail: 'present, readable and writable' }
      : {
          name: '/dev/fuse',
          status: 'fail',
          detail: 'missing or not accessible',
          fix:
            'modprobe fuse; in a container run with --device /dev/fuse --cap-add SYS_ADMIN; ' +
            'in a systemd unit keep DeviceAllow=/dev/fuse rw',
        },
  );
}

export async function checkFusermount(d: DoctorDeps): Promise<CheckResult> {
  const dirs = [...d.path.split(':'), '/bin', '/usr/bin'].filter(Boolean);
  for (const dir of dirs) {
    const p = join(dir, 'fusermount');
    if (!(await d.access(p, fsc.X_OK))) continue;
    const mode = (await d.fileMode(p)) ?? 0;
    if (d.uid !== 0 && (mode & 0o4000) === 0) {
      return {
        name: 'fusermount',
        status: 'fail',
        detail: `${p} is not setuid root, so non-root users cannot mount`,
        fix: `chmod u+s ${p} (as root), or reinstall: ${FUSE_INSTALL}`,
      };
    }
    return { name: 'fusermount', status: 'ok', detail: `${p}${d.uid !== 0 ? ' (setuid)' : ''}` };
  }
  return { name: 'fusermount', status: 'fail', detail: 'not found in PATH, /bin or /usr/bin', fix: FUSE_INSTALL };
}

/** libfuse 3 (libfuse3.so.3): what our fuse-native build links. `libfuse` is the loaded binding's
 * fuse_version() (e.g. 314), when it loaded. */
export async function checkLibfuse(d: DoctorDeps, libfuse: number | undefined): Promise<CheckResult> {
  const name = 'libfuse 3';
  const out = await d.run('ldconfig', ['-p']);
  const line = out?.split('\n').find((l) => /\blibfuse3\.so\.3\b/.test(l));
  if (line) return { name, status: 'ok', detail: line.trim().replace(/\s+/g, ' ') };
  if (libfuse !== undefined && libfuse >= 300)
    return { name, status: 'ok', detail: 'loaded by the fuse-native binding (not in the ldconfig cache)' };
  return { name, status: 'fail', detail: 'libfuse3.so.3 not found (ldconfig -p)', fix: FUSE_INSTALL };
}

export function checkBinding(d: DoctorDeps): { result: CheckResult; loaded: boolean; libfuse?: number } {
  try {
    const info = d.binding();
    const good = info.kind === 'source' && info.nativePatched && info.jsPatched && info.libfuse >= 300;
    return {
      loaded: true,
      libfuse: info.libfuse,
      result: good
        ? { name: 'fuse-native', status: 'ok', detail: describeBinding(info) }
        : {
            name: 'fuse-native',
            status: 'warn',
            detail: describeBinding(info),
            fix:
              'apt-get install -y libfuse3-dev fuse3 build-essential pkg-config ' +
              '&& npm run postinstall (in the pan123fs checkout)',
          },
    };
  } catch (e) {
    return {
      loaded: false,
      result: {
        name: 'fuse-native',
        status: 'fail',
        detail: `cannot load the binding: ${(e as Error).message.split('\n')[0]}`,
        fix: `${FUSE_INSTALL}; then npm ci in the pan123fs checkout`,
      },
    };
  }
}

export async function checkAllowOther(d: DoctorDeps, cfg: MountConfig): Promise<CheckResult> {
  const name = 'allow_other';
  if (!cfg.allowOther)
    return { name, status: 'skip', detail: 'not requested (only the mounting user can see the files)' };
  if (d.uid === 0) return { name, status: 'ok', detail: 'running as root: allowed' };
  const conf = (await d.readText('/etc/fuse.conf')) ?? '';
  if (conf.split('\n').some((l) => l.trim() === 'user_allow_other'))
    return { name, status: 'ok', detail: '/etc/fuse.conf has user_allow_other' };
  return {
    name,
    status: 'fail',
    detail: '--allow-other needs user_allow_other in /etc/fuse.conf for non-root users',
    fix: 'echo user_allow_other | sudo tee -a /etc/fuse.conf (or drop --allow-other)',
  };
}

export async function checkMountpoint(d: DoctorDeps, cfg: MountConfig): Promise<CheckResult> {
  const name = 'mountpoint';
  if (!cfg.mountpoint)
    return { name, status: 'skip', detail: 'none configured (pass it to `mount`, or set "mountpoint")' };
  const mp = cfg.mountpoint;
  switch (await d.mountState(mp)) {
    case 'empty':
      return { name, status: 'ok', detail: `${mp} exists and is empty` };
    case 'missing':
      return {
        name,
        status: 'warn',
        detail: `${mp} does not exist`,
        fix: `mkdir -p ${mp} (the systemd units create it)`,
      };
    case 'not-dir':
      return { name, status: 'fail', detail: `${mp} is not a directory`, fix: 'choose an empty directory' };
    case 'not-empty':
      return { name, status: 'fail', detail: `${mp} is not empty`, fix: 'choose an empty directory' };
    case 'mounted':
      return {
        name,
        status: 'warn',
        detail: `${mp} is already mounted (a running daemon?)`,
        fix: `pan123fs status ${mp}; pan123fs unmount ${mp}`,
      };
    case 'stale':
      return {
        name,
        status: 'fail',
        detail: `${mp} is a dead mount (Transport endpoint is not connected)`,
        fix: `pan123fs cleanup-mount ${mp} (or fusermount -uz ${mp})`,
      };
  }
}

/** Token + user info, then the mount root: a folder, and whether its files can be read through direct links. */
export async function checkAccount(d: DoctorDeps, cfg: MountConfig): Promise<CheckResult[]> {
  const pan = d.pan(cfg);
  try {
    try {
      await pan.token();
    } catch (e) {
      return [
        {
          name: 'credentials',
          status: 'fail',
          detail: `no access token from ${cfg.apiBase}: ${(e as Error).message}`,
          fix:
            'check clientId and the client secret (123 Open developer console), ' +
            'and that the API base URL is reachable',
        },
      ];
    }
    let info: UserInfo;
    try {
      info = await pan.userInfo();
    } catch (e) {
      if (isPanError(e, 'developer-expired'))
        return [
          {
            name: 'credentials',
            status: 'fail',
            detail: `token accepted, but user/info failed: ${(e as Error).message}`,
          },
          {
            name: 'developer rights',
            status: 'fail',
            detail: `expired: ${DEVELOPER_EXPIRED_HELP}`,
            fix: `renew the 开发者权益包 on the 123 Open platform (${DEVELOPER_RIGHTS_URL})`,
          },
        ];
      return [
        {
          name: 'credentials',
          status: 'fail',
          detail: `token accepted, but user/info failed: ${(e as Error).message}`,
          fix: isTokenRevoked(e)
            ? `another tool or machine uses client ID ${cfg.clientId} (123 keeps 3 live tokens per ID): stop it, ` +
              'share one state dir, or give each its own client ID; pan123fs asks for a new token after a minute'
            : 'retry later; if it persists check the developer account is active',
        },
      ];
    }
    const used = `${humanBytes(info.spaceUsed)} of ${humanBytes(info.spacePermanent + info.spaceTemp)} used`;
    return [
      { name: 'credentials', status: 'ok', detail: `token OK; account ${info.nickname} (uid ${info.uid}), ${used}` },
      checkDeveloper(info, (d.now ?? systemClock.now)()),
      await checkRoot(pan, cfg),
    ];
  } finally {
    await pan.close().catch(() => undefined);
  }
}

/** Days left of the 开发者权益包: a warning from DEVELOPER_WARN_DAYS before the end, a failure after it. */
export function checkDeveloper(info: Pick<UserInfo, 'developerEndAt' | 'vip'>, now: number): CheckResult {
  const r = developerRights(info.developerEndAt ?? null, now);
  const name = 'developer rights';
  const tier = `rate tier ${pickTier({ vip: info.vip, developerEndAt: info.developerEndAt ?? null }, now)}`;
  const fix = `renew the 开发者权益包 on the 123 Open platform (${DEVELOPER_RIGHTS_URL})`;
  if (r.endAt === null) return { name, status: 'ok', detail: `${describeRights(r)}; ${tier}` };
  if (r.expired) return { name, status: 'fail', detail: describeRights(r), fix };
  return {
    name,
    status: r.expiring ? 'warn' : 'ok',
    detail: `${describeRights(r)}; ${tier}`,
    ...(r.expiring ? { fix } : {}),
  };
}

async function checkRoot(pan: Pan, cfg: MountConfig): Promise<CheckResult> {
  const name = 'mount root';
  if (cfg.rootFolderId === '0') {
    return {
      name,
      status: cfg.directLink ? 'fail' : 'ok',
      detail: 'the whole drive (folder 0): reads use download links; direct links cannot be used at the root',
      fix: cfg.directLink ? 'mount a 直链空间 folder with --root-folder-id' : undefined,
    };
  }
  let root;
  try {
    root = await pan.detail(cfg.rootFolderId);
  } catch (e) {
    return {
      name,
      status: 'fail',
      detail: `folder ${cfg.rootFolderId}: ${(e as Error).message}`,
      fix: 'check --root-folder-id (the id in the web UI URL of the folder)',
    };
  }
  if (!root.isDir || root.trashed)
    return {
      name,
      status: 'fail',
      detail: `${cfg.rootFolderId} ("${root.name}") is ${root.isDir ? 'in the trash' : 'a file'}`,
      fix: 'pick a live folder for --root-folder-id',
    };
  const file = (await pan.listPage(cfg.rootFolderId).catch(() => ({ entries: [] }))).entries.find(
    (e) => !e.isDir && !e.trashed,
  );
  if (!file)
    return {
      name,
      status: cfg.directLink ? 'warn' : 'ok',
      detail: `folder "${root.name}" (${cfg.rootFolderId}); no file directly inside to try a direct link on`,
    };
  try {
    await pan.directLink(file.id);
    return {
      name,
      status: 'ok',
      detail:
        `folder "${root.name}" (${cfg.rootFolderId}); direct links work ` +
        `(tried "${file.name}")${cfg.directLink ? '' : ' — --direct-link could be turned on'}`,
    };
  } catch (e) {
    const msg = (e as Error).message;
    return cfg.directLink
      ? {
          name,
          status: 'fail',
          detail: `folder "${root.name}": direct link refused: ${msg}`,
          fix:
            'enable 直链空间 on this folder in the 123 web UI (it must sit directly under the root), ' +
            'or turn --direct-link off',
        }
      : {
          name,
          status: 'ok',
          detail:
            `folder "${root.name}" (${cfg.rootFolderId}); reads use download links ` +
            `(direct links are not enabled for it)`,
        };
  }
}

export async function checkCacheSpace(d: DoctorDeps, cfg: MountConfig): Promise<CheckResult> {
  const name = 'cache dir';
  let p = resolve(cfg.cacheDir);
  while (!(await d.access(p, fsc.F_OK)) && dirname(p) !== p) p = dirname(p);
  let free: number;
  try {
    free = await d.freeBytes(p);
  } catch (e) {
    return { name, status: 'fail', detail: `statfs ${p}: ${(e as Error).message}` };
  }
  const detail = `${cfg.cacheDir}: ${humanBytes(free)} free (disk cache limit ${humanBytes(cfg.cacheMaxSize)})`;
  if (free < MIN_FREE_BYTES)
    return {
      name,
      status: 'fail',
      detail,
      fix:
        `free space on that file system or move the cache: ` +
        `--cache-dir (staging files of pending uploads live there too)`,
    };
  if (free < cfg.cacheMaxSize)
    return {
      name,
      status: 'warn',
      detail,
      fix: `lower --cache-max-size below ${humanBytes(free)} or use another --cache-dir`,
    };
  return { name, status: 'ok', detail };
}

export async function runDoctor(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  d: DoctorDeps,
): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  let cfg: MountConfig | undefined;
  try {
    cfg = await resolveMountConfig(flags, env);
    out.push({
      name: 'config',
      status: 'ok',
      detail:
        `${flags.config ?? env.PAN123_CONFIG ?? 'flags/environment only'}; ` +
        `client ${cfg.clientId}; API ${cfg.apiBase}`,
    });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    out.push({
      name: 'config',
      status: 'fail',
      detail: e.message,
      fix: 'pan123fs config check --config FILE shows the effective values',
    });
  }
  out.push(await checkDevFuse(d), await checkFusermount(d));
  const b = checkBinding(d);
  out.push(await checkLibfuse(d, b.libfuse), b.result);
  if (!cfg) return out;
  out.push(await checkAllowOther(d, cfg), await checkMountpoint(d, cfg));
  out.push(...(await checkAccount(d, cfg)));
  out.push(await checkCacheSpace(d, cfg));
  return out;
}

export function formatChecks(rs: CheckResult[]): string {
  const w = Math.max(...rs.map((r) => r.name.length));
  const tag: Record<CheckStatus, string> = { ok: '[ ok ]', warn: '[warn]', fail: '[FAIL]', skip: '[ -- ]' };
  const lines = rs.map(
    (r) =>
      `${tag[r.status]} ${r.name.padEnd(w)}  ${r.detail}` +
      `${r.fix && r.status !== 'ok' ? `\n       ${' '.repeat(w)}  fix: ${r.fix}` : ''}`,
  );
  const failed = rs.filter((r) => r.status === 'fail').length;
  lines.push(failed ? `${failed} check(s) failed` : 'all checks passed');
  return `${lines.join('\n')}\n`;
}

export function realDoctorDeps(): DoctorDeps {
  return {
    uid: process.getuid?.() ?? 0,
    path: process.env.PATH ?? '',
    platform: currentPlatform(),
    access: (p, mode) =>
      fsp.access(p, mode).then(
        () => true,
        () => false,
      ),
    fileMode: (p) =>
      fsp.stat(p).then(
        (s) => s.mode,
        () => undefined,
      ),
    readText: (p) => fsp.readFile(p, 'utf8').catch(() => undefined),
    run: (cmd, args) =>
      new Promise((res) => {
        execFile(cmd, args, { timeout: 10_000, maxBuffer: 16 << 20 }, (err, stdout) => res(err ? undefined : stdout));
      }),
    binding: () => loadFuseNative().info,
    freeBytes: async (p) => {
      const s = await fsp.statfs(p);
      return s.bavail * s.bsize;
    },
    mountState: async (p) => {
      const st = await fsp.stat(p).catch((e: NodeJS.ErrnoException) => e);
      if (st instanceof Error) return (st as NodeJS.ErrnoException).code === 'ENOTCONN' ? 'stale' : 'missing';
      if (await isMounted(p)) return 'mounted';
      if (!st.isDirectory()) return 'not-dir';
      return (await fsp.readdir(p)).length ? 'not-empty' : 'empty';
    },
    pan: (cfg) => {
      const c = clientFromConfig(cfg);
      return {
        // the daemon's state dir, so an existing token is reused (only 3 live tokens per client id)
        token: async () => {
          await fsp.mkdir(cfg.stateDir, { recursive: true, mode: 0o700 });
          return c.tokens.get();
        },
        userInfo: () => c.userInfo(),
        detail: (id) => c.detail(id),
        listPage: (id) => c.listPage(id),
        directLink: (id) => c.directLink(id),
        close: () => c.close(),
      };
    },
  };
}

export function registerDoctorCommand(program: Command): void {
  const cmd = program
    .command('doctor')
    .description(
      'check FUSE, the binding, permissions, the credentials, the mount root and the cache dir; ' +
        'prints a fix for each failure',
    )
    .option('--json', 'machine-readable results');
  addTableOptions(cmd);
  cmd.action(async (flags: Record<string, unknown>) => {
    try {
      const rs = await runDoctor(flags, process.env, realDoctorDeps());
      process.stdout.write(flags.json ? `${JSON.stringify(rs, null, 2)}\n` : formatChecks(rs));
      process.exit(rs.some((r) => r.status === 'fail') ? 1 : 0);
    } catch (e) {
      dieWith(e);
    }
  });
}
