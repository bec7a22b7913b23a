import { Agent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { retryPolicy } from '../../../src/pan/backoff.js';
import type { EndpointSpec } from '../../../src/pan/endpoints.js';
import { RateLimiter } from '../../../src/pan/rate-limiter.js';
import { Transport, transportError } from '../../../src/pan/transport.js';
import { classify } from '../../../src/vfs/classify.js';
import { envelope, startFake, type FakeServer } from './fake-server.js';

let srv: FakeServer;
let agent: Agent;
beforeEach(async () => {
  srv = await startFake();
  agent = new Agent();
});
afterEach(async () => {
  await agent.close();
  await srv.close();
});

function transport(requestTimeoutMs = 2000): Transport {
  const t = new Transport({
    apiBase: srv.baseUrl,
    dispatcher: agent,
    clock: systemClock,
    logger: silentLogger,
    limiter: new RateLimiter(systemClock, 0),
    retry: retryPolicy({ baseMs: 1, capMs: 2 }),
    requestTimeoutMs,
    uploadTimeoutMs: 2000,
  });
  t.setAuth({ get: async () => 'T', invalidate: () => undefined });
  return t;
}

const unsafe: EndpointSpec = {
  name: 'unsafe',
  method: 'POST',
  path: '/unsafe',
  host: 'api',
  qps: 0,
  idempotent: false,
};

describe('Transport', () => {
  it('a request that gets no answer in time is a transport error flagged timedOut, classified ETIMEDOUT', async () => {
    srv.route('/unsafe', () => undefined); // never answers
    const e = await transport(150)
      .call(unsafe, { json: {} })
      .catch((x: unknown) => x);
    expect(e).toMatchObject({ kind: 'transport', timedOut: true });
    expect(classify(e, 'op').kind).toBe('ETIMEDOUT');
  });

  it('timedOut comes from the error code, not from message text', () => {
    const code = (c: string) => Object.assign(new Error('whatever'), { code: c });
    expect(transportError('x', code('UND_ERR_HEADERS_TIMEOUT')).timedOut).toBe(true);
    expect(transportError('x', code('ETIMEDOUT')).timedOut).toBe(true);
    expect(transportError('x', { cause: code('UND_ERR_CONNECT_TIMEOUT') }).timedOut).toBe(true);
    expect(transportError('x', code('ECONNRESET')).timedOut).toBe(false);
    expect(transportError('x', new Error('timed out')).timedOut).toBe(false);
  });

  it('does not blindly repeat a non-idempotent request that may have landed', async () => {
    srv.route('/unsafe', (_r, res) => {
      res.statusCode = 502;
      res.end();
    });
    await expect(transport().call(unsafe, { json: {} })).rejects.toMatchObject({ kind: 'transport', code: 502 });
    expect(srv.count('/unsafe')).toBe(1);
  });

  it('but does retry it on 429 (not processed)', async () => {
    let n = 0;
    srv.route('/unsafe', (_r, res) =>
      ++n === 1 ? envelope(res, 429, null, '请求太频繁') : envelope(res, 0, { ok: 1 }),
    );
    expect(await transport().call(unsafe, { json: {} })).toEqual({ ok: 1 });
  });

  it('a non-JSON 200 is a transport error quoting the status', async () => {
    srv.route('/unsafe', (_r, res) => {
      res.end('<html>');
    });
    await expect(transport().call({ ...unsafe, idempotent: true })).rejects.toMatchObject({
      kind: 'transport',
      code: 200,
    });
  });

  it('sends Platform, Bearer and JSON content type', async () => {
    srv.route('/unsafe', (_r, res) => envelope(res, 0, null));
    await transport().call(unsafe, { json: { a: 1n } });
    const h = srv.seen[0]!.headers;
    expect([h.platform, h.authorization, h['content-type']]).toEqual(['open_platform', 'Bearer T', 'application/json']);
    expect(h['user-agent']).toMatch(/^pan123fs\/\d+\.\d+\.\d+/);
    expect(srv.seen[0]!.body.toString()).toBe('{"a":1}');
  });

  it('an aborted call is kind aborted and not retried', async () => {
    const ac = new AbortController();
    // never answers; the abort comes once the request has reached the server
    srv.route('/unsafe', () => ac.abort(new Error('stop')));
    const p = transport().call({ ...unsafe, idempotent: true }, { signal: ac.signal });
    await expect(p).rejects.toMatchObject({ kind: 'aborted' });
    expect(srv.count('/unsafe')).toBe(1);
  });

  it('a request that exceeds the timeout is retried, then reported', async () => {
    srv.route('/unsafe', () => undefined);
    const t = new Transport({
      apiBase: srv.baseUrl,
      dispatcher: agent,
      clock: systemClock,
      logger: silentLogger,
      limiter: new RateLimiter(systemClock, 0),
      retry: retryPolicy({ attempts: 2, baseMs: 1, capMs: 2 }),
      requestTimeoutMs: 100,
      uploadTimeoutMs: 100,
    });
    t.setAuth({ get: async () => 'T', invalidate: () => undefined });
    await expect(t.call({ ...unsafe, idempotent: true })).rejects.toMatchObject({ kind: 'transport', retryable: true });
    expect(srv.count('/unsafe')).toBe(2);
  });
});
