// Model-based test (issue 19): a seeded random sequence of create/write/append/truncate/rename (same
// folder, across folders, over files, over empty folders)/unlink/mkdir/rmdir, run in lockstep on PanVfs
// (the unit harness: in-memory 123 tree as strict as the real service on name clashes) and on a local temp
// directory. Every result and errno is compared, and periodically the whole tree and its bytes.
// A failing seed prints the op log; add it to SEEDS as a regression.
import { mkdtempSync, rmSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FsError } from '../../../src/core/errors.js';
import { ROOT_ID, flags, makeHarness, readAll, type Harness } from './harness.js';

const OPS = Number(process.env.MODEL_OPS ?? 600);
const SEEDS = [1, 2, 3, 19];

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const DIRS = ['', '/d0', '/d1', '/d0/d2'];
const NAMES = ['a', 'b', 'notes 1.md', 'd2', 'd3'];

let h: Harness | undefined;
let local: string | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  if (local) rmSync(local, { recursive: true, force: true });
});

type Outcome = string; // 'ok' | errno | 'ok:<value>'

async function onLocal(root: string, op: Op): Promise<Outcome> {
  const p = (x: string) => join(root, x);
  try {
    switch (op.k) {
      case 'write':
        await fsp.writeFile(p(op.a), op.data!);
        return 'ok';
      case 'append': {
        const fh = await fsp.open(p(op.a), 'r+');
        try {
          const st = await fh.stat();
          await fh.write(op.data!, 0, op.data!.length, st.size);
        } finally {
          await fh.close();
        }
        return 'ok';
      }
      case 'truncate':
        await fsp.truncate(p(op.a), op.n!);
        return 'ok';
      case 'mkdir':
        await fsp.mkdir(p(op.a));
        return 'ok';
      case 'rmdir':
        await fsp.rmdir(p(op.a));
        return 'ok';
      case 'unlink':
        await fsp.unlink(p(op.a));
        return 'ok';
      case 'rename':
        await fsp.rename(p(op.a), p(op.b!));
        return 'ok';
    }
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

async function onVfs(hh: Harness, op: Op): Promise<Outcome> {
  const v = hh.vfs;
  try {
    switch (op.k) {
      case 'write': {
        const fh = await v.create(op.a, 0o644);
        try {
          await v.write(op.a, fh, op.data!, op.data!.length, 0);
        } finally {
          await v.release(op.a, fh);
        }
        return 'ok';
      }
      case 'append': {
        const fh = await v.open(op.a, flags.RDWR);
        try {
          const size = (await v.fgetattr(op.a, fh)).size;
          await v.write(op.a, fh, op.data!, op.data!.length, size);
        } finally {
          await v.release(op.a, fh);
        }
        return 'ok';
      }
      case 'truncate':
        await v.truncate(op.a, op.n!);
        return 'ok';
      case 'mkdir':
        await v.mkdir(op.a, 0o755);
        return 'ok';
      case 'rmdir':
        await v.rmdir(op.a);
        return 'ok';
      case 'unlink':
        await v.unlink(op.a);
        return 'ok';
      case 'rename':
        await v.rename(op.a, op.b!);
        return 'ok';
    }
  } catch (e) {
    return e instanceof FsError ? e.kind : `thrown: ${String(e)}`;
  }
}

interface Op {
  k: 'write' | 'append' | 'truncate' | 'mkdir' | 'rmdir' | 'unlink' | 'rename';
  a: string;
  b?: string;
  n?: number;
  data?: Buffer;
}

function genOp(r: () => number, i: number): Op {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const path = () => `${pick(DIRS)}/${pick(NAMES)}`;
  const data = () => Buffer.from(`${i}:${'x'.repeat(Math.floor(r() * 40))}`);
  const x = r();
  if (x < 0.22) return { k: 'write', a: path(), data: data() };
  if (x < 0.3) return { k: 'append', a: path(), data: data() };
  if (x < 0.36) return { k: 'truncate', a: path(), n: Math.floor(r() * 60) };
  if (x < 0.48) return { k: 'mkdir', a: path() };
  if (x < 0.55) return { k: 'rmdir', a: path() };
  if (x < 0.63) return { k: 'unlink', a: path() };
  return { k: 'rename', a: path(), b: path() };
}

/** path → 'dir' | md5-free content (hex) of everything under root, as the local fs has it */
async function localTree(root: string, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await fsp.readdir(join(root, rel), { withFileTypes: true })) {
    const p = `${rel}/${e.name}`;
    if (e.isDirectory()) {
      out[p] = 'dir';
      Object.assign(out, await localTree(root, p));
    } else out[p] = (await fsp.readFile(join(root, p))).toString('hex');
  }
  return out;
}

async function vfsTree(hh: Harness, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await hh.vfs.readdir(rel || '/')) {
    const p = `${rel}/${e.name}`;
    if (e.stat.isDir) {
      out[p] = 'dir';
      Object.assign(out, await vfsTree(hh, p));
    } else out[p] = (await readAll(hh.vfs, p)).toString('hex');
  }
  return out;
}

describe('vfs against a local directory, op by op', () => {
  it.each(SEEDS)(
    `seed %i: ${OPS} random ops give the same results, errnos and bytes`,
    { timeout: 90_000 },
    async (seed) => {
      local = mkdtempSync(join(tmpdir(), 'pan123fs-model-'));
      await fsp.mkdir(join(local, 'd0'));
      await fsp.mkdir(join(local, 'd1'));
      await fsp.mkdir(join(local, 'd0/d2'));
      await fsp.writeFile(join(local, 'd0/a'), 'remote a');
      await fsp.writeFile(join(local, 'd1/b'), 'remote b');
      await fsp.writeFile(join(local, 'd0/d2/notes 1.md'), 'remote notes');
      h = makeHarness({}, (pan) => {
        const d0 = pan.addDir(ROOT_ID, 'd0');
        const d1 = pan.addDir(ROOT_ID, 'd1');
        const d2 = pan.addDir(d0, 'd2');
        pan.addFile(d0, 'a', Buffer.from('remote a'));
        pan.addFile(d1, 'b', Buffer.from('remote b'));
        pan.addFile(d2, 'notes 1.md', Buffer.from('remote notes'));
      });
      const r = rng(seed);
      const log: string[] = [];
      const divergences: string[] = [];
      for (let i = 0; i < OPS; i++) {
        const op = genOp(r, i);
        const [want, got] = [await onLocal(local, op), await onVfs(h, op)];
        log.push(`${i} ${op.k} ${op.a}${op.b ? ` -> ${op.b}` : ''}${op.n !== undefined ? ` ${op.n}` : ''}: ${want}`);
        if (want !== got) divergences.push(`${log.at(-1)} but the vfs said ${got}`);
        if (divergences.length > 0) break;
        if (i % 50 === 49) {
          const [lt, vt] = [await localTree(local), await vfsTree(h)];
          if (JSON.stringify(lt) !== JSON.stringify(vt)) {
            divergences.push(`trees differ after op ${i}`);
            expect(vt).toEqual(lt);
          }
        }
      }
      if (divergences.length) console.log(`seed ${seed}:\n${log.slice(-15).join('\n')}`);
      expect(divergences).toEqual([]);
      expect(await vfsTree(h)).toEqual(await localTree(local));
    },
  );
});
