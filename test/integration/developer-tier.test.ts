// The paid developer tier (issue 15): the developer rights package (开发者权益包) and the QPS tiers, against
// the emulator in its strict default and with each option (developerDays, vip, rateTier).
// Rates are measured in virtual time: the client and the emulator share one FakeClock in 'auto' mode, so
// every limiter wait (client) and every window (emulator) is on the same clock, and a listing's duration is
// what the budgets make it, not what the machine's load makes it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/core/clock.js';
import type { Logger } from '../../src/core/logger.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/index.js';
import { developerRights, pickTier } from '../../src/pan/developer.js';
import { PanError } from '../../src/pan/errors.js';
import { HttpPanClient } from '../../src/pan/http-pan-client.js';
import { classify } from '../../src/vfs/classify.js';
import { FakeClock } from '../support/clock.js';
import { WireClient } from '../unit/emulator/wire-helpers.js';

const DAY = 86_400_000;
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pan123fs-devtier-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function client(emu: EmulatorHandle, o: { clock?: Clock; logger?: Logger; tier?: 'free' | 'vip' | 'developer' } = {}) {
  const expired: PanError[] = [];
  const c = new HttpPanClient({
    apiBase: emu.baseUrl,
    clientId: 'pan123fs-demo',
    clientSecret: 'pan123fs-demo-secret',
    stateDir: fs.mkdtempSync(path.join(dir, 'state-')),
    rateLimitScale: 1,
    clock: o.clock,
    logger: o.logger,
    tier: o.tier,
    onDeveloperExpired: (e) => expired.push(e),
  });
  return { c, expired };
}

/** A logger that keeps every line (level, fields, message). */
function recordingLogger(lines: Array<{ level: string; msg: string; obj: object }>): Logger {
  const mk =
    (level: string) =>
    (a: object | string, msg?: string): void => {
      lines.push({ level, msg: typeof a === 'string' ? a : (msg ?? ''), obj: typeof a === 'string' ? {} : a });
    };
  const l: Logger = {
    trace: mk('trace'),
    debug: mk('debug'),
    info: mk('info'),
    warn: mk('warn'),
    error: mk('error'),
    fatal: mk('fatal'),
    child: () => l,
  } as Logger;
  return l;
}

describe('developer rights (开发者权益包)', () => {
  it('default: user/info says a year left; the client reads it, picks the developer tier', async () => {
    const clock = new FakeClock('manual');
    const emu = await startEmulator({ rateLimitScale: 0, clock });
    const { c } = client(emu, { clock });
    try {
      const info = await c.userInfo();
      // endTime is second-precision (UTC+8 wire time)
      expect(Math.abs(info.developerEndAt! - (clock.now() + 365 * DAY))).toBeLessThan(1000);
      expect(developerRights(info.developerEndAt, clock.now()).daysLeft).toBe(365);
      expect(pickTier(info, clock.now())).toBe('developer');
    } finally {
      await c.close();
      await emu.close();
    }
  });

  it('developerDays sets the days left; vip says VIP (the 2025 VIP column once the rights end)', async () => {
    const clock = new FakeClock('manual');
    const emu = await startEmulator({ rateLimitScale: 0, clock, developerDays: 10, vip: 1 });
    const { c } = client(emu, { clock });
    try {
      const info = await c.userInfo();
      const r = developerRights(info.developerEndAt, clock.now());
      expect(r).toMatchObject({ daysLeft: 10, expired: false, expiring: true });
      expect(info.vip).toBe(true);
      expect(pickTier(info, clock.now())).toBe('developer');
      expect(pickTier(info, info.developerEndAt! + 1)).toBe('vip');
    } finally {
      await c.close();
      await emu.close();
    }
  });

  it('expired: every API call answers code 1 开发者权益已过期; token minting still works', async () => {
    const clock = new FakeClock('manual');
    const emu = await startEmulator({ rateLimitScale: 0, clock, developerDays: -3 });
    try {
      const w = new WireClient(emu.baseUrl);
      await w.login(); // access_token is not refused
      expect(emu.counters().tokensIssued).toBe(1);
      for (const p of [
        '/api/v1/user/info',
        '/api/v2/file/list?parentFileId=0&limit=100',
        '/api/v1/file/detail?fileID=1',
      ]) {
        const r = await w.get(p);
        expect(r.code, p).toBe(1);
        expect(r.message, p).toMatch(/开发者权益已过期/);
      }
      const mk = await w.post('/upload/v1/file/mkdir', { name: 'x', parentID: 0 });
      expect([mk.code, mk.message]).toEqual([1, expect.stringMatching(/开发者权益已过期/)]);
      expect(emu.tree().filter((e) => e.name === 'x')).toEqual([]);
      // renewed at runtime: calls are served again
      emu.setConfig({ developerDays: 30 });
      expect((await w.get('/api/v1/user/info')).code).toBe(0);
    } finally {
      await emu.close();
    }
  });

  it('client: an expired account fails as developer-expired (EACCES), one log line, no retries', async () => {
    const clock = new FakeClock('auto');
    const emu = await startEmulator({ rateLimitScale: 0, clock });
    const lines: Array<{ level: string; msg: string; obj: object }> = [];
    const { c, expired } = client(emu, { clock, logger: recordingLogger(lines) });
    try {
      await c.listAll('0'); // served
      emu.setConfig({ developerDays: 0 }); // ends now
      emu.resetCounters();
      const errs: unknown[] = [];
      for (const call of [() => c.listAll('0'), () => c.userInfo(), () => c.mkdir('0', 'd')])
        errs.push(await call().catch((e: unknown) => e));
      for (const e of errs) {
        expect(e).toBeInstanceOf(PanError);
        expect((e as PanError).kind).toBe('developer-expired');
        expect(classify(e, 'ls /').kind).toBe('EACCES');
      }
      // one request each: refused, not retried
      expect(emu.counters().requests).toMatchObject({ file_list: 1, user_info: 1, mkdir: 1 });
      expect(expired.length).toBe(3);
      const said = lines.filter((l) => /developer rights .*expired/.test(l.msg));
      expect(said.length).toBe(1); // one line per client, not per call
      expect(said[0]!.level).toBe('error');
      expect(said[0]!.msg).toMatch(/开发者权益包/);
    } finally {
      await c.close();
      await emu.close();
    }
  });
});

describe('QPS tiers: a cold listing of 10,000 entries', () => {
  // one emulator (seeding 10,000 files takes most of the time) on one virtual clock for every client
  const clock = new FakeClock('auto');
  let emu: EmulatorHandle;
  let bigId: string;
  beforeAll(async () => {
    const seed = path.join(dir, 'seed');
    fs.mkdirSync(path.join(seed, 'big'), { recursive: true });
    for (let i = 0; i < 10_000; i++) fs.writeFileSync(path.join(seed, 'big', `f${i}`), '');
    emu = await startEmulator({ seedDir: seed, rateLimitScale: 1, clock });
    bigId = emu.tree().find((e) => e.path === '/big')!.id;
  }, 120_000);
  afterAll(async () => {
    await emu?.close();
  });

  /** Lists /big cold in virtual time; returns pages, virtual ms and the emulator's 429 count. */
  async function coldList(o: {
    emuTier?: 'account' | 'free' | 'vip' | 'developer';
    clientTier?: 'free' | 'developer';
  }) {
    emu.setConfig({ rateTier: o.emuTier ?? 'account' });
    const { c } = client(emu, { clock, tier: o.clientTier });
    try {
      await c.userInfo(); // the token, before the clock starts
      await clock.sleep(2000); // earlier listings leave the windows
      emu.resetCounters();
      const t0 = clock.now();
      const rows = await c.listAll(bigId);
      const ms = clock.now() - t0;
      expect(rows.length).toBe(10_000);
      const { requests, rateLimited } = emu.counters();
      return { pages: requests.file_list!, ms, rateLimited, tierAfter: c.tier };
    } finally {
      await c.close();
      emu.setConfig({ rateTier: 'account' });
    }
  }

  it('free column (5/s): about 20 s', async () => {
    const r = await coldList({ clientTier: 'free' });
    console.log(`free: ${r.pages} pages in ${r.ms} virtual ms, ${r.rateLimited} answers of 429`);
    expect(r.pages).toBeGreaterThanOrEqual(100);
    expect(r.rateLimited).toBe(0);
    expect(r.ms).toBeGreaterThanOrEqual((Math.ceil(r.pages / 5) - 1) * 1000); // 19 s
    expect(r.ms).toBeLessThanOrEqual((r.pages / 5) * 1000);
  }, 120_000);

  it('developer column (15/s, the emulator enforcing the account’s column): about 7 s, no 429', async () => {
    const r = await coldList({ clientTier: 'developer' });
    console.log(`developer: ${r.pages} pages in ${r.ms} virtual ms, ${r.rateLimited} answers of 429`);
    expect(r.pages).toBeGreaterThanOrEqual(100);
    expect(r.rateLimited).toBe(0);
    expect(r.ms).toBeGreaterThanOrEqual((Math.ceil(r.pages / 15) - 1) * 1000); // 6 s
    expect(r.ms).toBeLessThanOrEqual((r.pages / 15) * 1000 + 500); // ~6.7 s
  }, 120_000);

  it('rateTier developer enforces 15/s whatever the account: 16 pages in one second get one 429', async () => {
    const clock = new FakeClock('manual');
    const emu = await startEmulator({ rateLimitScale: 1, clock, rateTier: 'developer', vip: 0 });
    try {
      const w = new WireClient(emu.baseUrl);
      await w.login();
      const codes: number[] = [];
      for (let i = 0; i < 16; i++) codes.push((await w.get('/api/v2/file/list?parentFileId=0&limit=100')).code);
      expect(codes.filter((x) => x === 0).length).toBe(15);
      expect(codes[15]).toBe(429);
    } finally {
      await emu.close();
    }
  });

  it('rateTier free (the 2026 table does not apply): the client steps down to the free column after 429s', async () => {
    const r = await coldList({ emuTier: 'free', clientTier: 'developer' });
    console.log(
      `developer client, free server: ${r.pages} pages in ${r.ms} virtual ms, ${r.rateLimited} answers of 429, ` +
        `now ${r.tierAfter}`,
    );
    expect(r.rateLimited).toBeGreaterThan(0); // the body code 429 back-off is the guard meanwhile
    expect(r.pages - r.rateLimited).toBeGreaterThanOrEqual(100);
    expect(r.tierAfter).toBe('free'); // developer → vip → free, 3 answers of 429 each
    expect(r.rateLimited).toBeLessThanOrEqual(12);
    expect(r.ms).toBeLessThanOrEqual(25_000); // near the free column's 19 s
  }, 120_000);

  it('rateTier vip enforces the 2025 VIP column: 10 pages a second', async () => {
    const clock = new FakeClock('manual');
    const emu = await startEmulator({ rateLimitScale: 1, clock, rateTier: 'vip' });
    try {
      const w = new WireClient(emu.baseUrl);
      await w.login();
      const codes: number[] = [];
      for (let i = 0; i < 11; i++) codes.push((await w.get('/api/v2/file/list?parentFileId=0&limit=100')).code);
      expect(codes.filter((x) => x === 0).length).toBe(10);
      expect(codes[10]).toBe(429);
    } finally {
      await emu.close();
    }
  });
});
