// Client-side per-endpoint rate limiter. Owns: when each request may start. For a budget of `qps`,
// an endpoint has n = max(1, floor(qps)) slots; a request holds a slot while in flight and the slot
// frees one window (`n / qps` s) after the request finished (OpenList's rule) — or, for a slow request,
// one window after it started plus START_GRACE_MS, whichever comes first. Anchoring at completion means
// no n + 1 requests can arrive within one window however the network delays them; but for requests that
// must run one after another (a listing's pages follow a cursor) it costs a whole request latency per
// window. The grace keeps the guarantee for any arrival jitter below it and lets a paginated listing run
// within ~5 % of the server's floor; a rarer larger jitter gets a 429, which the transport retries.
// Waiters are served FIFO.
// Invariants: time comes only from the injected Clock; scale multiplies every budget and 0 or Infinity
// switches limiting off (tests, emulator runs with its own limits off).

import type { Clock } from '../core/clock.js';

export type Release = () => void;

/** Arrival jitter the limiter absorbs without ever letting n + 1 requests land in one server window. */
export const START_GRACE_MS = 50;
const noop: Release = () => undefined;

interface Waiter {
  resolve: (r: Release) => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

class Window {
  /** per slot: epoch ms at which it frees; Infinity while its request is in flight */
  private readonly freeAt: number[];
  private readonly spanMs: number;
  private readonly queue: Waiter[] = [];
  private timerFor = Infinity;
  private readonly graceMs: number;

  constructor(
    qps: number,
    private readonly clock: Clock,
  ) {
    const n = Math.max(1, Math.floor(qps));
    this.graceMs = START_GRACE_MS;
    this.freeAt = new Array<number>(n).fill(-Infinity);
    this.spanMs = (n / qps) * 1000;
  }

  acquire(signal?: AbortSignal): Promise<Release> {
    return new Promise<Release>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const w: Waiter = { resolve, reject, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.queue.indexOf(w);
          if (i >= 0) this.queue.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.queue.push(w);
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let best = 0;
      for (let i = 1; i < this.freeAt.length; i++) if (this.freeAt[i]! < this.freeAt[best]!) best = i;
      const at = this.freeAt[best]!;
      if (at === Infinity) return; // all in flight: a release will pump
      const now = this.clock.now();
      if (at > now) {
        this.wake(at);
        return;
      }
      const w = this.queue.shift()!;
      if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
      this.freeAt[best] = Infinity;
      const startedAt = now;
      let done = false;
      w.resolve(() => {
        if (done) return;
        done = true;
        this.freeAt[best] = Math.min(this.clock.now(), startedAt + this.graceMs) + this.spanMs;
        this.pump();
      });
    }
  }

  private wake(at: number): void {
    if (this.timerFor <= at) return;
    this.timerFor = at;
    void this.clock.sleep(at - this.clock.now()).then(() => {
      if (this.timerFor === at) this.timerFor = Infinity;
      this.pump();
    });
  }
}

export class RateLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly off: boolean;

  constructor(
    private readonly clock: Clock,
    private readonly scale = 1,
  ) {
    this.off = !(scale > 0) || !Number.isFinite(scale);
  }

  /** Wait for a slot of `key` (budget `qps`); call the returned release() when the request is done. */
  async acquire(key: string, qps: number, signal?: AbortSignal): Promise<Release> {
    const eff = qps * this.scale;
    if (this.off || !(eff > 0) || !Number.isFinite(eff)) return noop;
    let w = this.windows.get(key);
    if (!w) {
      w = new Window(eff, this.clock);
      this.windows.set(key, w);
    }
    return w.acquire(signal);
  }
}
