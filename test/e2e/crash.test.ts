// Crash test (issue 19) through a real mount: a write + rename workload (test/helpers/crash-worker.mjs: create/
// write/close, overwrite, rename in the same folder, across folders, over an existing file, unlink), several
// workers at once, the daemon killed with SIGKILL at a seeded random moment, restarted on the same cache and
// state dirs, its uploads drained, then the emulator's tree (names, MD5s) compared with what was acknowledged
// (the syscall returned) before the kill. Each worker has at most one op in flight at the kill: that op may
// be found done or not done, nothing else. Counted per round: lost, extra and corrupt files, and where the
// mount's own view differs from the emulator's; lost and corrupt fail the test (extra and differences with
// CRASH_STRICT=1). A file being rewritten in place when the daemon died is "unproven" (kept
// locally, not uploaded; docs/SEMANTICS.md): it may only be the in-flight write's file, and the server keeps
// an earlier version of it or none. The test removes it before the next round.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EmulatorHandle } from '../../src/emulator/index.js';
import { forceUnmount, fuseAvailable, ROOT, sh, withMount, type Daemon } from '../helpers/pan-daemon.js';
import { until } from '../support/gate.js';

const run = fuseAvailable();
const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 6);
const SEED = Number(process.env.CRASH_SEED ?? 19);
const WORKERS = 3;
const MAX_FILES = 10;
const DIRS = ['', 'd0', 'd1', 'd1/d2'];
const WORKER = join(ROOT, 'test/helpers/crash-worker.mjs');
const MiB = 1024 * 1024;

type Tree = Map<string, string>; // path under /crash → md5

interface Op {
  s: number;
  k: 'write' | 'rename' | 'unlink';
  p: string;
  q?: string;
  md5?: string;
}

interface WorkerRun {
  acked: Op[];
  inflight: Op | null;
  error: string | null;
  /** when the error line arrived (Date.now()) */
  errorAt: number;
  lines: string[];
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const base = (p: string) => p.slice(p.lastIndexOf('/') + 1);
const ownerOf = (p: string) => /^w(\d+)-/.exec(base(p))?.[1];

function apply(t: Tree, op: Op): Tree {
  const n = new Map(t);
  if (op.k === 'write') n.set(op.p, op.md5!);
  else if (op.k === 'rename') {
    const m = n.get(op.p);
    if (m === undefined) throw new Error(`the model has no ${op.p} to rename`);
    n.delete(op.p);
    n.set(op.q!, m);
  } else n.delete(op.p);
  return n;
}

function startWorker(cfg: Record<string, unknown>, onAck: () => void) {
  const proc = spawn(process.execPath, [WORKER, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const r: WorkerRun = { acked: [], inflight: null, error: null, errorAt: 0, lines: [] };
  let stderr = '';
  proc.stderr!.on('data', (d) => {
    stderr += d;
  });
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    r.lines.push(line);
    if (line.startsWith('B ')) r.inflight = JSON.parse(line.slice(2)) as Op;
    else if (line.startsWith('A ')) {
      r.acked.push(r.inflight!);
      r.inflight = null;
      onAck();
    } else if (line.startsWith('E ')) {
      r.error = line.slice(2);
      r.errorAt = Date.now();
    }
  });
  const done = new Promise<WorkerRun>((res) =>
    proc.on('close', () => {
      if (stderr) r.error ??= `stderr: ${stderr}`;
      res(r);
    }),
  );
  return { proc, done };
}

/** the emulator's files and folders under /crash */
function serverTree(emu: EmulatorHandle): { files: Tree; dirs: string[] } {
  const files: Tree = new Map();
  const dirs: string[] = [];
  for (const e of emu.tree()) {
    if (e.trashed || !e.path.startsWith('/crash/')) continue;
    const rel = e.path.slice('/crash/'.length);
    if (e.type === 'folder') dirs.push(rel);
    else if (files.has(rel))
      files.set(rel, `${files.get(rel)} + ${e.md5}`); // two live files of one name
    else files.set(rel, e.md5);
  }
  return { files, dirs: dirs.sort() };
}

/** the mount's files under /crash with their MD5s (read through the mount by a child process) */
async function mountTree(mnt: string): Promise<Tree> {
  // a file listed but not readable shows as 'unreadable' (md5sum's complaint goes to stdout here)
  const { stdout } = await sh(`cd ${mnt}/crash && find . -type f -print0 | { xargs -0 -r md5sum 2>&1 || true; }`);
  const t: Tree = new Map();
  for (const line of stdout.split('\n').filter(Boolean)) {
    const bad = /^md5sum: \.\/(.*): (.*)$/.exec(line);
    if (bad) {
      t.set(bad[1]!, `unreadable (${bad[2]})`);
      continue;
    }
    const [md5, ...rest] = line.split('  ');
    t.set(rest.join('  ').replace(/^\.\//, ''), md5!);
  }
  return t;
}

/** differences between what a worker's files should be and what they are */
function diff(want: Tree, got: Tree): { lost: string[]; extra: string[]; corrupt: string[] } {
  const lost = [...want.keys()].filter((p) => !got.has(p));
  const extra = [...got.keys()].filter((p) => !want.has(p));
  const corrupt = [...want.keys()].filter((p) => got.has(p) && got.get(p) !== want.get(p));
  return { lost, extra, corrupt };
}

/** the log lines (not the per-op FUSE trace) that name one of these files */
function said(log: string, names: string[]): string {
  const lines = log.split('\n').filter((l) => names.some((n) => l.includes(n)) && !l.includes('"msg":"fuse op"'));
  return lines.slice(-40).join('\n');
}

const sub = (t: Tree, keep: (p: string) => boolean): Tree => new Map([...t].filter(([p]) => keep(p)));

describe.runIf(run)('kill -9 during a write + rename workload (issue 19)', () => {
  const mounts = withMount();
  let emu: EmulatorHandle;
  let d: Daemon;

  beforeAll(async () => {
    const work = await mounts.tempDir('crash');
    emu = await mounts.emulator({ dataDir: join(work, 'emu'), sliceSize: MiB });
    // widen the windows a kill can land in: between slices, the merge, the two steps of a move + rename
    emu.setFaults([
      { match: '/upload/v2/file/slice', kind: 'delay', ms: 40 },
      { match: '/upload/v2/file/upload_complete', kind: 'delay', ms: 30 },
      { match: '/api/v1/file/move', kind: 'delay', ms: 30 },
      { match: '/api/v1/file/name', kind: 'delay', ms: 30 },
      { match: '/api/v1/file/trash', kind: 'delay', ms: 20 },
    ]);
    d = await mounts.daemon({ apiBase: emu.baseUrl, cacheDir: join(work, 'cache'), stateDir: join(work, 'state') });
  }, 120_000);

  it(`${ROUNDS} rounds: nothing acknowledged is lost or corrupt, nothing extra appears`, {
    timeout: 240_000,
  }, async () => {
    await sh(`mkdir -p ${d.mountpoint}/crash/d0 ${d.mountpoint}/crash/d1/d2`);
    const r = rng(SEED);
    let state: Tree = new Map(); // what the server holds, checked, at the start of a round
    const ever = new Set<string>(); // every MD5 a file was acknowledged with
    const totals = { acked: 0, lost: 0, extra: 0, corrupt: 0, unproven: 0, mountDiffs: 0, badErrors: 0 };
    const problems: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      let firstAck!: () => void;
      const acked = new Promise<void>((res) => {
        firstAck = res;
      });
      const workers = Array.from({ length: WORKERS }, (_, w) =>
        startWorker(
          {
            root: `${d.mountpoint}/crash`,
            worker: w,
            round,
            seed: Math.floor(r() * 2 ** 31),
            dirs: DIRS,
            files: [...state.keys()].filter((p) => ownerOf(p) === String(w)),
            maxFiles: MAX_FILES,
          },
          () => firstAck(),
        ),
      );
      // the kill moment: a seeded random time, once the workload is under way (one op acknowledged)
      const killAfterMs = 300 + Math.floor(r() * 2500);
      await acked;
      await new Promise((res) => setTimeout(res, killAfterMs));
      const killedAt = Date.now();
      d.proc.kill('SIGKILL');
      await d.exited;
      const killedOutput = d.output();
      if (process.env.CRASH_LOG_DIR)
        await writeFile(join(process.env.CRASH_LOG_DIR, `round-${round}.log`), killedOutput);
      const killer = setTimeout(() => {
        for (const w of workers) w.proc.kill('SIGKILL');
      }, 15_000);
      const runs = await Promise.all(workers.map((w) => w.done));
      clearTimeout(killer);
      await forceUnmount(d.mountpoint);
      d = await mounts.restart(d);
      // drained: nothing queued but unproven files, no rename fix-up left to redo
      let last = '';
      const st = await until(
        async () => {
          const s = await d.status();
          last = JSON.stringify(s.uploads);
          const t = s.uploads.totals;
          return t.files <= (t.unproven ?? 0) && (t.fixups ?? 0) === 0 && s;
        },
        'the uploads to drain',
        { timeoutMs: 90_000, everyMs: 100 },
      ).catch((e: Error) => {
        throw new Error(`${e.message}: ${last}`);
      });
      const unprovenNames = st.uploads.items.filter((i) => i.state === 'unproven').map((i) => i.name);
      const server = serverTree(emu);
      if (JSON.stringify(server.dirs) !== JSON.stringify(['d0', 'd1', 'd1/d2']))
        problems.push(`round ${round}: folders ${JSON.stringify(server.dirs)}`);
      const next: Tree = new Map();
      const unprovenPaths: string[] = [];
      for (let w = 0; w < WORKERS; w++) {
        const wr = runs[w]!;
        totals.acked += wr.acked.length;
        // an op cut by the kill fails (ENOTCONN, ECONNABORTED, or ENOENT from an aborted lookup); one that
        // failed before it is a bug
        if (wr.error && (wr.errorAt < killedAt || wr.error.startsWith('stderr'))) {
          totals.badErrors++;
          const name = /'([^']*)'/.exec(wr.error)?.[1]?.split('/').pop() ?? '\u0000';
          problems.push(
            `round ${round} worker ${w}: ${wr.error}\n  last ops: ${wr.lines.slice(-8).join(' | ')}\n` +
              `  the daemon on ${name}:\n${said(killedOutput, [name])}`,
          );
        }
        let want = sub(state, (p) => ownerOf(p) === String(w));
        for (const op of wr.acked) {
          want = apply(want, op);
          if (op.md5) ever.add(op.md5);
        }
        let got = sub(server.files, (p) => ownerOf(p) === String(w));
        const candidates = [want];
        const inflight = wr.inflight;
        if (inflight) candidates.push(apply(want, inflight));
        // a rewrite in place cut by the kill: kept locally, not uploaded; the server keeps an earlier version
        if (inflight?.k === 'write' && unprovenNames.includes(base(inflight.p))) {
          const old = got.get(inflight.p);
          if (old !== undefined && !ever.has(old)) problems.push(`round ${round}: unproven ${inflight.p} has ${old}`);
          unprovenPaths.push(inflight.p);
          totals.unproven++;
          got = sub(got, (p) => p !== inflight.p);
          for (let i = 0; i < candidates.length; i++) candidates[i] = sub(candidates[i]!, (p) => p !== inflight.p);
        }
        const diffs = candidates.map((c) => diff(c, got));
        const best = diffs.reduce((a, b) =>
          a.lost.length + a.extra.length + a.corrupt.length <= b.lost.length + b.extra.length + b.corrupt.length
            ? a
            : b,
        );
        totals.lost += best.lost.length;
        totals.extra += best.extra.length;
        totals.corrupt += best.corrupt.length;
        if (best.lost.length + best.extra.length + best.corrupt.length > 0) {
          const names = [...best.lost, ...best.extra, ...best.corrupt, inflight?.p, inflight?.q].filter(
            (x): x is string => !!x,
          );
          problems.push(
            `round ${round} worker ${w} (in flight: ${JSON.stringify(inflight)}): ${JSON.stringify(best)}\n` +
              `  acknowledged: ${wr.acked.map((o) => `${o.k} ${o.p}${o.q ? ` -> ${o.q}` : ''}`).join('; ')}\n` +
              `  the daemons on it:\n${said(killedOutput + d.output(), names.map(base))}`,
          );
        }
        for (const [p, m] of got) next.set(p, m);
      }
      for (const name of unprovenNames)
        if (!unprovenPaths.some((p) => base(p) === name)) problems.push(`round ${round}: unexpected unproven ${name}`);
      for (const p of server.files.keys())
        if (ownerOf(p) === undefined) {
          totals.extra++;
          problems.push(`round ${round}: a file no worker wrote: ${p}`);
        }
      // the mount shows what the server holds (an unproven file shows its local content: removed here)
      for (const p of unprovenPaths) await sh(`rm ${d.mountpoint}/crash/${p}`);
      const mounted = await mountTree(d.mountpoint);
      const kept = (p: string) => !unprovenPaths.includes(p);
      const m = diff(sub(server.files, kept), sub(mounted, kept));
      const mountDiffs = m.lost.length + m.extra.length + m.corrupt.length;
      totals.mountDiffs += mountDiffs;
      if (mountDiffs) {
        const names = [...m.lost, ...m.extra, ...m.corrupt].map(base);
        problems.push(
          `round ${round}: the mount differs from the server: ${JSON.stringify(m)}\n` +
            said(killedOutput + d.output(), names),
        );
      }
      console.log(
        `crash round ${round}: killed after ${killAfterMs} ms, ${runs.map((x) => x.acked.length).join('+')} ops ` +
          `acknowledged, ${server.files.size} files on the server, unproven ${unprovenPaths.length}`,
      );
      state = next;
    }
    console.log(`crash test (seed ${SEED}): ${JSON.stringify(totals)}`);
    if (problems.length) console.log(problems.join('\n'));
    expect(totals.acked).toBeGreaterThan(ROUNDS * 3);
    // what was acknowledged is never lost or corrupt (the guarantee); an extra file, a mount that differs
    // from the server or an op failing before the kill are known leftovers (a listing can show an upload's
    // stray copy before it is trashed, issue 19 notes): counted and printed, failing with CRASH_STRICT=1
    expect({ lost: totals.lost, corrupt: totals.corrupt }).toEqual({ lost: 0, corrupt: 0 });
    if (process.env.CRASH_STRICT === '1') {
      expect(problems).toEqual([]);
      expect({ extra: totals.extra, mount: totals.mountDiffs }).toEqual({ extra: 0, mount: 0 });
    }
  });
});
