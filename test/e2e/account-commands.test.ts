// Issue 18: the account commands against the emulator, as a user runs them (the built CLI in a child
// process): share, fetch (offline download), link and export-strm. Links are followed and the bytes
// compared by hash; the emulator's request counters and tree show what happened server-side.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmulatorHandle, startEmulator } from '../../src/emulator/index.js';
import { BIN, cleanup, ramp, tempDir } from '../helpers/pan-daemon.js';

const DL_KEY = 'strm-test-key';
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, PAN123_CLIENT_SECRET: 'pan123fs-demo-secret' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => {
      stdout += d;
    });
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

async function get(url: string): Promise<Buffer> {
  const r = await fetch(url);
  expect(r.status).toBe(200);
  return Buffer.from(await r.arrayBuffer());
}

describe('account commands (issue 18)', () => {
  let seed: string;
  let state: string;
  let out: string;
  let emu: EmulatorHandle;
  let origin: Server;
  let originUrl: string;
  const movie = ramp(1024 * 1024 + 7, 3);
  const files: Record<string, Buffer> = {
    'docs/report.pdf': ramp(5000, 1),
    'media/a.mp4': ramp(300_000, 2),
    'media/sub/b.mkv': ramp(200_001, 4),
    'media/notes.txt': Buffer.from('not media'),
  };
  let base: string[];

  beforeAll(async () => {
    seed = await tempDir('acct-seed');
    state = await tempDir('acct-state');
    out = await tempDir('acct-out');
    for (const [rel, data] of Object.entries(files)) {
      await mkdir(join(seed, rel, '..'), { recursive: true });
      await writeFile(join(seed, rel), data);
    }
    await mkdir(join(seed, 'inbox'));
    emu = await startEmulator({
      dataDir: await tempDir('acct-emu'),
      seedDir: seed,
      rateLimitScale: 0,
      directLinkKey: DL_KEY,
    });
    base = ['--api-base', emu.baseUrl, '--client-id', 'pan123fs-demo', '--state-dir', state, '--rate-limit-scale', '0'];
    origin = createServer((req, res) => {
      if (req.url === '/files/never-ends.bin') {
        res.writeHead(200, { 'content-length': 1 << 20 });
        res.write(Buffer.alloc(1024)); // then nothing: the task stays running at the emulator
        return;
      }
      if (req.url !== '/files/movie%20one.mkv') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-length': movie.length });
      res.end(movie);
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  }, 60_000);

  afterAll(async () => {
    origin?.closeAllConnections();
    origin?.close();
    await emu?.close();
    await cleanup(seed, state, out);
  });

  it('share prints a 123 share link and makes one share/create call; a bad expiry is refused locally', async () => {
    emu.resetCounters();
    const r = await cli(['share', '/docs/report.pdf', '--days', '30', '--password', 'ab12', ...base]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^https:\/\/www\.123pan\.com\/s\/[A-Za-z0-9_-]+ {2}\(提取码 ab12\)$/);
    expect(emu.counters().requests.share_create).toBe(1);
    const bad = await cli(['share', '/docs/report.pdf', '--days', '3', ...base]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('share expiry must be one of 0, 1, 7, 30 days');
    expect(emu.counters().requests.share_create).toBe(1);
    const missing = await cli(['share', '/docs/nope.pdf', ...base]);
    expect(missing.stderr).toContain('no such file or folder in the drive: /docs/nope.pdf');
  });

  it('fetch runs an offline download into a folder until it is done; the file is byte-exact there', async () => {
    const r = await cli(['fetch', `${originUrl}/files/movie%20one.mkv`, '/inbox', ...base]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('done:');
    expect(r.stderr).toContain('100%');
    const f = emu.tree().find((e) => e.path === '/inbox/movie one.mkv');
    expect(f).toMatchObject({ size: movie.length, md5: md5(movie) });
    const root = await cli(['fetch', `${originUrl}/files/movie%20one.mkv`, '/', ...base]);
    expect(root.code).not.toBe(0);
    expect(root.stderr).toContain('cannot target the root folder');
  });

  it('fetch reports a task that failed on the server side', async () => {
    const r = await cli(['fetch', `${originUrl}/files/missing.bin`, '/inbox', ...base]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('failed on 123');
  });

  it('fetch stops waiting at --timeout with the task still running, and says so', async () => {
    const r = await cli(['fetch', `${originUrl}/files/never-ends.bin`, '/inbox', '--timeout', '2s', ...base]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/offline download \S+ still running at \d+% after 2s: it goes on at 123/);
    const bad = await cli(['fetch', `${originUrl}/files/never-ends.bin`, '/inbox', '--timeout', 'soon', ...base]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--timeout: not a duration');
  });

  it('link prints a download link that serves the file', async () => {
    const r = await cli(['link', '/media/a.mp4', ...base]);
    expect(r.code, r.stderr).toBe(0);
    expect(md5(await get(r.stdout.trim()))).toBe(md5(files['media/a.mp4']!));
  });

  it('link with --direct-link and a key signs the direct link; the emulator accepts the signature', async () => {
    emu.enableDirectLink('/media');
    const media = emu.tree().find((e) => e.path === '/media')!;
    const dl = ['--direct-link', '--direct-link-key', DL_KEY, '--root-folder-id', media.id];
    const r = await cli(['link', '/sub/b.mkv', ...base, ...dl]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('auth_key=');
    expect(md5(await get(r.stdout.trim()))).toBe(md5(files['media/sub/b.mkv']!));
  });

  it('export-strm writes one .strm per media file, keeps the tree, skips other files, links play', async () => {
    const r = await cli(['export-strm', '/media', out, ...base]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('2 .strm files');
    expect((await readdir(out)).sort()).toEqual(['a.strm', 'sub']);
    expect(await readdir(join(out, 'sub'))).toEqual(['b.strm']);
    const link = (await readFile(join(out, 'sub', 'b.strm'), 'utf8')).trim();
    expect(md5(await get(link))).toBe(md5(files['media/sub/b.mkv']!));
  });
});
