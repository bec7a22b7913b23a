// Test harness for end-to-end tests: runs `pan123fs mount` (the built dist/) in a subprocess against an
// emulator, waits for its ready line, and always unmounts afterwards (fusermount -uz), even when a test
// failed. `withMount()` is a file's emulators, daemons and temp dirs, all torn down by one afterAll hook
// (daemons stopped and unmounted first, then emulators closed, then dirs removed; a dir something is still
// mounted under is left alone). Tests touch the mount ONLY through child processes (sh, cat, sha256sum,
// dd, …): a sync call would block the emulator served by this process, and even async fs calls can
// deadlock it — they hold libuv's 4 threadpool threads while the daemon waits for the emulator, which
// needs that pool to read its blobs.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';
import { startEmulator, type EmulatorHandle, type EmulatorTreeEntry } from '../../src/emulator/index.js';
import type { EmulatorOptions } from '../../src/emulator/types.js';
import type { DaemonStatus } from '../../src/daemon/status-types.js';
import { until } from '../support/gate.js';

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
      let items: unknown[] = [];
      await until(
        async () => {
          const st = await d.status();
          items = st.uploads.items;
          return st.uploads.totals.files === 0;
        },
        'the upload queue to empty',
        { timeoutMs, everyMs: 100 },
      ).catch((e: Error) => {
        throw new Error(`${e.message}: still queued ${JSON.stringify(items)}`);
      });
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

/** What `withMount()` hands a test file: start things through it and the afterAll hook tears them down. */
export interface Mounts {
  /** a new temp dir, removed at teardown */
  tempDir(prefix: string): Promise<string>;
  /** a new temp dir holding these files (path relative to it → content), removed at teardown */
  seed(files: Record<string, Buffer | string>): Promise<string>;
  /** an emulator (a new temp data dir and no rate limits unless given), closed at teardown */
  emulator(o?: EmulatorOptions): Promise<EmulatorHandle>;
  /** a daemon (see startDaemon; the dirs it is not given are new temp dirs), stopped and unmounted at teardown */
  daemon(o: DaemonOptions): Promise<Daemon>;
  /**
   * `d` started again (after it stopped, crashed or was killed) with the options it was started with, over
   * the same mountpoint, cache and state dirs; `o` overrides some of them.
   */
  restart(d: Daemon, o?: Partial<DaemonOptions>): Promise<Daemon>;
}

/**
 * The emulator + daemon setup and teardown of an e2e file (or describe block): registers an afterAll hook
 * that, pass or fail (also after a failed beforeAll), stops every daemon started through it (SIGTERM, then
 * SIGKILL after 60 s; each stop unmounts), closes every emulator and removes every temp dir it made.
 */
export function withMount(): Mounts {
  const daemons: Daemon[] = [];
  const emulators: EmulatorHandle[] = [];
  const dirs: string[] = [];
  const started = new WeakMap<Daemon, DaemonOptions>();
  const dir = async (prefix: string) => {
    const p = await tempDir(prefix);
    dirs.push(p);
    return p;
  };
  const daemon = async (o: DaemonOptions): Promise<Daemon> => {
    const full: DaemonOptions = {
      ...o,
      mountpoint: o.mountpoint ?? (await dir('mnt')),
      cacheDir: o.cacheDir ?? (await dir('cache')),
      stateDir: o.stateDir ?? (await dir('state')),
    };
    const d = await startDaemon(full); // a daemon that does not get ready is stopped by startDaemon itself
    daemons.push(d);
    started.set(d, full);
    return d;
  };
  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop().catch(() => forceUnmount(d.mountpoint))));
    for (const e of emulators) await e.close().catch(() => undefined);
    const mounted = mountPoints();
    const inUse = (p: string) => mounted.some((m) => m === p || m.startsWith(`${p}/`));
    await cleanup(...dirs.filter((p) => !inUse(p)));
  });
  return {
    tempDir: dir,
    async seed(files) {
      const root = await dir('seed');
      for (const [rel, data] of Object.entries(files)) {
        await mkdir(dirname(join(root, rel)), { recursive: true });
        await writeFile(join(root, rel), data);
      }
      return root;
    },
    async emulator(o = {}) {
      const e = await startEmulator({ rateLimitScale: 0, ...o, dataDir: o.dataDir ?? (await dir('emu')) });
      emulators.push(e);
      return e;
    },
    daemon,
    restart(d, o = {}) {
      const before = started.get(d);
      if (!before) throw new Error('restart: that daemon was not started through withMount()');
      return daemon({ ...before, ...o });
    },
  };
}

/** the mount points of this machine (procfs: safe to read synchronously) */
function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter(Boolean);
}

/** the emulator's files and folders that are not in the trash, by path */
export function live(emu: EmulatorHandle): Map<string, EmulatorTreeEntry> {
  return new Map(
    emu
      .tree()
      .filter((e) => !e.trashed)
      .map((e) => [e.path, e]),
  );
}

/** sha256 of a file through a child process (never this process's event loop blocking on the mount). */
export async function sha256(path: string): Promise<string> {
  const { stdout } = await execFileP('sha256sum', [path], { maxBuffer: 1 << 20 });
  return stdout.split(' ')[0]!;
}

/** sha256 of many files through ONE child process (each file still read whole, one after another), in order. */
export async function sha256s(paths: string[]): Promise<string[]> {
  const { stdout } = await execFileP('sha256sum', ['--', ...paths], { maxBuffer: 16 << 20, timeout: 120_000 });
  const sums = stdout
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[0]!);
  if (sums.length !== paths.length) throw new Error(`sha256sum gave ${sums.length} sums for ${paths.length} files`);
  return sums;
}

export async function sh(
  cmd: string,
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  return execFileP('bash', ['-c', cmd], { cwd: opts.cwd, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20 });
}

export { ramp } from '../support/data.js';
