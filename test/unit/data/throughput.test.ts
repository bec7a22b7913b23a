// Micro-benchmark, skipped unless PAN123FS_BENCH=1 (it does loopback HTTP, which the unit tier avoids):
//   PAN123FS_BENCH=1 npx vitest run --project unit test/unit/data/throughput
// A child process serves a 1 GiB (BENCH_MIB) pattern over HTTP with Range support. We time a plain
// download of the whole file, then FileReader over a fetch()-based RangeSource driven like the kernel
// (128 KiB reads, 16 in flight, each copied into a target buffer) and print the ratio (target ≥ 0.8;
// asserted with BENCH_STRICT=1 — on a 2-CPU box client and server compete and the ratio is noisy).
// A second case streams 2 GiB and samples RSS growth over the vitest baseline (budget: 300 MB total
// for a daemon whose own baseline is ~60 MiB).

import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileReader } from '../../../src/data/file-reader.js';
import type { FileRef, RangeSource } from '../../../src/data/range-source.js';
import { KiB, MiB } from './fake-source.js';

const enabled = process.env.PAN123FS_BENCH === '1';
const SIZE = Number(process.env.BENCH_MIB ?? 1024) * MiB;

const serverCode = `
const http = require('node:http');
const PAT = Buffer.alloc(16 << 20);
for (let i = 0; i < PAT.length; i++) PAT[i] = (i * 131 + (i >>> 12)) & 0xff;
function send(res, start, end) { // [start, end)
  let pos = start;
  const pump = () => {
    while (pos < end) {
      const off = pos % PAT.length;
      const n = Math.min(end - pos, PAT.length - off, 1 << 20);
      pos += n;
      if (!res.write(PAT.subarray(off, off + n))) return res.once('drain', pump);
    }
    res.end();
  };
  pump();
}
const server = http.createServer((req, res) => {
  const size = Number(new URL(req.url, 'http://x').searchParams.get('size'));
  const m = /bytes=(\\d+)-(\\d+)/.exec(req.headers.range || '');
  if (m) {
    const s = Number(m[1]), e = Number(m[2]) + 1;
    res.writeHead(206, { 'content-length': e - s, 'content-range': 'bytes ' + s + '-' + (e - 1) + '/' + size });
    send(res, s, e);
  } else {
    res.writeHead(200, { 'content-length': size });
    send(res, 0, size);
  }
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

class FetchSource implements RangeSource {
  constructor(private readonly base: string) {}
  async read(ref: FileRef, start: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const res = await fetch(`${this.base}/?size=${ref.size}`, {
      headers: { range: `bytes=${start}-${start + length - 1}` },
      signal,
    });
    if (res.status !== 206) throw new Error(`status ${res.status}`);
    // Like pan/ranges.ts: one Buffer of exactly `length` bytes, filled as the body arrives.
    const buf = Buffer.allocUnsafeSlow(length);
    let n = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (n + chunk.length > length) throw new Error('long body');
      buf.set(chunk, n);
      n += chunk.length;
    }
    if (n !== length) throw new Error('short body');
    return buf;
  }
}

async function kernelLikeStream(reader: FileReader, size: number, onTick?: () => void): Promise<number> {
  const h = reader.open({ id: '1', md5: 'bench', size });
  const target = Buffer.alloc(128 * KiB);
  let next = 0;
  let total = 0;
  const lane = async () => {
    while (next < size) {
      const pos = next;
      next += 128 * KiB;
      const b = await h.read(pos, 128 * KiB);
      b.copy(target);
      total += b.length;
      onTick?.();
    }
  };
  await Promise.all(Array.from({ length: 16 }, lane));
  h.close();
  return total;
}

describe.skipIf(!enabled)('read-path throughput (loopback)', () => {
  let server: ChildProcess;
  let base = '';
  beforeAll(async () => {
    server = spawn(process.execPath, ['-e', serverCode], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<string>((r) => server.stdout!.once('data', (d: Buffer) => r(d.toString().trim())));
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(() => {
    server?.kill();
  });

  it('FileReader reaches ≥ 0.8 of a plain download', async () => {
    const t0 = performance.now();
    const res = await fetch(`${base}/?size=${SIZE}`);
    let n = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) n += chunk.length;
    const direct = n / ((performance.now() - t0) / 1000);
    expect(n).toBe(SIZE);

    const reader = new FileReader(new FetchSource(base));
    const t1 = performance.now();
    const got = await kernelLikeStream(reader, SIZE);
    const viaReader = got / ((performance.now() - t1) / 1000);
    await reader.close();
    const ratio = viaReader / direct;
    console.log(
      `direct ${(direct / MiB).toFixed(0)} MiB/s, FileReader ${(viaReader / MiB).toFixed(0)} MiB/s, ` +
        `ratio ${ratio.toFixed(2)}`,
    );
    expect(got).toBe(SIZE);
    if (process.env.BENCH_STRICT === '1') expect(ratio).toBeGreaterThanOrEqual(0.8);
  }, 300_000);

  it('streaming 2 GiB keeps RSS growth bounded', async () => {
    const reader = new FileReader(new FetchSource(base));
    const before = process.memoryUsage().rss;
    let peak = before;
    let k = 0;
    await kernelLikeStream(reader, 2048 * MiB, () => {
      if (++k % 64 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    });
    await reader.close();
    console.log(`RSS before ${(before / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB`);
    expect(peak - before).toBeLessThan(240 * MiB);
  }, 300_000);
});
