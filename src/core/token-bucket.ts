// A token bucket for bandwidth limits (--bwlimit-down / --bwlimit-up): `rate` bytes per second with a
// burst of one second's worth. take(n) debits n bytes at once and resolves when the balance is back to
// ≥ 0, so a request larger than the burst is allowed but the next caller waits for it; concurrent
// callers are served in call order and the long-run rate never exceeds `rate`. Time is the injected Clock.
// rate 0 = unlimited (take resolves at once, no state).

import type { Clock } from './clock.js';

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly rate: number,
    private readonly clock: Clock,
  ) {
    this.tokens = rate;
    this.last = clock.now();
  }

  get limited(): boolean {
    return this.rate > 0;
  }

  async take(n: number, signal?: AbortSignal): Promise<void> {
    if (this.rate <= 0 || n <= 0) return;
    const now = this.clock.now();
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    this.tokens -= n;
    if (this.tokens < 0) await this.clock.sleep(Math.ceil((-this.tokens * 1000) / this.rate), signal);
  }
}
