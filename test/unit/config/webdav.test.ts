// The WebDAV access rules of config/webdav.ts: loopback by default, a LAN address only with a user and
// a password, the password file under the 0600 rule of the client secret, TLS files in pairs.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/parse.js';
import { resolveWebdavConfig } from '../../../src/config/webdav.js';

const dir = mkdtempSync(join(tmpdir(), 'pan123fs-webdav-cfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('WebDAV settings', () => {
  it('no address: no server; `serve webdav` passes a loopback default', async () => {
    expect((await resolveWebdavConfig({})).listen).toBeNull();
    expect((await resolveWebdavConfig({}, '127.0.0.1:8080')).listen).toEqual({ host: '127.0.0.1', port: 8080 });
  });

  it('a LAN address without credentials is refused, with them accepted', async () => {
    await expect(resolveWebdavConfig({ webdav: '0.0.0.0:8080' })).rejects.toThrow(/--webdav-user/);
    await expect(resolveWebdavConfig({ webdav: '192.168.1.5:80', webdavUser: 'tv' })).rejects.toThrow(ConfigError);
    const c = await resolveWebdavConfig({ webdav: ':8080', webdavUser: 'tv', webdavPassword: 'pw' });
    expect(c).toMatchObject({ listen: { host: '0.0.0.0', port: 8080 }, user: 'tv', password: 'pw' });
  });

  it('the password file must not be readable by others; its trailing newline is dropped', async () => {
    const f = join(dir, 'pw');
    writeFileSync(f, 'secret\n');
    chmodSync(f, 0o644);
    await expect(resolveWebdavConfig({ webdav: '8080', webdavUser: 'u', webdavPasswordFile: f })).rejects.toThrow(
      /chmod 600/,
    );
    chmodSync(f, 0o600);
    expect((await resolveWebdavConfig({ webdav: '8080', webdavUser: 'u', webdavPasswordFile: f })).password).toBe(
      'secret',
    );
  });

  it('TLS needs both files; read-only follows --read-only too', async () => {
    await expect(resolveWebdavConfig({ webdav: '8080', webdavTlsCert: '/x' })).rejects.toThrow(/go together/);
    expect((await resolveWebdavConfig({ webdav: '8080', readOnly: true })).readOnly).toBe(true);
  });
});
