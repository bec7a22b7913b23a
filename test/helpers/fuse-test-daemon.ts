// Two roles in one file.
// 1. Run as a script (compiled by buildTestDaemon): a test daemon that mounts a MemVfs at argv[2], prints
//    `READY <json>` once mounted, `STATS <json>` on SIGUSR2 (thread states, write request sizes), unmounts
//    and exits 0 on SIGTERM, exits 0 with `EXTERNAL_UNMOUNT` when the mount is removed from outside.
//    Knobs (env): FUSE_TEST_THROW_ON, FUSE_TEST_REJECT_ON (paths), FUSE_TEST_READ_DELAY_MS,
//    FUSE_TEST_FILES (n small files /r/f0…), FUSE_TEST_ATTR_TIMEOUT (seconds), FUSE_TEST_CRASH_ON (a
//    getattr of this path schedules an uncaught exception: exercises the crash guard), FUSE_TEST_MAX_IDLE
//    (libfuse 3 idle workers kept; low = workers retire), FUSE_TEST_BIG (bytes of /big.bin).
// 2. Imported by e2e tests: build/spawn/stop helpers. Tests never touch the mount synchronously or from
//    the daemon's process; they use async child_process and fs.promises.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = path.join(REPO, 'node_modules/.cache/pan123fs-fuse-e2e');

function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; timeout?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd ?? REPO, timeout: opts.timeout ?? 120_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}
export { run as runCommand };

/** Compile this file (and what it imports from src/) to plain JS; returns the daemon script path. */
export async function buildTestDaemon(): Promise<string> {
  const tsc = path.join(REPO, 'node_modules/typescript/bin/tsc');
  const r = await run(process.execPath, [
    tsc,
    '--outDir',
    OUT,
    '--rootDir',
    REPO,
    '--module',
    'NodeNext',
    '--moduleResolution',
    'NodeNext',
    '--target',
    'ES2022',
    '--strict',
    '--skipLibCheck',
    '--esModuleInterop',
    '--types',
    'node',
    'test/helpers/fuse-test-daemon.ts',
  ]);
  if (r.code !== 0) throw new Error(`compiling the test daemon failed:\n${r.stdout}${r.stderr}`);
  return path.join(OUT, 'test/helpers/fuse-test-daemon.js');
}

export interface TestDaemon {
  proc: ChildProcess;
  ready: Record<string, unknown>;
  stderr(): string;
  stats(): Promise<DaemonStats>;
  /** SIGTERM and wait; resolves the exit code */
  stop(): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface DaemonStats {
  threads: { allocated: number; free?: number; source: string };
  writes: Record<string, number>;
  binding: Record<string, unknown>;
  /** FuseMount.requestStats(): per-op counts, read/write sizes, negotiated conn */
  requests: import('../../src/fuse/mount.js').FuseRequestStats;
}

export async function startDaemon(script: string, mnt: string, env: Record<string, string> = {}): Promise<TestDaemon> {
  const proc = spawn(process.execPath, [script, mnt], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: { prefix: string; resolve: (line: string) => void }[] = [];
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      const w = waiters.findIndex((x) => line.startsWith(x.prefix));
      if (w >= 0) waiters.splice(w, 1)[0]!.resolve(line);
    }
  });
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const next = (prefix: string, ms: number) =>
    new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`daemon gave no ${prefix} within ${ms} ms; stderr:\n${err}`)), ms);
      waiters.push({
        prefix,
        resolve: (l) => {
          clearTimeout(t);
          resolve(l);
        },
      });
      void exited.then((code) => {
        clearTimeout(t);
        reject(new Error(`daemon exited (${code}) before ${prefix}; stderr:\n${err}`));
      });
    });
  const readyLine = await next('READY', 30_000);
  return {
    proc,
    ready: JSON.parse(readyLine.slice('READY '.length)) as Record<string, unknown>,
    stderr: () => err,
    exited,
    async stats() {
      const p = next('STATS', 10_000);
      proc.kill('SIGUSR2');
      return JSON.parse((await p).slice('STATS '.length)) as DaemonStats;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** Lazy-unmount whatever is at mnt (ignore "not mounted"). For afterEach/afterAll. */
export async function forceUnmount(mnt: string): Promise<void> {
  await run('fusermount', ['-uz', mnt], { timeout: 10_000 });
}

async function main(): Promise<void> {
  const mnt = process.argv[2];
  if (!mnt) throw new Error('usage: fuse-test-daemon <mountpoint>');
  const { MemVfs } = await import('./mem-vfs.js');
  const { mountVfs } = await import('../../src/fuse/mount.js');
  const { loadFuseNative } = await import('../../src/fuse/binding.js');
  const { installCrashGuard } = await import('../../src/fuse/crash-guard.js');
  const env = process.env;
  const logger = stderrLogger(env.FUSE_TEST_DEBUG ? 10 : 40);
  installCrashGuard(logger);
  const vfs = new MemVfs({
    throwOn: env.FUSE_TEST_THROW_ON,
    rejectOn: env.FUSE_TEST_REJECT_ON,
    readDelayMs: env.FUSE_TEST_READ_DELAY_MS ? Number(env.FUSE_TEST_READ_DELAY_MS) : undefined,
  });
  const nFiles = Number(env.FUSE_TEST_FILES ?? 0);
  if (nFiles > 0) vfs.mkdirSync('/r');
  for (let i = 0; i < nFiles; i++) vfs.put(`/r/f${i}`, Buffer.alloc(4096, i & 0xff));
  vfs.put('/hello.txt', 'hello world\n');
  if (env.FUSE_TEST_BIG) {
    const big = Buffer.alloc(Number(env.FUSE_TEST_BIG));
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i / 4096, i);
    vfs.put('/big.bin', big);
  }
  const writes: Record<string, number> = {};
  const write = vfs.write.bind(vfs);
  vfs.write = (p, fh, buf, len, pos) => {
    writes[len] = (writes[len] ?? 0) + 1;
    return write(p, fh, buf, len, pos);
  };
  const crashOn = env.FUSE_TEST_CRASH_ON;
  if (crashOn) {
    const getattr = vfs.getattr.bind(vfs);
    vfs.getattr = (p) => {
      if (p === crashOn)
        setImmediate(() => {
          throw new Error(`injected uncaught exception after getattr ${p}`);
        });
      return getattr(p);
    };
  }
  const attr = env.FUSE_TEST_ATTR_TIMEOUT !== undefined ? Number(env.FUSE_TEST_ATTR_TIMEOUT) : undefined;
  const maxIdleThreads = env.FUSE_TEST_MAX_IDLE !== undefined ? Number(env.FUSE_TEST_MAX_IDLE) : undefined;
  const mount = await mountVfs(vfs, mnt, { attrTimeoutSec: attr, entryTimeoutSec: attr, maxIdleThreads }, logger);
  const binding = loadFuseNative().info;
  mount.onExternalUnmount(() => {
    process.stdout.write('EXTERNAL_UNMOUNT\n');
    process.exit(0);
  });
  process.on('SIGUSR2', () => {
    const requests = mount.requestStats();
    process.stdout.write(`STATS ${JSON.stringify({ threads: mount.threadStats(), writes, binding, requests })}\n`);
  });
  process.on('SIGTERM', () => {
    mount.unmount().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error({ err: String(e) }, 'unmount failed');
        process.exit(2);
      },
    );
  });
  process.stdout.write(`READY ${JSON.stringify({ binding, bdi: mount.bdi, pid: process.pid })}\n`);
}

function stderrLogger(minLevel: number) {
  type L = import('../../src/core/logger.js').Logger;
  const mk = (bindings: Record<string, unknown>): L => {
    const at = (level: number, name: string) => (a: object | string, msg?: string) => {
      if (level < minLevel) return;
      const o = typeof a === 'string' ? { msg: a } : { ...a, msg };
      process.stderr.write(`${JSON.stringify({ level: name, ...bindings, ...o })}\n`);
    };
    return {
      trace: at(10, 'trace'),
      debug: at(20, 'debug'),
      info: at(30, 'info'),
      warn: at(40, 'warn'),
      error: at(50, 'error'),
      fatal: at(60, 'fatal'),
      child: (b) => mk({ ...bindings, ...b }),
    } as L;
  };
  return mk({});
}

// realpath on both sides: a worktree whose node_modules is a symlink runs this file under another path
const sameFile = (a: string, b: string): boolean => {
  try {
    return fs.realpathSync(a) === fs.realpathSync(b);
  } catch {
    return false;
  }
};
if (process.argv[1] && sameFile(path.resolve(process.argv[1]), fileURLToPath(import.meta.url))) {
  main().catch((err: unknown) => {
    process.stderr.write(`daemon failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
