// Test harness for end-to-end tests: runs `pan123fs mount` (the built dist/) in a subprocess against an
// emulator, waits for its ready line, and always unmounts afterwards (fusermount -uz), even when a test
// failed. Tests touch the mount ONLY through child processes (sh, cat, sha256sum, dd, …): a sync call
// would block the emulator served by this process, and even async fs calls can deadlock it — they hold
// libuv's 4 threadpool threads while the daemon waits for the emulator, which needs that pool to read
// its blobs.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { DaemonStatus } from '../../src/daemon/status-types.js';

export const execFileP = promisify(execFile);
export const ROOT = resolve(__dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'pan123fs.js');

/** FUSE available? In CI (PAN123_REQUIRE_FUSE=1) a missing FUSE is a failure, not a skip. */
export function fuseAvailable(): boolean {
  const ok = existsSync('/dev/fuse') && process.env.PAN123_NO_FUSE !== '1';
  if (!ok && process.env.PAN123_REQUIRE_FUSE === '1')
    throw new Error('FUSE is required (PAN123_REQUIRE_FUSE=1) but /dev/fuse or fusermount is missing');
  return ok;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `pan123fs-${prefix}-`));
}

export interface DaemonOptions {
  apiBase: string;
  mountpoint?: string;
  cacheDir?: string;
  stateDir?: string;
  args?: string[];
  env?: Record<string, string>;
  clientId?: string;
  clientSecret?: string;
  /** the pan123fs entry script to run (default: this checkout's bin/pan123fs.js) */
  bin?: string;
}

export interface Daemon {
  proc: ChildProcess;
  mountpoint: string;
  cacheDir: string;
  stateDir: string;
  output(): string;
  /** what `pan123fs status --json` prints for this mount (asked from a child process) */
  status(): Promise<DaemonStatus>;
  /**
   * Resolves once the upload queue is empty (status shows no upload pending, running or waiting): from
   * then on nothing uploads until the mount changes again. The positive oracle for "the upload that must
   * not happen would have happened by now".
   */
  uploadsSettled(timeoutMs?: number): Promise<void>;
  /** SIGTERM and wait for exit; returns the exit code */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const mountpoint = o.mountpoint ?? (await tempDir('mnt'));
  const cacheDir = o.cacheDir ?? (await tempDir('cache'));
  const stateDir = o.stateDir ?? (await tempDir('state'));
  await mkdir(mountpoint, { recursive: true });
  const args = [
    o.bin ?? BIN,
    'mount',
    mountpoint,
    '--api-base',
    o.apiBase,
    '--client-id',
    o.clientId ?? 'pan123fs-demo',
    '--cache-dir',
    cacheDir,
    '--state-dir',
    stateDir,
    '--log-level',
    'debug',
    ...(o.args ?? []),
  ];
  const proc = spawn(process.execPath, args, {
    env: { ...process.env, PAN123_CLIENT_SECRET: o.clientSecret ?? 'pan123fs-demo-secret', ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => {
    out += d;
  });
  proc.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const ready = new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`daemon not ready after 30 s:\n${out.slice(-4000)}`)), 30_000);
    const check = () => {
      if (out.includes('(ready)')) {
        clearTimeout(t);
        res();
      }
    };
    proc.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(t);
      rej(new Error(`daemon exited with ${code} before ready:\n${out.slice(-4000)}`));
    });
  });
  const d: Daemon = {
    proc,
    mountpoint,
    cacheDir,
    stateDir,
    exited,
    output: () => out,
    async status() {
      const { stdout } = await execFileP(process.execPath, [
        o.bin ?? BIN,
        'status',
        mountpoint,
        '--json',
        '--state-dir',
        stateDir,
      ]);
      return JSON.parse(stdout) as DaemonStatus;
    },
    async uploadsSettled(timeoutMs = 60_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const st = await d.status();
        if (st.uploads.totals.files === 0) return;
        if (Date.now() > end)
          throw new Error(`uploads still queued after ${timeoutMs} ms: ${JSON.stringify(st.uploads.items)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop(signal = 'SIGTERM', timeoutMs = 60_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        await forceUnmount(mountpoint);
        return proc.exitCode;
      }
      proc.kill(signal);
      const code = await Promise.race([
        exited,
        new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs)),
      ]);
      if (code === 'timeout') {
        proc.kill('SIGKILL');
        await exited;
      }
      await forceUnmount(mountpoint);
      return code === 'timeout' ? null : code;
    },
  };
  try {
    await ready;
  } catch (e) {
    await d.stop('SIGKILL', 5000);
    throw e;
  }
  return d;
}

/** Lazy-unmount whatever is left at mountpoint (a crashed daemon leaves "Transport endpoint is not connected"). */
export async function forceUnmount(mountpoint: string): Promise<void> {
  await execFileP('fusermount', ['-uz', mountpoint]).catch(() => undefined);
}

export async function cleanup(...dirs: string[]): Promise<void> {
  for (const d of dirs) await rm(d, { recursive: true, force: true }).catch(() => undefined);
}

/** sha256 of a file through a child process (never this process's event loop blocking on the mount). */
export async function sha256(path: string): Promise<string> {
  const { stdout } = await execFileP('sha256sum', [path], { maxBuffer: 1 << 20 });
  return stdout.split(' ')[0]!;
}

export async function sh(
  cmd: string,
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  return execFileP('bash', ['-c', cmd], { cwd: opts.cwd, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20 });
}

export { ramp } from '../support/data.js';
