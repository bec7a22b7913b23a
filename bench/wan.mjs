// The WAN section of `npm run bench` (issue 13): the mount against an emulator that behaves like a CDN
// tens of milliseconds away (src/emulator/wan.ts), on two profiles. Every ratio is measured in this run:
// the link itself (N parallel curl ranges = the aggregate, one curl = one connection), then through the
// mount: a sequential read as a fraction of the link, 4 KiB reads at cold random offsets (p50/p95),
// ffprobe of an H.264 MP4 whose moov atom sits at the end (vs the same file on local disk), bytes fetched
// per byte served, a cold `ls -l` of 2,000 entries against the floor (pages / QPS + one latency), and a
// cold `find` over a tree of FIND_FOLDERS small folders against its floor (listings / QPS + one latency).
// rclone mount (http backend) reads the same emulator through a small in-process proxy that lists the
// files as HTML and forwards each request, Range included, to the file's download_info link.

import { createServer, request as httpRequest, Agent } from 'node:http';
import { existsSync } from 'node:fs';
import { link, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  GiB,
  MiB,
  ROOT,
  admin,
  f0,
  f1,
  f2,
  loadNote,
  mbps,
  must,
  now,
  run,
  sleep,
  startDaemon,
  startEmulator,
  startWebdav,
} from './lib.mjs';

const KiB = 1024;
const QUICK = process.env.BENCH_QUICK === '1';
const SEQ_OVERRIDE = Number(process.env.BENCH_WAN_SEQ_MIB || 0) * MiB;
export const PROFILES = [
  { name: 'fast', ms: 30, conn: 25e6, link: 100e6, seq: SEQ_OVERRIDE || (QUICK ? 256 * MiB : GiB) },
  { name: 'slow', ms: 80, conn: 4e6, link: 16e6, seq: SEQ_OVERRIDE || (QUICK ? 64 * MiB : 256 * MiB) },
];
const SEEKS = 24;
const LS_ENTRIES = 2000;
const FILE_SIZE = GiB; // big.bin; seek.bin is a hard link of it (another file id, the same bytes)
const LIST_QPS = 5; // the free tier's file_list limit
const FIND_TOP = 4; // wtree/t0..t3, each with FIND_SUB subfolders holding one file: a find walks them all
const FIND_SUB = 15;
const FIND_FOLDERS = 1 + FIND_TOP + FIND_TOP * FIND_SUB;
const FIND_QPS = 15; // file_list at the developer tier (the emulator's account has developer rights)

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** 24 4-KiB-aligned offsets, one in each 24th of the file, in a shuffled order (deterministic). */
function seekOffsets(size) {
  let x = 12345;
  const rnd = () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
  const slot = Math.floor(size / SEEKS);
  const offs = Array.from({ length: SEEKS }, (_, i) => i * slot + Math.floor((rnd() * (slot - 8 * KiB)) / 4096) * 4096);
  for (let i = offs.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [offs[i], offs[j]] = [offs[j], offs[i]];
  }
  return offs;
}

async function seedDir(ctx) {
  const dir = join(ctx.W.dir, 'wan-seed');
  await mkdir(join(dir, 'wdir'), { recursive: true });
  const big = join(ctx.W.seed, 'big.bin');
  if (!existsSync(big) || ctx.readSize !== FILE_SIZE) await ctx.genFile(join(dir, 'big.bin'), FILE_SIZE, 7);
  else await link(big, join(dir, 'big.bin'));
  await link(join(dir, 'big.bin'), join(dir, 'seek.bin'));
  for (let i = 0; i < LS_ENTRIES; i += 500)
    await Promise.all(
      Array.from({ length: 500 }, (_, k) =>
        writeFile(join(dir, 'wdir', `w${String(i + k).padStart(4, '0')}.txt`), 'x\n'),
      ),
    );
  for (let t = 0; t < FIND_TOP; t++)
    for (let k = 0; k < FIND_SUB; k++) {
      const sub = join(dir, 'wtree', `t${t}`, `s${String(k).padStart(2, '0')}`);
      await mkdir(sub, { recursive: true });
      await writeFile(join(sub, 'f.txt'), `${t}.${k}\n`);
    }
  // 40 s of 720p H.264 at ~6 Mbit/s, moov at the end (ffmpeg's default without +faststart)
  const video = join(ctx.W.data, 'video.mp4');
  const has = (await run('bash', ['-c', 'command -v ffmpeg && command -v ffprobe'])).code === 0;
  if (has && !existsSync(video)) {
    await must('ffmpeg', [
      ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-t', '40'],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '6M', '-pix_fmt', 'yuv420p', video],
    ]);
  }
  if (has) await link(video, join(dir, 'video.mp4'));
  return { dir, video: has ? video : null };
}

/** N parallel curl ranges over `bytes` of the file (the aggregate) and one curl (one connection). */
async function measureLink(url, p) {
  const par = 8;
  const total = Math.min(FILE_SIZE, Math.round(p.link * 3));
  const part = Math.floor(total / par);
  const t0 = now();
  await Promise.all(
    Array.from({ length: par }, (_, i) =>
      must('curl', ['-s', '-o', '/dev/null', '-r', `${i * part}-${(i + 1) * part - 1}`, url]),
    ),
  );
  const aggregate = mbps(part * par, now() - t0 - p.ms / 1000);
  const one = Math.round(p.conn * 2);
  const r = await must('curl', [
    '-s',
    '-o',
    '/dev/null',
    '-r',
    `0-${one - 1}`,
    '-w',
    '%{time_starttransfer} %{time_total}',
    url,
  ]);
  const [tfb, tt] = r.stdout.trim().split(' ').map(Number);
  return { aggregate, single: mbps(one, tt - tfb), firstByteMs: tfb * 1000 };
}

/** The figures through one mount (ours or rclone's); `served` reads the emulator's CDN byte counter. */
async function throughMount(ctx, mnt, p, served, video, withLs) {
  const res = {};
  const seqMiB = p.seq / MiB;
  for (const f of ['big.bin', 'seek.bin', ...(video ? ['video.mp4'] : [])]) await must('stat', [join(mnt, f)]);
  let note = await ctx.settle();
  let b0 = await served();
  const seq = await must('dd', [`if=${join(mnt, 'big.bin')}`, 'of=/dev/null', 'bs=1M', `count=${seqMiB}`]);
  await sleep(300); // read-ahead still arriving counts as fetched
  res.seq = { rate: mbps(p.seq, seq.secs), fetched: ((await served()) - b0) / p.seq, note };

  note = await ctx.settle();
  b0 = await served();
  const sr = await must(ctx.C.seekread, [join(mnt, 'seek.bin'), ...seekOffsets(FILE_SIZE).map(String)]);
  await sleep(300);
  const ms = sr.stdout.trim().split('\n').map(Number);
  res.seek = { p50: pct(ms, 50), p95: pct(ms, 95), fetchedPerSeek: ((await served()) - b0) / SEEKS, note };

  if (video) {
    note = await ctx.settle();
    b0 = await served();
    const fp = await must('ffprobe', ['-v', 'error', '-show_format', '-show_streams', join(mnt, 'video.mp4')]);
    await sleep(300);
    res.ffprobe = { secs: fp.secs, fetched: (await served()) - b0, note };
  }
  if (withLs) {
    await sleep(1500); // a full file_list bucket
    const c0 = await admin.counters(ctx.base);
    const ls = await must('bash', ['-c', `ls -l '${join(mnt, 'wdir')}' | wc -l`]);
    const c1 = await admin.counters(ctx.base);
    if (Number(ls.stdout.trim()) !== LS_ENTRIES + 1) throw new Error(`ls -l listed ${ls.stdout.trim()} lines`);
    const pages = (c1.requests.file_list ?? 0) - (c0.requests.file_list ?? 0);
    res.ls = { secs: ls.secs, pages, floor: Math.ceil(LS_ENTRIES / 100) / LIST_QPS + p.ms / 1000 };
    await sleep(1500);
    await admin.reset(ctx.base); // the busiest second of the find alone
    const f0c = await admin.counters(ctx.base);
    const fd = await must('bash', ['-c', `find '${join(mnt, 'wtree')}' | wc -l`]);
    const f1c = await admin.counters(ctx.base);
    const lines = FIND_FOLDERS + FIND_TOP * FIND_SUB; // every folder and every file
    if (Number(fd.stdout.trim()) !== lines) throw new Error(`find listed ${fd.stdout.trim()} lines, not ${lines}`);
    const calls = (f1c.requests.file_list ?? 0) - (f0c.requests.file_list ?? 0);
    res.find = {
      secs: fd.secs,
      calls,
      busiest: f1c.busiest?.file_list ?? 0,
      limited: f1c.rateLimited - f0c.rateLimited,
      floor: FIND_FOLDERS / FIND_QPS + p.ms / 1000,
    };
  }
  return res;
}

/** rclone's http backend needs an HTML listing: / lists the files, /NAME forwards to its download link. */
async function startProxy(links) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const server = createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url, 'http://x').pathname.slice(1));
    if (name === '') {
      const items = [...links.keys()].map((n) => `<a href="${n}">${n}</a><br>`).join('\n');
      const body = `<html><body>${items}</body></html>`;
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(body) });
      return res.end(body);
    }
    const target = links.get(name);
    if (!target) return res.writeHead(404).end();
    const up = httpRequest(
      target,
      { method: req.method, agent, headers: req.headers.range ? { range: req.headers.range } : {} },
      (ur) => {
        const h = { 'last-modified': 'Mon, 02 Nov 2026 00:00:00 GMT' };
        for (const k of ['content-length', 'content-range', 'accept-ranges', 'content-type', 'etag'])
          if (ur.headers[k]) h[k] = ur.headers[k];
        res.writeHead(ur.statusCode, h);
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    up.end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    stop: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
        agent.destroy();
      }),
  };
}

async function rcloneRun(ctx, p, emu, ids, video) {
  if ((await run('bash', ['-c', 'command -v rclone'])).code !== 0) return null;
  const links = new Map();
  const stateDir = join(ctx.W.dir, `wan-${p.name}-state`);
  for (const [name, id] of Object.entries(ids)) {
    const u = await must(process.execPath, [join(ROOT, 'bench', 'client.mjs'), 'download-url', emu.base, stateDir, id]);
    links.set(name, u.stdout.trim());
  }
  const proxy = await startProxy(links);
  const rmnt = join(ctx.W.dir, `wan-${p.name}-rclone`);
  await mkdir(rmnt, { recursive: true });
  try {
    await must('rclone', ['mount', ':http:', rmnt, '--http-url', `${proxy.origin}/`, '--read-only', '--daemon']);
    for (let k = 0; k < 100; k++) {
      if ((await run('mountpoint', ['-q', rmnt])).code === 0) break;
      await sleep(100);
    }
    const served = async () => (await admin.counters(emu.base)).bytesServed;
    return await throughMount(ctx, rmnt, p, served, video, false);
  } finally {
    await run('fusermount', ['-uz', rmnt]);
    await proxy.stop();
  }
}

function report(ctx, p, who, r, lk, localProbe) {
  const { out, row, verdict } = ctx;
  const label = `wan ${p.name} (${p.ms} ms, ${p.conn / 1e6}/${p.link / 1e6} MB/s)`;
  const frac = r.seq.rate / lk.aggregate;
  out(
    `  ${who}: sequential ${p.seq / MiB} MiB ${f1(r.seq.rate)} MB/s = ${f2(frac)} of the link ` +
      `(${f2(r.seq.rate / lk.single)} of one connection), fetched ${f2(r.seq.fetched)}x  [${r.seq.note}]`,
  );
  out(
    `  ${who}: ${SEEKS} cold 4 KiB seeks p50 ${f0(r.seek.p50)} ms / p95 ${f0(r.seek.p95)} ms ` +
      `(${f2(r.seek.p50 / p.ms)}x latency), fetched ${f0(r.seek.fetchedPerSeek / KiB)} KiB per seek`,
  );
  if (r.ffprobe)
    out(
      `  ${who}: ffprobe cold ${f2(r.ffprobe.secs)} s (local ${f2(localProbe)} s, ` +
        `budget local + 5 x ${p.ms} ms = ${f2(localProbe + (5 * p.ms) / 1000)} s), ` +
        `fetched ${f0(r.ffprobe.fetched / KiB)} KiB`,
    );
  if (r.ls)
    out(
      `  ${who}: ls -l ${LS_ENTRIES} entries cold ${f2(r.ls.secs)} s, ` +
        `${r.ls.pages} file_list calls (floor ${f2(r.ls.floor)} s)`,
    );
  if (r.find)
    out(
      `  ${who}: find over ${FIND_FOLDERS} folders cold ${f2(r.find.secs)} s, ${r.find.calls} file_list calls, ` +
        `busiest second ${r.find.busiest} (limit ${FIND_QPS}), ${r.find.limited} answered 429 ` +
        `(floor ${f2(r.find.floor)} s; one after another ${f2((FIND_FOLDERS * p.ms) / 1000)} s)`,
    );
  if (who !== 'pan123fs') {
    row(`${label}: rclone sequential / link`, `${f2(frac)} (${f1(r.seq.rate)} MB/s)`, 'info', 'info');
    row(`${label}: rclone seek p50 / p95`, `${f0(r.seek.p50)} / ${f0(r.seek.p95)} ms`, 'info', 'info');
    if (r.ffprobe) row(`${label}: rclone ffprobe cold`, `${f2(r.ffprobe.secs)} s`, 'info', 'info');
    return;
  }
  row(
    `${label}: sequential / link`,
    `${f2(frac)} (${f1(r.seq.rate)} / ${f1(lk.aggregate)} MB/s)`,
    '>= 0.9',
    verdict(frac >= 0.9),
  );
  row(`${label}: sequential fetched / served`, f2(r.seq.fetched), '<= 1.3', verdict(r.seq.fetched <= 1.3));
  row(
    `${label}: seek p50 (p95)`,
    `${f0(r.seek.p50)} ms (${f0(r.seek.p95)}) = ${f2(r.seek.p50 / p.ms)}x latency`,
    '<= 1.5x latency',
    verdict(r.seek.p50 <= 1.5 * p.ms),
  );
  row(
    `${label}: fetched per seek`,
    `${f0(r.seek.fetchedPerSeek / KiB)} KiB`,
    '<= 256 KiB',
    verdict(r.seek.fetchedPerSeek <= 256 * KiB),
  );
  if (r.ffprobe) {
    const budget = localProbe + (5 * p.ms) / 1000;
    row(
      `${label}: ffprobe cold (moov at end)`,
      `${f2(r.ffprobe.secs)} s (local ${f2(localProbe)} s)`,
      `<= local + 5x latency (${f2(budget)} s)`,
      verdict(r.ffprobe.secs <= budget),
    );
  }
  if (r.ls)
    row(
      `${label}: cold ls -l ${LS_ENTRIES} / floor`,
      `${f2(r.ls.secs / r.ls.floor)} (${f2(r.ls.secs)} s vs ${f2(r.ls.floor)} s)`,
      '<= 1.1',
      verdict(r.ls.secs / r.ls.floor <= 1.1),
    );
  if (r.find)
    row(
      `${label}: cold find ${FIND_FOLDERS} folders / floor`,
      `${f2(r.find.secs / r.find.floor)} (${f2(r.find.secs)} s vs ${f2(r.find.floor)} s, busiest ${r.find.busiest}/s)`,
      `<= 1.1, <= ${FIND_QPS}/s`,
      verdict(r.find.secs / r.find.floor <= 1.1 && r.find.busiest <= FIND_QPS && r.find.limited === 0),
    );
}

/**
 * Issue 17 where its users are: a GET of the first p.seq bytes through a fresh `serve webdav` (empty
 * cache) against one curl of the download link on the same paced CDN (the loopback row in bench/run.mjs
 * compares against a CDN that is not paced at all).
 */
async function davRun(ctx, p, emu, stateDir, served, lk) {
  const label = `wan ${p.name} (${p.ms} ms, ${p.conn / 1e6}/${p.link / 1e6} MB/s)`;
  const dav = await startWebdav({ base: emu.base, cacheDir: join(ctx.W.dir, `wan-${p.name}-davcache`), stateDir });
  try {
    const note = await ctx.settle();
    const b0 = await served();
    const r = await must('curl', [
      ...['-s', '-o', '/dev/null', '-r', `0-${p.seq - 1}`],
      ...['-w', '%{http_code} %{size_download} %{time_total}', `http://127.0.0.1:${dav.port}/big.bin`],
    ]);
    await sleep(300); // read-ahead still arriving counts as fetched
    const [code, size, secs] = r.stdout.trim().split(' ');
    if (code !== '206' || Number(size) !== p.seq) throw new Error(`webdav GET: HTTP ${code}, ${size} bytes`);
    const rate = mbps(p.seq, Number(secs));
    const fetched = ((await served()) - b0) / p.seq;
    ctx.out(
      `  webdav: GET of ${p.seq / MiB} MiB ${f1(rate)} MB/s = ${f2(rate / lk.single)} of one curl ` +
        `(${f2(rate / lk.aggregate)} of the link), fetched ${f2(fetched)}x  [${note}]`,
    );
    ctx.row(
      `${label}: webdav GET / one curl of the link`,
      `${f2(rate / lk.single)} (${f1(rate)} / ${f1(lk.single)} MB/s; ${f2(rate / lk.aggregate)} of the link)`,
      '>= 0.8',
      ctx.verdict(rate / lk.single >= 0.8),
    );
  } finally {
    await dav.stop();
  }
}

/** ctx: { W, C, out, row, verdict, settle, genFile, readSize } from bench/run.mjs. */
export async function benchWan(ctx) {
  const { out, W } = ctx;
  out('');
  out('## 4. WAN (issue 13): the emulator paced like a CDN tens of ms away (src/emulator/wan.ts)');
  const { dir, video } = await seedDir(ctx);
  let localProbe = 0;
  if (video) {
    const xs = [];
    for (let i = 0; i < 3; i++)
      xs.push((await must('ffprobe', ['-v', 'error', '-show_format', '-show_streams', video])).secs);
    localProbe = pct(xs, 50);
  } else out('  ffprobe: skipped (needs ffmpeg; as root: apt-get install ffmpeg)');
  const only = process.env.BENCH_WAN_PROFILES?.split(','); // e.g. fast
  for (const p of PROFILES.filter((x) => !only || only.includes(x.name))) {
    out(
      `### profile ${p.name}: first byte ${p.ms} ms, ` +
        `${p.conn / 1e6} MB/s per connection, ${p.link / 1e6} MB/s link, API ${p.ms} ms`,
    );
    const emu = await startEmulator({
      dataDir: join(W.dir, `wan-${p.name}-emu`),
      seed: dir,
      rateLimitScale: 1,
      logFile: join(W.dir, `wan-${p.name}-emu.log`),
      extraArgs: [
        ...['--wan-first-byte-ms', String(p.ms), '--wan-api-delay-ms', String(p.ms)],
        ...['--wan-conn-rate', String(p.conn), '--wan-link-rate', String(p.link)],
      ],
    });
    const mnt = join(W.dir, `wan-${p.name}-mnt`);
    const stateDir = join(W.dir, `wan-${p.name}-state`);
    await mkdir(mnt, { recursive: true });
    await mkdir(stateDir, { recursive: true });
    try {
      const tree = await admin.tree(emu.base);
      const ids = Object.fromEntries(
        ['big.bin', 'seek.bin', 'video.mp4']
          .map((n) => [n, tree.find((e) => e.path === `/${n}`)?.id])
          .filter(([, id]) => id),
      );
      const url = (
        await must(process.execPath, [
          join(ROOT, 'bench', 'client.mjs'),
          'download-url',
          emu.base,
          stateDir,
          ids['big.bin'],
        ])
      ).stdout.trim();
      const lk = await measureLink(url, p);
      out(
        `  link: ${f1(lk.aggregate)} MB/s with 8 parallel curl ranges, ` +
          `${f1(lk.single)} MB/s one curl, first byte ${f0(lk.firstByteMs)} ms  [${loadNote()}]`,
      );
      ctx.row(
        `wan ${p.name}: link measured (8 curl / 1 curl)`,
        `${f1(lk.aggregate)} / ${f1(lk.single)} MB/s`,
        'info',
        'info',
      );
      const served = async () => (await admin.counters(emu.base)).bytesServed;
      const d = await startDaemon({ base: emu.base, mnt, cacheDir: join(W.dir, `wan-${p.name}-cache`), stateDir });
      let ours;
      try {
        ours = await throughMount({ ...ctx, base: emu.base }, mnt, p, served, video, true);
      } finally {
        await d.stop();
      }
      report(ctx, p, 'pan123fs', ours, lk, localProbe);
      await davRun(ctx, p, emu, stateDir, served, lk);
      const theirs = await rcloneRun(ctx, p, emu, ids, video).catch((e) => {
        out(`  rclone: failed (${e.message})`);
        return null;
      });
      if (theirs) {
        report(ctx, p, 'rclone', theirs, lk, localProbe);
        // issue 14's ">= 2x rclone mount", where users are: the same paced CDN, the same file, one run each
        ctx.row(
          `wan ${p.name}: mount sequential / rclone mount sequential`,
          f2(ours.seq.rate / theirs.seq.rate),
          'info (issue 14: >= 2x)',
          'info',
        );
      } else out('  rclone mount: skipped');
    } finally {
      await emu.stop();
      await rm(join(W.dir, `wan-${p.name}-cache`), { recursive: true, force: true });
      await rm(join(W.dir, `wan-${p.name}-emu`), { recursive: true, force: true });
    }
  }
}
