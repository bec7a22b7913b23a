// The one backoff of the daemon: API calls and ranged downloads (RetryPolicy: full jitter, bounded by
// attempts and total time), upload slices, token fetches and the upload queue (expBackoff / Backoff).
// Owns: the exponential ceiling min(cap, base × 2^(attempt−1)) and the jitter taken off it
// (delay = (1 − jitter) × ceiling + ⌊jitter × random × ceiling⌋: jitter 1 = full jitter, 0 = none).
// Invariant: pure; randomness and time are injected, so tests can pin the delays.

import type { Clock } from '../core/clock.js';

export interface BackoffOptions {
  /** ceiling of the first delay */
  baseMs: number;
  /** ceiling of every delay (Infinity: none) */
  capMs: number;
  /** share of the ceiling that is random, in [0, 1] (default 0: deterministic doubling) */
  jitter?: number;
  /** injected randomness in [0, 1) (default Math.random) */
  random?: () => number;
}

/** min(cap, base × 2^(attempt−1)); attempt is 1-based (the attempt that just failed). */
export function backoffCeiling(baseMs: number, capMs: number, attempt: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
}

/** The delay before attempt `attempt + 1`. */
export function expBackoff(o: BackoffOptions, attempt: number): number {
  const ceiling = backoffCeiling(o.baseMs, o.capMs, attempt);
  const jitter = Math.min(1, Math.max(0, o.jitter ?? 0));
  if (jitter === 0) return ceiling;
  return Math.round((1 - jitter) * ceiling) + Math.floor(jitter * (o.random ?? Math.random)() * ceiling);
}

/**
 * A run of consecutive failures of one thing (a token fetch, one queued upload): `failed()` counts one
 * and says how long to wait; `succeeded()` starts over; `waitMs()` is what is left of the current wait.
 */
export class Backoff {
  private count = 0;
  private until = 0;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly clock: Pick<Clock, 'now'>,
  ) {}

  get failures(): number {
    return this.count;
  }

  /** One more failure: returns the delay before the next try and starts that wait. */
  failed(): number {
    this.count++;
    const delay = expBackoff(this.opts, this.count);
    this.until = this.clock.now() + delay;
    return delay;
  }

  succeeded(): void {
    this.count = 0;
    this.until = 0;
  }

  /** ms left before the next try may start (0: now). */
  waitMs(): number {
    return Math.max(0, this.until - this.clock.now());
  }
}

export interface RetryOptions {
  /** total attempts including the first (default 6: ~5 retries ride out a short 429/5xx burst) */
  attempts?: number;
  /** first backoff ceiling (default 300 ms: above the 1 s QPS window once doubled twice) */
  baseMs?: number;
  /** per-delay ceiling (default 8 s: the G123 cap; longer stalls belong to the caller) */
  capMs?: number;
  /** give up when the next delay would end past this budget (default 60 s: below FUSE op timeouts) */
  maxElapsedMs?: number;
  /** injected randomness in [0, 1) */
  random?: () => number;
}

export type RetryPolicy = Required<RetryOptions>;

export function retryPolicy(o: RetryOptions = {}): RetryPolicy {
  return {
    attempts: Math.max(1, o.attempts ?? 6),
    baseMs: o.baseMs ?? 300,
    capMs: o.capMs ?? 8000,
    maxElapsedMs: o.maxElapsedMs ?? 60_000,
    random: o.random ?? Math.random,
  };
}

/** Full-jitter delay before attempt `attempt + 1` (attempt is 1-based: the one that just failed). */
export function backoffDelay(p: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  const jittered = expBackoff({ baseMs: p.baseMs, capMs: p.capMs, jitter: 1, random: p.random }, attempt);
  // A server-sent Retry-After wins over our guess, but never beyond the cap.
  return retryAfterMs !== undefined ? Math.max(jittered, Math.min(retryAfterMs, p.capMs)) : jittered;
}

/** Retry-After header (seconds or HTTP date) → ms, or undefined. */
export function parseRetryAfter(v: string | string[] | undefined, nowMs: number): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  if (/^\d+(\.\d+)?$/.test(s.trim())) return Math.round(Number(s) * 1000);
  const t = Date.parse(s);
  return Number.isFinite(t) ? Math.max(0, t - nowMs) : undefined;
}
