// A Clock for tests. 'auto': sleeps and timers fire on the next macrotask and move time forward by their
// delay (fast, keeps ordering). 'manual': nothing fires until advance(ms).
import type { Clock } from '../../../src/core/clock.js';

interface Pending {
  due: number;
  fire: () => void;
  seq: number;
}

export class FakeClock implements Clock {
  nowMs = 1_700_000_000_000;
  readonly sleeps: number[] = [];
  private pending: Pending[] = [];
  private seq = 0;
  constructor(readonly mode: 'auto' | 'manual' = 'auto') {}

  now(): number {
    return this.nowMs;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        t.cancel();
        reject(signal!.reason);
      };
      const t = this.setTimer(ms, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  setTimer(ms: number, fn: () => void): { cancel(): void } {
    const p: Pending = { due: this.nowMs + ms, fire: fn, seq: this.seq++ };
    if (this.mode === 'auto') {
      let cancelled = false;
      setImmediate(() => {
        if (!cancelled) {
          this.nowMs = Math.max(this.nowMs, p.due);
          fn();
        }
      });
      return {
        cancel: () => {
          cancelled = true;
        },
      };
    }
    this.pending.push(p);
    return {
      cancel: () => {
        this.pending = this.pending.filter((x) => x !== p);
      },
    };
  }

  /** manual mode: move time forward, firing what falls due (in order). */
  async advance(ms: number): Promise<void> {
    const target = this.nowMs + ms;
    for (;;) {
      const next = this.pending.filter((p) => p.due <= target).sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!next) break;
      this.pending = this.pending.filter((p) => p !== next);
      this.nowMs = Math.max(this.nowMs, next.due);
      next.fire();
      await new Promise((r) => setImmediate(r));
    }
    this.nowMs = target;
  }

  get pendingTimers(): number[] {
    return this.pending.map((p) => p.due - this.nowMs);
  }
}
