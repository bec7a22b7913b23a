// Ranged GETs on download / direct-link URLs (123open-api.md §3.8). Owns, in one place for both socket
// paths (the lean client and its undici fallback): the Range request, following redirects, judging the
// answer (206 + a Content-Range that matches exactly, or 200 carrying the whole file), the body length,
// and retries of 5xx/429/resets with the shared back-off, resuming a cut range where its final bytes
// stopped. Status mapping: any other 4xx → 'link-expired' (the caller refreshes the link once), 416 →
// 'range'. Invariants: no Authorization or Platform header goes to a CDN; a URL is never logged, only
// its host; a body is never buffered beyond the requested length (+ the small whole-file fallback below);
// bytes reported through onProgress are final (they come from a 206 whose Content-Range is exactly the
// asked range) and are never fetched again by a retry of the same call.

import { request, type Dispatcher } from 'undici';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { backoffDelay, parseRetryAfter, type RetryPolicy } from '../backoff.js';
import { PanError } from '../errors.js';
import { LeanSocketError, LeanUnsupported, type LeanRangeClient, type LeanResult } from './lean-http.js';
import { abortError, transportError, type TransportHealth } from '../transport.js';

const ENDPOINT = 'cdn/range';
/** A server that ignores Range on a small file is tolerated up to this size (then we slice). */
const WHOLE_BODY_FALLBACK_MAX = 16 * 1024 * 1024;
const CONTENT_RANGE_RE = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i;
/** Redirects a CDN may chain (clients follow them; RES uses reqwest's defaults). */
export const MAX_REDIRECTS = 5;

export interface RangeFetcherOptions {
  /** undici, for what the lean path does not parse (or every request without `lean`); no redirect
   * interceptor: redirects are followed here, for both paths */
  dispatcher: Dispatcher;
  clock: Clock;
  logger: Logger;
  retry: RetryPolicy;
  timeoutMs: number;
  /** the lean socket path for ranged GETs (undici is then only the fallback for what it cannot parse) */
  lean?: LeanRangeClient;
  maxRedirects?: number;
  /** the offline state machine (pan/connectivity.ts), told of every attempt */
  health?: TransportHealth;
}

function host(url: string | URL): string {
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

/** The body, which must be exactly `want` bytes, copied into `out` (exactly `want` long) as it arrives: one
 * copy per byte, chunks become garbage at once (no chunk list + concat, no arrayBuffer() copy). 'data'
 * events rather than an async iterator: no promise per chunk (a GiB is ~16k chunks). `onProgress(n)`:
 * the first n bytes of `out` are in (never called with the final count). */
function readExactly(
  body: Dispatcher.ResponseData['body'],
  out: Buffer,
  onProgress?: (filled: number) => void,
): Promise<Buffer> {
  const want = out.length;
  return new Promise<Buffer>((resolve, reject) => {
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
      if (n < want) onProgress?.(n);
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

/** One HTTP answer to a ranged GET, whichever socket path carried it: the judging in RangeFetcher.answer
 * is the same for both. */
interface Answer {
  status: number;
  header(name: string): string | undefined;
  /** a 206 already judged right: its body of exactly dest.length bytes, in dest */
  partial(): Promise<Buffer>;
  /** a 200: the bytes [start, end] of the whole file it carries (a copy, or dest) */
  whole(): Promise<Buffer>;
  /** the answer is not used (redirect, error status) */
  drop(): void;
}

/** The lean path's answer: its body (if kept) is already in dest. */
function leanAnswer(r: LeanResult, dest: Buffer, start: number, end: number): Answer {
  const want = dest.length;
  const exact = async (): Promise<Buffer> => {
    if (r.filled !== want)
      throw rangeError(`body of ${r.headers['content-length'] ?? '?'} bytes for a ${want}-byte range`, true);
    return dest;
  };
  return {
    status: r.status,
    header: (name) => r.headers[name],
    partial: exact,
    // lean keeps only a 200 of exactly the range from offset 0; any other 200 went to undici
    whole: () => (start === 0 ? exact() : Promise.reject(rangeError(`HTTP 200 for ${start}-${end}`))),
    drop: () => undefined,
  };
}

export class RangeFetcher {
  private readonly maxRedirects: number;

  constructor(private readonly o: RangeFetcherOptions) {
    this.maxRedirects = o.maxRedirects ?? MAX_REDIRECTS;
  }

  /**
   * Bytes [start, end] inclusive of `url`. With `into` (≥ end-start+1 bytes) the body is received into it
   * and the result is `into.subarray(0, end-start+1)`; without, into a Buffer of its own.
   * `onProgress(filled)`: the first `filled` bytes of the result are final, as they arrive. A retry after
   * a cut (a reset, a short body) asks only for the bytes after the final ones: a range is never fetched
   * twice. An attempt that brought new bytes starts the attempt count and the elapsed-time budget afresh.
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
    const want = end - start + 1;
    const dest = into && into.length >= want ? into.subarray(0, want) : Buffer.allocUnsafeSlow(want);
    let got = 0;
    let began = clock.now();
    for (let attempt = 1; ; attempt++) {
      let retryAfterMs: number | undefined;
      const base = got;
      try {
        const part = dest.subarray(base);
        const b = await this.once(
          url,
          start + base,
          end,
          signal,
          (ms) => {
            retryAfterMs = ms;
          },
          part,
          (n) => {
            if (base + n <= got) return;
            got = base + n;
            onProgress?.(got);
          },
        );
        if (b.buffer !== part.buffer || b.byteOffset !== part.byteOffset) b.copy(dest, base);
        this.o.health?.succeeded();
        return dest;
      } catch (e) {
        const pe = e instanceof PanError ? e : transportError(ENDPOINT, e);
        if (signal?.aborted) throw abortError(ENDPOINT, signal.reason);
        if (got > base) {
          attempt = 1; // this attempt moved the range forward: resume, with a fresh budget
          began = clock.now();
        }
        this.o.health?.attemptFailed(pe);
        if (this.o.health?.down()) throw pe; // offline: fail the read now rather than after the back-off
        const delay = backoffDelay(retry, attempt, retryAfterMs);
        if (!pe.retryable || attempt >= retry.attempts || clock.now() + delay - began > retry.maxElapsedMs) throw pe;
        this.o.logger.warn(
          {
            endpoint: ENDPOINT,
            host: host(url),
            code: pe.code,
            attempt,
            delayMs: delay,
            resumeAt: got,
            err: pe.message,
          },
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

  /** One attempt: GET [start, end] into dest (exactly end-start+1 long), following redirects. */
  private async once(
    url: string,
    start: number,
    end: number,
    signal: AbortSignal | undefined,
    onRetryAfter: (ms?: number) => void,
    dest: Buffer,
    onProgress: (filled: number) => void,
  ): Promise<Buffer> {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      throw rangeError('bad download URL');
    }
    for (let hops = 0; ; hops++) {
      const a = await this.get(target, start, end, signal, dest, onProgress);
      const location = a.header('location');
      if (a.status >= 300 && a.status < 400 && location !== undefined) {
        a.drop();
        if (hops >= this.maxRedirects) throw rangeError(`more than ${this.maxRedirects} redirects`);
        try {
          target = new URL(location, target);
        } catch {
          throw rangeError('bad redirect location');
        }
        continue;
      }
      return this.answer(a, target, start, end, onRetryAfter);
    }
  }

  /** The one judge of an answer that is not a redirect: the bytes, or the error for its status. */
  private answer(
    a: Answer,
    target: URL,
    start: number,
    end: number,
    onRetryAfter: (ms?: number) => void,
  ): Promise<Buffer> {
    if (a.status === 206) {
      const bad = contentRangeMismatch(a.header('content-range'), start, end);
      if (bad) {
        a.drop();
        throw bad;
      }
      return a.partial();
    }
    if (a.status === 200) return a.whole();
    a.drop();
    throw this.statusError(a.status, target, a.header('retry-after'), onRetryAfter);
  }

  /** One request over the lean path (a stale keep-alive connection retried once), or undici when the lean
   * path is off or cannot parse the answer. */
  private async get(
    target: URL,
    start: number,
    end: number,
    signal: AbortSignal | undefined,
    dest: Buffer,
    onProgress: (filled: number) => void,
  ): Promise<Answer> {
    const lean = this.o.lean;
    for (let staleRetried = false; lean; ) {
      try {
        const r = await lean.get({
          url: target,
          start,
          end,
          into: dest,
          timeoutMs: this.o.timeoutMs,
          signal,
          onProgress,
        });
        return leanAnswer(r, dest, start, end);
      } catch (e) {
        if (e instanceof LeanUnsupported) {
          this.o.logger.debug(
            { endpoint: ENDPOINT, host: target.host, why: e.message },
            'pan: ranged read falls back to undici',
          );
          break;
        }
        if (signal?.aborted) throw abortError(ENDPOINT, e);
        if (e instanceof LeanSocketError && e.reused && !staleRetried) {
          staleRetried = true;
          continue;
        }
        throw transportError(ENDPOINT, e);
      }
    }
    return this.getUndici(target, start, end, signal, dest, onProgress);
  }

  private async getUndici(
    target: URL,
    start: number,
    end: number,
    signal: AbortSignal | undefined,
    dest: Buffer,
    onProgress: (filled: number) => void,
  ): Promise<Answer> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(target, {
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
    const header = (name: string): string | undefined => {
      const v = res.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    return {
      status: res.statusCode,
      header,
      partial: () => readExactly(res.body, dest, onProgress),
      whole: () => this.whole(res.body, header('content-length'), start, end, dest, onProgress),
      drop: () => discard(res.body),
    };
  }

  /** A 200 to a ranged GET: exactly the range from 0 (into dest, with progress), or the whole file
   * (tolerated up to WHOLE_BODY_FALLBACK_MAX), sliced. */
  private async whole(
    body: Dispatcher.ResponseData['body'],
    contentLength: string | undefined,
    start: number,
    end: number,
    dest: Buffer,
    onProgress: (filled: number) => void,
  ): Promise<Buffer> {
    const len = Number(contentLength ?? NaN);
    if (start === 0 && len === dest.length) return readExactly(body, dest, onProgress);
    if (!(Number.isFinite(len) && len > end && len <= WHOLE_BODY_FALLBACK_MAX)) {
      discard(body);
      throw rangeError(
        `server ignored Range (HTTP 200, ${Number.isFinite(len) ? len : 'unknown'} bytes) for ${start}-${end}`,
      );
    }
    return (await readExactly(body, Buffer.allocUnsafeSlow(len))).subarray(start, end + 1);
  }

  /** The error for a status that carries no range: expired link, bad range, retryable, or final. */
  private statusError(
    s: number,
    url: URL,
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
        message: `${ENDPOINT}: HTTP ${s} from ${url.host}`,
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
      message: `${ENDPOINT}: HTTP ${s} from ${url.host}`,
    });
  }
}
