// WAN emulation (src/emulator/wan.ts) over real HTTP: the first-byte and API delays are applied, one
// response is paced at the per-connection rate, parallel responses share the link rate, and paced bodies
// are byte-exact (also when a reset fault cuts them). Bounded sizes: the whole file runs in ~2 s.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/index.js';
import { md5, WireClient } from '../unit/emulator/wire-helpers.js';

const FIRST_BYTE_MS = 60;
const API_DELAY_MS = 40;
const CONN = 4e6; // bytes/s
const LINK = 8e6;
const SIZE = 1_000_000;

let emu: EmulatorHandle;
let c: WireClient;
let dir: string;
let data: Buffer;
let fileId: string;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pan123fs-wan-'));
  data = crypto.randomBytes(SIZE);
  fs.writeFileSync(path.join(dir, 'w.bin'), data);
  emu = await startEmulator({
    rateLimitScale: 0,
    seedDir: dir,
    wan: { firstByteMs: FIRST_BYTE_MS, apiDelayMs: API_DELAY_MS, connBytesPerSec: CONN, linkBytesPerSec: LINK },
  });
  c = new WireClient(emu.baseUrl);
  await c.login();
  fileId = emu.tree().find((e) => e.name === 'w.bin')!.id;
});
afterAll(async () => {
  await emu.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const link = async (): Promise<string> =>
  (await c.get(`/api/v1/file/download_info?fileId=${fileId}`)).data.downloadUrl as string;

/** GET with an optional range; the time to the response head and to the end of the body. */
async function timedGet(url: string, range?: string): Promise<{ head: number; total: number; body: Buffer }> {
  const t0 = performance.now();
  const res = await fetch(url, { headers: range ? { range } : {} });
  const head = performance.now() - t0;
  const body = Buffer.from(await res.arrayBuffer());
  return { head, total: performance.now() - t0, body };
}

/** Timing on a shared 2-CPU box: contention only ever makes a transfer slower, so upper bounds on a rate
 * hold for every run, and lower bounds (loose: the exact schedule is test/unit/emulator/wan.test.ts) are
 * checked on the best of up to 3 runs. */
async function bestOf(runs: number, measure: () => Promise<number>, good: (v: number) => boolean): Promise<number> {
  let best = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < runs && !good(best); i++) best = Math.max(best, await measure());
  return best;
}

describe('WAN emulation', () => {
  test('every API answer waits apiDelayMs', async () => {
    const t0 = performance.now();
    const r = await c.get('/api/v1/user/info');
    const ms = performance.now() - t0;
    expect(r.code).toBe(0);
    expect(ms).toBeGreaterThanOrEqual(API_DELAY_MS - 2);
    expect(ms).toBeLessThan(API_DELAY_MS + 500);
  });

  test('a CDN response waits firstByteMs before its head, errors included', async () => {
    const url = await link();
    const one = await timedGet(url, 'bytes=0-0');
    expect(one.body.equals(data.subarray(0, 1))).toBe(true);
    expect(one.head).toBeGreaterThanOrEqual(FIRST_BYTE_MS - 2);
    const bad = await timedGet(url.replace(/s=[0-9a-f]+/, 's=00'));
    expect(bad.head).toBeGreaterThanOrEqual(FIRST_BYTE_MS - 2);
  });

  test('one response is paced at the per-connection rate, byte-exact', async () => {
    const url = await link();
    const best = await bestOf(
      3,
      async () => {
        const r = await timedGet(url);
        expect(md5(r.body)).toBe(md5(data));
        const rate = SIZE / ((r.total - FIRST_BYTE_MS) / 1000); // the head goes out with the first slice
        expect(rate).toBeLessThan(CONN * 1.1); // at most the rate (+ one catch-up burst)
        return rate;
      },
      (v) => v > CONN * 0.5,
    );
    expect(best).toBeGreaterThan(CONN * 0.5);
  });

  test('parallel responses share the link rate; ranges stay exact', async () => {
    const url = await link();
    const n = 4;
    const part = SIZE / n;
    const best = await bestOf(
      3,
      async () => {
        const t0 = performance.now();
        const parts = await Promise.all(
          Array.from({ length: n }, (_, i) => timedGet(url, `bytes=${i * part}-${(i + 1) * part - 1}`)),
        );
        const secs = (performance.now() - t0 - FIRST_BYTE_MS) / 1000;
        expect(Buffer.concat(parts.map((p) => p.body)).equals(data)).toBe(true);
        const aggregate = SIZE / secs;
        // each alone would run at CONN (n × CONN = 2 × LINK): the link, not the connections, limits
        expect(aggregate).toBeLessThan(LINK * 1.1);
        return aggregate;
      },
      (v) => v > LINK * 0.5,
    );
    expect(best).toBeGreaterThan(LINK * 0.5);
  });

  test('a reset fault under pacing sends exactly afterBytes, then drops the connection', async () => {
    const url = await link();
    emu.setFaults([{ match: 'cdn_download', kind: 'reset', afterBytes: 100_000, count: 1 }]);
    const res = await fetch(url);
    const got: Buffer[] = [];
    const reader = res.body!.getReader();
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          got.push(Buffer.from(value));
        }
      })(),
    ).rejects.toThrow();
    const b = Buffer.concat(got);
    expect(b.length).toBe(100_000);
    expect(b.equals(data.subarray(0, 100_000))).toBe(true);
  });

  test('off by default: no delay and no pacing', async () => {
    const plain = await startEmulator({ rateLimitScale: 0, seedDir: dir });
    try {
      const w = new WireClient(plain.baseUrl);
      await w.login();
      const id = plain.tree().find((e) => e.name === 'w.bin')!.id;
      const url = (await w.get(`/api/v1/file/download_info?fileId=${id}`)).data.downloadUrl as string;
      const paced = FIRST_BYTE_MS + (SIZE / CONN) * 1000; // 310 ms when paced
      const fastest = -(await bestOf(
        3,
        async () => {
          const r = await timedGet(url);
          expect(md5(r.body)).toBe(md5(data));
          return -r.total;
        },
        (v) => -v < paced * 0.6,
      ));
      expect(fastest).toBeLessThan(paced * 0.6);
    } finally {
      await plain.close();
    }
  });
});
