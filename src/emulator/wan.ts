// WAN emulation (tests and the bench; off by default): what a user's line to 123's CDN and API looks
// like from loopback. Owns four knobs and the pacing of download bodies:
//  - firstByteMs: every CDN response (download_info links and direct links, errors included) waits this
//    long before its first byte: the round trip + the CDN's time to first byte;
//  - connBytesPerSec: one response body is sent no faster than this (one TCP connection's share);
//  - linkBytesPerSec: all CDN bodies together are sent no faster than this (the user's line);
//  - apiDelayMs: every API answer (envelope routes, including faults and errors) waits this long.
// Pacing is by virtual send times in PACE_CHUNK slices: a slice leaves at max(now, the connection's next
// slot, the link's next slot), where a slot may lag now by CATCH_UP_MS; the link is reserved only once the connection
// is ready, so a slow connection never holds link capacity it cannot use, and a late timer catches up (the average rate
// is exact, bursts are at most a few slices). Invariants: with every knob 0 nothing is delayed and bodies take the
// unpaced path of downloads.ts; pacing never reorders or drops bytes; an aborted response stops reading the blob.

import type { Clock } from '../core/clock.js';

export interface WanOptions {
  /** Delay before the first byte of every CDN response (ms). */
  firstByteMs?: number;
  /** Rate of one download response body (bytes/s, 0 = unlimited). */
  connBytesPerSec?: number;
  /** Shared rate of all download bodies together (bytes/s, 0 = unlimited). */
  linkBytesPerSec?: number;
  /** Delay before every API answer (ms). */
  apiDelayMs?: number;
}

/** 64 KiB slices: a 25 MB/s connection gets one every 2.6 ms, a 4 MB/s one every 16 ms. */
export const PACE_CHUNK = 64 << 10;

/** A slot may lag `now` by this much (a late timer is caught up; an idle sender bursts at most this long). */
const CATCH_UP_MS = 5;

export class Wan {
  private linkNext = 0;
  readonly o: Required<WanOptions>;

  constructor(
    o: WanOptions,
    private readonly clock: Clock,
  ) {
    this.o = {
      firstByteMs: nonNeg('firstByteMs', o.firstByteMs),
      connBytesPerSec: nonNeg('connBytesPerSec', o.connBytesPerSec),
      linkBytesPerSec: nonNeg('linkBytesPerSec', o.linkBytesPerSec),
      apiDelayMs: nonNeg('apiDelayMs', o.apiDelayMs),
    };
  }

  /** True when download bodies must be paced (a rate is set). */
  get paced(): boolean {
    return this.o.connBytesPerSec > 0 || this.o.linkBytesPerSec > 0;
  }

  /** The wait before a response of this kind starts (null: none). */
  responseDelay(kind: 'api' | 'cdn'): Promise<void> | null {
    const ms = kind === 'cdn' ? this.o.firstByteMs : this.o.apiDelayMs;
    return ms > 0 ? this.clock.sleep(ms) : null;
  }

  /** A pacer for one response body. */
  conn(): ConnPacer {
    return new ConnPacer(this, this.clock);
  }

  /** @internal Reserves the link for n bytes from `at` on; returns when the slice may leave. */
  reserveLink(at: number, n: number): number {
    const rate = this.o.linkBytesPerSec;
    if (rate <= 0) return at;
    const start = Math.max(at, this.linkNext);
    this.linkNext = start + (n * 1000) / rate;
    return start;
  }
}

export class ConnPacer {
  private next = 0;

  constructor(
    private readonly wan: Wan,
    private readonly clock: Clock,
  ) {}

  /** Waits until a slice of n bytes may be sent on this connection (and the link), then reserves it. */
  async slot(n: number, signal?: AbortSignal): Promise<void> {
    let now = this.clock.now();
    const ready = Math.max(now - CATCH_UP_MS, this.next);
    if (ready > now + 0.5) {
      await this.clock.sleep(ready - now, signal);
      now = this.clock.now();
    }
    const at = this.wan.reserveLink(Math.max(now - CATCH_UP_MS, ready), n);
    const rate = this.wan.o.connBytesPerSec;
    this.next = rate > 0 ? at + (n * 1000) / rate : at;
    if (at > now + 0.5) await this.clock.sleep(at - now, signal);
  }
}

function nonNeg(name: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new TypeError(`wan.${name} must be ≥ 0`);
  return v;
}
