// `pan123fs config check`: the effective values with their sources, secrets masked, clear errors, and
// the same checks through the real CLI (exit 2 on a bad config).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConfig, formatDuration, formatSize } from '../../../src/cli/config-command.js';

const run = promisify(execFile);
const BIN = join(__dirname, '..', '..', '..', 'bin', 'pan123fs.js');
const built = existsSync(join(__dirname, '..', '..', '..', 'dist', 'main.js'));
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pan123fs-cfgcheck-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cfgFile(obj: object, mode = 0o600): Promise<string> {
  const p = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
  await writeFile(p, JSON.stringify(obj), { mode });
  return p;
}

describe('config check', () => {
  it('shows every option with its source; secrets only as (set)', async () => {
    const config = await cfgFile({
      clientId: 'abc',
      clientSecret: 'very-secret-value',
      mountpoint: '/mnt/pan',
      dirCacheTime: '90s',
    });
    const r = await checkConfig({ config, cacheMaxSize: '2G' }, { PAN123_LOG_LEVEL: 'debug' });
    const by = Object.fromEntries(r.options.map((o) => [o.key, o]));
    expect(by.clientSecret).toMatchObject({ value: '(set)', source: 'file' });
    expect(JSON.stringify(r.options)).not.toContain('very-secret-value');
    expect(by.mountpoint).toMatchObject({ value: '/mnt/pan', source: 'file' });
    expect(by.dirCacheTime).toMatchObject({ value: '90s', source: 'file' });
    expect(by.cacheMaxSize).toMatchObject({ value: '2G', source: 'flag' });
    expect(by.logLevel).toMatchObject({ value: 'debug', source: 'env' });
    expect(by.drainTimeout).toMatchObject({ value: '10m', source: 'default' });
    expect(by.config!.value).toBe(config);
    expect(r.warnings).toEqual([]);
  });

  it('warns about a missing mountpoint and a secret given as a flag', async () => {
    const r = await checkConfig({ clientId: 'abc', clientSecret: 'flag-secret-1' }, {});
    expect(r.warnings.join('\n')).toMatch(/no "mountpoint"[\s\S]*`ps`/);
  });

  it('formats durations and sizes the way they are written', () => {
    expect([formatDuration(300_000), formatDuration(2000), formatDuration(1500)]).toEqual(['5m', '2s', '1500ms']);
    expect([formatSize(10 * 1024 ** 3), formatSize(64 * 1024 ** 2), formatSize(1000)]).toEqual(['10G', '64M', '1000']);
  });

  it.runIf(built)('CLI: exit 2 and the exact reason for a bad config; exit 0 and "(set)" for a good one', async () => {
    const bad = await cfgFile({ clientId: 'abc', clientSecret: 'x-secret-1', umask: '999' });
    const e = await run(process.execPath, [BIN, 'config', 'check', '--config', bad]).then(
      () => null,
      (x: { code: number; stderr: string }) => x,
    );
    expect(e).toMatchObject({ code: 2, stderr: expect.stringContaining('--umask: not an octal mode: "999"') });
    const unknown = await cfgFile({ clientId: 'abc', clientSecrt: 'typo' });
    const e2 = await run(process.execPath, [BIN, 'config', 'check', '--config', unknown]).then(
      () => null,
      (x: { code: number; stderr: string }) => x,
    );
    expect(e2?.stderr).toContain('unknown key "clientSecrt"');
    const rel = await cfgFile({ clientId: 'abc', clientSecret: 'x-secret-1', mountpoint: 'mnt' });
    const e3 = await run(process.execPath, [BIN, 'config', 'check', '--config', rel]).then(
      () => null,
      (x: { code: number; stderr: string }) => x,
    );
    expect(e3?.stderr).toContain('--mountpoint must be an absolute path');
    const good = await cfgFile({ clientId: 'abc', clientSecret: 'good-secret-1', mountpoint: '/mnt/p' });
    const ok = await run(process.execPath, [BIN, 'config', 'check', '--config', good]);
    expect(ok.stdout).toMatch(/config OK[\s\S]*clientSecret\s+\(set\)\s+\[file\]/);
    expect(ok.stdout).not.toContain('good-secret-1');
    const json = JSON.parse((await run(process.execPath, [BIN, 'config', 'check', '--config', good, '--json'])).stdout);
    expect(json.ok).toBe(true);
  });

  it.runIf(built)('the example config in the repo is valid once its secret file exists', async () => {
    const { readFile } = await import('node:fs/promises');
    const ex = JSON.parse(
      await readFile(join(__dirname, '..', '..', '..', 'config', 'example.json'), 'utf8'),
    ) as Record<string, unknown>;
    await writeFile(join(dir, 'ex.secret'), 's3cret-example', { mode: 0o600 });
    const p = await cfgFile({ ...ex, clientSecretFile: join(dir, 'ex.secret') }, 0o644);
    const r = await run(process.execPath, [BIN, 'config', 'check', '--config', p]);
    expect(r.stdout).toContain('config OK');
  });
});
