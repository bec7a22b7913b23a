// The op runner of test/e2e/model.test.ts, run as its own process (blocking fs calls on the mount are fine
// here: this process serves nothing). A seeded random sequence of create/write/append/truncate/rename (same
// folder, across folders, over files, over empty folders)/unlink/mkdir/rmdir is applied in lockstep to
// <mount>/model and to <local>/model; every result and errno is compared, and every `checkEvery` ops the
// trees are compared byte for byte (sha256 of every file, read through the mount). At each check it also
// waits for the uploads to drain (`pan123fs status --json`), prints `CHECK <tree json>` and waits for one
// line on stdin: the test compares that tree with the emulator's and answers `OK` or why not.
// Output, one line each: `L <op log line>`, `D <divergence>` (then it stops), `END <json summary>`.
// argv[2]: JSON {mount, sub, local, seed, ops, checkEvery, bin, stateDir}: the run is in <mount>/<sub>/model.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { join } from 'node:path';
import { cfg, say, seeded } from './op-worker.mjs';

const { rand, pick } = seeded(cfg.seed);

const DIRS = ['', '/d0', '/d1', '/d0/d2'];
const NAMES = ['a', 'b', 'notes 1.md', 'd2', 'd3'];
const MOUNT = join(cfg.mount, cfg.sub, 'model');
const LOCAL = join(cfg.local, 'model');

function genOp(i) {
  const path = () => `${pick(DIRS)}/${pick(NAMES)}`;
  const data = () => {
    const big = rand() < 0.1;
    const n = big ? 200_000 + Math.floor(rand() * 400_000) : Math.floor(rand() * 60);
    const b = Buffer.alloc(n, i % 251);
    b.write(`${i}:`.slice(0, n));
    for (let k = 0; k < n; k += 997) b[k] = Math.floor(rand() * 256);
    return b;
  };
  const x = rand();
  if (x < 0.22) return { k: 'write', a: path(), data: data() };
  if (x < 0.3) return { k: 'append', a: path(), data: data() };
  if (x < 0.36) return { k: 'truncate', a: path(), n: Math.floor(rand() * 80) };
  if (x < 0.48) return { k: 'mkdir', a: path() };
  if (x < 0.55) return { k: 'rmdir', a: path() };
  if (x < 0.63) return { k: 'unlink', a: path() };
  return { k: 'rename', a: path(), b: path() };
}

function apply(root, op) {
  const p = (x) => join(root, x);
  try {
    switch (op.k) {
      case 'write':
        fs.writeFileSync(p(op.a), op.data);
        break;
      case 'append': {
        const fd = fs.openSync(p(op.a), 'r+');
        try {
          fs.writeSync(fd, op.data, 0, op.data.length, fs.fstatSync(fd).size);
        } finally {
          fs.closeSync(fd);
        }
        break;
      }
      case 'truncate':
        fs.truncateSync(p(op.a), op.n);
        break;
      case 'mkdir':
        fs.mkdirSync(p(op.a));
        break;
      case 'rmdir':
        fs.rmdirSync(p(op.a));
        break;
      case 'unlink':
        fs.unlinkSync(p(op.a));
        break;
      case 'rename':
        fs.renameSync(p(op.a), p(op.b));
        break;
    }
    return 'ok';
  } catch (e) {
    return e.code ?? String(e);
  }
}

/** path → 'dir' | sha256 of everything under root; with md5: the MD5s too (compared with the emulator's) */
function tree(root, rel = '', out = {}, md5 = false) {
  for (const e of fs.readdirSync(join(root, rel), { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
    const p = `${rel}/${e.name}`;
    if (e.isDirectory()) {
      out[p] = 'dir';
      tree(root, p, out, md5);
    } else {
      const b = fs.readFileSync(join(root, p));
      out[p] = createHash(md5 ? 'md5' : 'sha256')
        .update(b)
        .digest('hex');
    }
  }
  return out;
}

function drained() {
  const end = Date.now() + 120_000;
  for (;;) {
    const st = JSON.parse(
      execFileSync(process.execPath, [cfg.bin, 'status', cfg.mount, '--json', '--state-dir', cfg.stateDir], {
        encoding: 'utf8',
      }),
    );
    if (st.uploads.totals.files === 0) return;
    if (Date.now() > end) throw new Error(`uploads not drained: ${JSON.stringify(st.uploads.items)}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
}

function askTest(t) {
  say(`CHECK ${JSON.stringify(t)}`);
  const buf = Buffer.alloc(65536);
  let line = '';
  while (!line.includes('\n')) {
    const n = fs.readSync(0, buf, 0, buf.length, null);
    if (n === 0) break;
    line += buf.subarray(0, n).toString();
  }
  return line.trim();
}

const summary = { ops: 0, divergences: 0, checks: 0, results: {} };
fs.mkdirSync(MOUNT, { recursive: true });
fs.mkdirSync(LOCAL);
for (const d of ['/d0', '/d1', '/d0/d2']) {
  fs.mkdirSync(join(MOUNT, d));
  fs.mkdirSync(join(LOCAL, d));
}
const log = [];
for (let i = 0; i < cfg.ops; i++) {
  const op = genOp(i);
  const want = apply(LOCAL, op);
  const got = apply(MOUNT, op);
  summary.ops++;
  summary.results[want] = (summary.results[want] ?? 0) + 1;
  const line = `${i} ${op.k} ${op.a}${op.b ? ` -> ${op.b}` : ''}${op.n !== undefined ? ` ${op.n}` : ''}${
    op.data ? ` (${op.data.length} bytes)` : ''
  }: ${want}`;
  log.push(line);
  say(`L ${line}`);
  if (want !== got) {
    summary.divergences++;
    say(`D ${line} but the mount said ${got}`);
    break;
  }
  if (i % cfg.checkEvery === cfg.checkEvery - 1 || i === cfg.ops - 1) {
    summary.checks++;
    const [lt, mt] = [JSON.stringify(tree(LOCAL)), JSON.stringify(tree(MOUNT))];
    if (lt !== mt) {
      summary.divergences++;
      say(`D the trees differ after op ${i}: local ${lt} mount ${mt}`);
      break;
    }
    drained();
    const answer = askTest(tree(LOCAL, '', {}, true));
    if (answer !== 'OK') {
      summary.divergences++;
      say(`D the emulator differs after op ${i} (uploads drained): ${answer}`);
      break;
    }
  }
}
say(`END ${JSON.stringify(summary)}`);
