// Resolves the effective mount configuration: flag > environment > config file > default, from the option
// table. Reads the config file and the secret file (refusing either when others can read it while it
// holds a secret), and fills the XDG / system default paths.

import { readFile, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { OPTIONS, type OptionSpec } from './options.js';
import { ConfigError, parseValue } from './parse.js';
import { currentPlatform } from '../platform/index.js';
import { resolveWebdavConfig, type WebdavConfig } from './webdav.js';

export interface MountConfig {
  /** absolute; undefined when neither flag, env nor config file names one (the CLI argument may) */
  mountpoint?: string;
  apiBase: string;
  clientId: string;
  clientSecret: string;
  /** where clientSecret was read from, if a file (shown by `config check`) */
  clientSecretFile?: string;
  rootFolderId: string;
  readOnly: boolean;
  allowOther: boolean;
  uid: number;
  gid: number;
  umask: number;
  dirCacheTimeMs: number;
  /** --poll-interval in ms (0 = no change polling) */
  pollIntervalMs: number;
  attrTimeoutMs: number;
  cacheDir: string;
  stateDir: string;
  cacheMaxSize: number;
  cacheStreams: boolean;
  memCacheSize: number;
  readAheadMax: number;
  directLink: boolean;
  directLinkKey?: string;
  uploadConcurrency: number;
  sliceConcurrency: number;
  bwlimitDown: number;
  bwlimitUp: number;
  /** --staging-max-size in bytes, 0 = none */
  stagingMaxSize: number;
  drainTimeoutMs: number;
  rateLimitScale: number;
  logLevel: string;
  /** the WebDAV front end (config/webdav.ts) */
  webdav: WebdavConfig;
}

export type RawValues = Record<string, unknown>;

/** Refuse a file holding a secret that group/others can read. */
async function assertPrivate(path: string, what: string): Promise<void> {
  const st = await stat(path);
  if ((st.mode & 0o077) !== 0) {
    throw new ConfigError(
      `${what} ${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}) and holds a secret: ` +
        `run \`chmod 600 ${path}\``,
    );
  }
}

export async function readConfigFile(path: string): Promise<RawValues> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError(
      `cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
    throw new ConfigError(`config file ${path} must hold a JSON object`);
  const known = new Set(OPTIONS.map((o) => o.key));
  for (const k of Object.keys(obj)) {
    if (!known.has(k))
      throw new ConfigError(`config file ${path}: unknown key "${k}" (known: ${[...known].join(', ')})`);
  }
  if ('clientSecret' in obj || 'directLinkKey' in obj || 'webdavPassword' in obj)
    await assertPrivate(path, 'config file');
  return obj as RawValues;
}

/** The state dir a daemon of this user uses by default (token file, control sockets). */
export function defaultStateDir(): string {
  return defaultDirs(process.getuid?.() ?? 0, '').stateDir;
}

function defaultDirs(_uid: number, clientId: string): { cacheDir: string; stateDir: string } {
  // Linux: XDG dirs (system dirs for root); macOS: ~/Library (src/platform)
  return currentPlatform().defaultDirs(clientId);
}

/**
 * flags: values given on the command line (commander's opts(), keys = option keys, undefined when absent).
 * env: process.env (injected for tests).
 */
export async function resolveMountConfig(
  flags: RawValues,
  env: NodeJS.ProcessEnv,
  opts: { webdavDefault?: string } = {},
): Promise<MountConfig> {
  const configPath = (flags.config ?? env.PAN123_CONFIG) as string | undefined;
  const file = configPath ? await readConfigFile(configPath) : {};
  const v: Record<string, string | number | boolean | undefined> = {};
  for (const spec of OPTIONS) {
    const raw = pick(spec, flags, env, file);
    v[spec.key] = raw === undefined ? undefined : parseValue(spec, raw);
  }
  if (v.clientSecretFile) {
    const p = String(v.clientSecretFile);
    await assertPrivate(p, 'secret file').catch((e) => {
      if (e instanceof ConfigError) throw e;
      throw new ConfigError(`cannot read --client-secret-file ${p}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    });
    v.clientSecret = (await readFile(p, 'utf8')).trim();
  }
  if (!v.clientId)
    throw new ConfigError('no client ID: pass --client-id, set PAN123_CLIENT_ID, or put "clientId" in the config file');
  if (!v.clientSecret)
    throw new ConfigError(
      'no client secret: pass --client-secret-file (preferred), --client-secret, set PAN123_CLIENT_SECRET, ' +
        'or put "clientSecret" in a 0600 config file',
    );
  if (!/^\d+$/.test(String(v.rootFolderId)))
    throw new ConfigError(`--root-folder-id must be a folder id (digits), got ${JSON.stringify(v.rootFolderId)}`);
  if (v.directLink && String(v.rootFolderId) === '0') {
    throw new ConfigError(
      '--direct-link does not work at the root folder (id 0): 123 direct links need a folder with ' +
        '直链空间 (direct-link space) enabled; pass that folder as --root-folder-id',
    );
  }
  if (v.mountpoint !== undefined && !isAbsolute(String(v.mountpoint))) {
    throw new ConfigError(`--mountpoint must be an absolute path, got ${JSON.stringify(v.mountpoint)}`);
  }
  const uid = (v.uid as number | undefined) ?? process.getuid?.() ?? 0;
  const dirs = defaultDirs(process.getuid?.() ?? 0, String(v.clientId));
  return {
    mountpoint: v.mountpoint === undefined ? undefined : String(v.mountpoint).replace(/(.)\/+$/, '$1'),
    apiBase: String(v.apiBase).replace(/\/+$/, ''),
    clientId: String(v.clientId),
    clientSecret: String(v.clientSecret),
    clientSecretFile: v.clientSecretFile === undefined ? undefined : String(v.clientSecretFile),
    rootFolderId: String(v.rootFolderId),
    readOnly: Boolean(v.readOnly),
    allowOther: Boolean(v.allowOther),
    uid,
    gid: (v.gid as number | undefined) ?? process.getgid?.() ?? 0,
    umask: v.umask as number,
    dirCacheTimeMs: v.dirCacheTime as number,
    pollIntervalMs: Math.max(0, (v.pollInterval as number | undefined) ?? 0),
    attrTimeoutMs: v.attrTimeout as number,
    cacheDir: (v.cacheDir as string | undefined) ?? dirs.cacheDir,
    stateDir: (v.stateDir as string | undefined) ?? dirs.stateDir,
    cacheMaxSize: v.cacheMaxSize as number,
    cacheStreams: Boolean(v.cacheStreams),
    memCacheSize: v.memCacheSize as number,
    readAheadMax: v.readAheadMax as number,
    directLink: Boolean(v.directLink),
    directLinkKey: v.directLinkKey as string | undefined,
    uploadConcurrency: Math.max(1, v.uploadConcurrency as number),
    sliceConcurrency: Math.max(1, v.sliceConcurrency as number),
    bwlimitDown: Math.max(0, (v.bwlimitDown as number | undefined) ?? 0),
    bwlimitUp: Math.max(0, (v.bwlimitUp as number | undefined) ?? 0),
    stagingMaxSize: Math.max(0, (v.stagingMaxSize as number | undefined) ?? 0),
    drainTimeoutMs: v.drainTimeout as number,
    rateLimitScale: v.rateLimitScale as number,
    logLevel: String(v.logLevel),
    webdav: await resolveWebdavConfig(v, opts.webdavDefault),
  };
}

export type OptionSource = 'flag' | 'env' | 'file' | 'default' | 'secret file' | 'derived';

/** Where each option's value comes from (for `config check`); call after resolveMountConfig succeeded. */
export async function optionSources(flags: RawValues, env: NodeJS.ProcessEnv): Promise<Record<string, OptionSource>> {
  const configPath = (flags.config ?? env.PAN123_CONFIG) as string | undefined;
  const file = configPath ? await readConfigFile(configPath) : {};
  const out: Record<string, OptionSource> = {};
  for (const spec of OPTIONS) out[spec.key] = pickWithSource(spec, flags, env, file)[1];
  return out;
}

function pick(spec: OptionSpec, flags: RawValues, env: NodeJS.ProcessEnv, file: RawValues): unknown {
  return pickWithSource(spec, flags, env, file)[0];
}

function pickWithSource(
  spec: OptionSpec,
  flags: RawValues,
  env: NodeJS.ProcessEnv,
  file: RawValues,
): [unknown, OptionSource] {
  if (flags[spec.key] !== undefined) return [flags[spec.key], 'flag'];
  if (spec.env && env[spec.env] !== undefined && env[spec.env] !== '') return [env[spec.env], 'env'];
  if (file[spec.key] !== undefined) return [file[spec.key], 'file'];
  return [spec.default, 'default'];
}
