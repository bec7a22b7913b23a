// Developer access tokens (123open-api.md §2.1): issued by POST /api/v1/access_token, persisted in
// SQLite (so they survive a restart), expiring after tokenTtlSec. At most MAX_LIVE live tokens per
// clientID: issuing another revokes the oldest live one, which from then on gets code 401.
// The rival (issue 15, §11: other tools and machines share the client ID): with rivalTokenEverySec > 0,
// another client mints a token for the client ID every that many seconds of emulator time. Its mints are
// made lazily, those that fell due before each check and each issue (no timer: a fake clock drives it).
// Invariant: tokens are never logged; only the count of live tokens is observable.

import crypto from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { Store } from './store.js';

/** "At most 3 tokens per client_id may be in use at the same time" (开发须知). */
export const MAX_LIVE = 3;

export type TokenCheck = 'ok' | 'missing' | 'invalid' | 'expired';

/** Another client sharing the client ID: how often it mints (0 = never), and who counts its mints. */
export interface Rival {
  clientId: string;
  everySec: () => number;
  minted: (n: number) => void;
}

export class Tokens {
  /** the rival's schedule, restarted from now when its interval changes */
  private rivalEveryMs = 0;
  private rivalNextAt = 0;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly ttlSec: number,
    private readonly rival?: Rival,
  ) {}

  private get db() {
    return this.store.db;
  }

  issue(clientId: string): { token: string; expiresAt: number } {
    this.rivalCatchUp();
    return this.mint(clientId, this.clock.now());
  }

  /** The rival's mints that fell due since the last look (the last MAX_LIVE of them made: older ones would
   * only have revoked each other). */
  private rivalCatchUp(): void {
    if (!this.rival) return;
    const now = this.clock.now();
    const everyMs = Math.max(0, this.rival.everySec()) * 1000;
    if (everyMs !== this.rivalEveryMs) {
      this.rivalEveryMs = everyMs;
      this.rivalNextAt = now + everyMs;
      return;
    }
    if (everyMs === 0 || now < this.rivalNextAt) return;
    const due = Math.floor((now - this.rivalNextAt) / everyMs) + 1;
    for (let i = Math.max(0, due - MAX_LIVE); i < due; i++)
      this.mint(this.rival.clientId, this.rivalNextAt + i * everyMs);
    this.rivalNextAt += due * everyMs;
    this.rival.minted(due);
  }

  private mint(clientId: string, now: number): { token: string; expiresAt: number } {
    const expiresAt = now + this.ttlSec * 1000;
    const token = jwtLike(clientId, now, expiresAt);
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO tokens(token, client_id, issued_at, expires_at) VALUES (?,?,?,?)')
        .run(token, clientId, now, expiresAt);
      const live = this.db
        .prepare(
          'SELECT token FROM tokens WHERE client_id = ? AND revoked = 0 AND expires_at > ? ORDER BY issued_at, rowid',
        )
        .all(clientId, now) as Array<{ token: string }>;
      const revoke = this.db.prepare('UPDATE tokens SET revoked = 1 WHERE token = ?');
      for (const t of live.slice(0, Math.max(0, live.length - MAX_LIVE))) revoke.run(t.token);
    })();
    return { token, expiresAt };
  }

  /** Check an Authorization header value: exactly "Bearer <token>". */
  check(authorization: string | undefined): TokenCheck {
    this.rivalCatchUp();
    if (!authorization) return 'missing';
    const m = /^Bearer ([^\s]+)$/.exec(authorization);
    if (!m) return 'invalid';
    const r = this.db.prepare('SELECT expires_at, revoked FROM tokens WHERE token = ?').get(m[1]) as
      | { expires_at: bigint; revoked: bigint }
      | undefined;
    if (!r) return 'invalid';
    if (r.revoked || Number(r.expires_at) <= this.clock.now()) return 'expired';
    return 'ok';
  }

  revokeAll(): void {
    this.db.prepare('UPDATE tokens SET revoked = 1').run();
  }

  liveCount(clientId: string): number {
    return Number(
      (
        this.db
          .prepare('SELECT COUNT(*) AS n FROM tokens WHERE client_id = ? AND revoked = 0 AND expires_at > ?')
          .get(clientId, this.clock.now()) as { n: bigint }
      ).n,
    );
  }
}

function b64url(s: string | Buffer): string {
  return Buffer.from(s).toString('base64url');
}

/** A JWT-shaped opaque string (the real tokens are JWTs; clients must not parse them). */
function jwtLike(clientId: string, now: number, exp: number): string {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(
    JSON.stringify({
      client_id: clientId,
      iat: Math.floor(now / 1000),
      exp: Math.floor(exp / 1000),
      jti: crypto.randomUUID(),
    }),
  );
  return `${header}.${payload}.${b64url(crypto.randomBytes(32))}`;
}
