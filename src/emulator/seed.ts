// --seed: import a local directory tree under a folder of the account. Hashes files streaming with
// bounded concurrency, stores blobs by hardlink (copy across filesystems), then inserts every row in
// one transaction. Existing folders are merged; an existing file of the same name is left alone
// (seeding is idempotent across restarts with the same data dir).

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { EmuState } from './state.js';
import { ApiError, CODE } from './errors.js';

/** Files hashed concurrently: enough to overlap I/O, few enough to bound open descriptors. */
const HASH_CONCURRENCY = 16;
/** Files up to this size are hashed from one read (streams cost more than the data for tiny files). */
const SMALL_FILE = 1024 * 1024;

interface Entry {
  rel: string[];
  type: 0 | 1;
  abs: string;
  size: number;
  md5: string;
}

function walk(dir: string, rel: string[], out: Entry[]): void {
  for (const d of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const abs = path.join(dir, d.name);
    if (d.isDirectory()) {
      out.push({ rel: [...rel, d.name], type: 1, abs, size: 0, md5: '' });
      walk(abs, [...rel, d.name], out);
    } else if (d.isFile()) out.push({ rel: [...rel, d.name], type: 0, abs, size: fs.statSync(abs).size, md5: '' });
  }
}

async function md5File(p: string, size: number): Promise<string> {
  if (size <= SMALL_FILE)
    return crypto
      .createHash('md5')
      .update(await fs.promises.readFile(p))
      .digest('hex');
  const h = crypto.createHash('md5');
  for await (const c of fs.createReadStream(p, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) h.update(c);
  return h.digest('hex');
}

export async function seedTree(s: EmuState, dir: string, parentPath = '/'): Promise<void> {
  const entries: Entry[] = [];
  walk(dir, [], entries);
  const files = entries.filter((e) => e.type === 0);
  let next = 0;
  await Promise.all(
    Array.from({ length: HASH_CONCURRENCY }, async () => {
      while (next < files.length) {
        const e = files[next++]!;
        e.md5 = await md5File(e.abs, e.size);
      }
    }),
  );
  for (const e of files) s.store.putBlob(e.abs, e.md5, e.size, 'link');
  const base = parentPath.split('/').filter((x) => x !== '');
  s.store.db.transaction(() => {
    const root = s.model.ensureFolders(0n, base);
    const ids = new Map<string, bigint>([['', root]]);
    for (const e of entries) {
      const parent = ids.get(e.rel.slice(0, -1).join('/'));
      const name = e.rel[e.rel.length - 1]!;
      if (parent === undefined || (e.type === 0 && s.model.liveChild(parent, name))) continue;
      try {
        if (e.type === 1) ids.set(e.rel.join('/'), s.model.ensureFolders(parent, [name]));
        else s.model.createFile(parent, name, e.md5, e.size, 0);
      } catch (err) {
        if (err instanceof ApiError && err.code === CODE.generic) {
          s.logger.warn({ op: 'seed', path: e.rel.join('/') }, `skipped: ${err.message}`);
          continue;
        }
        throw err;
      }
    }
  })();
}
