// `pan123fs emulator`: runs the 123 Open emulator in the foreground until SIGINT/SIGTERM. Prints one
// line with the base URL once it accepts requests (scripts wait for "http://127.0.0.1:PORT"), and the
// default credentials when none were given. Never prints a token, secret given by the user, or link.

import type { Command } from 'commander';
import type { Logger, LogFn } from '../core/logger.js';
import { UserFacingError } from '../core/user-error.js';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, EmulatorServer } from './server.js';
import type { EmulatorOptions } from './types.js';

interface CliOpts {
  listen: string;
  dataDir?: string;
  seed?: string;
  clientId?: string;
  clientSecret?: string;
  sliceSize?: string;
  rateLimitScale?: string;
  rateTier?: string;
  developerDays?: string;
  vip?: boolean;
  linkTtl?: string;
  tokenTtl?: string;
  rivalTokenEvery?: string;
  completePolls?: string;
  completeMode?: string;
  zeroByteRefuse?: string;
  uploadServers?: string;
  downloadQuota?: string;
  directLinkKey?: string;
  directLinkSignedPath?: string;
  directLinkFolder?: string[];
  externalCdn?: string;
  wanFirstByteMs?: string;
  wanConnRate?: string;
  wanLinkRate?: string;
  wanApiDelayMs?: string;
  verbose?: boolean;
}

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${v}`);
  return n;
}

/** warn and above (debug too with --verbose) as JSON lines on stderr; pino lives only in main/daemon. */
function stderrLogger(verbose: boolean, bindings: Record<string, unknown> = {}): Logger {
  const mk = (level: string, on: boolean): LogFn =>
    ((a: object | string, msg?: string) => {
      if (!on) return;
      const obj = typeof a === 'string' ? { msg: a } : { ...a, msg };
      process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), ...bindings, ...obj })}\n`);
    }) as LogFn;
  return {
    trace: mk('trace', false),
    debug: mk('debug', verbose),
    info: mk('info', verbose),
    warn: mk('warn', true),
    error: mk('error', true),
    fatal: mk('fatal', true),
    child: (b) => stderrLogger(verbose, { ...bindings, ...b }),
  };
}

export function registerEmulatorCommand(program: Command): void {
  program
    .command('emulator')
    .description('run a local emulator of the 123 Open API (for the demo, tests and CI)')
    .option('--listen <host:port>', 'address to listen on (port 0 picks a free port)', '127.0.0.1:0')
    .option('--data-dir <dir>', 'keep the tree and blobs here (default: a temp dir removed on exit)')
    .option('--seed <dir>', 'import this local tree into the root at start')
    .option('--client-id <id>', 'accepted clientID', undefined)
    .option('--client-secret <secret>', 'accepted clientSecret', undefined)
    .option('--slice-size <bytes>', 'upload slice size (default 16 MiB)')
    .option('--rate-limit-scale <f>', 'multiply the per-endpoint QPS limits (0 = off, default 1)')
    .option('--rate-tier <tier>', 'QPS column enforced: account (default: the account’s), free, vip, developer')
    .option('--developer-days <n>', 'days of developer rights left (default 365; 0 or less: expired, calls refused)')
    .option('--vip', 'user info says VIP (SVIP)')
    .option('--link-ttl <seconds>', 'lifetime of download_info links (default 7200)')
    .option('--token-ttl <seconds>', 'lifetime of access tokens (default 30 days)')
    .option(
      '--rival-token-every <seconds>',
      'another client sharing the client ID mints a token this often (3 live per ID; default 0 = none)',
    )
    .option('--complete-polls <n>', 'upload_complete answers 20103 this many times first (default 1)')
    .option(
      '--complete-mode <mode>',
      'upload_complete: verifying (20103, default), not-completed, message (code 1 处理中), ' +
        'error-lands (an error on every poll, the file lands), fail-lands (文件上传失败, the file lands), fail',
    )
    .option('--zero-byte-refuse <paths>', 'refuse these zero-byte upload paths: reuse,slice,single (default none)')
    .option('--upload-servers <n>', 'create and domain answer n upload hosts (extra ports; default 1)')
    .option('--download-quota <bytes>', 'daily download_info traffic before code 5113 (default 0 = none)')
    .option('--direct-link-key <key>', 'require URL authentication (auth_key) on direct links')
    .option('--direct-link-signed-path <form>', 'the path auth_key signs: decoded (default) or encoded (as sent)')
    .option('--direct-link-folder <name...>', 'create these root folders if needed and enable their direct-link space')
    .option(
      '--external-cdn <url>',
      'benchmarks: download_info links point at this static server, ' +
        'whose root must be <data-dir>/blobs (unsigned, never expire)',
    )
    .option('--wan-first-byte-ms <ms>', 'WAN emulation: delay before the first byte of every CDN response')
    .option('--wan-conn-rate <bytes/s>', 'WAN emulation: rate of one download response (0 = unlimited)')
    .option('--wan-link-rate <bytes/s>', 'WAN emulation: shared rate of all downloads together (0 = unlimited)')
    .option('--wan-api-delay-ms <ms>', 'WAN emulation: delay before every API answer')
    .option('--verbose', 'log requests to stderr')
    .action(async (o: CliOpts) => {
      try {
        await runEmulator(o);
      } catch (e) {
        if (!(e instanceof UserFacingError)) throw e;
        process.stderr.write(`pan123fs emulator: ${e.message}\n`);
        process.exitCode = 2;
      }
    });
}

/** Bad flag values are the user's to fix: one line, no stack trace. */
function userInput<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new UserFacingError(e instanceof Error ? e.message : String(e));
  }
}

async function runEmulator(o: CliOpts): Promise<void> {
  const server = userInput(
    () =>
      new EmulatorServer({
        listen: o.listen,
        dataDir: o.dataDir,
        seedDir: o.seed,
        clientId: o.clientId,
        clientSecret: o.clientSecret,
        sliceSize: num('slice-size', o.sliceSize),
        rateLimitScale: num('rate-limit-scale', o.rateLimitScale),
        rateTier: o.rateTier as EmulatorOptions['rateTier'],
        developerDays: o.developerDays === undefined ? undefined : Number(o.developerDays),
        vip: o.vip ? 1 : undefined,
        linkTtlSec: num('link-ttl', o.linkTtl),
        tokenTtlSec: num('token-ttl', o.tokenTtl),
        rivalTokenEverySec: num('rival-token-every', o.rivalTokenEvery),
        completePolls: num('complete-polls', o.completePolls),
        completeMode: o.completeMode as EmulatorOptions['completeMode'],
        zeroByteRefuse: o.zeroByteRefuse,
        uploadServers: num('upload-servers', o.uploadServers),
        downloadQuotaBytes: num('download-quota', o.downloadQuota),
        directLinkKey: o.directLinkKey,
        directLinkSignedPath: o.directLinkSignedPath as EmulatorOptions['directLinkSignedPath'],
        externalCdn: o.externalCdn,
        wan: {
          firstByteMs: num('wan-first-byte-ms', o.wanFirstByteMs),
          connBytesPerSec: num('wan-conn-rate', o.wanConnRate),
          linkBytesPerSec: num('wan-link-rate', o.wanLinkRate),
          apiDelayMs: num('wan-api-delay-ms', o.wanApiDelayMs),
        },
        logger: stderrLogger(o.verbose ?? false),
      }),
  );
  const emu = await server.start(o.listen);
  for (const name of o.directLinkFolder ?? []) {
    emu.ensureRootFolder(name);
    emu.enableDirectLink(`/${name}`);
  }
  process.stdout.write(`pan123fs emulator listening on ${emu.baseUrl}\n`);
  if (!o.clientId && !o.clientSecret) {
    process.stdout.write(`default credentials: clientID=${DEFAULT_CLIENT_ID} clientSecret=${DEFAULT_CLIENT_SECRET}\n`);
  }
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await emu.close();
  process.stdout.write('pan123fs emulator stopped\n');
}
