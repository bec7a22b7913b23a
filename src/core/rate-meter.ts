// RateMeter: bytes per second over the last few seconds (status's per-stream throughput). Counts go into
// fixed time buckets (a ring, so memory is constant however many reads arrive); the rate is the sum of the
// buckets inside the window divided by the window, or by the meter's age while it is younger than that.
// Pure: time comes from the injected Clock.

import type { Clock } from './clock.js';

const BUCKET_MS = 250;

export class RateMeter {
  private readonly counts: number[];
  private readonly stamps: number[];
  private readonly born: number;

  /** windowMs: how far back the rate looks (default 5 s). */
  constructor(
    private readonly clock: Clock,
    private readonly windowMs = 5_000,
  ) {
    const n = Math.max(1, Math.ceil(windowMs / BUCKET_MS));
    this.counts = new Array<number>(n).fill(0);
    this.stamps = new Array<number>(n).fill(-1);
    this.born = clock.now();
  }

  add(bytes: number): void {
    const slot = Math.floor(this.clock.now() / BUCKET_MS);
    const i = slot % this.counts.length;
    if (this.stamps[i] !== slot) {
      this.stamps[i] = slot;
      this.counts[i] = 0;
    }
    this.counts[i]! += bytes;
  }

  /** Bytes per second over the window (0 when nothing arrived in it). */
  perSec(): number {
    const now = this.clock.now();
    const slot = Math.floor(now / BUCKET_MS);
    const oldest = slot - this.counts.length + 1;
    let sum = 0;
    for (let i = 0; i < this.counts.length; i++) if (this.stamps[i]! >= oldest) sum += this.counts[i]!;
    const span = Math.min(this.windowMs, Math.max(BUCKET_MS, now - this.born));
    return Math.round((sum * 1000) / span);
  }
}
