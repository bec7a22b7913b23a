// The read path against a paced emulator (WAN emulation, src/emulator/wan.ts): the real client stack
// (HttpPanClient → LinkCache → PanRangeSource → CdnClient's lean HTTP path → FileReader). Bytes are
// compared exactly under faults (a reset mid-range, a link that expires mid-range) and with concurrent
// readers of one file; progress is reported as bytes arrive, and the link is fetched at open.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FileReader } from '../../src/data/file-reader.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/index.js';
import { CdnClient } from '../../src/pan/cdn/cdn-client.js';
import { LinkCache } from '../../src/pan/cdn/download-urls.js';
import { PanRangeSource } from '../../src/pan/cdn/range-source.js';
import { HttpPanClient } from '../../src/pan/http-pan-client.js';
import { ramp } from '../support/data.js';
import { until } from '../support/gate.js';

const MiB = 1024 * 1024;
const SIZE = 8 * MiB;
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

let emu: EmulatorHandle;
let dir: string;
let data: Buffer;
let fileId: string;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pan123fs-readwan-'));
  data = ramp(SIZE, 13);
  fs.mkdirSync(path.join(dir, 'seed'));
  fs.writeFileSync(path.join(dir, 'seed', 'f.bin'), data);
  emu = await startEmulator({
    rateLimitScale: 0,
    seedDir: path.join(dir, 'seed'),
    wan: { firstByteMs: 20, apiDelayMs: 20, connBytesPerSec: 4e6, linkBytesPerSec: 16e6 },
  });
  fileId = emu.tree().find((e) => e.name === 'f.bin')!.id;
});
afterEach(async () => {
  emu.setFaults([]);
  emu.setConfig({ linkTtlSec: 7200 });
  for (const c of closers.splice(0)) await c();
});
afterAll(async () => {
  await emu.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function stack(linkTtlMs?: number) {
  const api = new HttpPanClient({
    apiBase: emu.baseUrl,
    clientId: 'pan123fs-demo',
    clientSecret: 'pan123fs-demo-secret',
    stateDir: fs.mkdtempSync(path.join(dir, 'state-')),
    rateLimitScale: 0,
    retry: { baseMs: 5, capMs: 50 },
    ...(linkTtlMs ? { linkTtlMs } : {}),
  });
  const cdn = new CdnClient({ retry: { baseMs: 5, capMs: 50 } });
  const source = new PanRangeSource({ links: new LinkCache({ api }), cdn });
  const reader = new FileReader(source);
  closers.push(async () => {
    await reader.close();
    await cdn.close();
    await api.close();
  });
  return { source, reader, ref: { id: fileId, size: SIZE, md5: md5(data) } };
}

async function readAll(reader: FileReader, ref: { id: string; size: number; md5: string }, chunk = 128 * 1024) {
  const h = reader.open(ref);
  const parts: Buffer[] = [];
  for (let off = 0; off < ref.size; off += chunk) parts.push(await h.read(off, chunk));
  h.close();
  return Buffer.concat(parts);
}

describe('read path on a paced emulator', () => {
  it('reports bytes as they arrive, and a range reset mid-way resumes where it stopped, byte-exact', async () => {
    const { source, ref } = stack();
    emu.setFaults([{ match: 'cdn_download', kind: 'reset', afterBytes: MiB, count: 1 }]);
    emu.resetCounters();
    const into = Buffer.alloc(4 * MiB);
    const seen: number[] = [];
    const got = await source.read(ref, 2 * MiB, 4 * MiB, undefined, into, (n) => {
      // every byte reported is already the right one
      expect(into.subarray(0, n).equals(data.subarray(2 * MiB, 2 * MiB + n))).toBe(true);
      seen.push(n);
    });
    expect(got.equals(data.subarray(2 * MiB, 6 * MiB))).toBe(true);
    expect(emu.counters().faultsApplied).toBe(1);
    expect(seen.length).toBeGreaterThan(10); // progressively, not once at the end
    expect(Math.max(...seen)).toBeLessThan(4 * MiB);
    // the retry asked only for what had not arrived: 4 MiB sent in all (+ what a reset lost in flight),
    // where starting again from 2 MiB would have sent 5 MiB
    expect(emu.counters().requests.cdn_download).toBe(2);
    expect(emu.counters().bytesServed).toBeLessThan(4 * MiB + 256 * 1024);
    expect(emu.counters().bytesServed).toBeGreaterThanOrEqual(4 * MiB);
  });

  it('a link that expires mid-range is refreshed and the range resumed, byte-exact', async () => {
    // the client believes links last an hour; the emulator's live 1 to 2 s. The first response is cut
    // after 3.5 MiB (~0.9 s at 4 MB/s), and its retry is held 2.1 s before the emulator looks at the link,
    // so it meets a dead link (403) whatever the timing; the fresh link lives at least 1 s, ~7x what the
    // last 0.5 MiB needs
    emu.setConfig({ linkTtlSec: 1 });
    const { source, ref } = stack(3600_000);
    emu.setFaults([
      { match: 'cdn_download', kind: 'reset', afterBytes: 3 * MiB + 512 * 1024, count: 1 },
      { match: 'cdn_download', kind: 'delay', ms: 2100, count: 1 },
    ]);
    emu.resetCounters();
    const into = Buffer.alloc(SIZE);
    let most = 0;
    const got = await source.read(ref, 0, 4 * MiB, undefined, into, (n) => {
      most = Math.max(most, n);
    });
    expect(got.equals(data.subarray(0, 4 * MiB))).toBe(true);
    expect(most).toBeGreaterThanOrEqual(3 * MiB); // the first attempt's bytes were reported
    expect(emu.counters().requests.download_info).toBe(2); // the refresh
    // the fresh link's request resumed after the final bytes: ~4 MiB sent in all, not 3.5 + 4
    expect(emu.counters().bytesServed).toBeLessThan(4 * MiB + 256 * 1024);
  });

  it('the whole file through FileReader under a reset, and concurrent readers of one file', async () => {
    const { reader, ref } = stack();
    emu.setFaults([{ match: 'cdn_download', kind: 'reset', afterBytes: 200_000, after: 2, count: 1 }]);
    emu.resetCounters();
    const [a, b, c] = await Promise.all([readAll(reader, ref), readAll(reader, ref, 64 * 1024), readAll(reader, ref)]);
    for (const x of [a, b, c]) expect(md5(x)).toBe(ref.md5);
    expect(emu.counters().faultsApplied).toBe(1);
    // one copy of the file fetched for three readers (+ the reset range's bytes, + nothing refetched twice)
    expect(emu.counters().bytesServed).toBeLessThanOrEqual(SIZE * 1.3);
  });

  it('fetches the download link at open, before the first read', async () => {
    const { reader, ref } = stack();
    emu.resetCounters();
    const h = reader.open(ref);
    await until(() => (emu.counters().requests.download_info ?? 0) === 1, 'download_info at open');
    expect(emu.counters().bytesServed).toBe(0); // a link, no bytes
    expect((await h.read(SIZE - 10, 10)).equals(data.subarray(SIZE - 10))).toBe(true);
    expect(emu.counters().requests.download_info).toBe(1);
    h.close();
  });
});
