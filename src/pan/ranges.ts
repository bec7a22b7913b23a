// Ranged GETs on download / direct-link URLs (123open-api.md §3.8). Owns: the Range request, checking
// the answer (206 + a Content-Range that matches exactly, or 200 carrying the whole file), the body
// length, and retries of 5xx/429/resets with the shared back-off. Status mapping: 403/404/410 →
// 'link-expired' (the caller refreshes the link once), 416 → 'range'. Invariants: no Authorization or
// Platform header goes to a CDN; a URL is never logged, only its host; a body is never buffered beyond
// the requested length (+ the small whole-file fallback below).

import { request, type Dispatcher } from 'undici';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { backoffDelay, parseRetryAfter, type RetryPolicy } from './backoff.js';
import { PanError } from './errors.js';
import { abortError, transportError } from './transport.js';

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
}

function host(url: string): string {
  try { return new URL(url).host; } catch { return '?'; }
}

function rangeError(message: string, retryable = false, code?: number): PanError {
  return new PanError({ kind: 'range', message: `${ENDPOINT}: ${message}`, endpoint: ENDPOINT, retryable, code });
}

/** The body, which must be exactly `want` bytes, copied into one Buffer of that size as it arrives: one
 * allocation and one copy per byte, chunks become garbage at once (no chunk list + concat, no
 * arrayBuffer() copy), and the result owns its memory (byteOffset 0, no pool sharing), so the read path
 * can cache views of it without pinning anything else. 'data' events rather than an async iterator: no
 * promise per chunk (a GiB is ~16k chunks). */
function readExactly(body: Dispatcher.ResponseData['body'], want: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const out = Buffer.allocUnsafeSlow(want);
    let n = 0;
    let settled = false;
    const settle = (err: unknown) => {
      if (settled) return;
      settled = true;
      body.off('data', onData);
      if (err) reject(err); else resolve(out);
    };
    const onData = (c: Buffer) => {
      if (n + c.length > want) {
        settle(rangeError(`body longer than the ${want} bytes asked for`, true));
        body.destroy();
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

export class RangeFetcher {
  constructor(private readonly o: RangeFetcherOptions) {}

  /** Bytes [start, end] inclusive of `url`. */
  async fetch(url: string, start: number, end: number, signal?: AbortSignal): Promise<Buffer> {
    if (!(start >= 0) || !(end >= start) || !Number.isSafeInteger(end)) throw rangeError(`bad range ${start}-${end}`);
    const { clock, retry } = this.o;
    const began = clock.now();
    for (let attempt = 1; ; attempt++) {
      let retryAfterMs: number | undefined;
      try {
        return await this.once(url, start, end, signal, (ms) => { retryAfterMs = ms; });
      } catch (e) {
        const pe = e instanceof PanError ? e : transportError(ENDPOINT, e);
        if (signal?.aborted) throw abortError(ENDPOINT, signal.reason);
        const delay = backoffDelay(retry, attempt, retryAfterMs);
        if (!pe.retryable || attempt >= retry.attempts || clock.now() + delay - began > retry.maxElapsedMs) throw pe;
        this.o.logger.warn({ endpoint: ENDPOINT, host: host(url), code: pe.code, attempt, delayMs: delay, err: pe.message }, 'pan: retrying ranged read');
        try { await clock.sleep(delay, signal); } catch (err) { throw abortError(ENDPOINT, err); }
      }
    }
  }

  private async once(url: string, start: number, end: number, signal: AbortSignal | undefined, onRetryAfter: (ms?: number) => void): Promise<Buffer> {
    const want = end - start + 1;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: 'GET', headers: { Range: `bytes=${start}-${end}` }, dispatcher: this.o.dispatcher, signal,
        headersTimeout: this.o.timeoutMs, bodyTimeout: this.o.timeoutMs,
      });
    } catch (e) {
      if (signal?.aborted) throw abortError(ENDPOINT, e);
      throw transportError(ENDPOINT, e);
    }
    const s = res.statusCode;
    if (s === 206) return this.partial(res, start, end, want);
    if (s === 200) return this.whole(res, start, end, want);
    await res.body.dump().catch(() => undefined);
    if (s === 403 || s === 404 || s === 410) {
      throw new PanError({ kind: 'link-expired', code: s, endpoint: ENDPOINT, message: `${ENDPOINT}: HTTP ${s} from ${host(url)}` });
    }
    if (s === 416) throw rangeError(`HTTP 416: range ${start}-${end} not satisfiable`, false, 416);
    const retryable = s === 429 || s >= 500;
    if (retryable) onRetryAfter(parseRetryAfter(res.headers['retry-after'], this.o.clock.now()));
    throw new PanError({ kind: 'transport', code: s, endpoint: ENDPOINT, retryable, message: `${ENDPOINT}: HTTP ${s} from ${host(url)}` });
  }

  private async partial(res: Dispatcher.ResponseData, start: number, end: number, want: number): Promise<Buffer> {
    const cr = String(res.headers['content-range'] ?? '');
    const m = CONTENT_RANGE_RE.exec(cr.trim());
    if (!m || Number(m[1]) !== start || Number(m[2]) !== end) {
      await res.body.dump().catch(() => undefined);
      throw rangeError(`Content-Range "${cr}" does not match ${start}-${end}`);
    }
    return readExactly(res.body, want);
  }

  private async whole(res: Dispatcher.ResponseData, start: number, end: number, want: number): Promise<Buffer> {
    const len = Number(res.headers['content-length'] ?? NaN);
    const exact = start === 0 && len === want;
    if (!exact && !(Number.isFinite(len) && len > end && len <= WHOLE_BODY_FALLBACK_MAX)) {
      res.body.destroy();
      throw rangeError(`server ignored Range (HTTP 200, ${Number.isFinite(len) ? len : 'unknown'} bytes) for ${start}-${end}`);
    }
    const buf = await readExactly(res.body, len);
    return exact ? buf : Buffer.from(buf.subarray(start, end + 1));
  }
}
