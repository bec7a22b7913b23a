// The one fake Clock of the test suite. Owns fake time; nothing here reads the real clock except the
// macrotask that 'auto' mode fires on. Three modes:
// - 'auto': sleeps and timers fire on the next macrotask and move time forward to their due time (fast,
//   keeps their order);
// - 'instant': sleeps resolve at once and move time forward by their delay; timers wait for advance();
// - 'manual': nothing fires until advance(ms).
// Every sleep's delay is recorded in `sleeps`. advance() is synchronous when nothing falls due, so a test
// may call it without awaiting when no timer is pending; runUntil(done) runs virtual time until done().
import type { Clock } from '../../src/core/clock.js';

export const T0 = 1_700_000_000_000;

export type ClockMode = 'auto' | 'instant' | 'manual';

interface PendingTimer {
  due: number;
  fire: () => void;
  seq: number;
}

export class FakeClock implements Clock {
  nowMs: number;
  readonly sleeps: number[] = [];
  private pending: PendingTimer[] = [];
  private seq = 0;

  constructor(
    readonly mode: ClockMode = 'auto',
    start = T0,
  ) {
    this.nowMs = start;
  }

  now(): number {
    return this.nowMs;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (this.mode === 'instant') {
      if (signal?.aborted) return Promise.reject(signal.reason);
      this.nowMs += Math.max(0, ms);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        timer.cancel();
        reject(signal!.reason);
      };
      const timer = this.setTimer(ms, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  setTimer(ms: number, fn: () => void): { cancel(): void } {
    const timer: PendingTimer = { due: this.nowMs + ms, fire: fn, seq: this.seq++ };
    if (this.mode === 'auto') {
      let cancelled = false;
      setImmediate(() => {
        if (cancelled) return;
        this.nowMs = Math.max(this.nowMs, timer.due);
        fn();
      });
      return {
        cancel: () => {
          cancelled = true;
        },
      };
    }
    this.pending.push(timer);
    return {
      cancel: () => {
        this.pending = this.pending.filter((p) => p !== timer);
      },
    };
  }

  /** Moves time forward by ms, firing the timers that fall due in order (a macrotask between two). */
  advance(ms: number): Promise<void> {
    const target = this.nowMs + ms;
    const step = (): Promise<void> => {
      const next = this.pending.filter((p) => p.due <= target).sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!next) {
        this.nowMs = Math.max(this.nowMs, target);
        return Promise.resolve();
      }
      this.pending = this.pending.filter((p) => p !== next);
      this.nowMs = Math.max(this.nowMs, next.due);
      next.fire();
      return new Promise<void>((r) => setImmediate(r)).then(step);
    };
    return step();
  }

  /**
   * Virtual time: once every pending task has settled, fires the earliest waiting timer (time jumps to
   * it), until done() holds. Throws when nothing is left to fire.
   */
  async runUntil(done: () => boolean): Promise<void> {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      if (done()) return;
      const next = [...this.pending].sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!next) throw new Error('nothing left to wake');
      this.pending = this.pending.filter((p) => p !== next);
      this.nowMs = Math.max(this.nowMs, next.due);
      next.fire();
    }
  }

  /** The delays (from now) of the timers waiting for advance(). */
  get pendingTimers(): number[] {
    return this.pending.map((p) => p.due - this.nowMs);
  }
}
