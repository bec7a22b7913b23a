// Client-side per-endpoint rate limiter. Owns: when each request may start. For a budget of `qps`,
// an endpoint has n = max(1, floor(qps)) slots; a request holds a slot while in flight and the slot
// frees one window (`n / qps` s) after the request finished (OpenList's rule) — or, for a slow request,
// one window after it started plus START_GRACE_MS, whichever comes first. Anchoring at completion means
// no n + 1 requests can arrive within one window however the network delays them; but for requests that
// must run one after another (a listing's pages follow a cursor) it costs a whole request latency per
// window. The grace keeps the guarantee for any arrival jitter below it and lets a paginated listing run
// within ~5 % of the server's floor; a rarer larger jitter gets a 429, which the transport retries.
// Waiters are served FIFO within their priority.
// Background requests (the change poller, vfs/poller.ts) have a share of their own: at most
// BACKGROUND_SHARE of the endpoint's budget (a second window of qps × share that a background request
// passes first), and in the endpoint's window they yield: one is started only when no foreground request
// waits and it would not take the last free slot, so a foreground request arriving next finds one free.
// Listings ahead of a walk (vfs/list-ahead.ts) are 'ahead': the endpoint's whole budget, but they yield
// like background ones (after every foreground waiter, never the last free slot) and go before them; their
// slot frees one window after they finished, without the grace (speculative calls never risk a 429). An
// ahead request carries a Lift: raised (a foreground caller now waits for the same listing), it waits and
// runs as a foreground one from then on.
// Invariants: time comes only from the injected Clock; scale multiplies every budget and 0 or Infinity
// switches limiting off (tests, emulator runs with its own limits off).

import type { Clock } from '../core/clock.js';

export type Release = () => void;
export type Priority = 'foreground' | 'ahead' | 'background';

/**
 * The priority of an 'ahead' request that a foreground caller may raise while it waits: raise() moves it
 * to the foreground queue of every window it waits in, and later acquires with it are foreground ones.
 */
export class Lift {
  private up = false;
  private readonly fns = new Set<() => void>();

  get raised(): boolean {
    return this.up;
  }

  raise(): void {
    if (this.up) return;
    this.up = true;
    for (const fn of [...this.fns]) fn();
    this.fns.clear();
  }

  /** @internal fn runs once on raise(); the returned function forgets it */
  watch(fn: () => void): () => void {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  }
}

/** The part of an endpoint's budget background requests may spend (issue 16: a fifth of the list QPS). */
export const BACKGROUND_SHARE = 0.2;

/** Arrival jitter the limiter absorbs without ever letting n + 1 requests land in one server window. */
export const START_GRACE_MS = 50;
const noop: Release = () => undefined;

interface Waiter {
  resolve: (r: Release) => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
  /** forgets the Lift's watch (an ahead waiter) */
  unwatch?: () => void;
}

class Window {
  /** per slot: epoch ms at which it frees; Infinity while its request is in flight */
  private readonly freeAt: number[];
  private readonly spanMs: number;
  private readonly queue: Waiter[] = [];
  /** ahead, then background waiters: served only when `queue` is empty and a slot stays free for it */
  private readonly ahead: Waiter[] = [];
  private readonly background: Waiter[] = [];
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

  acquire(signal?: AbortSignal, priority: Priority = 'foreground', lift?: Lift): Promise<Release> {
    if (priority === 'ahead' && lift?.raised) priority = 'foreground';
    const queueOf = (p: Priority) => (p === 'background' ? this.background : p === 'ahead' ? this.ahead : this.queue);
    let queue = queueOf(priority);
    return new Promise<Release>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const w: Waiter = { resolve, reject, signal };
      if (signal) {
        w.onAbort = () => {
          const i = queue.indexOf(w);
          if (i >= 0) queue.splice(i, 1);
          w.unwatch?.();
          reject(signal.reason);
          this.pump(); // a foreground waiter gone may let a background one go
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      if (priority === 'ahead' && lift) {
        w.unwatch = lift.watch(() => {
          const i = queue.indexOf(w);
          if (i < 0) return;
          queue.splice(i, 1);
          queue = this.queue;
          queue.push(w);
          this.pump();
        });
      }
      queue.push(w);
      this.pump();
    });
  }

  private pump(): void {
    for (;;) {
      const fg = this.queue.length > 0;
      const from = fg ? this.queue : this.ahead.length > 0 ? this.ahead : this.background;
      if (from.length === 0) return;
      // slots by the time they free, soonest first
      const order = this.freeAt.map((_, i) => i).sort((a, b) => this.freeAt[a]! - this.freeAt[b]!);
      const best = order[0]!;
      // a yielding request never takes the last free slot (with one slot, it only waits for foreground)
      const needed = fg || order.length === 1 ? 0 : 1;
      const at = this.freeAt[order[needed]!]!;
      if (at === Infinity) return; // all in flight: a release will pump
      const now = this.clock.now();
      if (at > now) {
        this.wake(at);
        return;
      }
      const w = from.shift()!;
      if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
      w.unwatch?.();
      this.freeAt[best] = Infinity;
      // an ahead request's slot frees one window after it finished: no arrival jitter makes it a 429
      const anchorBy = from === this.ahead ? Infinity : now + this.graceMs;
      let done = false;
      w.resolve(() => {
        if (done) return;
        done = true;
        this.freeAt[best] = Math.min(this.clock.now(), anchorBy) + this.spanMs;
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

  /**
   * Wait for a slot of `key` (budget `qps`); call the returned release() when the request is done.
   * 'background': within BACKGROUND_SHARE of the budget, and after every foreground waiter. 'ahead': the
   * whole budget, after every foreground waiter (before background ones) until `lift` is raised.
   */
  async acquire(
    key: string,
    qps: number,
    signal?: AbortSignal,
    priority: Priority = 'foreground',
    lift?: Lift,
  ): Promise<Release> {
    const eff = qps * this.scale;
    if (this.off || !(eff > 0) || !Number.isFinite(eff)) return noop;
    const w = this.window(key, eff);
    if (priority === 'foreground') return w.acquire(signal);
    if (priority === 'ahead') return w.acquire(signal, 'ahead', lift);
    const share = await this.window(`${key}\u0000background`, eff * BACKGROUND_SHARE).acquire(signal);
    try {
      const slot = await w.acquire(signal, 'background');
      return () => {
        slot();
        share();
      };
    } catch (e) {
      share();
      throw e;
    }
  }

  private window(key: string, qps: number): Window {
    let w = this.windows.get(key);
    if (!w) {
      w = new Window(qps, this.clock);
      this.windows.set(key, w);
    }
    return w;
  }
}
