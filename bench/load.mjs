// The load section of `npm run bench` (issue 19 item 6, "memory under load"): one mount, 8 readers and 4
// writers at once for a minute, with faults injected at the emulator (CDN resets mid-body, HTTP 500 on
// upload slices and on a few API calls), and the daemon's peak RSS (VmHWM in /proc/<pid>/status; the
// daemon is started for this section, so its high-water mark is this load's). Target: < 300 MB.
//
// Readers: each loops `md5sum` over its own file (8 hard links of one seeded file: 8 file ids, 8 streams;
// the file's page cache is dropped before each pass, `dd iflag=nocache count=0`, as the mount keeps it
// across opens); every pass is checked against the seeded MD5. Writers: each loops writing a new file of
// fresh content (openssl keystream, so no instant upload) into the mount, then removes its file of two
// rounds ago. At the end the uploads are drained and every remaining written file is checked at the
// emulator (MD5). Also printed: the RSS
// samples (every 250 ms) at their peak, with the daemon's read statistics from `status --json`.

import { readFileSync } from 'node:fs';
import { link, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BIN,
  MiB,
  admin,
  f0,
  f1,
  loadNote,
  must,
  now,
  procCpu,
  procStatus,
  run,
  sleep,
  startDaemon,
  startEmulator,
} from './lib.mjs';

const QUICK = process.env.BENCH_QUICK === '1';
const SECS = Number(process.env.BENCH_LOAD_SECS || (QUICK ? 30 : 60));
const READERS = Number(process.env.BENCH_LOAD_READERS || 8);
const WRITERS = Number(process.env.BENCH_LOAD_WRITERS || 4);
const READ_FILE = (QUICK ? 128 : 256) * MiB;
const WRITE_FILE = 64 * MiB;
/** 300 MB (issue 19): the peak RSS the daemon must stay under with this load. */
export const LOAD_RSS_TARGET_MB = 300;

/** Faults on for the whole run; the probabilities keep every transfer able to finish within its retries. */
export const LOAD_FAULTS = [
  { match: 'cdn_download', kind: 'reset', afterBytes: 1 << 20, probability: 0.03 },
  { match: 'cdn_download', kind: 'http500', probability: 0.02 },
  { match: 'upload_slice', kind: 'http500', probability: 0.05 },
  { match: 'upload_complete', kind: 'http500', probability: 0.05 },
  { match: 'file_list', kind: 'delay', ms: 200, probability: 0.1 },
];

function keystream(seed, size) {
  const key = seed.toString(16).padStart(32, '0');
  return `openssl enc -aes-128-ctr -K ${key} -iv 0 -in /dev/zero 2>/dev/null | head -c ${size}`;
}

async function statusJson(mnt, stateDir) {
  const r = await run(process.execPath, [BIN, 'status', mnt, '--json', '--state-dir', stateDir], { timeoutMs: 10_000 });
  return r.code === 0 ? JSON.parse(r.stdout) : null;
}

/**
 * Where the daemon's resident memory is, from /proc/PID/smaps (MiB): glibc's main heap ([heap]), the other
 * malloc arenas (anonymous mappings at a 64 MiB-aligned start: glibc's HEAP_MAX_SIZE on 64-bit, one per
 * arena; libfuse's per-READ reply buffers live there), other anonymous memory (V8's heap, buffers above the
 * mmap threshold, stacks) and file-backed pages (the node binary, libraries).
 */
export function smapsBreakdown(pid) {
  const out = { heap: 0, arenas: 0, arenaCount: 0, anon: 0, file: 0 };
  let kind = null;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (m) {
      const name = m[2];
      const start = BigInt(`0x${m[1]}`);
      if (name === '[heap]') kind = 'heap';
      else if (name === '' && start % (64n << 20n) === 0n) kind = 'arenas';
      else if (name === '' || name.startsWith('[')) kind = 'anon';
      else kind = 'file';
      continue;
    }
    const r = /^Rss:\s+(\d+) kB/.exec(line);
    if (r && kind) {
      const kb = Number(r[1]);
      out[kind] += kb / 1024;
      if (kind === 'arenas' && kb > 0) out.arenaCount++;
    }
  }
  return out;
}

/** ctx: { W, out, row, verdict, settle, genFile } from run.mjs. */
export async function benchLoad(ctx) {
  const { W, out, row } = ctx;
  out('');
  out(
    `## 5. Memory under load (issue 19): ${READERS} readers (${READ_FILE / MiB} MiB files) and ${WRITERS} ` +
      `writers (${WRITE_FILE / MiB} MiB files) for ${SECS} s, faults on`,
  );
  const seed = join(W.dir, 'load-seed');
  await mkdir(seed, { recursive: true });
  await ctx.genFile(join(seed, 'r0.bin'), READ_FILE, 51);
  for (let i = 1; i < READERS; i++) await link(join(seed, 'r0.bin'), join(seed, `r${i}.bin`));
  const readMd5 = (await must('md5sum', [join(seed, 'r0.bin')])).stdout.split(' ')[0];
  const stateDir = join(W.dir, 'state-load');
  const mnt = join(W.dir, 'mnt-load');
  await mkdir(stateDir, { recursive: true });
  await mkdir(mnt, { recursive: true });
  const emu = await startEmulator({
    dataDir: join(W.dir, 'emu-load'),
    seed,
    rateLimitScale: 1,
    logFile: join(W.dir, 'emu-load.log'),
  });
  try {
    await admin.faults(emu.base, LOAD_FAULTS);
    const note = await ctx.settle();
    const d = await startDaemon({
      base: emu.base,
      mnt,
      cacheDir: join(W.dir, 'cache-load'),
      stateDir,
      logFile: join(W.dir, 'daemon-load.log'),
      // e.g. --heapsnapshot-signal=SIGUSR2, to see what holds the memory
      nodeArgs: (process.env.BENCH_LOAD_NODE_ARGS || '').split(' ').filter(Boolean),
    });
    const start = procStatus(d.pid);
    const cpu0 = procCpu(d.pid);
    let peak = { rssKb: start.rssKb, at: 0 };
    let peakMaps = null; // smapsBreakdown() at the highest RSS sample (taken again when 4 MiB higher)
    let peakSt = null; // the status --json answer with the highest RSS: what held the memory then
    let sampling = true;
    const t0 = now();
    const sampler = (async () => {
      while (sampling) {
        try {
          const s = procStatus(d.pid);
          if (s.rssKb > peak.rssKb) peak = { rssKb: s.rssKb, at: now() - t0 };
          if (s.rssKb > (peakMaps?.rssKb ?? 0) + 4096) peakMaps = { rssKb: s.rssKb, ...smapsBreakdown(d.pid) };
        } catch {
          /* exited */
        }
        await sleep(250);
      }
    })();
    const statusSampler = (async () => {
      while (sampling) {
        const st = await statusJson(mnt, stateDir);
        if (st?.memory && st.memory.rss > (peakSt?.memory.rss ?? 0)) peakSt = { ...st, at: now() - t0 };
        await sleep(1000);
      }
    })();
    const deadline = t0 + SECS;
    const stats = { readPasses: 0, readBytes: 0, readBad: 0, writes: 0, writeBytes: 0, writeFailed: 0 };
    const written = new Map(); // name -> md5
    const readers = Array.from({ length: READERS }, async (_, i) => {
      while (now() < deadline) {
        // the mount keeps page cache across opens (auto_cache): drop this file's, so the pass reaches the daemon
        await run('dd', [`if=${join(mnt, `r${i}.bin`)}`, 'iflag=nocache', 'count=0', 'status=none']);
        // a pass still running at the deadline is stopped (and not counted): the load lasts SECS
        const r = await run('md5sum', [join(mnt, `r${i}.bin`)], { timeoutMs: (deadline - now()) * 1000 + 1 });
        if (r.signal) break;
        if (r.code !== 0 || r.stdout.split(' ')[0] !== readMd5) {
          stats.readBad++;
          out(`  reader ${i}: ${r.code !== 0 ? `md5sum failed: ${r.stderr.trim()}` : 'WRONG BYTES'}`);
        } else {
          stats.readPasses++;
          stats.readBytes += READ_FILE;
        }
      }
    });
    const writers = Array.from({ length: WRITERS }, async (_, i) => {
      for (let n = 0; now() < deadline; n++) {
        const name = `w${i}-${n}.bin`;
        const seedN = 1000 + i * 1000 + n;
        const r = await run('bash', ['-c', `${keystream(seedN, WRITE_FILE)} > '${join(mnt, name)}'`]);
        if (r.code !== 0) {
          stats.writeFailed++;
          out(`  writer ${i}: ${name} failed: ${r.stderr.trim()}`);
          continue;
        }
        stats.writes++;
        stats.writeBytes += WRITE_FILE;
        written.set(name, seedN);
        const old = `w${i}-${n - 2}.bin`;
        if (written.delete(old)) await run('rm', ['-f', join(mnt, old)]);
      }
    });
    await Promise.all([...readers, ...writers]);
    const loadSecs = now() - t0;
    // drain the uploads (faults still on): part of the load, the peak counts until here
    let drained = false;
    for (let k = 0; k < 600; k++) {
      const st = await statusJson(mnt, stateDir);
      if (st && st.uploads.totals.files === 0) {
        drained = true;
        break;
      }
      await sleep(500);
    }
    const drainSecs = now() - t0 - loadSecs;
    sampling = false;
    await Promise.all([sampler, statusSampler]);
    const end = procStatus(d.pid);
    const cpuSecs = procCpu(d.pid) - cpu0;
    await admin.faults(emu.base, []);
    const counters = await admin.counters(emu.base);
    // every written file that was kept is at the emulator with the content written
    const tree = await admin.tree(emu.base);
    let bad = 0;
    for (const [name, seedN] of written) {
      const want = (await must('bash', ['-c', `${keystream(seedN, WRITE_FILE)} | md5sum`])).stdout.split(' ')[0];
      const e = tree.find((x) => x.path === `/${name}` && x.type === 'file' && !x.trashed);
      if (!e || e.md5 !== want) bad++;
    }
    await d.stop();
    const hwmMiB = end.hwmKb / 1024;
    const hwmMB = (end.hwmKb * 1024) / 1e6;
    out(
      `  ${f1(loadSecs)} s of load (+ ${f1(drainSecs)} s draining uploads${drained ? '' : ', NOT drained'}): ` +
        `${stats.readPasses} read passes (${f0(stats.readBytes / 1e6 / loadSecs)} MB/s), ${stats.readBad} bad; ` +
        `${stats.writes} files written (${f0(stats.writeBytes / 1e6 / loadSecs)} MB/s), ${stats.writeFailed} ` +
        `failed; faults applied ${counters.faultsApplied}; daemon CPU ${f1(cpuSecs)} s, ` +
        `${f1(cpuSecs / ((stats.readBytes + stats.writeBytes) / 2 ** 30 || 1))} s per GiB moved  [${note}]`,
    );
    out(
      `  written files checked at the emulator: ${written.size - bad} of ${written.size} with the right MD5; ` +
        `${loadNote()}`,
    );
    out(
      `  daemon RSS: start ${f0(start.rssKb / 1024)} MiB, peak sampled ${f0(peak.rssKb / 1024)} MiB at ` +
        `${f1(peak.at)} s, VmHWM ${f0(hwmMiB)} MiB (${f0(hwmMB)} MB)`,
    );
    if (peakMaps) {
      const p = peakMaps;
      out(
        `  smaps at RSS ${f0(p.rssKb / 1024)} MiB: glibc main heap ${f0(p.heap)} MiB, ${p.arenaCount} other malloc ` +
          `arenas ${f0(p.arenas)} MiB, other anonymous ${f0(p.anon)} MiB (V8, mmapped buffers, stacks), ` +
          `file-backed ${f0(p.file)} MiB`,
      );
    }
    if (peakSt) {
      const m = peakSt.memory;
      const r = peakSt.read;
      const u = peakSt.uploads.totals;
      out(
        `  at the highest status sample (${f1(peakSt.at)} s): RSS ${f0(m.rss / MiB)} MiB = V8 heap ` +
          `${f0(m.heapUsed / MiB)} MiB, Buffers ${f0(m.arrayBuffers / MiB)} MiB (external ${f0(m.external / MiB)}); ` +
          `memory cache ${f0(r.memCacheBytes / MiB)} MiB, reads in flight ${f0(r.inflightBytes / MiB)} MiB in ` +
          `${r.inflightFetches} fetches; uploads ${u.uploading ?? '?'} running`,
      );
    }
    row(
      `daemon peak RSS, ${READERS} readers + ${WRITERS} writers, ${SECS} s, faults on (VmHWM)`,
      `${f0(hwmMB)} MB (${f0(hwmMiB)} MiB); reads ${stats.readBad} bad, writes ${bad} bad`,
      `< ${LOAD_RSS_TARGET_MB} MB, 0 bad`,
      ctx.verdict(hwmMB < LOAD_RSS_TARGET_MB && stats.readBad === 0 && bad === 0 && drained),
    );
  } finally {
    await emu.stop();
    await rm(join(W.dir, 'cache-load'), { recursive: true, force: true });
  }
}
