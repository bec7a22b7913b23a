// CdnClient: the CDN read plane's own HTTP client, apart from the API client (issue 12): ranged GETs on
// download / direct-link URLs through RangeFetcher (ranges.ts), over the lean socket path (lean-http.ts)
// with undici as the fallback. Owns: its connection pools (closed by close()) and the download timeout;
// redirects, statuses and retries are RangeFetcher's, once for both paths. Invariants: no Authorization
// or Platform header goes to a CDN (this client has no token at all); a URL is never logged, only its host.

import { Agent, type Dispatcher } from 'undici';
import { systemClock, type Clock } from '../../core/clock.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { retryPolicy, type RetryOptions } from '../backoff.js';
import { LeanRangeClient } from './lean-http.js';
import { MAX_REDIRECTS, RangeFetcher } from './ranges.js';
import type { TransportHealth } from '../transport.js';

/** CDN reads: a 4–8 MiB read-ahead block on a slow line. */
const DEFAULT_DOWNLOAD_TIMEOUT_MS = 60_000;

/** What the range source needs from the CDN: bytes [start, end] inclusive of a URL. */
export interface CdnFetcher {
  /** With `into` (≥ end-start+1 bytes) the body is received into it when possible, and onProgress says how
   * much of it is final as it arrives (see RangeFetcher.fetch). */
  fetchRange(
    url: string,
    start: number,
    end: number,
    signal?: AbortSignal,
    into?: Buffer,
    onProgress?: (filled: number) => void,
  ): Promise<Buffer>;
}

export interface CdnClientOptions {
  clock?: Clock;
  logger?: Logger;
  /** injected HTTP (tests); the lean path is then off unless `leanRanges` says otherwise */
  dispatcher?: Dispatcher;
  retry?: RetryOptions;
  downloadTimeoutMs?: number;
  /** ranged reads over the lean socket path (default: yes unless `dispatcher` is given) */
  leanRanges?: boolean;
  /** extra TLS options for the lean path's https connections (tests: a private CA) */
  tls?: import('node:tls').ConnectionOptions;
  /** the offline state machine (pan/connectivity.ts), told of every ranged GET attempt */
  health?: TransportHealth;
}

export class CdnClient implements CdnFetcher {
  private readonly ranges: RangeFetcher;
  private readonly lean: LeanRangeClient | undefined;
  private readonly ownDispatcher: Agent | undefined;

  constructor(o: CdnClientOptions = {}) {
    this.ownDispatcher = o.dispatcher ? undefined : new Agent({ connect: { timeout: 10_000 } });
    const dispatcher = o.dispatcher ?? this.ownDispatcher!;
    // The lean socket path serves ranged reads unless a dispatcher was injected (tests that mock HTTP)
    // or it is switched off; undici stays the fallback for responses it does not parse.
    this.lean =
      (o.leanRanges ?? !o.dispatcher) ? new LeanRangeClient({ connectTimeoutMs: 10_000, tls: o.tls }) : undefined;
    this.ranges = new RangeFetcher({
      dispatcher, // redirects are followed by RangeFetcher, for both paths
      clock: o.clock ?? systemClock,
      logger: (o.logger ?? silentLogger).child({ mod: 'cdn' }),
      retry: retryPolicy(o.retry),
      timeoutMs: o.downloadTimeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS,
      lean: this.lean,
      maxRedirects: MAX_REDIRECTS,
      health: o.health,
    });
  }

  fetchRange(
    url: string,
    start: number,
    end: number,
    signal?: AbortSignal,
    into?: Buffer,
    onProgress?: (filled: number) => void,
  ): Promise<Buffer> {
    return this.ranges.fetch(url, start, end, signal, into, onProgress);
  }

  /** Closes the connection pools this client created (not an injected dispatcher). */
  async close(): Promise<void> {
    this.lean?.close();
    await this.ownDispatcher?.close();
  }
}
