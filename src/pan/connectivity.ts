// Connectivity: whether 123pan can be reached — the daemon's offline state machine (issue 16). One state
// for the API, the CDN and the token endpoint together: any of them failing makes the mount offline.
//
//   online ──(UNREACHABLE_STREAK attempts in a row fail unreachable, or a token cannot be obtained,
//             or enter() at start-up)──► offline
//   offline ──(a probe, or any other call, succeeds)──► online
//
// "Unreachable" (isUnreachable) is decided by error codes only: connection refused, no route, DNS
// failure, connect timeout, and a gateway's 502/503/504. A reset, a slow answer or a 500 is not: the
// server is there, the call's own retries deal with it. An answer of the server (any body code) breaks a
// streak but does not end an offline period: only a success does.
// While offline, gate() makes every call of the wrapped object fail at once with OfflineError (no network,
// no retry waits), and Transport / RangeFetcher stop retrying (down()). The probe (the daemon passes user
// info over the raw, ungated client) runs on a backoff from PROBE_BASE_MS doubling to PROBE_CAP_MS with
// 20 % jitter; an offline period that starts soon after the last one ended (flapping, e.g. the CDN is down
// but the API answers the probe) starts its probes one step further up each time.
// Invariants: one log line per transition (warn offline with the cause, info online with how long);
// listeners run synchronously on each transition; at most one probe in flight; time and randomness are
// injected (test/unit/pan/connectivity.test.ts drives it with the fake clock).

import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { expBackoff } from './backoff.js';
import { PanError } from './errors.js';
import { errCode, type TransportHealth } from './transport.js';

/** Two unreachable attempts in a row: one refused connection (a server restarting) is not an outage. */
export const UNREACHABLE_STREAK = 2;
/** First probe 1 s after going offline: a restarting server is back quickly. */
export const PROBE_BASE_MS = 1000;
/** Probes at most a minute apart: "returns to normal by itself" within a minute of the API coming back. */
export const PROBE_CAP_MS = 60_000;
/** An offline period starting within this long of the last one's end counts as a flap. */
const FLAP_WINDOW_MS = 60_000;

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'UND_ERR_CONNECT_TIMEOUT',
]);
/** what a load balancer answers when nothing is behind it */
const GATEWAY_STATUSES = new Set([502, 503, 504]);

/** Thrown at once, without touching the network, by a call made while offline. */
export class OfflineError extends PanError {
  constructor(
    endpoint: string,
    /** epoch ms the offline period began */
    readonly since: number,
    readonly why: string,
  ) {
    super({
      kind: 'transport',
      endpoint,
      message: `${endpoint}: 123pan unreachable since ${new Date(since).toISOString()} (${why})`,
    });
    this.name = 'OfflineError';
  }
}

/** The OfflineError somewhere in e's cause chain, if any. */
export function offlineCause(e: unknown): OfflineError | undefined {
  for (let cur = e, depth = 0; cur && depth < 8; depth++) {
    if (cur instanceof OfflineError) return cur;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A failure that says 123pan (or the network to it) is not there, as opposed to a failing call. */
export function isUnreachable(e: unknown): boolean {
  if (!(e instanceof PanError) || e.kind !== 'transport') return false;
  if (e instanceof OfflineError) return true;
  const code = errCode(e.cause);
  if (code !== undefined && UNREACHABLE_CODES.has(code)) return true;
  return e.code !== undefined && GATEWAY_STATUSES.has(e.code);
}

export interface ConnectivityOptions {
  clock: Clock;
  logger: Logger;
  /** one reachability check (the daemon: user info over the ungated client); resolves when 123pan answered */
  probe: () => Promise<void>;
  probeBaseMs?: number;
  probeCapMs?: number;
  random?: () => number;
}

export interface ConnectivityStatus {
  offline: boolean;
  /** ISO time the offline period began */
  offlineSince?: string;
  offlineCause?: string;
  /** epoch ms of the next probe */
  nextProbeAt?: number;
}

export class Connectivity implements TransportHealth {
  private state: { since: number; why: string; probes: number; level: number } | null = null;
  private streak = 0;
  private lastOnlineAt = Number.NEGATIVE_INFINITY;
  private flaps = 0;
  private timer: { cancel(): void } | null = null;
  private nextProbeAt = 0;
  private probing = false;
  private closed = false;
  private readonly listeners: Array<(offline: boolean) => void> = [];

  constructor(private readonly o: ConnectivityOptions) {}

  get offline(): boolean {
    return this.state !== null;
  }

  /** epoch ms the current offline period began, or null while online */
  get since(): number | null {
    return this.state?.since ?? null;
  }

  status(): ConnectivityStatus {
    const s = this.state;
    if (!s) return { offline: false };
    return {
      offline: true,
      offlineSince: new Date(s.since).toISOString(),
      offlineCause: s.why,
      nextProbeAt: this.nextProbeAt,
    };
  }

  /** Called on every transition (true: now offline). */
  onChange(fn: (offline: boolean) => void): void {
    this.listeners.push(fn);
  }

  // ---- TransportHealth: what the API transport and the CDN fetcher report -------------------------

  down(): boolean {
    return this.state !== null;
  }

  succeeded(): void {
    this.streak = 0;
    if (this.state) this.goOnline();
  }

  attemptFailed(e: unknown): void {
    if (!isUnreachable(e)) {
      if (e instanceof PanError && e.code !== undefined) this.streak = 0; // the server answered
      return;
    }
    if (this.state) return;
    this.streak++;
    if (this.streak >= UNREACHABLE_STREAK) this.enter(describe(e));
  }

  tokenFailed(e: unknown): void {
    if (e instanceof PanError && e.kind === 'aborted') return;
    if (this.state) return;
    this.enter(`no access token: ${describe(e)}`);
  }

  // ---- transitions --------------------------------------------------------------------------------

  /** Go offline now (start-up without the API, or a failure the caller judged): probes begin. */
  enter(why: string): void {
    if (this.state || this.closed) return;
    const now = this.o.clock.now();
    this.flaps = now - this.lastOnlineAt < FLAP_WINDOW_MS ? this.flaps + 1 : 0;
    this.state = { since: now, why, probes: 0, level: this.flaps };
    this.o.logger.warn(
      { op: 'offline', cause: why },
      'offline: 123pan is unreachable; serving the metadata store and the disk cache, uploads wait',
    );
    this.schedule();
    this.emit(true);
  }

  private goOnline(): void {
    const s = this.state;
    if (!s) return;
    this.state = null;
    this.streak = 0;
    this.timer?.cancel();
    this.timer = null;
    const now = this.o.clock.now();
    this.lastOnlineAt = now;
    this.o.logger.info(
      { op: 'online', offlineMs: now - s.since, probes: s.probes },
      'online again: 123pan answers; pending uploads resume',
    );
    this.emit(false);
  }

  private emit(offline: boolean): void {
    for (const fn of this.listeners) {
      try {
        fn(offline);
      } catch (e) {
        this.o.logger.error({ op: offline ? 'offline' : 'online', err: String(e) }, 'bug: a listener threw');
      }
    }
  }

  private schedule(): void {
    const s = this.state;
    if (!s || this.closed) return;
    const delay = expBackoff(
      {
        baseMs: this.o.probeBaseMs ?? PROBE_BASE_MS,
        capMs: this.o.probeCapMs ?? PROBE_CAP_MS,
        jitter: 0.2,
        random: this.o.random,
      },
      s.probes + 1 + s.level,
    );
    this.nextProbeAt = this.o.clock.now() + delay;
    this.timer?.cancel();
    this.timer = this.o.clock.setTimer(delay, () => {
      this.timer = null;
      void this.probeOnce();
    });
  }

  private async probeOnce(): Promise<void> {
    const s = this.state;
    if (!s || this.probing || this.closed) return;
    this.probing = true;
    s.probes++;
    try {
      await this.o.probe();
      if (this.state === s) this.goOnline();
    } catch (e) {
      if (this.state === s) {
        s.why = describe(e);
        this.o.logger.debug({ op: 'offline', probes: s.probes, err: s.why }, 'still offline');
      }
    } finally {
      this.probing = false;
    }
    if (this.state === s) this.schedule();
  }

  /** What gate()d calls throw while offline. */
  offlineError(endpoint: string): OfflineError {
    const s = this.state!;
    return new OfflineError(endpoint, s.since, s.why);
  }

  /**
   * `target` with every method failing at once (OfflineError) while offline; the same object's methods
   * otherwise. Properties that are not functions pass through.
   */
  gate<T extends object>(target: T): T {
    return new Proxy(target, {
      get: (t, key, recv) => {
        const v = Reflect.get(t, key, recv);
        if (typeof v !== 'function' || key === 'close') return v;
        return (...args: unknown[]) => {
          if (this.state) return Promise.reject(this.offlineError(String(key)));
          return (v as (...a: unknown[]) => unknown).apply(t, args);
        };
      },
    });
  }

  /** Stop probing (daemon stop). */
  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = null;
  }
}

function describe(e: unknown): string {
  if (e instanceof PanError) {
    const code = errCode(e.cause);
    return code && !e.message.includes(code) ? `${e.message} (${code})` : e.message;
  }
  return (e as Error)?.message ?? String(e);
}
