// The workload of test/e2e/crash.test.ts, run as its own process against a real mount (blocking fs calls
// are fine here: this process serves nothing). A seeded random sequence of write + rename ops on this
// worker's own files (names `w<worker>-…`) in the shared folders: create/write/close of a new file,
// overwrite of an existing one, rename in the same folder, across folders, over an existing file, unlink.
// Protocol on stdout, one line each, written synchronously:
//   B <json>   an op begins: {s: seq, k: 'write'|'rename'|'unlink', p, q?, md5?, size?}
//   A <seq>    the op's last syscall returned (acknowledged)
//   E <seq> <code> <message>   it failed; the worker exits (after a kill -9 of the daemon: ENOTCONN)
// argv[2]: JSON {root, worker, round, seed, dirs: string[], files: string[], maxFiles}. Paths are relative
// to root ('' is root itself).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { join } from 'node:path';
import { cfg, say, seeded } from './op-worker.mjs';

const { rand, pick } = seeded(cfg.seed);
const files = [...cfg.files];
let seq = 0;
let fresh = 0;
const at = (dir, name) => (dir ? `${dir}/${name}` : name);
const dirOf = (p) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const newName = () => `w${cfg.worker}-r${cfg.round}-${fresh++}`;

/** unique content: a header naming the op, then pseudo-random bytes; 30% are over 1 MiB (sliced uploads) */
function content() {
  const size = rand() < 0.3 ? (1 << 20) + Math.floor(rand() * 3 * (1 << 20)) : Math.floor(rand() * 96 * 1024);
  const b = Buffer.alloc(size);
  const words = new Uint32Array(b.buffer, b.byteOffset, Math.floor(size / 4));
  let x = (cfg.seed ^ (seq * 2654435761)) >>> 0 || 7;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  b.write(`round ${cfg.round} worker ${cfg.worker} op ${seq}\n`.slice(0, size));
  return b;
}

function writeFile(rel, data) {
  const fd = fs.openSync(join(cfg.root, rel), 'w');
  try {
    for (let off = 0; off < data.length; off += 256 * 1024)
      fs.writeSync(fd, data, off, Math.min(256 * 1024, data.length - off), off);
  } finally {
    fs.closeSync(fd);
  }
}

function nextOp() {
  const x = rand();
  const other = (p) => files.filter((f) => f !== p);
  if (files.length === 0 || (x < 0.35 && files.length < cfg.maxFiles)) {
    const data = content();
    return { k: 'write', p: at(pick(cfg.dirs), newName()), data };
  }
  const src = pick(files);
  if (x < 0.5) return { k: 'write', p: src, data: content() };
  if (x < 0.62) return { k: 'rename', p: src, q: at(dirOf(src), newName()) };
  if (x < 0.76) {
    const dir = pick(cfg.dirs.filter((d) => d !== dirOf(src)));
    const name = rand() < 0.5 ? src.slice(src.lastIndexOf('/') + 1) : newName();
    const q = at(dir, name);
    return files.includes(q) ? { k: 'rename', p: src, q: at(dir, newName()) } : { k: 'rename', p: src, q };
  }
  if (x < 0.9 && other(src).length > 0) return { k: 'rename', p: src, q: pick(other(src)) };
  return { k: 'unlink', p: src };
}

for (;;) {
  const op = nextOp();
  const s0 = seq++;
  const md5 = op.data ? createHash('md5').update(op.data).digest('hex') : undefined;
  say(`B ${JSON.stringify({ s: s0, k: op.k, p: op.p, q: op.q, md5, size: op.data?.length })}`);
  try {
    if (op.k === 'write') writeFile(op.p, op.data);
    else if (op.k === 'rename') fs.renameSync(join(cfg.root, op.p), join(cfg.root, op.q));
    else fs.unlinkSync(join(cfg.root, op.p));
  } catch (e) {
    say(`E ${s0} ${e.code ?? 'ERR'} ${String(e.message).replace(/\n/g, ' ')}`);
    process.exit(0);
  }
  say(`A ${s0}`);
  if (op.k === 'write' && !files.includes(op.p)) files.push(op.p);
  if (op.k === 'rename') {
    files.splice(files.indexOf(op.p), 1);
    if (!files.includes(op.q)) files.push(op.q);
  }
  if (op.k === 'unlink') files.splice(files.indexOf(op.p), 1);
}
