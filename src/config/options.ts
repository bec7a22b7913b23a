// The one declarative option table (ARCHITECTURE.md convention 2). It drives the `mount` command's flags,
// the environment variables, the config file keys, validation, and the README's option list
// (scripts/gen-options-doc.mjs). Precedence: flag > environment > config file > default.

import { DEFAULTS } from '../core/defaults.js';

/** Bytes in the table's notation: 67108864 → '64M' (exact multiples of K/M/G only). */
function sizeText(bytes: number): string {
  for (const [u, n] of [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (bytes % n === 0) return `${bytes / n}${u}`;
  }
  return String(bytes);
}

export type OptionType = 'string' | 'int' | 'number' | 'bool' | 'duration' | 'size' | 'octal';

export interface OptionSpec {
  /** camelCase key in the resolved config and in the config file */
  key: string;
  /** long flag without the dashes */
  flag: string;
  type: OptionType;
  default?: string | number | boolean;
  env?: string;
  help: string;
  /** value never printed (logs, `config check`, status) */
  secret?: boolean;
  group: 'account' | 'mount' | 'cache' | 'read' | 'write' | 'daemon' | 'webdav';
}

export const OPTIONS: readonly OptionSpec[] = [
  {
    key: 'config',
    flag: 'config',
    type: 'string',
    env: 'PAN123_CONFIG',
    group: 'daemon',
    help: 'config file (JSON) with any of these options as keys',
  },
  {
    key: 'apiBase',
    flag: 'api-base',
    type: 'string',
    default: DEFAULTS.apiBase,
    env: 'PAN123_API_BASE',
    group: 'account',
    help: '123 Open API base URL (point it at `pan123fs emulator` to try things out)',
  },
  {
    key: 'clientId',
    flag: 'client-id',
    type: 'string',
    env: 'PAN123_CLIENT_ID',
    group: 'account',
    help: '123 Open client ID',
  },
  {
    key: 'clientSecret',
    flag: 'client-secret',
    type: 'string',
    env: 'PAN123_CLIENT_SECRET',
    group: 'account',
    secret: true,
    help: '123 Open client secret (prefer --client-secret-file: flags show in `ps`)',
  },
  {
    key: 'clientSecretFile',
    flag: 'client-secret-file',
    type: 'string',
    env: 'PAN123_CLIENT_SECRET_FILE',
    group: 'account',
    help: 'file holding the client secret (must not be readable by others)',
  },
  {
    key: 'mountpoint',
    flag: 'mountpoint',
    type: 'string',
    env: 'PAN123_MOUNTPOINT',
    group: 'mount',
    help:
      'where to mount when `mount` gets no MOUNTPOINT argument ' +
      '(the systemd units and the fstab helper take it from the config file)',
  },
  {
    key: 'rootFolderId',
    flag: 'root-folder-id',
    type: 'string',
    default: '0',
    env: 'PAN123_ROOT_FOLDER_ID',
    group: 'mount',
    help: 'folder id to mount as the root (0 = whole drive). Direct links need a folder with 直链空间 enabled, never 0',
  },
  {
    key: 'readOnly',
    flag: 'read-only',
    type: 'bool',
    default: false,
    env: 'PAN123_READ_ONLY',
    group: 'mount',
    help: 'mount read-only (writes fail with EROFS)',
  },
  {
    key: 'allowOther',
    flag: 'allow-other',
    type: 'bool',
    default: false,
    env: 'PAN123_ALLOW_OTHER',
    group: 'mount',
    help: 'let other users access the mount (non-root needs user_allow_other in /etc/fuse.conf)',
  },
  {
    key: 'uid',
    flag: 'uid',
    type: 'int',
    env: 'PAN123_UID',
    group: 'mount',
    help: "owner uid of every file (default: the daemon's uid)",
  },
  {
    key: 'gid',
    flag: 'gid',
    type: 'int',
    env: 'PAN123_GID',
    group: 'mount',
    help: "owner gid of every file (default: the daemon's gid)",
  },
  {
    key: 'umask',
    flag: 'umask',
    type: 'octal',
    default: '022',
    env: 'PAN123_UMASK',
    group: 'mount',
    help: 'permission mask: files are 0666&~umask, directories 0777&~umask',
  },
  {
    key: 'dirCacheTime',
    flag: 'dir-cache-time',
    type: 'duration',
    default: '5m',
    env: 'PAN123_DIR_CACHE_TIME',
    group: 'cache',
    help: 'how long a directory listing is served from the store before it is fetched again',
  },
  {
    key: 'pollInterval',
    flag: 'poll-interval',
    type: 'duration',
    default: '1m',
    env: 'PAN123_POLL_INTERVAL',
    group: 'cache',
    help:
      'how often the folders in use (the root, folders listed or with a file opened in the last 10 minutes, ' +
      'folders with pending uploads) are listed again to see remote changes, within a fifth of the list QPS ' +
      '(0 = off)',
  },
  {
    key: 'attrTimeout',
    flag: 'attr-timeout',
    type: 'duration',
    default: `${DEFAULTS.attrTimeoutSec}s`,
    env: 'PAN123_ATTR_TIMEOUT',
    group: 'cache',
    help: 'how long the kernel caches attributes and names (0 allowed); pan123fs refresh clears it at once',
  },
  {
    key: 'cacheDir',
    flag: 'cache-dir',
    type: 'string',
    env: 'PAN123_CACHE_DIR',
    group: 'cache',
    help:
      'metadata store, chunk cache and staging files ' +
      '(default: $XDG_CACHE_HOME/pan123fs/<account>, /var/cache/pan123fs for root)',
  },
  {
    key: 'stateDir',
    flag: 'state-dir',
    type: 'string',
    env: 'PAN123_STATE_DIR',
    group: 'daemon',
    help: 'token file and control socket (default: $XDG_STATE_HOME/pan123fs, /var/lib/pan123fs for root)',
  },
  {
    key: 'cacheMaxSize',
    flag: 'cache-max-size',
    type: 'size',
    default: '10G',
    env: 'PAN123_CACHE_MAX_SIZE',
    group: 'cache',
    help: 'on-disk chunk cache limit (LRU eviction; 0 disables the disk cache)',
  },
  {
    key: 'cacheStreams',
    flag: 'cache-streams',
    type: 'bool',
    default: false,
    env: 'PAN123_CACHE_STREAMS',
    group: 'cache',
    help:
      'also keep long sequential reads in the disk cache ' +
      '(by default only the first 32 MiB of a file and blocks read on demand are kept)',
  },
  {
    key: 'memCacheSize',
    flag: 'mem-cache-size',
    type: 'size',
    default: sizeText(DEFAULTS.memCacheBytes),
    env: 'PAN123_MEM_CACHE_SIZE',
    group: 'read',
    help: 'in-memory block cache limit',
  },
  {
    key: 'readAheadMax',
    flag: 'read-ahead-max',
    type: 'size',
    default: sizeText(DEFAULTS.readAheadMaxBytes),
    env: 'PAN123_READ_AHEAD_MAX',
    group: 'read',
    help: 'largest read-ahead window for a sequential reader',
  },
  {
    key: 'directLink',
    flag: 'direct-link',
    type: 'bool',
    default: false,
    env: 'PAN123_DIRECT_LINK',
    group: 'read',
    help: 'read through 123 direct links (needs a 直链空间 folder as --root-folder-id; not the root 0)',
  },
  {
    key: 'directLinkKey',
    flag: 'direct-link-key',
    type: 'string',
    env: 'PAN123_DIRECT_LINK_KEY',
    group: 'read',
    secret: true,
    help: 'URL-authentication key (鉴权密钥) for signing direct links',
  },
  {
    key: 'bwlimitDown',
    flag: 'bwlimit-down',
    type: 'size',
    default: '0',
    env: 'PAN123_BWLIMIT_DOWN',
    group: 'read',
    help: 'download limit in bytes per second (8M = 8 MiB/s; 0 = none): a token bucket on ranged GETs',
  },
  {
    key: 'bwlimitUp',
    flag: 'bwlimit-up',
    type: 'size',
    default: '0',
    env: 'PAN123_BWLIMIT_UP',
    group: 'write',
    help: 'upload limit in bytes per second (0 = none): a token bucket on slice uploads',
  },
  {
    key: 'stagingMaxSize',
    flag: 'staging-max-size',
    type: 'size',
    default: '0',
    env: 'PAN123_STAGING_MAX_SIZE',
    group: 'write',
    help:
      'staging limit for written content not uploaded yet (0 = none): a writer waits for uploads to drain it; ' +
      'ENOSPC when one file alone is larger',
  },
  {
    key: 'uploadConcurrency',
    flag: 'upload-concurrency',
    type: 'int',
    default: DEFAULTS.uploadConcurrency,
    env: 'PAN123_UPLOAD_CONCURRENCY',
    group: 'write',
    help: 'files uploaded at the same time',
  },
  {
    key: 'sliceConcurrency',
    flag: 'slice-concurrency',
    type: 'int',
    default: DEFAULTS.sliceConcurrency,
    env: 'PAN123_SLICE_CONCURRENCY',
    group: 'write',
    help: 'slices of one file uploaded in parallel',
  },
  {
    key: 'drainTimeout',
    flag: 'drain-timeout',
    type: 'duration',
    default: '10m',
    env: 'PAN123_DRAIN_TIMEOUT',
    group: 'write',
    help: 'on SIGTERM, how long to wait for pending uploads before unmounting',
  },
  {
    key: 'rateLimitScale',
    flag: 'rate-limit-scale',
    type: 'number',
    default: DEFAULTS.rateLimitScale,
    env: 'PAN123_RATE_LIMIT_SCALE',
    group: 'account',
    help: 'multiplier on the client-side per-endpoint QPS limits (0 = no client-side limit)',
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    type: 'string',
    default: 'info',
    env: 'PAN123_LOG_LEVEL',
    group: 'daemon',
    help: 'trace, debug, info, warn, error',
  },
  {
    key: 'webdav',
    flag: 'webdav',
    type: 'string',
    env: 'PAN123_WEBDAV',
    group: 'webdav',
    help:
      'also serve the tree over WebDAV at ADDR (`PORT`, `HOST:PORT`, `[::1]:PORT`; a bare port is loopback). ' +
      'A non-loopback address needs --webdav-user and a password',
  },
  {
    key: 'webdavUser',
    flag: 'webdav-user',
    type: 'string',
    env: 'PAN123_WEBDAV_USER',
    group: 'webdav',
    help: 'WebDAV Basic-auth user name (needed for a non-loopback --webdav address)',
  },
  {
    key: 'webdavPasswordFile',
    flag: 'webdav-password-file',
    type: 'string',
    env: 'PAN123_WEBDAV_PASSWORD_FILE',
    group: 'webdav',
    help: 'file holding the WebDAV password (must not be readable by others)',
  },
  {
    key: 'webdavPassword',
    flag: 'webdav-password',
    type: 'string',
    env: 'PAN123_WEBDAV_PASSWORD',
    group: 'webdav',
    secret: true,
    help: 'WebDAV password (for tests; prefer --webdav-password-file: flags show in `ps`)',
  },
  {
    key: 'webdavTlsCert',
    flag: 'webdav-tls-cert',
    type: 'string',
    env: 'PAN123_WEBDAV_TLS_CERT',
    group: 'webdav',
    help: 'PEM certificate (chain) file: serve WebDAV over HTTPS (with --webdav-tls-key)',
  },
  {
    key: 'webdavTlsKey',
    flag: 'webdav-tls-key',
    type: 'string',
    env: 'PAN123_WEBDAV_TLS_KEY',
    group: 'webdav',
    help: 'PEM private key file for --webdav-tls-cert (must not be readable by others)',
  },
  {
    key: 'webdavReadOnly',
    flag: 'webdav-read-only',
    type: 'bool',
    default: false,
    env: 'PAN123_WEBDAV_READ_ONLY',
    group: 'webdav',
    help:
      'WebDAV clients may only read (PUT, DELETE, MKCOL, MOVE, COPY, PROPPATCH, LOCK answer 403); ' +
      '--read-only implies it',
  },
  {
    key: 'webdavRedirect',
    flag: 'webdav-redirect',
    type: 'bool',
    default: false,
    env: 'PAN123_WEBDAV_REDIRECT',
    group: 'webdav',
    help:
      'answer a GET of an uploaded file with a 302 to its 123 download link ' +
      'instead of proxying the bytes (many media players break on it)',
  },
];

export function optionByKey(key: string): OptionSpec {
  const o = OPTIONS.find((x) => x.key === key);
  if (!o) throw new Error(`unknown option ${key}`);
  return o;
}
