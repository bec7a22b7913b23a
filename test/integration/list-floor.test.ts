// Listings at the floor (issue 13 item 6), against the emulator with its strict free-tier limits on
// (file_list: 5 per sliding second) and every API answer delayed 30 ms (WAN emulation).
// v2 list pages follow a cursor (each request needs the previous answer's lastFileId), so one listing's
// pages cannot overlap: per server window the n = 5 pages of a round run one after another (5 × latency)
// and the next round may start one window after the round's first page. The client-side limiter frees a
// slot one window after a page finished (at most start + 50 ms grace), so a round costs 1 s + latency:
// 20 pages take 3 × 1.03 s + 5 × 0.03 s ≈ 3.2 s, below the floor of N / QPS + one latency
// (4.03 s). Concurrent listings share the same budget. The emulator's rateLimited counter (answers of
// 429) stays 0: the budget is never exceeded.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/index.js';
import { HttpPanClient } from '../../src/pan/http-pan-client.js';

const LATENCY_MS = 30;
const QPS = 5;
let emu: EmulatorHandle;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pan123fs-listfloor-'));
  const seed = path.join(dir, 'seed');
  fs.mkdirSync(path.join(seed, 'big'), { recursive: true });
  for (let i = 0; i < 2000; i++) fs.writeFileSync(path.join(seed, 'big', `f${i}`), '');
  for (let d = 0; d < 8; d++) {
    fs.mkdirSync(path.join(seed, `d${d}`));
    for (let i = 0; i < 250; i++) fs.writeFileSync(path.join(seed, `d${d}`, `f${i}`), '');
  }
  emu = await startEmulator({ seedDir: seed, rateLimitScale: 1, wan: { apiDelayMs: LATENCY_MS } });
}, 120_000);
afterAll(async () => {
  await emu.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function client(): HttpPanClient {
  return new HttpPanClient({
    apiBase: emu.baseUrl,
    clientId: 'pan123fs-demo',
    clientSecret: 'pan123fs-demo-secret',
    stateDir: fs.mkdtempSync(path.join(dir, 'state-')),
    rateLimitScale: 1,
  });
}

/** Waits until the emulator's file_list window is empty (one window after the last listing). */
const quiet = () => new Promise((r) => setTimeout(r, 1100));

describe('listings at the free-tier floor', () => {
  it('a listing of 20 pages takes at most N / QPS + one latency, never above the budget', async () => {
    const c = client();
    try {
      const big = (await c.listAll('0')).find((e) => e.name === 'big')!;
      await quiet();
      emu.resetCounters();
      const t0 = performance.now();
      const rows = await c.listAll(big.id);
      const ms = performance.now() - t0;
      const pages = emu.counters().requests.file_list!;
      expect(rows.length).toBe(2000);
      expect(pages).toBeGreaterThanOrEqual(20);
      const floor = (pages / QPS) * 1000 + LATENCY_MS;
      console.log(`${pages} pages: ${ms.toFixed(0)} ms (floor N/QPS + latency ${floor} ms)`);
      expect(emu.counters().rateLimited).toBe(0); // never above the server's budget
      expect(ms).toBeGreaterThanOrEqual((Math.ceil(pages / QPS) - 1) * 1000); // ... nor a wrong one
      expect(ms).toBeLessThanOrEqual(floor * 1.1);
    } finally {
      await c.close();
    }
  }, 60_000);

  it('8 folders listed at once share the budget: at the floor, no 429', async () => {
    const c = client();
    try {
      const dirs = (await c.listAll('0')).filter((e) => e.name.startsWith('d'));
      expect(dirs.length).toBe(8);
      await quiet();
      emu.resetCounters();
      const t0 = performance.now();
      const lists = await Promise.all(dirs.map((d) => c.listAll(d.id)));
      const ms = performance.now() - t0;
      const pages = emu.counters().requests.file_list!;
      for (const l of lists) expect(l.length).toBe(250);
      expect(pages).toBeGreaterThanOrEqual(24); // 3 pages each
      const floor = (pages / QPS) * 1000 + LATENCY_MS;
      console.log(`${pages} pages of 8 folders at once: ${ms.toFixed(0)} ms (floor ${floor} ms)`);
      expect(emu.counters().rateLimited).toBe(0);
      expect(ms).toBeGreaterThanOrEqual((Math.ceil(pages / QPS) - 1) * 1000);
      expect(ms).toBeLessThanOrEqual(floor * 1.1);
    } finally {
      await c.close();
    }
  }, 60_000);
});
