// Developer access token (123open-api.md §2.1). Owns: obtaining the token from clientID/clientSecret,
// persisting it to <stateDir>/token-<sha256(apiBase+clientId)[0..16]>.json (mode 0600, tmp + rename),
// reusing it across restarts, refreshing it REFRESH_MARGIN_MS before expiredAt and on a refused token.
// Invariants:
//  - only 3 live tokens exist per client id, so a token that is still valid is never replaced;
//  - at most one fetch is in flight (SingleFlight): 50 concurrent callers trigger exactly one;
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

export interface TokenRecord {
  accessToken: string;
  /** epoch ms */
  expiresAt: number;
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

  invalidate(token: string): void {
    if (this.current?.accessToken === token) this.current = undefined;
  }

  private fresh(t: TokenRecord): boolean {
    return this.o.clock.now() < t.expiresAt - REFRESH_MARGIN_MS;
  }

  private async obtain(signal?: AbortSignal): Promise<string> {
    if (!this.loaded) {
      this.current = await this.load();
      this.loaded = true;
    }
    if (this.current && this.fresh(this.current)) return this.current.accessToken;
    if (this.failures.waitMs() > 0) throw this.lastError;
    try {
      const rec = await this.o.fetchToken(signal);
      this.current = rec;
      this.failures.succeeded();
      await this.save(rec).catch((e) =>
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
      return { accessToken: o.accessToken, expiresAt: o.expiresAt };
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
    });
    const tmp = `${this.file}.${randomBytes(6).toString('hex')}.tmp`; // unique: two clients may save at once
    await writeFile(tmp, body, { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, this.file);
    await chmod(this.file, 0o600);
  }
}
