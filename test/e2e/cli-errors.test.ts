// The CLI as a user meets it: `pan123fs emulator --seed` speaks the wire format (checked with curl), and
// each way a mount can fail ends with ONE line on stderr that says what to do, no stack trace, and a
// non-zero exit (issues 2 and 3).
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/index.js';
import { BIN, cleanup, execFileP, forceUnmount, fuseAvailable, tempDir } from '../helpers/pan-daemon.js';

const run = fuseAvailable();

async function mountFails(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, 'mount', ...args], {
      env: { ...process.env, PAN123_CLIENT_SECRET: 'pan123fs-demo-secret', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stderr });
    });
  });
}

function oneLine(stderr: string): string {
  const lines = stderr
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('pan123fs:'));
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
  return lines[0]!;
}

describe('pan123fs emulator (CLI)', () => {
  it('--seed DIR serves the tree over the documented wire format', async () => {
    const seed = await tempDir('cli-seed');
    await mkdir(join(seed, 'docs'));
    await writeFile(join(seed, 'docs', 'a.txt'), 'hello');
    const data = await tempDir('cli-emu');
    const p = spawn(
      process.execPath,
      [BIN, 'emulator', '--listen', '127.0.0.1:0', '--seed', seed, '--data-dir', data],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const base = await new Promise<string>((resolve, reject) => {
        let out = '';
        const t = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 20_000);
        p.stdout.on('data', (d) => {
          out += d;
          const m = /http:\/\/127\.0\.0\.1:\d+/.exec(out);
          if (m) {
            clearTimeout(t);
            resolve(m[0]);
          }
        });
      });
      const curl = async (...a: string[]) => JSON.parse((await execFileP('curl', ['-s', ...a])).stdout);
      const tok = await curl(
        '-X',
        'POST',
        `${base}/api/v1/access_token`,
        '-H',
        'Platform: open_platform',
        '-H',
        'Content-Type: application/json',
        '-d',
        '{"clientID":"pan123fs-demo","clientSecret":"pan123fs-demo-secret"}',
      );
      expect(tok).toMatchObject({ code: 0, message: 'ok' });
      expect(tok).toHaveProperty('x-traceID');
      expect(tok.data.expiredAt).toMatch(/\+08:00$/);
      const auth = ['-H', 'Platform: open_platform', '-H', `Authorization: Bearer ${tok.data.accessToken}`];
      const root = await curl(...auth, `${base}/api/v2/file/list?parentFileId=0&limit=100`);
      expect(root.code).toBe(0);
      expect(root.data.lastFileId).toBe(-1);
      const docs = root.data.fileList.find((f: { filename: string }) => f.filename === 'docs');
      expect(docs).toMatchObject({ type: 1, trashed: 0 });
      const inner = await curl(...auth, `${base}/api/v2/file/list?parentFileId=${docs.fileId}&limit=100`);
      expect(inner.data.fileList[0]).toMatchObject({
        filename: 'a.txt',
        size: 5,
        etag: '5d41402abc4b2a76b9719d911017c592',
      });
      expect(inner.data.fileList[0].createAt).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      // strict: a wrong-case query parameter is refused in the body, with HTTP 200
      const wrong = await curl(...auth, `${base}/api/v2/file/list?parentFileID=0&limit=100`);
      expect(wrong.code).not.toBe(0);
    } finally {
      p.kill('SIGTERM');
      await cleanup(seed, data);
    }
  });
});

describe.runIf(run)('mount failures end with one clear line', () => {
  let emu: EmulatorHandle;
  let mnt: string;
  beforeAll(async () => {
    emu = await startEmulator({ dataDir: await tempDir('errs-emu'), rateLimitScale: 0 });
    mnt = await tempDir('errs-mnt');
  });
  afterAll(async () => {
    await forceUnmount(mnt);
    await emu?.close();
    await cleanup(mnt);
  });

  const common = () => ['--api-base', emu.baseUrl, '--client-id', 'pan123fs-demo', '--log-level', 'error'];

  it('a missing mountpoint', async () => {
    const r = await mountFails(['/nonexistent/pan123fs-x', ...common()]);
    expect(r.code).not.toBe(0);
    expect(oneLine(r.stderr)).toMatch(/\/nonexistent\/pan123fs-x/);
  });

  it('a non-empty mountpoint', async () => {
    const dir = await tempDir('errs-full');
    await writeFile(join(dir, 'x'), 'x');
    const r = await mountFails([dir, ...common()]);
    expect(r.code).not.toBe(0);
    expect(oneLine(r.stderr)).toMatch(/not empty/i);
    await cleanup(dir);
  });

  it('bad credentials (checked with user info before mounting)', async () => {
    const r = await mountFails([mnt, ...common(), '--state-dir', await tempDir('errs-st')], {
      PAN123_CLIENT_SECRET: 'wrong-secret',
    });
    expect(r.code).not.toBe(0);
    expect(oneLine(r.stderr)).toMatch(/refused client ID "pan123fs-demo".*client secret/);
  });

  it('an unreachable API', async () => {
    const r = await mountFails([
      mnt,
      '--api-base',
      'http://127.0.0.1:9',
      '--client-id',
      'x',
      '--state-dir',
      await tempDir('errs-st2'),
    ]);
    expect(r.code).not.toBe(0);
    expect(oneLine(r.stderr)).toMatch(/cannot reach the 123 Open API at http:\/\/127\.0\.0\.1:9/);
  }, 120_000);

  it('missing credentials', async () => {
    const r = await mountFails([mnt, '--api-base', emu.baseUrl, '--client-id', 'x'], { PAN123_CLIENT_SECRET: '' });
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/no client secret/);
  });

  it('--direct-link at the root folder', async () => {
    const r = await mountFails([mnt, ...common(), '--direct-link']);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/直链空间.*--root-folder-id/);
  });
});
