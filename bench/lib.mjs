// Process and measurement helpers for bench/run.mjs. The orchestrator never touches the mount itself:
// every mount access is a child process (dd, cat, ls, cp, the C programs), and the emulator and the
// daemon each run as their own subprocess, so nothing here can deadlock against the FUSE daemon.

import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'bin', 'pan123fs.js');
export const CLIENT_ID = 'pan123fs-demo';
export const CLIENT_SECRET = 'pan123fs-demo-secret';
export const MiB = 1 << 20;
export const GiB = 1 << 30;

const children = new Set();
const mounts = new Set();

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => Number(process.hrtime.bigint()) / 1e9;

/**
 * Runs a command; resolves {code, stdout, stderr, secs} (secs = wall time of the child). Never rejects on exit
 * code.
 */
export function run(cmd, args = [], opts = {}) {
  return new Promise((res, rej) => {
    const t0 = now();
    const p = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
    });
    children.add(p);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => {
      stdout += d;
    });
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = opts.timeoutMs ? setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs) : null;
    p.on('error', rej);
    p.on('close', (code, signal) => {
      const secs = now() - t0;
      children.delete(p);
      if (timer) clearTimeout(timer);
      res({ code: code ?? (signal ? 128 : -1), signal, stdout, stderr, secs });
    });
  });
}

export const sh = (script, opts) => run('bash', ['-c', script], opts);

/** Like run() but throws with the output when the command fails. */
export async function must(cmd, args = [], opts = {}) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${(r.stderr || r.stdout).slice(-2000)}`);
  return r;
}

function waitForLine(proc, re, what, timeoutMs) {
  return new Promise((res, rej) => {
    let out = '';
    const t = setTimeout(
      () => rej(new Error(`${what} not ready after ${timeoutMs} ms:\n${out.slice(-3000)}`)),
      timeoutMs,
    );
    const on = (d) => {
      out += d;
      const m = re.exec(out);
      if (m) {
        clearTimeout(t);
        proc.stdout.off('data', on);
        res(m);
      }
    };
    proc.stdout.on('data', on);
    proc.stderr.on('data', (d) => {
      out += d;
    });
    proc.on('exit', (code) => {
      clearTimeout(t);
      rej(new Error(`${what} exited with ${code} before ready:\n${out.slice(-3000)}`));
    });
  });
}

async function stopProc(proc, timeoutMs = 60_000) {
  if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
  const exited = new Promise((r) => proc.once('exit', (c) => r(c)));
  proc.kill('SIGTERM');
  const code = await Promise.race([exited, sleep(timeoutMs).then(() => 'timeout')]);
  if (code === 'timeout') {
    proc.kill('SIGKILL');
    await exited;
    return null;
  }
  return code;
}

/** `pan123fs emulator` in a subprocess. */
export async function startEmulator({ dataDir, seed, rateLimitScale = 1, sliceSize, logFile, extraArgs = [] }) {
  const args = [
    BIN,
    'emulator',
    '--listen',
    '127.0.0.1:0',
    '--data-dir',
    dataDir,
    '--rate-limit-scale',
    String(rateLimitScale),
    ...extraArgs,
  ];
  if (seed) args.push('--seed', seed);
  if (sliceSize) args.push('--slice-size', String(sliceSize));
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  if (logFile) {
    const f = createWriteStream(logFile);
    proc.stdout.pipe(f);
    proc.stderr.pipe(f);
  }
  const m = await waitForLine(proc, /listening on (http:\/\/127\.0\.0\.1:\d+)/, 'emulator', 120_000);
  const base = m[1];
  return {
    proc,
    pid: proc.pid,
    base,
    async stop() {
      await stopProc(proc, 20_000);
      children.delete(proc);
    },
  };
}

/** `pan123fs mount` in a subprocess; resolves once it printed "(ready)". */
export async function startDaemon({ base, mnt, cacheDir, stateDir, args = [], logFile, nodeArgs = [] }) {
  const argv = [
    ...nodeArgs,
    BIN,
    'mount',
    mnt,
    '--api-base',
    base,
    '--client-id',
    CLIENT_ID,
    '--cache-dir',
    cacheDir,
    '--state-dir',
    stateDir,
    '--log-level',
    'info',
    ...args,
  ];
  const proc = spawn(process.execPath, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PAN123_CLIENT_SECRET: CLIENT_SECRET },
  });
  children.add(proc);
  mounts.add(mnt);
  let log = '';
  const keep = (d) => {
    if (log.length < 4 << 20) log += d;
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  if (logFile) {
    const f = createWriteStream(logFile);
    proc.stdout.pipe(f);
    proc.stderr.pipe(f);
  }
  await waitForLine(proc, /\(ready\)/, 'daemon', 60_000);
  return {
    proc,
    pid: proc.pid,
    mnt,
    log: () => log,
    async stop() {
      await stopProc(proc, 120_000);
      children.delete(proc);
      await run('fusermount', ['-uz', mnt]);
      mounts.delete(mnt);
    },
  };
}

/** Kills whatever we started (by pid) and lazily unmounts our mounts; used on error and on SIGINT. */
/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/** A fresh `serve webdav` on a free port with `cacheDir`: {proc, port, stop()} once it printed "(ready)";
 * stop() ends it and removes cacheDir. */
export async function startWebdav({ base, cacheDir, stateDir }) {
  const port = await freePort();
  const argv = [BIN, 'serve', 'webdav', '--webdav', `127.0.0.1:${port}`, '--api-base', base];
  argv.push('--client-id', CLIENT_ID, '--cache-dir', cacheDir, '--state-dir', stateDir, '--log-level', 'warn');
  const proc = spawn(process.execPath, argv, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, PAN123_CLIENT_SECRET: CLIENT_SECRET },
  });
  children.add(proc);
  const stop = async () => {
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
    children.delete(proc);
    await rm(cacheDir, { recursive: true, force: true });
  };
  try {
    await new Promise((resolve, reject) => {
      let seen = '';
      proc.stdout.on('data', (d) => {
        seen += d;
        if (seen.includes('(ready)')) resolve();
      });
      proc.once('exit', (c) => reject(new Error(`serve webdav exited with ${c}: ${seen}`)));
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { proc, port, stop };
}

export async function cleanupAll() {
  for (const p of children) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const m of mounts) await run('fusermount', ['-uz', m]).catch(() => undefined);
}

// ---- emulator admin API ----

async function adminCall(base, path, method = 'GET', body) {
  const res = await fetch(`${base}/__emulator/${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : undefined,
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`admin ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}
export const admin = {
  counters: (base) => adminCall(base, 'counters'),
  reset: (base) => adminCall(base, 'counters/reset', 'POST', {}),
  tree: (base) => adminCall(base, 'tree'),
  config: (base, cfg) => adminCall(base, 'config', 'POST', cfg),
  faults: (base, rules) => adminCall(base, 'faults', 'POST', rules),
};

/** Polls the emulator tree until `path` is a live file with `md5`; returns the time it was seen (now()). */
export async function waitCommitted(base, path, md5, { intervalMs = 100, timeoutMs = 900_000 } = {}) {
  const t0 = now();
  for (;;) {
    const tree = await admin.tree(base);
    const hit = tree.find((e) => e.path === path && e.type === 'file' && !e.trashed && e.md5 === md5);
    if (hit) return { at: now(), epochMs: Date.now(), entry: hit };
    if (now() - t0 > timeoutMs / 1000) throw new Error(`${path} not committed with md5 ${md5} after ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

// ---- /proc sampling ----

export function procStatus(pid) {
  const txt = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number((new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(txt) || [])[1] || 0);
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM'), threads: kb('Threads') };
}

/** [user, system] CPU seconds from a /proc stat file (utime, stime in clock ticks; USER_HZ = 100 on Linux). */
function statCpu(path) {
  const f = readFileSync(path, 'utf8').split(') ')[1].split(' ');
  return [Number(f[11]) / 100, Number(f[12]) / 100];
}

/** CPU seconds (user + system, all threads) the process has used so far. */
export function procCpu(pid) {
  const [u, s] = statCpu(`/proc/${pid}/stat`);
  return u + s;
}

/**
 * CPU seconds split by where they ran: the main thread (JavaScript, the sockets, the event loop) and every
 * other thread (libfuse's workers writing replies into the page cache, libuv's pool, V8's helpers),
 * each as user and system time. Others = the whole process minus the main thread, so threads that
 * exited in between still count.
 */
export function procCpuSplit(pid) {
  const [u, s] = statCpu(`/proc/${pid}/stat`);
  const [mu, ms] = statCpu(`/proc/${pid}/task/${pid}/stat`);
  return { mainUser: mu, mainSys: ms, otherUser: u - mu, otherSys: s - ms };
}

/** Samples VmRSS every `ms` until stop(); returns {maxRssMiB, hwmMiB, startRssMiB}. */
export function rssSampler(pid, ms = 50) {
  const start = procStatus(pid);
  let max = start.rssKb;
  const t = setInterval(() => {
    try {
      max = Math.max(max, procStatus(pid).rssKb);
    } catch {
      /* exited */
    }
  }, ms);
  return {
    stop() {
      clearInterval(t);
      let hwm = 0;
      try {
        const s = procStatus(pid);
        max = Math.max(max, s.rssKb);
        hwm = s.hwmKb;
      } catch {
        /* exited */
      }
      return { startRssMiB: start.rssKb / 1024, maxRssMiB: max / 1024, hwmMiB: hwm / 1024 };
    },
  };
}

/** One line on machine load: load averages and CPU pressure (PSI some avg10) when available. */
export function loadNote() {
  let la = '?';
  let psi = '';
  try {
    la = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    /* none */
  }
  try {
    psi = ` cpu-psi(avg10)=${/avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))[1]}%`;
  } catch {
    /* none */
  }
  return `load ${la}${psi}`;
}

export function cpuPsi() {
  try {
    return Number(/avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))[1]);
  } catch {
    return NaN;
  }
}

// ---- statistics and formatting ----

/** best = max for rates (higherIsBetter) or min for times; median of the rest. */
export function summary(xs, higherIsBetter = true) {
  const s = [...xs].sort((a, b) => a - b);
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { best: higherIsBetter ? s[s.length - 1] : s[0], median, n: s.length, all: xs };
}

export const mbps = (bytes, secs) => bytes / secs / 1e6;
export const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : String(x));
export const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : String(x));
export const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : String(x));
export const f3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : String(x));
