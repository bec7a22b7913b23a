// Client-side per-endpoint rate limiter. Owns: when each request may start. A sliding window by
// reservation: for a budget of `qps`, at most n = max(1, floor(qps)) requests start in any window of
// n / qps seconds (5 qps → 5 per second; 0.2 qps → 1 per 5 s). Each acquire reserves the earliest slot
// at once, so callers are served FIFO without a queue; an aborted waiter keeps its slot (conservative).
// Invariant: time comes only from the injected Clock. scale multiplies every budget; 0 or Infinity
// switches limiting off (tests, the emulator's own scaled limits).

import type { Clock } from '../core/clock.js';

class Window {
  private readonly starts: number[] = [];
  private readonly n: number;
  private readonly spanMs: number;

  constructor(qps: number) {
    this.n = Math.max(1, Math.floor(qps));
    this.spanMs = (this.n / qps) * 1000;
  }

  /** Reserve the next slot; returns the epoch ms at which it starts. */
  reserve(now: number): number {
    const oldest = this.starts.length >= this.n ? this.starts[this.starts.length - this.n]! : -Infinity;
    const at = Math.max(now, oldest + this.spanMs);
    this.starts.push(at);
    if (this.starts.length > this.n) this.starts.splice(0, this.starts.length - this.n);
    return at;
  }
}

export class RateLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly off: boolean;

  constructor(private readonly clock: Clock, private readonly scale = 1) {
    this.off = !(scale > 0) || !Number.isFinite(scale);
  }

  /** Wait until a request to `key` with budget `qps` may start. qps ≤ 0 or Infinity: no limit. */
  async acquire(key: string, qps: number, signal?: AbortSignal): Promise<void> {
    const eff = qps * this.scale;
    if (this.off || !(eff > 0) || !Number.isFinite(eff)) return;
    let w = this.windows.get(key);
    if (!w) { w = new Window(eff); this.windows.set(key, w); }
    const now = this.clock.now();
    const at = w.reserve(now);
    if (at > now) await this.clock.sleep(at - now, signal);
  }
}
