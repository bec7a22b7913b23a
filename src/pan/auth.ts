// Developer access token (123open-api.md §2.1, §11 "Tokens"). Owns: obtaining the token from clientID/clientSecret,
// persisting it to <stateDir>/token-<sha256(apiBase+clientId)[0..16]>.json (mode 0600, tmp + rename, with
// the time it was obtained), reusing it across restarts, refreshing it REFRESH_MARGIN_MS before expiredAt
// and on a refused token, and telling (status(), one log line) when another client revoked it.
// 123 keeps only 3 live tokens per client ID, shared with every tool and machine that uses the ID: each new
// token may revoke someone's oldest. Invariants:
//  - a token that is still valid is never replaced;
//  - at most one fetch is in flight (SingleFlight): 50 concurrent callers, or a burst of 401s, trigger one;
//  - before asking for a token, the token file is read again: a token another process of ours saved there
//    (different from ours, not refused, not near expiry) is taken instead of fetching;
//  - two successful fetches are at least MIN_REFRESH_INTERVAL_MS apart, counted from the obtainedAt of the
//    file too (so across our processes). A token refused sooner than that after it was obtained was revoked
//    by another client: callers get TokenRevokedError at once (the mount goes offline) until the minute
//    is over, then one fetch is made;
//  - a failed fetch does not wedge: callers within a short, doubling back-off window get the last
//    error at once, and the first call after it tries again.

import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { SingleFlight } from '../core/single-flight.js';
import { Backoff } from './backoff.js';
import { asObj, strField } from './decode.js';
import { ENDPOINTS } from './endpoints.js';
import { PanError } from './errors.js';
import { parseRfc3339 } from './time.js';
import type { TokenSource, Transport } from './transport.js';

/** Refresh this long before expiredAt (RES uses 5 min; a clock skew of minutes stays safe). */
export const REFRESH_MARGIN_MS = 5 * 60_000;
/** When expiredAt is missing or unparseable, trust the token this long (docs say 30 d; be modest). */
const FALLBACK_LIFETIME_MS = 24 * 3600_000;
/** Back-off after a failed fetch: first window, doubling to the cap (bounded token churn, quick recovery). */
const FAIL_BACKOFF_MS = 1000;
const FAIL_BACKOFF_CAP_MS = 60_000;
/**
 * Two successful fetches are at least this far apart (restic-123pan refreshes at most once a minute after
 * a success): with 3 live tokens per client ID, a client that answers each 401 with a new token revokes the
 * others' tokens, whose 401s revoke ours — churn. A token refused within this long of being obtained was
 * revoked by another client sharing the client ID.
 */
export const MIN_REFRESH_INTERVAL_MS = 60_000;
/** refused tokens remembered, so the token file's copy of one is not taken again */
const REFUSED_KEPT = 8;

export interface TokenRecord {
  accessToken: string;
  /** epoch ms */
  expiresAt: number;
  /** epoch ms the token was obtained (unknown for files written before it was recorded) */
  obtainedAt?: number;
}

/** What `status` shows of the token (times ISO 8601). */
export interface TokenStatus {
  /**
   * ok: a token in use; revoked: refused within a minute of being obtained (another client sharing the
   * client ID took its place), no new one before nextRefreshAt; failing: the last fetch failed; none: no
   * token asked for yet
   */
  state: 'ok' | 'revoked' | 'failing' | 'none';
  obtainedAt?: string;
  expiresAt?: string;
  /** tokens this process obtained from 123 */
  fetched: number;
  /** tokens taken from the token file, saved there by another process of ours */
  adopted: number;
  /** tokens refused by 123 before their expiry (revoked) */
  refused: number;
  /** the last time a token was revoked by another client */
  revokedAt?: string;
  /** state revoked: when the next fetch may be made */
  nextRefreshAt?: string;
  /** state failing: the fetch's error */
  lastError?: string;
}

/**
 * The token was refused within MIN_REFRESH_INTERVAL_MS of being obtained: another client sharing the client
 * ID revoked it, and a new one is not asked for before nextRefreshAt (epoch ms).
 */
export class TokenRevokedError extends PanError {
  constructor(
    readonly revokedAt: number,
    readonly nextRefreshAt: number,
  ) {
    super({
      kind: 'auth',
      code: 401,
      endpoint: ENDPOINTS.accessToken.name,
      message:
        `access token revoked by another client sharing the client ID at ${new Date(revokedAt).toISOString()} ` +
        `(123 keeps 3 live tokens per client ID); next refresh at ${new Date(nextRefreshAt).toISOString()}`,
    });
    this.name = 'TokenRevokedError';
  }
}

export function isTokenRevoked(e: unknown): e is TokenRevokedError {
  for (let cur = e, depth = 0; cur && depth < 8; depth++) {
    if (cur instanceof TokenRevokedError) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

export interface TokenManagerOptions {
  stateDir: string;
  apiBase: string;
  clientId: string;
  clock: Clock;
  logger: Logger;
  fetchToken: (signal?: AbortSignal) => Promise<TokenRecord>;
}

export function tokenFilePath(stateDir: string, apiBase: string, clientId: string): string {
  const h = createHash('sha256')
    .update(apiBase.replace(/\/+$/, '') + clientId)
    .digest('hex')
    .slice(0, 16);
  return join(stateDir, `token-${h}.json`);
}

/** POST /api/v1/access_token {clientID, clientSecret} → {accessToken, expiredAt (RFC 3339)}. */
export async function fetchAccessToken(
  t: Transport,
  clientId: string,
  clientSecret: string,
  clock: Clock,
  signal?: AbortSignal,
): Promise<TokenRecord> {
  let raw;
  try {
    raw = await t.call(ENDPOINTS.accessToken, { json: { clientID: clientId, clientSecret }, signal });
  } catch (e) {
    // Any business answer of the token endpoint (bad credentials, too many tokens…) is an auth failure.
    if (
      e instanceof PanError &&
      e.code !== undefined &&
      (e.kind === 'api' || e.kind === 'not-found' || e.kind === 'invalid-name')
    ) {
      throw new PanError({
        kind: 'auth',
        code: e.code,
        traceId: e.traceId,
        endpoint: e.endpoint,
        cause: e,
        message: e.message,
      });
    }
    throw e;
  }
  const data = asObj(raw, 'access_token data');
  const accessToken = strField(data, 'accessToken', 'access_token');
  if (!accessToken)
    throw new PanError({
      kind: 'auth',
      message: 'access_token: response has no accessToken',
      endpoint: ENDPOINTS.accessToken.name,
    });
  const exp = parseRfc3339(strField(data, 'expiredAt'));
  return { accessToken, expiresAt: Number.isFinite(exp) ? exp : clock.now() + FALLBACK_LIFETIME_MS };
}

export class TokenManager implements TokenSource {
  private current: TokenRecord | undefined;
  private loaded = false;
  private readonly flight = new SingleFlight<'token', string>();
  private readonly failures: Backoff;
  private lastError: unknown;
  /** epoch ms of the last successful fetch, ours or (from the file) another process's */
  private lastFetchAt = Number.NEGATIVE_INFINITY;
  /** tokens 123 refused, newest last */
  private readonly refused: string[] = [];
  /** set while a token revoked by another client waits for the minute to pass */
  private revoked: { at: number; nextAt: number } | undefined;
  private lastRevokedAt: number | undefined;
  private counts = { fetched: 0, adopted: 0, refused: 0 };
  readonly file: string;

  constructor(private readonly o: TokenManagerOptions) {
    this.file = tokenFilePath(o.stateDir, o.apiBase, o.clientId);
    this.failures = new Backoff({ baseMs: FAIL_BACKOFF_MS, capMs: FAIL_BACKOFF_CAP_MS }, o.clock);
  }

  async get(signal?: AbortSignal): Promise<string> {
    const cur = this.current;
    if (this.loaded && cur && this.fresh(cur)) return cur.accessToken;
    return this.flight.run('token', () => this.obtain(signal));
  }

  /** Called for every refused call: only the first refusal of the current token counts (a burst is one). */
  invalidate(token: string): void {
    const cur = this.current;
    if (cur?.accessToken !== token) return;
    const now = this.o.clock.now();
    this.current = undefined;
    this.refused.push(token);
    if (this.refused.length > REFUSED_KEPT) this.refused.shift();
    if (now >= cur.expiresAt) return; // expired: an ordinary refresh
    this.counts.refused++;
    this.lastRevokedAt = now;
    const nextAt = this.lastFetchAt + MIN_REFRESH_INTERVAL_MS;
    if (now < nextAt) {
      this.revoked = { at: now, nextAt };
      this.o.logger.warn(
        { revokedAt: new Date(now).toISOString(), nextRefreshAt: new Date(nextAt).toISOString() },
        'pan: access token revoked by another client sharing the client ID (123 keeps 3 live tokens per ' +
          'client ID); no new token before nextRefreshAt',
      );
    } else {
      this.o.logger.warn(
        { obtainedAt: cur.obtainedAt === undefined ? undefined : new Date(cur.obtainedAt).toISOString() },
        'pan: access token refused before its expiry (revoked, maybe by another client sharing the client ID); ' +
          'asking for a new one',
      );
    }
  }

  status(): TokenStatus {
    const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
    const cur = this.current;
    // a fresh token (taken from the file, say) is ok even after failed fetches; a stale one while fetches fail is not
    const state = this.revoked
      ? 'revoked'
      : cur && this.fresh(cur)
        ? 'ok'
        : this.failures.failures > 0
          ? 'failing'
          : cur
            ? 'ok'
            : 'none';
    return {
      state,
      obtainedAt: iso(cur?.obtainedAt),
      expiresAt: iso(cur?.expiresAt),
      ...this.counts,
      revokedAt: iso(this.lastRevokedAt),
      nextRefreshAt: iso(this.revoked?.nextAt),
      lastError: state === 'failing' ? (this.lastError as Error)?.message : undefined,
    };
  }

  private fresh(t: TokenRecord): boolean {
    return this.o.clock.now() < t.expiresAt - REFRESH_MARGIN_MS;
  }

  private async obtain(signal?: AbortSignal): Promise<string> {
    // The file first: at start it holds our last token; later, one another process of ours may have saved.
    const disk = await this.load();
    if (disk?.obtainedAt !== undefined) this.lastFetchAt = Math.max(this.lastFetchAt, disk.obtainedAt);
    if (
      disk &&
      this.fresh(disk) &&
      disk.accessToken !== this.current?.accessToken &&
      !this.refused.includes(disk.accessToken)
    ) {
      if (this.loaded) {
        this.counts.adopted++;
        this.o.logger.info(
          { obtainedAt: disk.obtainedAt === undefined ? undefined : new Date(disk.obtainedAt).toISOString() },
          'pan: using the access token another pan123fs process saved',
        );
      }
      this.current = disk;
      this.revoked = undefined;
    }
    this.loaded = true;
    const cur = this.current;
    if (cur && this.fresh(cur)) return cur.accessToken;
    const now = this.o.clock.now();
    if (now < this.lastFetchAt + MIN_REFRESH_INTERVAL_MS) {
      if (cur && now < cur.expiresAt) return cur.accessToken; // near expiry but valid: keep it a little longer
      if (this.revoked) throw new TokenRevokedError(this.revoked.at, this.revoked.nextAt);
      // else expired (a lifetime under a minute: only an emulator's --token-ttl): fetch
    }
    if (this.failures.waitMs() > 0) throw this.lastError;
    this.revoked = undefined; // the minute is over: one fetch
    try {
      const rec = await this.o.fetchToken(signal);
      const obtainedAt = this.o.clock.now();
      const full = { ...rec, obtainedAt };
      this.current = full;
      this.lastFetchAt = obtainedAt;
      this.revoked = undefined;
      this.counts.fetched++;
      this.failures.succeeded();
      await this.save(full).catch((e) =>
        this.o.logger.warn({ err: (e as Error).message }, 'pan: could not persist the access token'),
      );
      this.o.logger.info({ expiresAt: new Date(rec.expiresAt).toISOString() }, 'pan: obtained a new access token');
      return rec.accessToken;
    } catch (e) {
      if (!(e instanceof PanError && e.kind === 'aborted')) {
        const delayMs = this.failures.failed();
        this.lastError = e;
        this.o.logger.warn(
          {
            code: (e as PanError).code,
            traceId: (e as PanError).traceId,
            attempt: this.failures.failures,
            retryInMs: delayMs,
            err: (e as Error).message,
          },
          'pan: token fetch failed',
        );
      }
      throw e;
    }
  }

  private async load(): Promise<TokenRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const o = JSON.parse(text) as Record<string, unknown>;
      if (o.clientId !== this.o.clientId || typeof o.accessToken !== 'string' || typeof o.expiresAt !== 'number')
        return undefined;
      await chmod(this.file, 0o600).catch(() => undefined);
      return {
        accessToken: o.accessToken,
        expiresAt: o.expiresAt,
        ...(typeof o.obtainedAt === 'number' ? { obtainedAt: o.obtainedAt } : {}),
      };
    } catch {
      this.o.logger.warn({ file: this.file }, 'pan: ignoring an unreadable token file');
      return undefined;
    }
  }

  private async save(rec: TokenRecord): Promise<void> {
    await mkdir(this.o.stateDir, { recursive: true, mode: 0o700 });
    const body = JSON.stringify({
      apiBase: this.o.apiBase,
      clientId: this.o.clientId,
      accessToken: rec.accessToken,
      expiresAt: rec.expiresAt,
      expiredAt: new Date(rec.expiresAt).toISOString(),
      obtainedAt: rec.obtainedAt,
    });
    const tmp = `${this.file}.${randomBytes(6).toString('hex')}.tmp`; // unique: two clients may save at once
    await writeFile(tmp, body, { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, this.file);
    await chmod(this.file, 0o600);
  }
}
