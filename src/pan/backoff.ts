// Retry policy shared by the API transport and ranged downloads. Owns: exponential backoff with full
// jitter (delay = random × min(cap, base × 2^(attempt−1))), bounded both by attempts and by total time.
// Invariant: randomness and time are injected, so tests can pin the delays.

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
  const ceiling = Math.min(p.capMs, p.baseMs * 2 ** Math.min(attempt - 1, 30));
  const jittered = Math.floor(p.random() * ceiling);
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
