// The 123 Open request pipeline: token → rate limit → undici request → envelope decode → PanError → retry.
// Owns: headers (Platform and User-Agent on every call, Bearer except the token endpoint), per-request timeouts, the
// envelope {code, message, data, x-traceID}, and the retry rules:
//   retried with backoff: body 429 (and code 1 "请慢一点"), HTTP 429/5xx, resets, refusals, timeouts;
//   body or HTTP 401: one forced token refresh per call, then retry (the token source makes a burst of
//   refusals one fetch, and refuses to fetch twice within a minute: auth.ts);
//   anything else: thrown at once as a typed PanError (code, message, traceId, endpoint).
// Non-idempotent endpoints are retried too; a caller passes `recover` to read a clash answer after a
// retry that may have followed a landed attempt. Invariant: logs carry endpoint, code, traceId,
// attempt, never the token, the secret or a URL's query. Requests are budgeted by one QPS column of
// ENDPOINTS (the tier, set once the account is known; a few 429s at a column the server does not honour
// step it one column down, logged — the 429 back-off stays the guard meanwhile); a call refused because the
// developer rights expired logs one error line per transport, whatever the number of such calls. An
// optional TransportHealth (connectivity.ts) is told of every attempt and, while it says 123pan is down,
// ends retry loops at once.

import { request, type Dispatcher } from 'undici';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { backoffDelay, parseRetryAfter, type RetryPolicy } from './backoff.js';
import { userAgent } from './version.js';
import type { EndpointSpec, QpsTier } from './endpoints.js';
import { PanError } from './errors.js';
import { parseJson, stringifyJson, type Json } from './json.js';
import type { MultipartBody } from './multipart.js';
import type { Lift, Priority, RateLimiter } from './rate-limiter.js';
import { DEVELOPER_EXPIRED_HELP } from './developer.js';
import { bodyError, CODE_OK, CODE_RATE, CODE_TOKEN } from './wire-errors.js';

export interface TokenSource {
  get(signal?: AbortSignal): Promise<string>;
  /** The given token was refused: the next get() must fetch a new one (no-op if already replaced). */
  invalidate(token: string): void;
}

/**
 * Told of every attempt's outcome (pan/connectivity.ts, the offline state machine). While down() holds,
 * a failing call is not retried: the caller learns at once that 123pan is unreachable.
 */
export interface TransportHealth {
  succeeded(): void;
  attemptFailed(e: unknown): void;
  /** a call could not get an access token (the token manager has retried on its own) */
  tokenFailed(e: unknown): void;
  down(): boolean;
}

export interface CallOptions {
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  multipart?: MultipartBody;
  /** base URL for 'upload' endpoints (a server from create/domain) */
  baseUrl?: string;
  signal?: AbortSignal;
  /** 'background' (the change poller): a small share of the endpoint's budget, yielding to foreground calls */
  priority?: Priority;
  /** 'ahead' (a listing ahead of a walk): raised, the call waits as a foreground one */
  lift?: Lift;
  /** A non-retryable body error: return data to treat it as success. `retried` = an earlier attempt may have landed. */
  recover?: (e: PanError, ctx: { retried: boolean }) => Promise<Json | undefined> | Json | undefined;
}

export interface TransportOptions {
  apiBase: string;
  dispatcher: Dispatcher;
  clock: Clock;
  logger: Logger;
  limiter: RateLimiter;
  retry: RetryPolicy;
  /** headers and body timeout per request */
  requestTimeoutMs: number;
  /** same for upload bodies, which may take long on a slow uplink */
  uploadTimeoutMs: number;
  /** User-Agent of every call (default pan123fs/<version>) */
  userAgent?: string;
  /** the offline state machine, told of each attempt (optional) */
  health?: TransportHealth;
  /** the QPS column of ENDPOINTS to budget by (default 'free'; setTier() changes it) */
  tier?: QpsTier;
  /** told of every call that failed because the developer rights expired (after the one log line) */
  onDeveloperExpired?: (e: PanError) => void;
}

/** undici / Node error codes that mean "try again". */
const RETRY_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);
/** undici / Node / lean-http error codes that mean "no answer in time". */
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
/** 429s within TIER_DOWN_WINDOW_MS at a tier above free that make the transport step one column down. */
export const TIER_DOWN_AFTER = 3;
export const TIER_DOWN_WINDOW_MS = 60_000;
/** Failures that prove the request never reached the server. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

export function errCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown })?.code;
  if (typeof c === 'string') return c;
  const cause = (e as { cause?: unknown })?.cause;
  return cause && cause !== e ? errCode(cause) : undefined;
}

export function abortError(endpoint: string, cause: unknown): PanError {
  return new PanError({ kind: 'aborted', message: `${endpoint}: aborted`, endpoint, cause });
}

export function transportError(endpoint: string, e: unknown): PanError {
  const code = errCode(e);
  return new PanError({
    kind: 'transport',
    endpoint,
    cause: e,
    retryable: code !== undefined && RETRY_CODES.has(code),
    timedOut: (code !== undefined && TIMEOUT_CODES.has(code)) || (e as Error)?.name === 'TimeoutError',
    message: `${endpoint}: ${code ?? (e as Error)?.message ?? 'request failed'}`,
  });
}

interface Attempt {
  /** set when the failure cannot have reached the server */
  notSent?: boolean;
  /** the QPS column the attempt was budgeted by */
  tier?: QpsTier;
  retryAfterMs?: number;
}

export class Transport {
  private auth: TokenSource | undefined;
  private tierNow: QpsTier;
  private expiredLogged = false;
  /** times of recent 429s at the current tier (rateLimitedAt) */
  private rateHits: number[] = [];

  constructor(private readonly o: TransportOptions) {
    this.tierNow = o.tier ?? 'free';
  }

  setAuth(auth: TokenSource): void {
    this.auth = auth;
  }

  /** The QPS column every later request is budgeted by. */
  setTier(tier: QpsTier): void {
    this.tierNow = tier;
    this.rateHits = [];
  }

  get tier(): QpsTier {
    return this.tierNow;
  }

  get apiBase(): string {
    return this.o.apiBase;
  }

  /** One logical call with retries; returns the envelope's `data`. */
  async call(ep: EndpointSpec, opts: CallOptions = {}): Promise<Json> {
    const { clock, retry } = this.o;
    const started = clock.now();
    let refreshed = false;
    let retried = false;
    for (let attempt = 1; ; attempt++) {
      if (opts.signal?.aborted) throw abortError(ep.name, opts.signal.reason);
      const meta: Attempt = {};
      let token: string | undefined;
      try {
        token = ep.noAuth ? undefined : await this.token(opts.signal);
        const data = await this.once(ep, opts, token, meta);
        this.o.health?.succeeded();
        return data;
      } catch (e) {
        if (!(e instanceof PanError)) throw e;
        if (e.kind === 'aborted' || opts.signal?.aborted) throw e.kind === 'aborted' ? e : abortError(ep.name, e);
        if (e.kind === 'developer-expired') this.developerExpired(e); // also when the token fetch said so
        if (e.kind === 'auth' && e.code === CODE_TOKEN && token !== undefined && !refreshed && !ep.noAuth) {
          refreshed = true;
          this.auth!.invalidate(token);
          // debug: a burst of refusals is one event, logged once by the token source
          this.o.logger.debug(
            { endpoint: ep.name, code: e.code, traceId: e.traceId, attempt },
            'pan: token refused, refreshing',
          );
          attempt--; // the refresh is not a failure of the call
          continue;
        }
        if (e.endpoint !== ep.name) {
          this.o.health?.tokenFailed(e);
          throw e; // the token fetch failed: it has retried on its own
        }
        this.o.health?.attemptFailed(e);
        if (e.kind === 'rate-limited') this.rateLimitedAt(ep, meta);
        if (!e.retryable) {
          if (opts.recover && e.code !== undefined && e.kind !== 'transport') {
            const v = await opts.recover(e, { retried });
            if (v !== undefined) return v;
          }
          throw e;
        }
        const ambiguous = !meta.notSent && e.kind !== 'rate-limited';
        // Never blindly repeat a non-idempotent request that may have landed unless the caller can read
        // the duplicate's answer (recover).
        if (ambiguous && !ep.idempotent && !opts.recover) throw e;
        if (this.o.health?.down()) throw e; // offline: no point waiting for the next attempt
        const delay = backoffDelay(retry, attempt, meta.retryAfterMs);
        if (attempt >= retry.attempts || clock.now() + delay - started > retry.maxElapsedMs) throw e;
        this.o.logger.warn(
          { endpoint: ep.name, code: e.code, traceId: e.traceId, attempt, delayMs: delay, err: e.message },
          'pan: retrying',
        );
        if (ambiguous) retried = true;
        try {
          await clock.sleep(delay, opts.signal);
        } catch (err) {
          throw abortError(ep.name, err);
        }
      }
    }
  }

  /**
   * A 429 on an endpoint budgeted above the free column: TIER_DOWN_AFTER of them within TIER_DOWN_WINDOW_MS,
   * at the tier in use, mean the server enforces less than that column: step one column down (logged). A
   * 429 of a request budgeted at an earlier tier does not count. There is no way back up but setTier().
   */
  private rateLimitedAt(ep: EndpointSpec, meta: Attempt): void {
    const tier = this.tierNow;
    if (meta.tier !== tier || tier === 'free' || !(ep.qps[tier] > ep.qps.free)) return;
    const now = this.o.clock.now();
    this.rateHits = this.rateHits.filter((t) => now - t < TIER_DOWN_WINDOW_MS);
    this.rateHits.push(now);
    if (this.rateHits.length < TIER_DOWN_AFTER) return;
    this.rateHits = [];
    this.tierNow = tier === 'developer' ? 'vip' : 'free';
    this.o.logger.warn(
      { endpoint: ep.name, from: tier, to: this.tierNow, rateLimited: TIER_DOWN_AFTER },
      `pan: the server answers 429 at the ${tier} rates: using the ${this.tierNow} column of the QPS table`,
    );
  }

  /** One error line per transport (not per call), then the listener on every call. */
  private developerExpired(e: PanError): void {
    if (!this.expiredLogged) {
      this.expiredLogged = true;
      this.o.logger.error({ endpoint: e.endpoint, code: e.code, traceId: e.traceId }, `pan: ${DEVELOPER_EXPIRED_HELP}`);
    }
    this.o.onDeveloperExpired?.(e);
  }

  private async token(signal?: AbortSignal): Promise<string> {
    if (!this.auth) throw new PanError({ kind: 'auth', message: 'no token source configured' });
    return this.auth.get(signal);
  }

  private url(ep: EndpointSpec, opts: CallOptions): string {
    const base = ep.host === 'upload' ? opts.baseUrl : this.o.apiBase;
    if (!base) throw new PanError({ kind: 'api', message: `${ep.name}: no upload server`, endpoint: ep.name });
    const u = new URL(base.replace(/\/+$/, '') + ep.path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  private async once(ep: EndpointSpec, opts: CallOptions, token: string | undefined, meta: Attempt): Promise<Json> {
    const { limiter } = this.o;
    meta.tier = this.tierNow;
    // keyed by tier too: a tier change starts fresh windows with the new budget
    const release = await limiter
      .acquire(`${ep.name}@${this.tierNow}`, ep.qps[this.tierNow], opts.signal, opts.priority, opts.lift)
      .catch((e) => {
        throw abortError(ep.name, e);
      });
    try {
      return await this.send(ep, opts, token, meta);
    } finally {
      release();
    }
  }

  private async send(ep: EndpointSpec, opts: CallOptions, token: string | undefined, meta: Attempt): Promise<Json> {
    const { clock, dispatcher } = this.o;
    const headers: Record<string, string> = {
      Platform: 'open_platform',
      Accept: 'application/json',
      'User-Agent': this.o.userAgent ?? userAgent(),
    };
    if (token !== undefined) headers.Authorization = `Bearer ${token}`;
    let body: string | ReturnType<MultipartBody['stream']> | undefined;
    if (opts.multipart) {
      headers['Content-Type'] = opts.multipart.contentType;
      headers['Content-Length'] = String(opts.multipart.length);
      body = opts.multipart.stream();
    } else {
      headers['Content-Type'] = 'application/json';
      if (opts.json !== undefined) body = stringifyJson(opts.json);
    }
    const timeout = ep.host === 'upload' ? this.o.uploadTimeoutMs : this.o.requestTimeoutMs;
    let res: Dispatcher.ResponseData;
    let text: string;
    try {
      res = await request(this.url(ep, opts), {
        method: ep.method,
        headers,
        body,
        dispatcher,
        signal: opts.signal,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
      text = await res.body.text();
    } catch (e) {
      if (opts.signal?.aborted) throw abortError(ep.name, e);
      if (e instanceof PanError) throw e;
      const code = errCode(e);
      meta.notSent = code !== undefined && NOT_SENT_CODES.has(code);
      throw transportError(ep.name, e);
    }
    return this.decode(ep, res.statusCode, res.headers, text, clock.now(), meta);
  }

  private decode(
    ep: EndpointSpec,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    text: string,
    now: number,
    meta: Attempt,
  ): Json {
    let env: Json | undefined;
    try {
      env = parseJson(text);
    } catch {
      env = undefined;
    }
    const obj = env !== null && typeof env === 'object' && !Array.isArray(env) ? env : undefined;
    const rawCode = obj?.code;
    const hasCode = typeof rawCode === 'number' || typeof rawCode === 'bigint';
    const traceId =
      typeof obj?.['x-traceID'] === 'string'
        ? (obj['x-traceID'] as string)
        : ((headers['x-traceid'] as string | undefined) ?? '');
    // HTTP-level 401/429 are unconfirmed on the real server (§10.1): honoured defensively.
    if (status === 429 || status === 401 || (status >= 500 && !hasCode)) {
      meta.retryAfterMs = parseRetryAfter(headers['retry-after'], now);
      if (status === 401) return this.fail(bodyError(CODE_TOKEN, 'HTTP 401', traceId, ep.name));
      return this.fail(
        new PanError({
          kind: status === 429 ? 'rate-limited' : 'transport',
          code: status,
          traceId,
          endpoint: ep.name,
          retryable: true,
          message: `${ep.name}: HTTP ${status}`,
        }),
      );
    }
    if (!obj || !hasCode) {
      return this.fail(
        new PanError({
          kind: 'transport',
          code: status,
          endpoint: ep.name,
          traceId,
          message: `${ep.name}: HTTP ${status} with a body that is not the JSON envelope`,
        }),
      );
    }
    const code = Number(rawCode);
    if (code === CODE_OK) return obj.data === undefined ? null : obj.data;
    const message = typeof obj.message === 'string' ? obj.message : '';
    if (code === CODE_RATE) meta.retryAfterMs = parseRetryAfter(headers['retry-after'], now);
    return this.fail(bodyError(code, message, traceId, ep.name));
  }

  private fail(e: PanError): never {
    throw e;
  }
}
