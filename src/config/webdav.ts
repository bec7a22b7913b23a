// The WebDAV front end's settings, from the option table's `webdav*` rows (resolve.ts calls this with the
// parsed values). Rules: a bare port listens on loopback; any other address needs --webdav-user and a
// password (file with 0600 rules, like the client secret); TLS needs both the certificate and the key.

import { readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { ConfigError } from './parse.js';

export interface WebdavListen {
  host: string;
  port: number;
}

export interface WebdavConfig {
  /** null: no WebDAV server */
  listen: WebdavListen | null;
  user?: string;
  password?: string;
  tls?: { cert: Buffer; key: Buffer };
  readOnly: boolean;
  redirect: boolean;
}

/** `8080`, `:8080` (all interfaces), `HOST:8080`, `[::1]:8080`. */
export function parseListenAddress(addr: string): WebdavListen {
  const s = addr.trim();
  let host: string;
  let port: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(s);
  if (/^\d+$/.test(s)) [host, port] = ['127.0.0.1', s];
  else if (v6) [host, port] = [v6[1]!, v6[2]!];
  else {
    const i = s.lastIndexOf(':');
    if (i < 0 || s.indexOf(':') !== i)
      throw new ConfigError(`--webdav: expected PORT or HOST:PORT, got ${JSON.stringify(addr)}`);
    [host, port] = [s.slice(0, i) || '0.0.0.0', s.slice(i + 1)];
  }
  const n = Number(port);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new ConfigError(`--webdav: bad port in ${JSON.stringify(addr)}`);
  return { host, port: n };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '0:0:0:0:0:0:0:1';
}

async function readPrivate(path: string, what: string, mustBePrivate: boolean): Promise<Buffer> {
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw new ConfigError(`cannot read ${what} ${path}: ${e.code ?? e.message}`);
  });
  if (mustBePrivate && (st.mode & 0o077) !== 0)
    throw new ConfigError(
      `${what} ${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}) and holds a secret: ` +
        `run \`chmod 600 ${path}\``,
    );
  return readFile(path);
}

export async function resolveWebdavConfig(
  v: Record<string, string | number | boolean | undefined>,
  defaultAddress?: string,
): Promise<WebdavConfig> {
  const addr = v.webdav === undefined || v.webdav === '' ? defaultAddress : String(v.webdav);
  const listen = addr === undefined ? null : parseListenAddress(addr);
  let password = v.webdavPassword === undefined ? undefined : String(v.webdavPassword);
  if (v.webdavPasswordFile !== undefined) {
    const file = String(v.webdavPasswordFile);
    password = (await readPrivate(file, '--webdav-password-file', true)).toString('utf8').replace(/\r?\n$/, '');
  }
  const user = v.webdavUser === undefined ? undefined : String(v.webdavUser);
  if ((user === undefined) !== (password === undefined))
    throw new ConfigError('--webdav-user and --webdav-password-file (or --webdav-password) go together');
  if (user?.includes(':')) throw new ConfigError('--webdav-user must not contain ":" (HTTP Basic auth)');
  if (listen && !isLoopback(listen.host) && user === undefined)
    throw new ConfigError(
      `--webdav ${addr} is reachable from other machines: pass --webdav-user and --webdav-password-file ` +
        '(a 0600 file holding the password)',
    );
  let tls: WebdavConfig['tls'];
  if ((v.webdavTlsCert === undefined) !== (v.webdavTlsKey === undefined))
    throw new ConfigError('--webdav-tls-cert and --webdav-tls-key go together');
  if (v.webdavTlsCert !== undefined && v.webdavTlsKey !== undefined) {
    tls = {
      cert: await readPrivate(String(v.webdavTlsCert), '--webdav-tls-cert', false),
      key: await readPrivate(String(v.webdavTlsKey), '--webdav-tls-key', true),
    };
  }
  return {
    listen,
    user,
    password,
    tls,
    readOnly: Boolean(v.webdavReadOnly) || Boolean(v.readOnly),
    redirect: Boolean(v.webdavRedirect),
  };
}
