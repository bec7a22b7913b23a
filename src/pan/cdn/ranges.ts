// Ranged GETs on download / direct-link URLs (123open-api.md §3.8). Owns: the Range request, checking
// the answer (206 + a Content-Range that matches exactly, or 200 carrying the whole file), the body
// length, and retries of 5xx/429/resets with the shared back-off. Status mapping: any other 4xx →
// 'link-expired' (the caller refreshes the link once), 416 → 'range'. Invariants: no Authorization or
// Platform header goes to a CDN; a URL is never logged, only its host; a body is never buffered beyond
// the requested length (+ the small whole-file fallback below).

import { request, type Dispatcher } from 'undici';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { backoffDelay, parseRetryAfter, type RetryPolicy } from '../backoff.js';
import { PanError } from '../errors.js';
import { LeanSocketError, LeanUnsupported, type LeanRangeClient } from './lean-http.js';
import { abortError, transportError } from '../transport.js';

const ENDPOINT = 'cdn/range';
/** A server that ignores Range on a small file is tolerated up to this size (then we slice). */
const WHOLE_BODY_FALLBACK_MAX = 16 * 1024 * 1024;
const CONTENT_RANGE_RE = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i;

export interface RangeFetcherOptions {
  dispatcher: Dispatcher;
  clock: Clock;
  logger: Logger;
  retry: RetryPolicy;
  timeoutMs: number;
  /** the lean socket path for ranged GETs (undici is then only the fallback for what it cannot parse) */
  lean?: LeanRangeClient;
  /** redirects followed on the lean path (undici's path has its own interceptor) */
  maxRedirects?: number;
}

function host(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '?';
  }
}

function rangeError(message: string, retryable = false, code?: number): PanError {
  return new PanError({ kind: 'range', message: `${ENDPOINT}: ${message}`, endpoint: ENDPOINT, retryable, code });
}

/** Throws the rest of a body away. undici's destroy() without an error emits an AbortError on the body:
 * with no listener that is an uncaught exception, which would end the daemon (issue 19), so one is added
 * first. No answer from the network may end the process. */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** The body, which must be exactly `want` bytes, copied into one Buffer of that size as it arrives: one
 * allocation and one copy per byte, chunks become garbage at once (no chunk list + concat, no
 * arrayBuffer() copy), and the result owns its memory (byteOffset 0, no pool sharing), so the read path
 * can cache views of it without pinning anything else. 'data' events rather than an async iterator: no
 * promise per chunk (a GiB is ~16k chunks). */
function readExactly(body: Dispatcher.ResponseData['body'], want: number, into?: Buffer): Promise<Buffer> {
  // into: ≥ want bytes
  return new Promise<Buffer>((resolve, reject) => {
    const out = into ? into.subarray(0, want) : Buffer.allocUnsafeSlow(want); // once() dropped an `into` too short
    let n = 0;
    let settled = false;
    const settle = (err: unknown) => {
      if (settled) return;
      settled = true;
      body.off('data', onData);
      if (err) reject(err);
      else resolve(out);
    };
    const onData = (c: Buffer) => {
      if (n + c.length > want) {
        settle(rangeError(`body longer than the ${want} bytes asked for`, true));
        discard(body);
        return;
      }
      n += c.copy(out, n);
    };
    body.on('data', onData);
    body.once('end', () => settle(n === want ? null : rangeError(`short body: ${n} of ${want} bytes`, true)));
    body.on('error', (err) => settle(err)); // on, not once: a late second error must not go unhandled
    body.once('close', () => settle(rangeError(`body closed after ${n} of ${want} bytes`, true)));
  });
}

/** The error for a 206 whose Content-Range is not exactly [start, end], else null. */
function contentRangeMismatch(header: string | undefined, start: number, end: number): PanError | null {
  const cr = String(header ?? '');
  const m = CONTENT_RANGE_RE.exec(cr.trim());
  return m && Number(m[1]) === start && Number(m[2]) === end
    ? null
    : rangeError(`Content-Range "${cr}" does not match ${start}-${end}`);
}

export class RangeFetcher {
  constructor(private readonly o: RangeFetcherOptions) {}

  /**
   * Bytes [start, end] inclusive of `url`. With `into` (≥ end-start+1 bytes) the body is received into it
   * and the result is its subarray (only a server ignoring Range makes the result another Buffer).
   * `onProgress(filled)` (with `into`, lean path only): the first `filled` bytes of `into` are final; a
   * retry starts again from 0 and rewrites the same bytes.
   */
  async fetch(
    url: string,
    start: number,
    end: number,
    signal?: AbortSignal,
    into?: Buffer,
    onProgress?: (filled: number) => void,
  ): Promise<Buffer> {
    if (!(start >= 0) || !(end >= start) || !Number.isSafeInteger(end)) throw rangeError(`bad range ${start}-${end}`);
    const { clock, retry } = this.o;
    const began = clock.now();
    for (let attempt = 1; ; attempt++) {
      let retryAfterMs: number | undefined;
      try {
        return await this.once(
          url,
          start,
          end,
          signal,
          (ms) => {
            retryAfterMs = ms;
          },
          into,
          onProgress,
        );
      } catch (e) {
        const pe = e instanceof PanError ? e : transportError(ENDPOINT, e);
        if (signal?.aborted) throw abortError(ENDPOINT, signal.reason);
        const delay = backoffDelay(retry, attempt, retryAfterMs);
        if (!pe.retryable || attempt >= retry.attempts || clock.now() + delay - began > retry.maxElapsedMs) throw pe;
        this.o.logger.warn(
          { endpoint: ENDPOINT, host: host(url), code: pe.code, attempt, delayMs: delay, err: pe.message },
          'pan: retrying ranged read',
        );
        try {
          await clock.sleep(delay, signal);
        } catch (err) {
          throw abortError(ENDPOINT, err);
        }
      }
    }
  }

  private async once(
    url: string,
    start: number,
    end: number,
    signal: AbortSignal | undefined,
    onRetryAfter: (ms?: number) => void,
    into?: Buffer,
    onProgress?: (filled: number) => void,
  ): Promise<Buffer> {
    if (into && into.length < end - start + 1) into = undefined;
    if (this.o.lean) {
      try {
        return await this.onceLean(this.o.lean, url, start, end, signal, onRetryAfter, into, into && onProgress);
      } catch (e) {
        if (!(e instanceof LeanUnsupported)) throw e;
        this.o.logger.debug(
          { endpoint: ENDPOINT, host: host(url), why: e.message },
          'pan: ranged read falls back to undici',
        );
      }
    }
    return this.onceUndici(url, start, end, signal, onRetryAfter, into);
  }

  /** One ranged GET on the lean path, following redirects; a stale keep-alive connection is retried once. */
  private async onceLean(
    lean: LeanRangeClient,
    url: string,
    start: number,
    end: number,
    signal: AbortSignal | undefined,
    onRetryAfter: (ms?: number) => void,
    dest?: Buffer,
    onProgress?: (filled: number) => void,
  ): Promise<Buffer> {
    const want = end - start + 1;
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      throw rangeError('bad download URL');
    }
    let hops = 0;
    let staleRetried = false;
    for (;;) {
      const into = dest ? dest.subarray(0, want) : Buffer.allocUnsafeSlow(want);
      let r;
      try {
        r = await lean.get({ url: target, start, end, into, timeoutMs: this.o.timeoutMs, signal, onProgress });
      } catch (e) {
        if (e instanceof LeanUnsupported) throw e;
        if (signal?.aborted) throw abortError(ENDPOINT, e);
        if (e instanceof LeanSocketError && e.reused && !staleRetried) {
          staleRetried = true;
          continue;
        }
        throw transportError(ENDPOINT, e);
      }
      const s = r.status;
      if (s >= 300 && s < 400 && r.headers.location !== undefined) {
        if (++hops > (this.o.maxRedirects ?? 5)) throw rangeError(`more than ${this.o.maxRedirects ?? 5} redirects`);
        try {
          target = new URL(r.headers.location, target);
        } catch {
          throw rangeError('bad redirect location');
        }
        continue;
      }
      if (s === 206) {
        const bad = contentRangeMismatch(r.headers['content-range'], start, end);
        if (bad) throw bad;
        if (r.filled !== want)
          throw rangeError(`body of ${r.headers['content-length'] ?? '?'} bytes for a ${want}-byte range`, true);
        return into;
      }
      if (s === 200 && r.filled === want) return into;
      throw this.statusError(s, url, r.headers['retry-after'], onRetryAfter);
    }
  }

  /** The error for a status that carries no range: expired link, bad range, retryable, or final. */
  private statusError(
    s: number,
    url: string,
    retryAfter: string | undefined,
    onRetryAfter: (ms?: number) => void,
  ): PanError {
    // Any 4xx but 416 (bad range) and 429 (slow down) may be how a CDN says "this link is dead": the
    // caller refreshes the link once and then fails cleanly (issue 15; 403/404/410 are only the usual).
    if (s >= 400 && s < 500 && s !== 416 && s !== 429) {
      return new PanError({
        kind: 'link-expired',
        code: s,
        endpoint: ENDPOINT,
        message: `${ENDPOINT}: HTTP ${s} from ${host(url)}`,
      });
    }
    if (s === 416) return rangeError(`HTTP 416: range not satisfiable`, false, 416);
    const retryable = s === 429 || s >= 500;
    if (retryable) onRetryAfter(parseRetryAfter(retryAfter, this.o.clock.now()));
    return new PanError({
      kind: 'transport',
      code: s,
      endpoint: ENDPOINT,
      retryable,
      message: `${ENDPOINT}: HTTP ${s} from ${host(url)}`,
    });
  }

  private async onceUndici(
    url: string,
    start: number,
    end: number,
    signal: AbortSignal | undefined,
    onRetryAfter: (ms?: number) => void,
    into?: Buffer,
  ): Promise<Buffer> {
    const want = end - start + 1;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: 'GET',
        headers: { Range: `bytes=${start}-${end}` },
        dispatcher: this.o.dispatcher,
        signal,
        headersTimeout: this.o.timeoutMs,
        bodyTimeout: this.o.timeoutMs,
      });
    } catch (e) {
      if (signal?.aborted) throw abortError(ENDPOINT, e);
      throw transportError(ENDPOINT, e);
    }
    const s = res.statusCode;
    if (s === 206) return this.partial(res, start, end, want, into);
    if (s === 200) return this.whole(res, start, end, want);
    await res.body.dump().catch(() => undefined);
    const ra = res.headers['retry-after'];
    throw this.statusError(s, url, Array.isArray(ra) ? ra[0] : ra, onRetryAfter);
  }

  private async partial(
    res: Dispatcher.ResponseData,
    start: number,
    end: number,
    want: number,
    into?: Buffer,
  ): Promise<Buffer> {
    const ra = res.headers['content-range'];
    const bad = contentRangeMismatch(Array.isArray(ra) ? ra[0] : ra, start, end);
    if (bad) {
      await res.body.dump().catch(() => undefined);
      throw bad;
    }
    return readExactly(res.body, want, into);
  }

  private async whole(res: Dispatcher.ResponseData, start: number, end: number, want: number): Promise<Buffer> {
    const len = Number(res.headers['content-length'] ?? NaN);
    const exact = start === 0 && len === want;
    if (!exact && !(Number.isFinite(len) && len > end && len <= WHOLE_BODY_FALLBACK_MAX)) {
      discard(res.body);
      throw rangeError(
        `server ignored Range (HTTP 200, ${Number.isFinite(len) ? len : 'unknown'} bytes) for ${start}-${end}`,
      );
    }
    const buf = await readExactly(res.body, len);
    return exact ? buf : Buffer.from(buf.subarray(start, end + 1));
  }
}
