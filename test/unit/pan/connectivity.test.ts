// The offline state machine (pan/connectivity.ts) on the fake clock: what counts as unreachable, the
// streak, the gate, the probe back-off, flapping, token failures, and a Transport that stops retrying.
import { createServer } from 'node:net';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { retryPolicy } from '../../../src/pan/backoff.js';
import {
  Connectivity,
  isUnreachable,
  OfflineError,
  offlineCause,
  PROBE_BASE_MS,
  PROBE_CAP_MS,
} from '../../../src/pan/connectivity.js';
import type { EndpointSpec } from '../../../src/pan/endpoints.js';
import { PanError } from '../../../src/pan/errors.js';
import { RateLimiter } from '../../../src/pan/rate-limiter.js';
import { Transport, transportError } from '../../../src/pan/transport.js';
import { classify, classifyData } from '../../../src/vfs/classify.js';
import { FakeClock } from '../../support/clock.js';

const refused = () => transportError('file/list', Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }));
const reset = () => transportError('file/list', Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
const answered = () => new PanError({ kind: 'api', code: 1, message: 'server said no', endpoint: 'file/list' });

function setup(probe: () => Promise<void> = () => Promise.reject(refused())) {
  const clock = new FakeClock('manual');
  const changes: boolean[] = [];
  const probes: number[] = [];
  const conn = new Connectivity({
    clock,
    logger: silentLogger,
    random: () => 0.5,
    probe: () => {
      probes.push(clock.now());
      return probe();
    },
  });
  conn.onChange((off) => changes.push(off));
  return { clock, conn, changes, probes };
}

describe('isUnreachable', () => {
  it('is refused, DNS, no route, connect timeout, a gateway status; not a reset, a 500, an answer', () => {
    expect(isUnreachable(refused())).toBe(true);
    for (const code of ['ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'])
      expect(isUnreachable(transportError('x', Object.assign(new Error(code), { code })))).toBe(true);
    const gw = (code: number) => new PanError({ kind: 'transport', code, message: `HTTP ${code}`, retryable: true });
    expect(isUnreachable(gw(502))).toBe(true);
    expect(isUnreachable(gw(503))).toBe(true);
    expect(isUnreachable(gw(500))).toBe(false);
    expect(isUnreachable(reset())).toBe(false);
    expect(isUnreachable(answered())).toBe(false);
    expect(isUnreachable(new Error('plain'))).toBe(false);
  });
});

describe('Connectivity', () => {
  it('goes offline after two unreachable attempts in a row, not after one, and not across an answer', () => {
    const { conn, changes } = setup();
    conn.attemptFailed(refused());
    expect(conn.offline).toBe(false);
    conn.attemptFailed(answered()); // the server answered: the streak starts over
    conn.attemptFailed(refused());
    expect(conn.offline).toBe(false);
    conn.attemptFailed(reset()); // ambiguous: neither counts nor resets
    expect(conn.offline).toBe(false);
    conn.attemptFailed(refused());
    expect(conn.offline).toBe(true);
    expect(conn.down()).toBe(true);
    expect(changes).toEqual([true]);
    const st = conn.status();
    expect(st.offline).toBe(true);
    expect(st.offlineSince).toBe(new Date(conn.since!).toISOString());
    expect(st.offlineCause).toMatch(/ECONNREFUSED/);
  });

  it('a token that cannot be obtained makes it offline at once; an aborted fetch does not', () => {
    const { conn } = setup();
    conn.tokenFailed(new PanError({ kind: 'aborted', message: 'aborted' }));
    expect(conn.offline).toBe(false);
    conn.tokenFailed(new PanError({ kind: 'auth', code: 401, message: 'access_token: bad secret' }));
    expect(conn.offline).toBe(true);
    expect(conn.status().offlineCause).toMatch(/no access token: access_token: bad secret/);
  });

  it('gates calls while offline: OfflineError at once, the target untouched; passes them through online', async () => {
    const { conn } = setup();
    let calls = 0;
    const api = conn.gate({
      list: async (x: number) => {
        calls++;
        return x * 2;
      },
      name: 'client',
    });
    expect(await api.list(2)).toBe(4);
    conn.enter('test');
    const err = await api.list(3).catch((e) => e);
    expect(err).toBeInstanceOf(OfflineError);
    expect(err.message).toMatch(/list: 123pan unreachable since .*\(test\)/);
    expect(calls).toBe(1);
    expect(api.name).toBe('client');
    // the vfs: ENETDOWN for namespace changes, EIO on the data path
    expect(classify(err, 'mkdir /a').kind).toBe('ENETDOWN');
    expect(classifyData(err, 'read /a').kind).toBe('EIO');
    expect(offlineCause(classifyData(err, 'read /a'))).toBe(err);
    conn.succeeded();
    expect(await api.list(5)).toBe(10);
  });

  it('probes on a doubling back-off until one succeeds, then is online and says so once', async () => {
    let up = false;
    const { clock, conn, changes, probes } = setup(() => (up ? Promise.resolve() : Promise.reject(refused())));
    conn.enter('test');
    const t0 = clock.now();
    // jitter 0.2 at random 0.5: each delay is 0.9 × the doubling ceiling
    const ceilings = [1, 2, 4, 8].map((k) => Math.min(PROBE_CAP_MS, PROBE_BASE_MS * k));
    let at = t0;
    for (const c of ceilings) {
      at += Math.round(0.8 * c) + Math.floor(0.2 * 0.5 * c);
      await clock.advance(at - clock.now());
      expect(probes.at(-1)).toBe(at);
    }
    expect(probes).toHaveLength(4);
    expect(conn.offline).toBe(true);
    up = true;
    await clock.advance(PROBE_CAP_MS);
    expect(probes).toHaveLength(5);
    expect(conn.offline).toBe(false);
    expect(changes).toEqual([true, false]);
    expect(conn.status()).toEqual({ offline: false });
    expect(clock.pendingTimers).toEqual([]); // no probe left once online
  });

  it('probes never come more than a minute apart, however long it stays offline', async () => {
    const { clock, conn, probes } = setup();
    conn.enter('test');
    await clock.advance(30 * 60_000);
    const gaps = probes.slice(1).map((t, i) => t - probes[i]!);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(PROBE_CAP_MS);
    expect(gaps.slice(-3).every((g) => g >= 0.8 * PROBE_CAP_MS)).toBe(true);
  });

  it('an offline period soon after the last one (flapping) starts its probes further up', async () => {
    const { clock, conn, probes } = setup(() => Promise.resolve());
    const t0 = clock.now();
    conn.enter('first');
    await clock.advance(PROBE_CAP_MS);
    expect(conn.offline).toBe(false);
    expect(probes[0]! - t0).toBe(900); // 0.9 × 1 s
    const start = clock.now();
    conn.enter('again');
    await clock.advance(PROBE_CAP_MS);
    expect(probes).toHaveLength(2);
    expect(probes[1]! - start).toBe(1800); // one step up: 0.9 × 2 s
  });

  it('any success ends the offline period (a call already in flight, or the CDN)', () => {
    const { conn, changes } = setup();
    conn.enter('test');
    conn.attemptFailed(answered()); // an answer is not a success: a refused token is answered too
    expect(conn.offline).toBe(true);
    conn.succeeded();
    expect(conn.offline).toBe(false);
    expect(changes).toEqual([true, false]);
  });

  it('close() stops probing', async () => {
    const { clock, conn, probes } = setup();
    conn.enter('test');
    conn.close();
    await clock.advance(10 * PROBE_CAP_MS);
    expect(probes).toEqual([]);
  });
});

describe('Transport with a Connectivity', () => {
  it('stops retrying a refused connection once offline, and later calls fail without the network', async () => {
    // a port nothing listens on: bind one, note it, close it
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const clock = new FakeClock('instant');
    const conn = new Connectivity({ clock, logger: silentLogger, probe: () => Promise.reject(refused()) });
    const agent = new Agent();
    const t = new Transport({
      apiBase: `http://127.0.0.1:${port}`,
      dispatcher: agent,
      clock,
      logger: silentLogger,
      limiter: new RateLimiter(clock, 0),
      retry: retryPolicy({ attempts: 6 }),
      requestTimeoutMs: 2000,
      uploadTimeoutMs: 2000,
      health: conn,
    });
    t.setAuth({ get: async () => 'T', invalidate: () => undefined });
    const ep: EndpointSpec = { name: 'file/list', method: 'GET', path: '/x', host: 'api', qps: 0, idempotent: true };
    const err = await t.call(ep).catch((e) => e);
    await agent.close();
    conn.close();
    expect(isUnreachable(err)).toBe(true);
    expect(conn.offline).toBe(true);
    expect(clock.sleeps).toHaveLength(1); // two attempts, one back-off between them, not six
  });
});
