// Token churn (issue 15, 123open-api.md §11 "Tokens"): the real HttpPanClient against the emulator while
// other clients share the client ID — the emulator's rival (rivalTokenEverySec) and plain HTTP clients
// minting on /api/v1/access_token. 123 keeps 3 live tokens per client ID. The client must settle, not
// churn: at most one token a minute of (fake, shared) time plus the first, one fetch per burst of 401s,
// the token file of another process of ours taken instead of a new token, and status saying "revoked".
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/core/logger.js';
import {
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  startEmulator,
  type EmulatorHandle,
} from '../../src/emulator/index.js';
import { isTokenRevoked } from '../../src/pan/auth.js';
import { HttpPanClient } from '../../src/pan/http-pan-client.js';
import { FakeClock } from '../support/clock.js';

const MINUTE = 60_000;

let dir: string;
let clock: FakeClock;
let emu: EmulatorHandle;
const clients: HttpPanClient[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pan123fs-churn-'));
  clock = new FakeClock('instant', Date.UTC(2026, 11, 2, 8, 0, 0));
  emu = await startEmulator({ dataDir: join(dir, 'emu'), rateLimitScale: 0, clock });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await emu?.close();
  await rm(dir, { recursive: true, force: true });
});

function captureLogger(lines: string[]): Logger {
  const log = (o: unknown, m?: string) => {
    lines.push(`${m ?? ''} ${JSON.stringify(o)}`);
  };
  const l: Logger = { trace: log, debug: log, info: log, warn: log, error: log, fatal: log, child: () => l } as Logger;
  return l;
}

function client(state = 'state', logger?: Logger): HttpPanClient {
  const c = new HttpPanClient({
    apiBase: emu.baseUrl,
    clientId: DEFAULT_CLIENT_ID,
    clientSecret: DEFAULT_CLIENT_SECRET,
    stateDir: join(dir, state),
    rateLimitScale: 0,
    retry: { baseMs: 5, capMs: 50 },
    clock,
    ...(logger ? { logger } : {}),
  });
  clients.push(c);
  return c;
}

/** Another tool on another machine: asks for a token over HTTP with the same credentials. */
async function foreignMint(): Promise<void> {
  const res = await fetch(`${emu.baseUrl}/api/v1/access_token`, {
    method: 'POST',
    headers: { Platform: 'open_platform', 'Content-Type': 'application/json' },
    body: JSON.stringify({ clientID: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET }),
  });
  expect(((await res.json()) as { code: number }).code).toBe(0);
}

interface Tally {
  ok: number;
  revoked: number;
  other: number;
}

/** What a mount does: a burst of concurrent calls (listings and user info). */
async function burst(c: HttpPanClient, n: number, t: Tally): Promise<void> {
  const outcomes = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      (i % 2 ? c.listAll('0') : c.userInfo()).then(
        () => 'ok' as const,
        (e: unknown) => (isTokenRevoked(e) ? ('revoked' as const) : ('other' as const)),
      ),
    ),
  );
  for (const o of outcomes) t[o]++;
}

/** Runs `minutes` of fake time in 5 s steps, one burst of 8 calls per step. */
async function run(c: HttpPanClient, minutes: number, t: Tally, each?: (step: number) => Promise<void>): Promise<void> {
  for (let step = 0; step < (minutes * MINUTE) / 5000; step++) {
    await each?.(step);
    await burst(c, 8, t);
    await clock.advance(5000);
  }
}

describe('token churn', () => {
  it('a rival minting every 5 s: at most one token a minute; settles once the rival stops', async () => {
    const lines: string[] = [];
    const c = client('state', captureLogger(lines));
    const t: Tally = { ok: 0, revoked: 0, other: 0 };
    await burst(c, 8, t); // the first token
    expect(emu.counters().tokensIssued).toBe(1);
    emu.setConfig({ rivalTokenEverySec: 5 });
    await run(c, 10, t);
    const churn = emu.counters();
    // 10 minutes: one token a minute at most, plus the first (without the minute rule: ~40, one per
    // revocation, each 15 s after the last)
    expect(churn.tokensIssued).toBeLessThanOrEqual(10 + 1);
    expect(churn.tokensIssued).toBeGreaterThanOrEqual(10); // it did try again each minute
    expect(churn.rivalTokensIssued).toBeGreaterThanOrEqual(100);
    expect(t.revoked).toBeGreaterThan(0);
    expect(t.other).toBe(0); // every failure said why: revoked by another client
    expect(c.tokens.status().refused).toBeGreaterThanOrEqual(9);
    const warned = lines.filter((l) => l.includes('revoked by another client sharing the client ID'));
    expect(warned.length).toBe(c.tokens.status().refused); // one line per revoked token, not per call
    // the rival stops: within a minute the client has a token again, and keeps it
    emu.setConfig({ rivalTokenEverySec: 0 });
    await clock.advance(MINUTE);
    const before = emu.counters().tokensIssued;
    const quiet: Tally = { ok: 0, revoked: 0, other: 0 };
    await run(c, 5, quiet);
    expect(emu.counters().tokensIssued - before).toBeLessThanOrEqual(1);
    expect(quiet).toEqual({ ok: 60 * 8, revoked: 0, other: 0 });
    expect(c.tokens.status()).toMatchObject({ state: 'ok' });
  });

  it('another tool mints 3 tokens at once: one refresh for the burst of 401s, then settled', async () => {
    const c = client();
    const t: Tally = { ok: 0, revoked: 0, other: 0 };
    await run(c, 2, t); // the first token, used for 2 minutes
    expect(emu.counters().tokensIssued).toBe(1);
    await Promise.all([foreignMint(), foreignMint(), foreignMint()]); // our token is the 4th oldest: revoked
    const refused: Tally = { ok: 0, revoked: 0, other: 0 };
    await burst(c, 50, refused); // 50 calls refused with the same token
    expect(refused).toEqual({ ok: 50, revoked: 0, other: 0 });
    expect(emu.counters().tokensIssued).toBe(1 + 3 + 1); // exactly one refresh
    await run(c, 5, t);
    expect(emu.counters().tokensIssued).toBe(5);
    expect(t).toEqual({ ok: 7 * 12 * 8, revoked: 0, other: 0 });
    expect(c.tokens.status()).toMatchObject({ state: 'ok', fetched: 2, refused: 1 });
  });

  it('another mint within the minute: revoked, status says so, no new token before the minute', async () => {
    const c = client();
    const t: Tally = { ok: 0, revoked: 0, other: 0 };
    await run(c, 2, t);
    await Promise.all([foreignMint(), foreignMint(), foreignMint()]);
    await burst(c, 8, t); // refreshed: token 2
    await clock.advance(20_000);
    await Promise.all([foreignMint(), foreignMint(), foreignMint()]); // token 2 revoked 20 s after its fetch
    const r: Tally = { ok: 0, revoked: 0, other: 0 };
    await burst(c, 8, r);
    expect(r).toEqual({ ok: 0, revoked: 8, other: 0 });
    const st = c.tokens.status();
    expect(st).toMatchObject({ state: 'revoked', revokedAt: new Date(clock.now()).toISOString() });
    expect(Date.parse(st.nextRefreshAt!)).toBe(clock.now() + 40_000);
    expect(emu.counters().tokensIssued).toBe(1 + 3 + 1 + 3);
    await clock.advance(39_000);
    await burst(c, 8, r);
    expect(emu.counters().tokensIssued).toBe(8); // still inside the minute
    await clock.advance(1_000);
    const after: Tally = { ok: 0, revoked: 0, other: 0 };
    await burst(c, 8, after);
    expect(after).toEqual({ ok: 8, revoked: 0, other: 0 });
    expect(emu.counters().tokensIssued).toBe(9);
  });

  it('two processes of ours on one state dir: the second takes the token the first saved', async () => {
    const a = client('shared');
    const b = client('shared');
    const t: Tally = { ok: 0, revoked: 0, other: 0 };
    await run(a, 1, t);
    await run(b, 1, t);
    expect(emu.counters().tokensIssued).toBe(1);
    await Promise.all([foreignMint(), foreignMint(), foreignMint()]);
    await burst(a, 8, t); // a refreshes and saves
    await burst(b, 8, t); // b: refused, re-reads the file, takes a's token
    expect(t).toEqual({ ok: 2 * 12 * 8 + 2 * 8, revoked: 0, other: 0 });
    expect(emu.counters().tokensIssued).toBe(1 + 3 + 1);
    expect(b.tokens.status()).toMatchObject({ state: 'ok', fetched: 0, adopted: 1, refused: 1 });
  });

  it('four machines with their own token files on one client ID (3 live tokens): bounded, not churning', async () => {
    const cs = [client('m1'), client('m2'), client('m3'), client('m4')];
    const ts = cs.map(() => ({ ok: 0, revoked: 0, other: 0 }));
    for (let step = 0; step < (10 * MINUTE) / 5000; step++) {
      await Promise.all(cs.map((c, i) => burst(c, 4, ts[i]!)));
      await clock.advance(5000);
    }
    // each machine: its first token plus at most one a minute; without the rule they revoke each other on
    // every call
    expect(emu.counters().tokensIssued).toBeLessThanOrEqual(4 * (10 + 1));
    for (const t of ts) expect(t.other).toBe(0);
  });
});
