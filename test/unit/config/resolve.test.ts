// resolveMountConfig / readConfigFile: precedence flag > env > file > default, private secret files,
// unknown keys, --direct-link at the root, missing credentials, and the derived values.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../../src/config/parse.js';
import { readConfigFile, resolveMountConfig } from '../../../src/config/resolve.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pan123fs-config-'));
  vi.stubEnv('XDG_CACHE_HOME', join(dir, 'xdg-cache'));
  vi.stubEnv('XDG_STATE_HOME', join(dir, 'xdg-state'));
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: string, mode: number): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
}
const creds = { clientId: 'cid', clientSecret: 'csecret' };

async function rejection(p: Promise<unknown>): Promise<ConfigError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ConfigError);
  return e as ConfigError;
}

describe('defaults', () => {
  it('fills every option from the table defaults', async () => {
    const c = await resolveMountConfig({ ...creds }, {});
    expect(c).toMatchObject({
      apiBase: 'https://open-api.123pan.com',
      clientId: 'cid',
      clientSecret: 'csecret',
      rootFolderId: '0',
      readOnly: false,
      allowOther: false,
      umask: 0o022,
      dirCacheTimeMs: 300_000,
      attrTimeoutMs: 60_000,
      cacheMaxSize: 10 * 1024 ** 3,
      memCacheSize: 48 * 1024 ** 2,
      readAheadMax: 64 * 1024 ** 2,
      directLink: false,
      uploadConcurrency: 2,
      sliceConcurrency: 3,
      drainTimeoutMs: 600_000,
      rateLimitScale: 1,
      logLevel: 'info',
    });
    expect(c.directLinkKey).toBeUndefined();
    expect(c.uid).toBe(process.getuid!());
    expect(c.gid).toBe(process.getgid!());
    expect(c.cacheDir).toBe(join(dir, 'xdg-cache', 'pan123fs', 'cid'));
    expect(c.stateDir).toBe(join(dir, 'xdg-state', 'pan123fs'));
  });

  it('derives a safe cache dir name from the client id', async () => {
    const c = await resolveMountConfig({ clientId: 'a/b c..d', clientSecret: 's' }, {});
    expect(c.cacheDir).toBe(join(dir, 'xdg-cache', 'pan123fs', 'a_b_c..d'));
  });

  it('strips trailing slashes from the API base and keeps concurrencies at least 1', async () => {
    const c = await resolveMountConfig(
      { ...creds, apiBase: 'http://127.0.0.1:9999//', uploadConcurrency: '0', sliceConcurrency: '-3' },
      {},
    );
    expect(c.apiBase).toBe('http://127.0.0.1:9999');
    expect(c.uploadConcurrency).toBe(1);
    expect(c.sliceConcurrency).toBe(1);
  });
});

describe('precedence: flag > environment > config file > default', () => {
  it('applies to each option independently', async () => {
    const cfg = file(
      'c.json',
      JSON.stringify({ ...creds, dirCacheTime: '3m', memCacheSize: '32M', logLevel: 'warn', umask: '077' }),
      0o600,
    );
    const env = { PAN123_DIR_CACHE_TIME: '2m', PAN123_MEM_CACHE_SIZE: '16M', PAN123_CONFIG: cfg };
    const flags = { dirCacheTime: '1m' };
    const c = await resolveMountConfig(flags, env);
    expect(c.dirCacheTimeMs).toBe(60_000); // flag
    expect(c.memCacheSize).toBe(16 * 1024 ** 2); // env
    expect(c.logLevel).toBe('warn'); // file
    expect(c.umask).toBe(0o077); // file
    expect(c.readAheadMax).toBe(64 * 1024 ** 2); // default
  });

  it('falls through level by level as values are removed', async () => {
    const cfg = file('c.json', JSON.stringify({ dirCacheTime: '3m' }), 0o644);
    const base = { ...creds, config: cfg };
    expect(
      (await resolveMountConfig({ ...base, dirCacheTime: '1m' }, { PAN123_DIR_CACHE_TIME: '2m' })).dirCacheTimeMs,
    ).toBe(60_000);
    expect((await resolveMountConfig({ ...base }, { PAN123_DIR_CACHE_TIME: '2m' })).dirCacheTimeMs).toBe(120_000);
    expect((await resolveMountConfig({ ...base }, {})).dirCacheTimeMs).toBe(180_000);
    expect((await resolveMountConfig({ ...creds }, {})).dirCacheTimeMs).toBe(300_000);
  });

  it('an empty environment variable counts as unset', async () => {
    const cfg = file('c.json', JSON.stringify({ logLevel: 'debug' }), 0o644);
    const c = await resolveMountConfig({ ...creds, config: cfg }, { PAN123_LOG_LEVEL: '' });
    expect(c.logLevel).toBe('debug');
  });

  it('credentials come from the environment too', async () => {
    const c = await resolveMountConfig(
      {},
      { PAN123_CLIENT_ID: 'env-id', PAN123_CLIENT_SECRET: 'env-secret', PAN123_READ_ONLY: 'yes' },
    );
    expect(c).toMatchObject({ clientId: 'env-id', clientSecret: 'env-secret', readOnly: true });
  });

  it('the --config flag beats PAN123_CONFIG', async () => {
    const a = file('a.json', JSON.stringify({ logLevel: 'error' }), 0o644);
    const b = file('b.json', JSON.stringify({ logLevel: 'trace' }), 0o644);
    expect((await resolveMountConfig({ ...creds, config: a }, { PAN123_CONFIG: b })).logLevel).toBe('error');
  });

  it('JSON-typed config values are accepted (booleans, numbers as seconds/bytes)', async () => {
    const cfg = file(
      'c.json',
      JSON.stringify({ readOnly: true, dirCacheTime: 30, cacheMaxSize: 0, uploadConcurrency: 5, uid: 1000 }),
      0o644,
    );
    const c = await resolveMountConfig({ ...creds, config: cfg }, {});
    expect(c).toMatchObject({
      readOnly: true,
      dirCacheTimeMs: 30_000,
      cacheMaxSize: 0,
      uploadConcurrency: 5,
      uid: 1000,
    });
  });

  it('a bad value names the option', async () => {
    const e = await rejection(resolveMountConfig({ ...creds }, { PAN123_DIR_CACHE_TIME: 'forever' }));
    expect(e.message).toMatch(/--dir-cache-time/);
  });
});

describe('config file', () => {
  it('holding clientSecret with mode 0644 is refused with a message naming chmod 600', async () => {
    const cfg = file('c.json', JSON.stringify(creds), 0o644);
    const e = await rejection(resolveMountConfig({ config: cfg }, {}));
    expect(e.message).toContain(`chmod 600 ${cfg}`);
    expect(e.message).toContain('644');
    expect(e.message).not.toContain('csecret');
  });

  it('holding a secret is refused when only the group can read it (0640), accepted at 0600 / 0400', async () => {
    const cfg = file('c.json', JSON.stringify(creds), 0o640);
    await rejection(resolveMountConfig({ config: cfg }, {}));
    chmodSync(cfg, 0o600);
    expect((await resolveMountConfig({ config: cfg }, {})).clientSecret).toBe('csecret');
    chmodSync(cfg, 0o400);
    expect((await resolveMountConfig({ config: cfg }, {})).clientSecret).toBe('csecret');
  });

  it('holding directLinkKey must be private too', async () => {
    const cfg = file('c.json', JSON.stringify({ directLinkKey: 'k' }), 0o604);
    const e = await rejection(readConfigFile(cfg));
    expect(e.message).toMatch(/chmod 600/);
  });

  it('without a secret may be world-readable', async () => {
    const cfg = file('c.json', JSON.stringify({ clientId: 'cid', readOnly: true }), 0o644);
    expect(await readConfigFile(cfg)).toEqual({ clientId: 'cid', readOnly: true });
  });

  it('an unknown key is refused, naming it', async () => {
    const cfg = file('c.json', JSON.stringify({ clientId: 'x', dirCacheTimeout: '5m' }), 0o600);
    const e = await rejection(readConfigFile(cfg));
    expect(e.message).toContain('unknown key "dirCacheTimeout"');
  });

  it('flag-style keys are unknown (keys are camelCase)', async () => {
    const cfg = file('c.json', JSON.stringify({ 'client-id': 'x' }), 0o600);
    await rejection(readConfigFile(cfg));
  });

  it('invalid JSON, a non-object, and a missing file are ConfigErrors', async () => {
    expect((await rejection(readConfigFile(file('bad.json', '{ nope', 0o600)))).message).toMatch(/not valid JSON/);
    expect((await rejection(readConfigFile(file('arr.json', '[1,2]', 0o600)))).message).toMatch(/JSON object/);
    expect((await rejection(readConfigFile(file('null.json', 'null', 0o600)))).message).toMatch(/JSON object/);
    expect((await rejection(readConfigFile(join(dir, 'missing.json')))).message).toMatch(
      /cannot read config file .*ENOENT/,
    );
  });
});

describe('--client-secret-file', () => {
  it('is read and trimmed', async () => {
    const p = file('secret', '  s3cr3t-value \n', 0o600);
    const c = await resolveMountConfig({ clientId: 'cid', clientSecretFile: p }, {});
    expect(c.clientSecret).toBe('s3cr3t-value');
  });

  it('works from PAN123_CLIENT_SECRET_FILE and from the config file', async () => {
    const p = file('secret', 'from-file\n', 0o600);
    expect((await resolveMountConfig({ clientId: 'cid' }, { PAN123_CLIENT_SECRET_FILE: p })).clientSecret).toBe(
      'from-file',
    );
    const cfg = file('c.json', JSON.stringify({ clientId: 'cid', clientSecretFile: p }), 0o644);
    expect((await resolveMountConfig({ config: cfg }, {})).clientSecret).toBe('from-file');
  });

  it('is refused when readable by others, with a message naming chmod 600 and not the secret', async () => {
    const p = file('secret', 'leaky\n', 0o644);
    const e = await rejection(resolveMountConfig({ clientId: 'cid', clientSecretFile: p }, {}));
    expect(e.message).toContain(`chmod 600 ${p}`);
    expect(e.message).not.toContain('leaky');
    chmodSync(p, 0o660);
    await rejection(resolveMountConfig({ clientId: 'cid', clientSecretFile: p }, {}));
  });

  it('a missing secret file is a ConfigError naming the path', async () => {
    const p = join(dir, 'nope');
    const e = await rejection(resolveMountConfig({ clientId: 'cid', clientSecretFile: p }, {}));
    expect(e.message).toContain(p);
    expect(e.message).toMatch(/ENOENT/);
  });

  it('an empty secret file means no secret', async () => {
    const p = file('secret', '\n  \n', 0o600);
    const e = await rejection(resolveMountConfig({ clientId: 'cid', clientSecretFile: p }, {}));
    expect(e.message).toMatch(/no client secret/);
  });
});

describe('credentials and root folder checks', () => {
  it('a missing client id says where to put one', async () => {
    const e = await rejection(resolveMountConfig({ clientSecret: 's' }, {}));
    expect(e.message).toMatch(/no client ID/);
    expect(e.message).toContain('--client-id');
    expect(e.message).toContain('PAN123_CLIENT_ID');
  });

  it('a missing client secret says where to put one (secret file preferred)', async () => {
    const e = await rejection(resolveMountConfig({ clientId: 'cid' }, {}));
    expect(e.message).toMatch(/no client secret/);
    expect(e.message).toContain('--client-secret-file');
    expect(e.message).toContain('PAN123_CLIENT_SECRET');
  });

  it('--direct-link at the root folder 0 is refused, explaining 直链空间 and --root-folder-id', async () => {
    const e = await rejection(resolveMountConfig({ ...creds, directLink: true }, {}));
    expect(e.message).toContain('直链空间');
    expect(e.message).toContain('--root-folder-id');
    const e2 = await rejection(resolveMountConfig({ ...creds }, { PAN123_DIRECT_LINK: '1' }));
    expect(e2.message).toContain('直链空间');
  });

  it('--direct-link with a folder id is accepted', async () => {
    const c = await resolveMountConfig(
      { ...creds, directLink: true, rootFolderId: '123456789012345678', directLinkKey: 'k' },
      {},
    );
    expect(c).toMatchObject({ directLink: true, rootFolderId: '123456789012345678', directLinkKey: 'k' });
  });

  it('a root folder id must be digits', async () => {
    for (const bad of ['abc', '-1', '12a', ' ']) {
      const e = await rejection(resolveMountConfig({ ...creds, rootFolderId: bad }, {}));
      expect(e.message).toMatch(/--root-folder-id/);
    }
  });
});
