// pan123fs benchmarks (issues 3, 4, 6): `npm run bench` (scripts/bench.sh builds dist/ and the C helpers,
// then runs this). BENCH_QUICK=1 for a smaller variant. Every figure below is measured in this run.
//
// Topology: this process only orchestrates. The emulator and each daemon are subprocesses; the mount is
// touched only by child processes (dd, cp, ls, md5sum, curl and the C programs in bench/*.c).
//
// Env: BENCH_QUICK=1 (256 MiB files, 2,000-entry dir, 1 write round), BENCH_DIR (work dir, default a new
// dir under /tmp), BENCH_KEEP=1 (keep it), BENCH_BIN (where scripts/bench.sh put the C programs),
// BENCH_SAVE=0/1 (write docs/BENCHMARKS.md; default: 1 for a full run, 0 for a quick one),
// BENCH_ONLY=read,fuse,write,wan,webdav,load (run a subset), BENCH_WAN_SEQ_MIB (the WAN section's sequential
// read size), BENCH_WAN_PROFILES=fast,slow (which WAN profiles), BENCH_LOAD_SECS (the load section's length).

import { spawn } from 'node:child_process';
import { existsSync, statfsSync } from 'node:fs';
import { link, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GiB,
  MiB,
  ROOT,
  admin,
  cleanupAll,
  cpuPsi,
  freePort,
  f0,
  f1,
  f2,
  f3,
  loadNote,
  mbps,
  must,
  now,
  procCpu,
  procCpuSplit,
  procStatus,
  rssSampler,
  run,
  sleep,
  startDaemon,
  startEmulator,
  startWebdav,
  summary,
  waitCommitted,
} from './lib.mjs';
import { benchLoad } from './load.mjs';
import { benchWan } from './wan.mjs';

const QUICK = process.env.BENCH_QUICK === '1';
const ONLY = new Set((process.env.BENCH_ONLY || 'read,fuse,write,wan,webdav,load').split(','));
const SAVE = process.env.BENCH_SAVE ? process.env.BENCH_SAVE === '1' : !QUICK;
const CFG = {
  readSize: QUICK ? 256 * MiB : GiB,
  rssStreamSize: QUICK ? 0 : 2 * GiB, // 0: peak RSS is taken from the read runs
  dirEntries: QUICK ? 2000 : 10_000,
  writeSize: QUICK ? 256 * MiB : GiB,
  writeRounds: QUICK ? 1 : 2,
  readRuns: 3,
  bursts: 200,
  burstReaders: 64,
  smallFiles: 1000,
  smallSize: 4096,
};
const BINDIR = process.env.BENCH_BIN || join(tmpdir(), 'pan123fs-bench-bin');
const C = {
  statloop: join(BINDIR, 'statloop'),
  parread: join(BINDIR, 'parread'),
  mkfiles: join(BINDIR, 'mkfiles'),
  seekread: join(BINDIR, 'seekread'),
  pipefs: join(BINDIR, 'pipefs'),
};

const rows = []; // final table: {metric, measured, target, verdict}
const lines = []; // everything printed, for docs/BENCHMARKS.md
function out(s = '') {
  lines.push(s);
  process.stdout.write(`${s}\n`);
}
function row(metric, measured, target, verdict) {
  rows.push({ metric, measured, target, verdict });
  out(`  => ${verdict.padEnd(4)} ${metric}: ${measured} (target ${target})`);
}
const verdict = (ok) => (ok ? 'PASS' : 'FAIL');
const fmtS = (s) => `best ${f2(s.best)} / median ${f2(s.median)}`;

/**
 * Before a timed step: flushes dirty pages (`sync`: the previous steps leave gigabytes of them, and the
 * kernel then throttles whichever process writes next), then waits (≤ 5 s) for CPU pressure to calm
 * down. Returns the note to print.
 *
 * `warm`: files the step reads. The write steps pass their source files: the page cache is dropped
 * (as root) and those files are read back, so every write step starts from the same memory state. On
 * this VM, writing into page-cache pages the guest has not touched recently costs 2–3× more kernel time
 * (copy_folio_from_iter_atomic, seen with perf: first touch of guest memory), which made the same `cp`
 * of 1 GiB take 2.2 s or 5 s depending on what earlier steps had left in memory.
 */
/** Writes `bytes` into tmpfs and frees them (when /dev/shm has room), so the next allocations get pages
 * the host still backs; see the nginx step. */
async function touchPages(bytes) {
  if (!existsSync('/dev/shm') || statfsFree('/dev/shm') < bytes + GiB) return;
  const f = join('/dev/shm', `pan123fs-touch-${process.pid}`);
  await must('bash', ['-c', `head -c ${bytes} /dev/zero > '${f}'; rm -f '${f}'`]);
}

/** System seconds to write 1 GiB into new tmpfs pages, and to overwrite the same pages (null without room). */
async function freshPageCost() {
  if (!existsSync('/dev/shm') || statfsFree('/dev/shm') < 2 * GiB) return null;
  const f = join('/dev/shm', `pan123fs-fresh-${process.pid}`);
  const sys = async (cmd) => {
    const r = await must('bash', ['-c', `TIMEFORMAT=%S; { time (${cmd}); } 2>&1`]);
    return Number(r.stdout.trim().split('\n').at(-1));
  };
  try {
    const fresh = await sys(`head -c ${GiB} /dev/zero > '${f}'`);
    const over = await sys(`dd if=/dev/zero of='${f}' bs=1M count=1024 conv=notrunc status=none`);
    return { fresh, over };
  } finally {
    await rm(f, { force: true });
  }
}

function statfsFree(path) {
  const st = statfsSync(path);
  return st.bavail * st.bsize;
}

async function settle(warm = [], drop = warm.length > 0) {
  await must('sync');
  if (drop && process.getuid?.() === 0) {
    await must('bash', ['-c', 'echo 3 > /proc/sys/vm/drop_caches']);
    for (const f of warm) await must('bash', ['-c', `cat "${f}" > /dev/null`]);
  }
  for (let i = 0; i < 10 && cpuPsi() > 20; i++) await sleep(500);
  return loadNote();
}

function parseKv(s) {
  const o = {};
  for (const m of s.matchAll(/(\w+)=([\d.]+)/g)) o[m[1]] = Number(m[2]);
  return o;
}

async function genFile(path, size, seed) {
  // AES-CTR keystream: incompressible, deterministic per seed, ~1 GB/s.
  const key = seed.toString(16).padStart(32, '0');
  await must('bash', [
    '-c',
    `openssl enc -aes-128-ctr -K ${key} -iv 0 -in /dev/zero 2>/dev/null | head -c ${size} > '${path}'`,
  ]);
}

async function md5Of(path) {
  const r = await must('md5sum', [path]);
  return { md5: r.stdout.split(' ')[0], secs: r.secs };
}

const W = {}; // work dir layout

// ------------------------------------------------------------------------------------------------ setup

async function setup() {
  W.dir = process.env.BENCH_DIR || (await mkdtemp(join(tmpdir(), 'pan123fs-bench-')));
  await mkdir(W.dir, { recursive: true });
  W.seed = join(W.dir, 'seed');
  W.data = join(W.dir, 'data');
  for (const d of [W.seed, W.data, join(W.seed, 'dir'), join(W.seed, 'small64')]) await mkdir(d, { recursive: true });
  const t0 = now();
  if (ONLY.has('read') || ONLY.has('fuse') || ONLY.has('webdav')) {
    await genFile(join(W.seed, 'big.bin'), CFG.readSize, 1);
    if (CFG.rssStreamSize && ONLY.has('read')) await genFile(join(W.seed, 'big2g.bin'), CFG.rssStreamSize, 2);
    for (let i = 0; i < CFG.dirEntries; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, CFG.dirEntries - i) }, (_, k) =>
          writeFile(join(W.seed, 'dir', `e${String(i + k).padStart(5, '0')}.txt`), `entry ${i + k}\n`),
        ),
      );
    }
    await genFile(join(W.data, 'small64.src'), 64 * 65536, 3);
    await must('split', ['-b', '65536', '-d', '-a', '2', join(W.data, 'small64.src'), join(W.seed, 'small64', 's')]);
  }
  if (ONLY.has('write')) {
    for (let r = 1; r <= CFG.writeRounds; r++) {
      await genFile(join(W.data, `client-${r}.bin`), CFG.writeSize, 100 + r);
      await genFile(join(W.data, `mount-${r}.bin`), CFG.writeSize, 200 + r);
    }
  }
  out(`setup: test data in ${W.dir} (${f1(now() - t0)} s)`);
}

// ------------------------------------------------------------------------------------------------ read

/**
 * `curl` of `url` (extra args, e.g. a Range) into `dest`: MB/s, after checking the status and that
 * exactly CFG.readSize bytes arrived.
 */
async function curlRate(url, { args = [], dest = '/dev/null', status = '200' } = {}) {
  const r = await must('curl', ['-s', '-o', dest, ...args, '-w', '%{http_code} %{size_download} %{time_total}', url]);
  const [code, size, secs] = r.stdout.trim().split(' ');
  if (code !== status || Number(size) !== CFG.readSize)
    throw new Error(`curl ${dest === '/dev/null' ? '' : `into ${dest}`}: HTTP ${code}, ${size} bytes`);
  return mbps(CFG.readSize, Number(secs));
}

/** 1 untimed warm-up (unless `warmUp` is false) + CFG.readRuns timed calls of `once`, each after settle(). */
async function timedRuns(once, warmUp = true) {
  if (warmUp) await once();
  const rates = [];
  for (let i = 0; i < CFG.readRuns; i++) {
    await settle();
    rates.push(await once());
  }
  return summary(rates);
}

async function benchRead() {
  out('');
  if (!ONLY.has('read')) return benchReadEmulator(benchFuse);
  out(
    `## 1. Read (issue 3): ${CFG.readSize / MiB} MiB file, ${CFG.dirEntries.toLocaleString('en-US')}-entry directory`,
  );
  const stateDir = join(W.dir, 'state-read');
  await mkdir(stateDir, { recursive: true });
  const emu = await startEmulator({
    dataDir: join(W.dir, 'emu-read'),
    seed: W.seed,
    rateLimitScale: 1,
    logFile: join(W.dir, 'emu-read.log'),
  });
  try {
    const tree = await admin.tree(emu.base);
    const big = tree.find((e) => e.path === '/big.bin');
    const big2 = tree.find((e) => e.path === '/big2g.bin');
    if (!big) throw new Error('seeded /big.bin not in the emulator tree');

    // (a) direct ranged download of the download_info URL with curl: 1 warm-up + N timed
    const url = (
      await must(process.execPath, [join(ROOT, 'bench', 'client.mjs'), 'download-url', emu.base, stateDir, big.id])
    ).stdout.trim();
    const curlS = await timedRuns(() => curlRate(url, { args: ['-r', `0-${CFG.readSize - 1}`], status: '206' }));
    out(
      `direct ranged download (curl -r 0-${CFG.readSize - 1} of the download_info URL): ` +
        `MB/s ${fmtS(curlS)}  [${loadNote()}]`,
    );

    // (b) cold sequential read through the mount: a fresh daemon and an empty cache for every run
    const mnt = join(W.dir, 'mnt-read');
    await mkdir(mnt, { recursive: true });
    const readRates = [];
    const rss = [];
    const fetched = [];
    // i = -1: an untimed warm-up run (curl has one too): the first mount of a bench touches fresh guest
    // memory for the kernel's page cache and the daemon, which on this VM costs up to 2x the CPU
    for (let i = -1; i < CFG.readRuns; i++) {
      const d = await startDaemon({ base: emu.base, mnt, cacheDir: join(W.dir, `cache-read-${i}`), stateDir });
      try {
        await must('stat', [join(mnt, 'big.bin')]);
        const note = await settle();
        const c0 = await admin.counters(emu.base);
        const s = rssSampler(d.pid);
        const cpu0 = [procCpu(d.pid), procCpu(emu.pid)];
        const r = await must('dd', [`if=${join(mnt, 'big.bin')}`, 'of=/dev/null', 'bs=1M']);
        const cpu1 = [procCpu(d.pid), procCpu(emu.pid)];
        const m = s.stop();
        const c1 = await admin.counters(emu.base);
        const rate = mbps(CFG.readSize, r.secs);
        if (i < 0) {
          out(
            `  mount warm-up run (untimed): ${f0(rate)} MB/s, ` +
              `CPU s per GiB: daemon ${f2(((cpu1[0] - cpu0[0]) * GiB) / CFG.readSize)}`,
          );
          continue;
        }
        readRates.push(rate);
        rss.push(m.maxRssMiB);
        fetched.push((c1.bytesServed - c0.bytesServed) / CFG.readSize);
        out(
          `  mount cold run ${i + 1}: ${f0(rate)} MB/s (${f2(r.secs)} s), ` +
            `daemon RSS start ${f0(m.startRssMiB)} / peak ${f0(m.maxRssMiB)} MiB, ` +
            `fetched ${f2(fetched.at(-1))}x the file, ` +
            `CPU s per GiB: daemon ${f2(((cpu1[0] - cpu0[0]) * GiB) / CFG.readSize)}, ` +
            `emulator ${f2(((cpu1[1] - cpu0[1]) * GiB) / CFG.readSize)}  [${note}]`,
        );
      } finally {
        await d.stop();
        await rm(join(W.dir, `cache-read-${i}`), { recursive: true, force: true });
      }
    }
    const readS = summary(readRates);
    out(`mount cold dd bs=1M: MB/s ${fmtS(readS)}`);
    const ratio = readS.median / curlS.median;
    row(
      'read: mount cold dd / direct curl (median MB/s)',
      `${f2(ratio)} (${f0(readS.median)} / ${f0(curlS.median)} MB/s; best ${f0(readS.best)} / ${f0(curlS.best)})`,
      '>= 0.8',
      verdict(ratio >= 0.8),
    );

    // (a2) the ceiling for any FUSE client here: a minimal C filesystem fed by curl of the same link
    await benchReadCeiling(url, curlS, readS);

    // (b2) the client side alone: the same bytes from nginx (sendfile), for curl, the mount and rclone mount
    await benchReadVsStatic(stateDir, mnt);

    // (c) peak RSS while streaming 2 GiB (quick: the read runs above)
    let peakMB;
    let streamNote;
    if (CFG.rssStreamSize && big2) {
      const d = await startDaemon({ base: emu.base, mnt, cacheDir: join(W.dir, 'cache-rss'), stateDir });
      try {
        await must('stat', [join(mnt, 'big2g.bin')]);
        const s = rssSampler(d.pid);
        const r = await must('dd', [`if=${join(mnt, 'big2g.bin')}`, 'of=/dev/null', 'bs=1M']);
        const m = s.stop();
        peakMB = (m.maxRssMiB * MiB) / 1e6;
        streamNote = `${CFG.rssStreamSize / GiB} GiB stream`;
        out(
          `  ${streamNote}: ${f0(mbps(CFG.rssStreamSize, r.secs))} MB/s, ` +
            `daemon RSS peak ${f0(m.maxRssMiB)} MiB (VmHWM ${f0(m.hwmMiB)} MiB)`,
        );
      } finally {
        await d.stop();
        await rm(join(W.dir, 'cache-rss'), { recursive: true, force: true });
      }
    } else {
      peakMB = (Math.max(...rss) * MiB) / 1e6;
      streamNote = `${CFG.readSize / MiB} MiB stream (quick; target is for 2 GiB)`;
    }
    row(`read: daemon peak RSS, ${streamNote}`, `${f0(peakMB)} MB`, '< 300 MB', verdict(peakMB < 300));

    // (d) ls -l of the big directory: cold at the free-tier list limit, then warm; vs a local directory
    const dirMnt = join(mnt, 'dir');
    const d = await startDaemon({ base: emu.base, mnt, cacheDir: join(W.dir, 'cache-ls'), stateDir });
    try {
      await must('stat', [mnt]);
      await sleep(2000); // let the emulator's file_list bucket refill after the daemon's start-up listing
      const c0 = await admin.counters(emu.base);
      const cold = await must('bash', ['-c', `ls -l '${dirMnt}' | wc -l`]);
      const c1 = await admin.counters(emu.base);
      const lines = Number(cold.stdout.trim());
      if (lines !== CFG.dirEntries + 1)
        throw new Error(`ls -l listed ${lines - 1} entries, expected ${CFG.dirEntries}`);
      const pages = (c1.requests.file_list ?? 0) - (c0.requests.file_list ?? 0);
      const floor = CFG.dirEntries / 100 / 5;
      out(
        `ls -l cold: ${f2(cold.secs)} s, ` +
          `${pages} file_list calls (floor ${CFG.dirEntries / 100} pages / 5 per s = ${f1(floor)} s), ` +
          `rate-limited answers ${(c1.rateLimited ?? 0) - (c0.rateLimited ?? 0)}`,
      );
      row(
        `ls -l ${CFG.dirEntries}-entry dir, cold, free-tier limits / floor`,
        `${f2(cold.secs / floor)} (${f2(cold.secs)} s vs ${f1(floor)} s)`,
        '<= 1.1',
        verdict(cold.secs / floor <= 1.1),
      );

      const lsTimes = async (dir, n) => {
        const xs = [];
        for (let i = 0; i < n; i++) xs.push((await must('bash', ['-c', `ls -l '${dir}' > /dev/null`])).secs);
        return summary(xs, false);
      };
      const warm = await lsTimes(dirMnt, 5);
      const local = await lsTimes(join(W.seed, 'dir'), 5);
      out(`ls -l warm (back-to-back runs): s ${fmtS(warm)}; local dir: s ${fmtS(local)}  [${loadNote()}]`);
      const wr = warm.median / local.median;
      row(
        `ls -l ${CFG.dirEntries}-entry dir, warm / local dir (median)`,
        `${f2(wr)} (${f3(warm.median)} s vs ${f3(local.median)} s)`,
        '<= 2',
        verdict(wr <= 2),
      );
      await sleep(5500); // past the kernel's 5 s attr/entry timeout (the default): names come from the daemon's store
      const expired = await lsTimes(dirMnt, 1);
      out(
        `ls -l after the kernel attr/entry cache expired (daemon cache warm): ` +
          `${f3(expired.median)} s = ${f1(expired.median / local.median)}x local`,
      );
      row(
        'ls -l warm, kernel attr cache expired / local',
        `${f1(expired.median / local.median)} (${f3(expired.median)} s)`,
        'info',
        'info',
      );

      // (e) warm stat throughput (C loop): one path (kernel attr cache), 10k distinct paths, forced to the daemon
      const statRuns = async (args, n = 3) => {
        const xs = [];
        for (let i = 0; i < n; i++) {
          await settle();
          xs.push(parseKv((await must(C.statloop, args)).stdout).rate);
        }
        return summary(xs);
      };
      const one = await statRuns(['-t', '2', join(mnt, 'big.bin')]);
      const many = await statRuns(['-t', '2', '-d', dirMnt]);
      const forced = await statRuns(['-f', '-t', '2', join(mnt, 'big.bin')]);
      const localOne = await statRuns(['-t', '2', join(W.seed, 'big.bin')], 1);
      out(
        `warm stat ops/s: one path ${fmtS(one)}; ` +
          `${CFG.dirEntries} paths round robin ${fmtS(many)}; ` +
          `statx FORCE_SYNC (daemon getattr) ${fmtS(forced)}; local file ${f0(localOne.median)}  [${loadNote()}]`,
      );
      row(
        'warm stat, one path (kernel attr cache), ops/s',
        `${f0(one.median)} (local ${f0(localOne.median)})`,
        'info',
        'info',
      );
      row(`warm stat, ${CFG.dirEntries} distinct paths, ops/s`, f0(many.median), 'info', 'info');
      row(
        'warm statx FORCE_SYNC (every call reaches the daemon), ops/s',
        f0(forced.median),
        'info (fuse-native ceiling ~14k)',
        'info',
      );
    } finally {
      await d.stop();
    }
    if (ONLY.has('fuse')) await benchFuse(emu, stateDir, mnt);
  } finally {
    await emu.stop();
  }
}

/**
 * The ceiling for any FUSE mount on this machine: bench/pipefs.c, a minimal single-threaded libfuse 3
 * filesystem whose read() is answered straight from a pipe that `curl` of the same download link fills
 * (no cache, no JavaScript). Cold `dd bs=1M` through it, compared with curl alone and with our mount.
 * Its read-ahead is 256 KiB, the best of a sweep for one thread. Info rows; skipped if it did not build.
 */
/** CPU seconds of a process, 0 once it is gone (pgrep may list one that is exiting). */
function procCpuOr0(pid) {
  try {
    return procCpu(pid);
  } catch {
    return 0;
  }
}

/**
 * One cold `dd bs=1M` of /big.bin through bench/pipefs.c on `mnt`: fed by `curl url` through a pipe, or,
 * with url = null, from memory (PIPEFS_MEM: no network at all). `before` runs once the mount is up and
 * before the dd (the nginx step touches pages there). Returns MB/s and the CPU seconds per GiB of curl +
 * pipefs, read before the unmount; throws if it did not mount or dd read a different size.
 */
async function pipefsOnce(url, mnt, before = async () => {}) {
  // its own process group, so curl and pipefs both go if the unmount fails; paths and URL as arguments
  const conn = 'max_background=64,congestion_threshold=48';
  const p = spawn(
    'bash',
    url === null
      ? [
          '-c',
          'PIPEFS_MEM=1 PIPEFS_SIZE="$1" "$2" "$3" -f -s -o "$4"',
          'pipefs',
          String(CFG.readSize),
          C.pipefs,
          mnt,
          conn,
        ]
      : [
          '-c',
          'curl -sf "$1" | PIPEFS_SIZE="$2" "$3" "$4" -f -s -o "$5" 3<&0',
          'pipefs',
          url,
          String(CFG.readSize),
          C.pipefs,
          mnt,
          conn,
        ],
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  let stderr = '';
  p.stderr.on('data', (b) => {
    stderr += b;
  });
  const exited = new Promise((res) => p.on('exit', res));
  try {
    let up = false;
    for (let k = 0; k < 100 && !up && p.exitCode === null; k++) {
      up = (await run('mountpoint', ['-q', mnt])).code === 0;
      if (!up) await sleep(50);
    }
    if (!up) throw new Error(`pipefs did not mount: ${stderr.trim()}`);
    if (process.getuid?.() === 0)
      await must('bash', ['-c', 'echo 256 > "/sys/class/bdi/$(mountpoint -d "$1")/read_ahead_kb"', 'ra', mnt]);
    await before();
    const r = await must('dd', [`if=${join(mnt, 'big.bin')}`, 'of=/dev/null', 'bs=1M']);
    if (!r.stderr.includes(`${CFG.readSize} bytes`))
      throw new Error(`pipefs: dd read a different size: ${r.stderr.trim()}`);
    // CPU of curl + pipefs (the HTTP receive and the FUSE answers, as the daemon does both), per GiB; with
    // url = null bash may have exec'd pipefs itself, so count the shell too
    const kids = (await run('pgrep', ['-P', String(p.pid)])).stdout.split('\n').filter(Boolean);
    let cpu = procCpuOr0(p.pid);
    for (const k of kids) cpu += procCpuOr0(Number(k));
    return { rate: mbps(CFG.readSize, r.secs), cpu: (cpu * GiB) / CFG.readSize };
  } finally {
    await run('fusermount', ['-u', mnt]);
    const t = setTimeout(() => {
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, 5000);
    await exited;
    clearTimeout(t);
  }
}

async function benchReadCeiling(url, curlS, readS) {
  if (!existsSync(C.pipefs)) {
    out('read ceiling: skipped (bench/pipefs.c needs libfuse3-dev to build)');
    return;
  }
  const mnt = join(W.dir, 'mnt-ceiling');
  await mkdir(mnt, { recursive: true });
  const once = async () => {
    const x = await pipefsOnce(url, mnt);
    cpus.push(x.cpu);
    return x.rate;
  };
  const cpus = [];
  const s = await timedRuns(once);
  cpus.shift(); // the warm-up run
  out(
    `read ceiling: minimal C FUSE client (bench/pipefs.c: curl -> pipe -> libfuse, 1 thread), ` +
      `cold dd bs=1M: MB/s ${fmtS(s)}; CPU s per GiB (curl + pipefs): ${cpus.map(f2).join(', ')}`,
  );
  row(
    'read ceiling: minimal C FUSE client, CPU s per GiB (curl + pipefs, median)',
    f2(summary(cpus).median),
    'info (the daemon target: <= 0.8)',
    'info',
  );
  row(
    'read ceiling: minimal C FUSE client / direct curl (median MB/s)',
    `${f2(s.median / curlS.median)} (${f0(s.median)} MB/s)`,
    'info',
    'info',
  );
  row(
    'read ceiling: mount / minimal C FUSE client (median MB/s)',
    f2(readS.median / s.median),
    'info (>= 1: as fast)',
    'info',
  );
}

/**
 * Sequential cold read of the same file served by nginx (sendfile: almost no server CPU) instead of the
 * emulator's CDN, which costs ~1-1.5 CPU-s per GiB on a 2-core box and so takes CPU from whichever
 * client runs. Measures curl, the mount (emulator started with --external-cdn) and, when installed,
 * rclone mount (its http backend on the same nginx), so the ratio to beat is set by a mature FUSE
 * client on this machine. Skipped, with the command to run, without nginx. Info rows only.
 */
async function benchReadVsStatic(_stateDir, mnt) {
  const has = async (cmd) => (await run('bash', ['-c', `command -v ${cmd}`])).code === 0;
  if (process.env.BENCH_NO_COMPARE === '1' || !(await has('nginx'))) {
    out('read vs a static server: skipped (needs nginx; as root `npm run bench` installs nginx-light and rclone)');
    return;
  }
  const dir = join(W.dir, 'cmp');
  await mkdir(join(dir, 'seed'), { recursive: true });
  await link(join(W.seed, 'big.bin'), join(dir, 'seed', 'big.bin')).catch(async () =>
    must('cp', [join(W.seed, 'big.bin'), join(dir, 'seed', 'big.bin')]),
  );
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const emu = await startEmulator({
    dataDir: join(dir, 'emu'),
    seed: join(dir, 'seed'),
    rateLimitScale: 1,
    logFile: join(dir, 'emu.log'),
    extraArgs: ['--external-cdn', origin],
  });
  const root = process.getuid?.() === 0;
  await writeFile(
    join(dir, 'nginx.conf'),
    `${root ? 'user root; ' : ''}worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/nginx-error.log;
events { worker_connections 256; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000; client_body_temp_path ${dir}/nginx-tmp;
  server { listen 127.0.0.1:${port}; root ${dir}/emu/blobs; autoindex on; } }
`,
  );
  await must('nginx', ['-c', join(dir, 'nginx.conf')]);
  const rmnt = join(dir, 'rclone-mnt');
  await mkdir(rmnt, { recursive: true });
  try {
    const big = (await admin.tree(emu.base)).find((e) => e.path === '/big.bin');
    const url = (
      await must(process.execPath, [
        join(ROOT, 'bench', 'client.mjs'),
        'download-url',
        emu.base,
        join(dir, 'state'),
        big.id,
      ])
    ).stdout.trim();
    if (!url.startsWith(`${origin}/`)) throw new Error('the emulator did not hand out an --external-cdn link');
    const curlS = await timedRuns(() => curlRate(url));
    // the same download written into tmpfs: what merely placing the bytes in fresh page-cache memory
    // costs (every FUSE mount's reads fill the page cache; curl to /dev/null stores nothing)
    let shmS = null;
    if (existsSync('/dev/shm')) {
      const shm = join('/dev/shm', `pan123fs-bench-${process.pid}`);
      shmS = await timedRuns(() => curlRate(url, { dest: shm }).finally(() => rm(shm, { force: true })), false);
    }
    // This VM's balloon reports freed pages to the host, so a first write to a page the guest freed
    // earlier faults on the host (docs/READ-PATH.md, eleventh session). Every FUSE read writes its replies
    // into new page-cache pages, and which pages it gets made the same daemon's CPU swing 0.3 → 2 s/GiB.
    // Touching 2 GiB of tmpfs just before each dd (both mounts) hands the read pages the host backs.
    const fresh = await freshPageCost();
    if (fresh) {
      out(
        `  this VM: writing 1 GiB into new tmpfs pages ${f2(fresh.fresh)} sys-s, over the same pages ${f2(fresh.over)}`,
      );
      row(
        'read vs nginx: first write to new pages / overwrite (sys-s per GiB)',
        `${f2(fresh.fresh)} / ${f2(fresh.over)}`,
        'info',
        'info',
      );
    }
    const ddRun = async (path, pid) => {
      const note = await settle();
      await touchPages(2 * GiB);
      const s0 = procCpuSplit(pid);
      const r = await must('dd', [`if=${path}`, 'of=/dev/null', 'bs=1M']);
      const s1 = procCpuSplit(pid);
      const per = (k) => ((s1[k] - s0[k]) * GiB) / CFG.readSize;
      const split = { mu: per('mainUser'), ms: per('mainSys'), ou: per('otherUser'), os: per('otherSys') };
      return { rate: mbps(CFG.readSize, r.secs), cpu: split.mu + split.ms + split.ou + split.os, split, note };
    };
    const ours = [];
    for (let i = -1; i < CFG.readRuns; i++) {
      // i = -1: untimed warm-up, as for curl
      const d = await startDaemon({
        base: emu.base,
        mnt,
        cacheDir: join(dir, `cache-${i}`),
        stateDir: join(dir, 'state'),
      });
      try {
        await must('stat', [join(mnt, 'big.bin')]);
        const x = await ddRun(join(mnt, 'big.bin'), d.pid);
        if (i >= 0) ours.push(x);
      } finally {
        await d.stop();
        await rm(join(dir, `cache-${i}`), { recursive: true, force: true });
      }
    }
    const oursS = summary(ours.map((x) => x.rate));
    out(
      `read vs nginx (sendfile) serving the same blob: curl MB/s ${fmtS(curlS)}; ` +
        `mount cold dd MB/s ${fmtS(oursS)}, ` +
        `daemon CPU s/GiB ${ours.map((x) => f2(x.cpu)).join(', ')}  [${ours.at(-1).note}]`,
    );
    // where the daemon's CPU went: the main thread (JS, socket reads) vs the other threads (libfuse's
    // workers: the kernel copying each reply into the page cache), user + system, per GiB
    out(
      `  daemon CPU s/GiB by thread, user+sys: ${ours
        .map((x) => `main ${f2(x.split.mu)}+${f2(x.split.ms)}, others ${f2(x.split.ou)}+${f2(x.split.os)}`)
        .join('; ')}`,
    );
    const medOf = (f) => summary(ours.map(f)).median;
    row(
      'read vs nginx: daemon CPU s/GiB, main thread / other threads (median)',
      `${f2(medOf((x) => x.split.mu + x.split.ms))} / ${f2(medOf((x) => x.split.ou + x.split.os))}` +
        ` (total ${f2(medOf((x) => x.cpu))})`,
      'info (<= 0.8 total)',
      'info',
    );
    row(
      'read vs nginx: mount / curl (median MB/s)',
      `${f2(oursS.median / curlS.median)} (${f0(oursS.median)} / ${f0(curlS.median)} MB/s)`,
      'info',
      'info',
    );
    if (shmS) {
      out(`  curl of the same URL into tmpfs (/dev/shm): MB/s ${fmtS(shmS)}`);
      row(
        'read vs nginx: curl into tmpfs / curl to /dev/null (page-cache placement alone)',
        `${f2(shmS.median / curlS.median)} (${f0(shmS.median)} MB/s)`,
        'info',
        'info',
      );
      row('read vs nginx: mount / curl into tmpfs', f2(oursS.median / shmS.median), 'info', 'info');
    }
    // The same dd through the minimal C client (bench/pipefs.c) fed by curl of the same nginx URL, with the
    // same page touching: the CPU any FUSE client fed by HTTP spends here, and the rate it reaches on these
    // two CPUs (shared with nginx and dd). And pipefs from memory (no network): FUSE's own ceiling.
    let cS = null;
    const cRuns = [];
    if (existsSync(C.pipefs)) {
      const cmnt = join(dir, 'pipefs-mnt');
      await mkdir(cmnt, { recursive: true });
      const before = async () => {
        await settle();
        await touchPages(2 * GiB);
      };
      for (let i = -1; i < CFG.readRuns; i++) {
        const x = await pipefsOnce(url, cmnt, before);
        if (i >= 0) cRuns.push(x);
      }
      cS = summary(cRuns.map((x) => x.rate));
      const memRuns = [];
      for (let i = -1; i < CFG.readRuns; i++) {
        const x = await pipefsOnce(null, cmnt, before);
        if (i >= 0) memRuns.push(x);
      }
      const memS = summary(memRuns.map((x) => x.rate));
      const cCpu = summary(cRuns.map((x) => x.cpu)).median;
      out(
        `  minimal C FUSE client (pipefs fed by curl of the same URL): cold dd MB/s ${fmtS(cS)}, ` +
          `CPU s/GiB (curl + pipefs) ${cRuns.map((x) => f2(x.cpu)).join(', ')}; ` +
          `pipefs from memory (no network): MB/s ${fmtS(memS)}, CPU s/GiB ${memRuns.map((x) => f2(x.cpu)).join(', ')}`,
      );
      row(
        'read vs nginx: minimal C FUSE client, CPU s/GiB (curl + pipefs) / MB/s (median)',
        `${f2(cCpu)} / ${f0(cS.median)}`,
        'info (the daemon target: <= 0.8)',
        'info',
      );
      row(
        'read vs nginx: daemon CPU s/GiB / minimal C FUSE client (median)',
        f2(medOf((x) => x.cpu) / cCpu),
        'info (1 = as lean as C)',
        'info',
      );
      row('read vs nginx: mount / minimal C FUSE client (median MB/s)', f2(oursS.median / cS.median), 'info', 'info');
      row(
        'read vs nginx: FUSE from memory (pipefs, no network), MB/s / CPU s/GiB (median)',
        `${f0(memS.median)} / ${f2(summary(memRuns.map((x) => x.cpu)).median)}`,
        'info',
        'info',
      );
    }
    if (!(await has('rclone'))) {
      out('  rclone mount: skipped (not installed; as root `npm run bench` installs it)');
      return;
    }
    const rel = url.slice(origin.length + 1);
    const theirs = [];
    for (let i = -1; i < CFG.readRuns; i++) {
      // i = -1: untimed warm-up
      await must('rclone', ['mount', ':http:', rmnt, '--http-url', `${origin}/`, '--read-only', '--daemon']);
      try {
        let pid = 0;
        for (let k = 0; k < 100 && !pid; k++) {
          const m = await run('bash', ['-c', `mountpoint -q '${rmnt}' && pgrep -f 'rclone mount :http: ${rmnt}'`]);
          pid = m.code === 0 ? Number(m.stdout.trim().split('\n')[0]) : 0;
          if (!pid) await sleep(100);
        }
        if (!pid) throw new Error('rclone mount did not come up');
        await must('stat', [join(rmnt, rel)]);
        const x = await ddRun(join(rmnt, rel), pid);
        if (i >= 0) theirs.push(x);
      } finally {
        await run('fusermount', ['-u', rmnt]);
      }
    }
    const theirsS = summary(theirs.map((x) => x.rate));
    const ver = (await run('rclone', ['version'])).stdout.split('\n')[0];
    out(
      `  ${ver} mount (defaults, http backend on the same nginx): ` +
        `cold dd MB/s ${fmtS(theirsS)}, rclone CPU s/GiB ${theirs.map((x) => f2(x.cpu)).join(', ')}`,
    );
    row(
      'read vs nginx: rclone mount / curl (median MB/s)',
      `${f2(theirsS.median / curlS.median)} (${f0(theirsS.median)} MB/s)`,
      'info',
      'info',
    );
    row(
      'read vs nginx: pan123fs mount / rclone mount (median MB/s)',
      f2(oursS.median / theirsS.median),
      'info (>= 1: as fast)',
      'info',
    );
    // the ceiling of the ratio above: how far over rclone a minimal C client gets on the same two CPUs
    if (cS)
      row(
        'read vs nginx: minimal C FUSE client / rclone mount (median MB/s)',
        f2(cS.median / theirsS.median),
        'info (the ceiling of mount / rclone; target >= 2)',
        'info',
      );
  } finally {
    await run('bash', [
      '-c',
      `mountpoint -q '${rmnt}' && fusermount -u '${rmnt}'; kill $(cat '${dir}/nginx.pid') 2>/dev/null`,
    ]);
    await emu.stop();
  }
}

// ------------------------------------------------------------------------------------------------ FUSE

/** BENCH_ONLY without read: just the seeded emulator for the FUSE section. */
async function benchReadEmulator(fn) {
  const stateDir = join(W.dir, 'state-read');
  await mkdir(stateDir, { recursive: true });
  const mnt = join(W.dir, 'mnt-read');
  await mkdir(mnt, { recursive: true });
  const emu = await startEmulator({
    dataDir: join(W.dir, 'emu-read'),
    seed: W.seed,
    rateLimitScale: 1,
    logFile: join(W.dir, 'emu-read.log'),
  });
  try {
    await fn(emu, stateDir, mnt);
  } finally {
    await emu.stop();
  }
}

async function benchFuse(emu, stateDir, mnt) {
  out('');
  out(`## 3. FUSE (issue 6): getattr throughput around ${CFG.bursts} bursts of ${CFG.burstReaders} parallel reads`);
  const d = await startDaemon({ base: emu.base, mnt, cacheDir: join(W.dir, 'cache-fuse'), stateDir });
  try {
    const m = /"nativePatched":(true|false)/.exec(d.log());
    const kind = /"kind":"(source|prebuilt)"/.exec(d.log());
    out(
      `fuse-native binding: ${kind ? kind[1] : '?'}, native patch ${m ? m[1] : '?'} (from the daemon's start-up log)`,
    );
    const files = Array.from({ length: 64 }, (_, i) => join(mnt, 'small64', `s${String(i).padStart(2, '0')}`));
    await must('bash', ['-c', `cat ${files.map((f) => `'${f}'`).join(' ')} > /dev/null`]);
    const target = files[0];
    const statRuns = async (args, n = 3) => {
      const xs = [];
      for (let i = 0; i < n; i++) {
        await settle();
        xs.push(parseKv((await must(C.statloop, args)).stdout).rate);
      }
      return summary(xs);
    };
    const fuseThreads = async () => {
      const r = await must(process.execPath, [
        join(ROOT, 'bin', 'pan123fs.js'),
        'status',
        '--json',
        '--state-dir',
        stateDir,
        mnt,
      ]);
      return JSON.parse(r.stdout).fuseThreads?.allocated ?? '?';
    };
    const st0 = await fuseThreads();
    const th0 = procStatus(d.pid).threads;
    const before = await statRuns(['-f', '-t', '2', target]);
    const beforeCached = await statRuns(['-t', '1', target], 1);
    out(
      `before: statx FORCE_SYNC ops/s ${fmtS(before)}; ` +
        `cached stat ${f0(beforeCached.median)}; daemon threads ${th0}  [${loadNote()}]`,
    );
    let maxThreads = th0;
    const tt = setInterval(() => {
      try {
        maxThreads = Math.max(maxThreads, procStatus(d.pid).threads);
      } catch {
        /* gone */
      }
    }, 20);
    const b = await must(C.parread, [String(CFG.burstReaders), String(CFG.bursts), ...files]);
    clearInterval(tt);
    const bk = parseKv(b.stdout);
    out(
      `bursts: ${CFG.bursts} x ${CFG.burstReaders} readers in ${f2(bk.secs)} s ` +
        `(${f1((bk.secs / CFG.bursts) * 1000)} ms per burst), daemon threads peak ${maxThreads}`,
    );
    const after = await statRuns(['-f', '-t', '2', target]);
    const afterCached = await statRuns(['-t', '1', target], 1);
    const th1 = procStatus(d.pid).threads;
    out(
      `after:  statx FORCE_SYNC ops/s ${fmtS(after)}; ` +
        `cached stat ${f0(afterCached.median)}; daemon threads ${th1}  [${loadNote()}]`,
    );
    const r = after.median / before.median;
    row(
      `getattr ops/s after / before ${CFG.bursts} bursts of ${CFG.burstReaders} reads`,
      `${f2(r)} (${f0(after.median)} vs ${f0(before.median)})`,
      '>= 0.8 (unpatched leak: ~0.2)',
      verdict(r >= 0.8),
    );
    const st1 = await fuseThreads();
    const flat = typeof st1 === 'number' && st1 <= 2 * maxThreads;
    row(
      'fuse-native per-thread states (status --json)',
      `${st0} -> ${st1} (OS threads ${th0} -> peak ${maxThreads} -> ${th1}; unpatched: thousands)`,
      'flat (<= peak threads)',
      verdict(flat),
    );
    await benchServerCopy(emu, mnt);
  } finally {
    await d.stop();
    await rm(join(W.dir, 'cache-fuse'), { recursive: true, force: true });
  }
}

/**
 * Issue 14 item 4: `cp` of big.bin inside the mount (libfuse 3 copy_file_range) is a server-side copy: the
 * time of the whole `cp`, and what the emulator served and received meanwhile (both must be 0). 3 runs,
 * each copy removed after.
 */
async function benchServerCopy(emu, mnt) {
  const secs = [];
  let down = 0;
  let up = 0;
  for (let i = 0; i < 3; i++) {
    const dst = join(mnt, `cp-${i}.bin`);
    await settle();
    const c0 = await admin.counters(emu.base);
    const r = await must('cp', [join(mnt, 'big.bin'), dst]);
    const c1 = await admin.counters(emu.base);
    secs.push(r.secs);
    down += c1.bytesServed - c0.bytesServed;
    up += c1.sliceBytesReceived - c0.sliceBytesReceived + (c1.singleUploadBytes - c0.singleUploadBytes);
    await must('rm', [dst]);
  }
  const s = summary(secs, false);
  out(`cp inside the mount (server-side copy): s ${fmtS(s)}  [${loadNote()}]`);
  row(
    `cp of a ${CFG.readSize / MiB} MiB file inside the mount (copy_file_range), s`,
    `${f2(s.median)} (best ${f2(s.best)}); ${down} B downloaded, ${up} B uploaded`,
    '<= 2 s, 0 B down, 0 B up',
    verdict(s.median <= 2 && down === 0 && up === 0),
  );
}

// ------------------------------------------------------------------------------------------------ webdav

/**
 * Issue 17: GET of the whole file through `serve webdav` (curl, proxy mode) vs curl of its download_info
 * link directly. A fresh daemon and an empty cache per run, as for the mount's cold reads.
 */
async function benchWebdav() {
  out('');
  out(`## 4. WebDAV (issue 17): GET of a ${CFG.readSize / MiB} MiB file`);
  const stateDir = join(W.dir, 'state-webdav');
  await mkdir(stateDir, { recursive: true });
  const emu = await startEmulator({
    dataDir: join(W.dir, 'emu-webdav'),
    seed: W.seed,
    rateLimitScale: 1,
    logFile: join(W.dir, 'emu-webdav.log'),
  });
  try {
    const big = (await admin.tree(emu.base)).find((e) => e.path === '/big.bin');
    if (!big) throw new Error('seeded /big.bin not in the emulator tree');
    const url = (
      await must(process.execPath, [join(ROOT, 'bench', 'client.mjs'), 'download-url', emu.base, stateDir, big.id])
    ).stdout.trim();
    const curlS = await timedRuns(() => curlRate(url, { args: ['-r', `0-${CFG.readSize - 1}`], status: '206' }));
    out(`direct ranged download (curl of the download_info URL): MB/s ${fmtS(curlS)}  [${loadNote()}]`);
    const startDav = (cacheDir) => startWebdav({ base: emu.base, cacheDir, stateDir });
    const rates = [];
    for (let i = -1; i < CFG.readRuns; i++) {
      const dav = await startDav(join(W.dir, `cache-webdav-${i}`));
      try {
        const note = await settle();
        const cpu0 = procCpu(dav.proc.pid);
        const rate = await curlRate(`http://127.0.0.1:${dav.port}/big.bin`);
        const cpu = ((procCpu(dav.proc.pid) - cpu0) * GiB) / CFG.readSize;
        if (i < 0) {
          out(`  webdav warm-up run (untimed): ${f0(rate)} MB/s`);
          continue;
        }
        rates.push(rate);
        out(`  webdav cold run ${i + 1}: ${f0(rate)} MB/s, daemon CPU s per GiB ${f2(cpu)}  [${note}]`);
      } finally {
        await dav.stop();
      }
    }
    const davS = summary(rates);
    out(`webdav GET (curl of http://127.0.0.1:PORT/big.bin): MB/s ${fmtS(davS)}`);
    const ratio = davS.median / curlS.median;
    row(
      'webdav: GET through serve webdav / direct curl (median MB/s)',
      `${f2(ratio)} (${f0(davS.median)} / ${f0(curlS.median)} MB/s; best ${f0(davS.best)} / ${f0(curlS.best)})`,
      '>= 0.8',
      verdict(ratio >= 0.8),
    );
    // the ceiling (as pipefs.c is the FUSE one): a bare Node proxy piping the same link, same machine
    const proxyPort = await freePort();
    const proxy = spawn(process.execPath, [join(ROOT, 'bench', 'proxy.mjs'), url, String(proxyPort)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise((resolve, reject) => {
        proxy.stdout.on('data', (d) => String(d).includes('(ready)') && resolve());
        proxy.once('exit', (c) => reject(new Error(`bench/proxy.mjs exited with ${c}`)));
      });
      const proxyS = await timedRuns(() => curlRate(`http://127.0.0.1:${proxyPort}/big.bin`));
      out(`bare Node proxy of the link (bench/proxy.mjs): MB/s ${fmtS(proxyS)}  [${loadNote()}]`);
      row(
        'webdav ceiling: bare Node proxy / direct curl (median MB/s)',
        `${f2(proxyS.median / curlS.median)} (${f0(proxyS.median)} MB/s)`,
        'info',
        'info',
      );
      row(
        'webdav: serve webdav / bare Node proxy (median MB/s)',
        f2(davS.median / proxyS.median),
        'info (>= 1: as fast)',
        'info',
      );
    } finally {
      proxy.kill('SIGTERM');
    }
    // issue 17: a seek in the middle of a large file costs one ranged fetch (fresh daemon, cold cache)
    const dav = await startDav(join(W.dir, 'cache-webdav-seek'));
    try {
      const seeks = [];
      for (const at of [0.5, 0.3]) {
        const start = Math.floor((CFG.readSize * at) / 4096) * 4096 + 12345;
        const len = MiB;
        const c0 = await admin.counters(emu.base);
        const r = await must('curl', [
          '-s',
          '-o',
          '/dev/null',
          '-r',
          `${start}-${start + len - 1}`,
          '-w',
          '%{http_code} %{size_download}',
          `http://127.0.0.1:${dav.port}/big.bin`,
        ]);
        if (r.stdout.trim() !== `206 ${len}`) throw new Error(`webdav range: ${r.stdout}`);
        await sleep(500); // read-ahead the range started (if any) reaches the emulator's counters
        const c1 = await admin.counters(emu.base);
        const fetches = ['cdn_download', 'direct_link_download'].reduce(
          (n, k) => n + (c1.requests[k] ?? 0) - (c0.requests[k] ?? 0),
          0,
        );
        seeks.push({ at, fetches, bytes: c1.bytesServed - c0.bytesServed });
        out(
          `  webdav Range of 1 MiB at ${f0(start / MiB)} MiB: ${fetches} ranged fetch(es) at the CDN, ` +
            `${f2((c1.bytesServed - c0.bytesServed) / MiB)} MiB fetched`,
        );
      }
      row(
        'webdav: a 1 MiB Range in the middle of the file (cold), ranged fetches per seek',
        seeks.map((x) => `${x.fetches} (${f2(x.bytes / MiB)} MiB)`).join(', '),
        '1 each',
        verdict(seeks.every((x) => x.fetches === 1)),
      );
    } finally {
      await dav.stop();
    }
  } finally {
    await emu.stop();
  }
}

// ------------------------------------------------------------------------------------------------ write

async function benchWrite() {
  out('');
  out(`## 2. Write (issue 4): ${CFG.writeSize / MiB} MiB files, ${CFG.smallFiles} x ${CFG.smallSize / 1024} KiB files`);
  const stateDir = join(W.dir, 'state-write');
  await mkdir(stateDir, { recursive: true });
  const emu = await startEmulator({
    dataDir: join(W.dir, 'emu-write'),
    rateLimitScale: 1,
    logFile: join(W.dir, 'emu-write.log'),
  });
  const mnt = join(W.dir, 'mnt-write');
  await mkdir(mnt, { recursive: true });
  try {
    const md5s = {};
    const md5Times = [];
    for (let r = 1; r <= CFG.writeRounds; r++) {
      md5s[`client-${r}`] = (await md5Of(join(W.data, `client-${r}.bin`))).md5;
      md5s[`mount-${r}`] = (await md5Of(join(W.data, `mount-${r}.bin`))).md5;
    }
    for (let i = 0; i < 3; i++) {
      await settle([join(W.data, 'mount-1.bin')]);
      md5Times.push((await md5Of(join(W.data, 'mount-1.bin'))).secs);
    }
    const md5S = summary(md5Times, false);
    out(`md5sum of the ${CFG.writeSize / MiB} MiB file (page cache warm): s ${fmtS(md5S)}`);

    let d = await startDaemon({ base: emu.base, mnt, cacheDir: join(W.dir, 'cache-write'), stateDir });
    try {
      // (a) cp into the mount until committed vs the client alone (md5 + uploadFile)
      const clientT = [];
      const mountT = [];
      for (let r = 1; r <= CFG.writeRounds; r++) {
        let note = await settle([join(W.data, `client-${r}.bin`)]);
        // committed = first time the tree shows the md5 (polled like the mount's), timed from the client's start
        const [cl, seen] = await Promise.all([
          must(process.execPath, [
            join(ROOT, 'bench', 'client.mjs'),
            'upload',
            emu.base,
            stateDir,
            join(W.data, `client-${r}.bin`),
            `client-${r}.bin`,
          ]),
          waitCommitted(emu.base, `/client-${r}.bin`, md5s[`client-${r}`], { intervalMs: 100 }),
        ]);
        const cj = JSON.parse(cl.stdout);
        if (cj.instant || cj.md5 !== md5s[`client-${r}`]) throw new Error(`client upload: unexpected ${cl.stdout}`);
        const cSecs = (seen.epochMs - cj.startEpochMs) / 1000;
        clientT.push(cSecs);
        out(
          `  round ${r} client alone: committed after ${f2(cSecs)} s = ${f0(mbps(CFG.writeSize, cSecs))} MB/s ` +
            `(md5 ${f2(cj.md5Secs)} s, uploadFile returned after ${f2(cj.uploadSecs)} s more)  [${note}]`,
        );
        note = await settle([join(W.data, `mount-${r}.bin`)]);
        const t0 = now();
        const cp = await must('cp', [join(W.data, `mount-${r}.bin`), join(mnt, `mount-${r}.bin`)]);
        const { at } = await waitCommitted(emu.base, `/mount-${r}.bin`, md5s[`mount-${r}`], { intervalMs: 100 });
        mountT.push(at - t0);
        out(
          `  round ${r} cp into the mount: ` +
            `cp returned after ${f2(cp.secs)} s (${f0(mbps(CFG.writeSize, cp.secs))} MB/s), ` +
            `committed after ${f2(at - t0)} s = ${f0(mbps(CFG.writeSize, at - t0))} MB/s  [${note}]`,
        );
      }
      const cS = summary(clientT, false);
      const mS = summary(mountT, false);
      const wr = cS.median / mS.median;
      row(
        'write: cp until committed vs client alone (throughput, median)',
        `${f2(wr)} (${f2(mS.median)} s vs ${f2(cS.median)} s)`,
        '>= 0.8',
        verdict(wr >= 0.8),
      );

      // (b) the same content again: instant upload; time until committed vs md5sum
      const instT = [];
      for (let r = 1; r <= 2; r++) {
        const note = await settle([join(W.data, 'mount-1.bin')]);
        const c0 = await admin.counters(emu.base);
        const t0 = now();
        const cp = await must('cp', [join(W.data, 'mount-1.bin'), join(mnt, `again-${r}.bin`)]);
        const { at } = await waitCommitted(emu.base, `/again-${r}.bin`, md5s['mount-1'], { intervalMs: 25 });
        const c1 = await admin.counters(emu.base);
        instT.push(at - t0);
        out(
          `  instant copy ${r}: committed after ${f2(at - t0)} s (cp ${f2(cp.secs)} s), ` +
            `instant hits +${c1.instantUploadHits - c0.instantUploadHits}, ` +
            `slice bytes +${c1.sliceBytesReceived - c0.sliceBytesReceived}  [${note}]`,
        );
      }
      const iS = summary(instT, false);
      const ir = iS.median / md5S.median;
      row(
        'write: same file again (instant) until committed / md5sum',
        `${f2(ir)} (${f2(iS.median)} s vs ${f2(md5S.median)} s)`,
        '<= 1.5',
        verdict(ir <= 1.5),
      );

      // (c) dd into the mount: with conv=fsync (waits for the upload), then the write side alone
      const count = CFG.writeSize / MiB;
      const zeroMd5 = (await must('bash', ['-c', `head -c ${CFG.writeSize} /dev/zero | md5sum`])).stdout.split(' ')[0];
      let note = await settle([], true);
      const fs1 = await must('dd', [
        'if=/dev/zero',
        `of=${join(mnt, 'zero-fsync.bin')}`,
        'bs=1M',
        `count=${count}`,
        'conv=fsync',
      ]);
      await waitCommitted(emu.base, '/zero-fsync.bin', zeroMd5, { timeoutMs: 10_000 });
      out(
        `  dd conv=fsync (new content, full upload): ` +
          `${f2(fs1.secs)} s = ${f0(mbps(CFG.writeSize, fs1.secs))} MB/s  [${note}]`,
      );
      row(
        'dd if=/dev/zero bs=1M conv=fsync into the mount (incl. upload)',
        `${f0(mbps(CFG.writeSize, fs1.secs))} MB/s`,
        'info',
        'info',
      );
      const ddRates = [];
      for (let r = 1; r <= 3; r++) {
        note = await settle([], true);
        const x = await must('dd', ['if=/dev/zero', `of=${join(mnt, `zero-${r}.bin`)}`, 'bs=1M', `count=${count}`]);
        ddRates.push(mbps(CFG.writeSize, x.secs));
        await waitCommitted(emu.base, `/zero-${r}.bin`, zeroMd5, { intervalMs: 100 });
        out(`  dd write side ${r}: ${f0(ddRates.at(-1))} MB/s  [${note}]`);
      }
      const ddS = summary(ddRates);
      row(
        'dd if=/dev/zero bs=1M into the mount, write side (no fsync)',
        `${f0(ddS.median)} MB/s (best ${f0(ddS.best)})`,
        'info',
        'info',
      );
    } finally {
      await d.stop();
    }

    // (d) 1,000 small files: create rate, commit time and API calls per file. QPS limits off on both sides
    // (at the free tier upload_single's 5 QPS alone makes it >= 200 s).
    await admin.config(emu.base, { rateLimitScale: 0 });
    d = await startDaemon({
      base: emu.base,
      mnt,
      cacheDir: join(W.dir, 'cache-small'),
      stateDir,
      args: ['--rate-limit-scale', '0'],
    });
    try {
      await must('mkdir', [join(mnt, 'small')]);
      for (
        let i = 0;
        i < 100 && !(await admin.tree(emu.base)).some((e) => e.path === '/small' && e.type === 'folder');
        i++
      )
        await sleep(100);
      await sleep(500);
      await admin.reset(emu.base);
      const note = await settle();
      const t0 = now();
      const mk = parseKv(
        (await must(C.mkfiles, [join(mnt, 'small'), String(CFG.smallFiles), String(CFG.smallSize)])).stdout,
      );
      let done = 0;
      let tDone;
      for (;;) {
        const tree = await admin.tree(emu.base);
        done = tree.filter((e) => e.path.startsWith('/small/') && e.type === 'file' && !e.trashed && e.md5).length;
        if (done >= CFG.smallFiles) {
          tDone = now() - t0;
          break;
        }
        if (now() - t0 > 300) throw new Error(`only ${done} of ${CFG.smallFiles} small files committed after 300 s`);
        await sleep(250);
      }
      await sleep(1500); // late calls (e.g. a trailing poll) land in the counters too
      const c = await admin.counters(emu.base);
      const calls = Object.entries(c.requests).filter(([, v]) => v > 0);
      const total = calls.reduce((s, [, v]) => s + v, 0);
      out(
        `  ${CFG.smallFiles} files: created at ${f0(mk.rate)} files/s (${f2(mk.secs)} s), ` +
          `all committed after ${f2(tDone)} s; ` +
          `API calls ${total} (${calls.map(([k, v]) => `${k} ${v}`).join(', ')})  [${note}]`,
      );
      row(
        `${CFG.smallFiles} x ${CFG.smallSize / 1024} KiB files created through the mount`,
        `${f0(mk.rate)} files/s`,
        'info',
        'info',
      );
      row(
        'small files: all uploads committed (QPS limits off)',
        `${f1(tDone)} s (${f0(CFG.smallFiles / tDone)} files/s)`,
        'info',
        'info',
      );
      row('small files: API calls per file', f2(total / CFG.smallFiles), 'info (single-step: ~1)', 'info');
    } finally {
      await d.stop();
    }
  } finally {
    await emu.stop();
  }
}

// ------------------------------------------------------------------------------------------------ main

function table() {
  const hdr = ['metric', 'measured', 'target', 'verdict'];
  const w = hdr.map((h, i) => Math.max(h.length, ...rows.map((r) => String(Object.values(r)[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(w[i])).join(' | ')} |`;
  return [line(hdr), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...rows.map((r) => line(Object.values(r)))];
}

async function saveDoc(started, secs) {
  const path = join(ROOT, 'docs', 'BENCHMARKS.md');
  const cpu = cpus();
  const machine =
    `${cpu.length} CPUs (${cpu[0]?.model ?? '?'}), ` +
    `${f0(totalmem() / GiB)} GiB RAM, Linux ${release()}, Node ${process.version}`;
  const block = [
    '<!-- bench:results:start (written by bench/run.mjs; edit outside these markers) -->',
    `Last run: ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ` +
      `${QUICK ? 'BENCH_QUICK=1' : 'full'} run, ${f0(secs)} s. Machine: ${machine}.`,
    `Load at the end: ${loadNote()}.`,
    '',
    ...table(),
    '',
    '<details><summary>Full output of that run</summary>',
    '',
    '```',
    ...lines,
    '```',
    '',
    '</details>',
    '<!-- bench:results:end -->',
  ].join('\n');
  let doc;
  try {
    doc = await readFile(path, 'utf8');
  } catch {
    doc = '# Benchmarks\n\n<!-- bench:results:start -->\n<!-- bench:results:end -->\n';
  }
  const re = /<!-- bench:results:start[\s\S]*?<!-- bench:results:end -->/;
  doc = re.test(doc) ? doc.replace(re, () => block) : `${doc.trimEnd()}\n\n${block}\n`;
  await writeFile(path, doc);
  out(`(results written to docs/BENCHMARKS.md)`);
}

async function main() {
  const started = new Date();
  const t0 = now();
  out(
    `pan123fs bench (${QUICK ? 'BENCH_QUICK=1' : 'full'}), ` +
      `${started.toISOString()}, ${cpus().length} CPUs, ${loadNote()}`,
  );
  await setup();
  if (ONLY.has('read') || ONLY.has('fuse')) await benchRead();
  out(`(${f0(now() - t0)} s elapsed)`);
  if (ONLY.has('write')) await benchWrite();
  if (ONLY.has('wan')) {
    await benchWan({ W, C, out, row, verdict, settle, genFile, readSize: CFG.readSize });
    out(`(${f0(now() - t0)} s elapsed)`);
  }
  if (ONLY.has('webdav')) await benchWebdav();
  if (ONLY.has('load')) {
    await benchLoad({ W, out, row, verdict, settle, genFile });
    out(`(${f0(now() - t0)} s elapsed)`);
  }
  out('');
  out(`## Summary (${f0(now() - t0)} s, ${loadNote()})`);
  for (const l of table()) out(l);
  if (SAVE) await saveDoc(started, now() - t0);
}

let failed = false;
const onSignal = async () => {
  await cleanupAll();
  process.exit(130);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
try {
  await main();
} catch (e) {
  failed = true;
  process.stderr.write(`bench failed: ${e.stack ?? e}\n`);
  await cleanupAll();
} finally {
  if (W.dir && process.env.BENCH_KEEP !== '1' && !process.env.BENCH_DIR)
    await rm(W.dir, { recursive: true, force: true }).catch(() => undefined);
}
process.exit(failed ? 1 : 0);
