// Test double for RangeSource on fake time: a CDN `latencyMs` away, each request's body at most
// `connRate` bytes/ms, all bodies together at most `linkRate` bytes/ms (shared equally among the bodies
// that are flowing). Bytes land in `into` as they "arrive" and are reported through onProgress, as the
// real lean HTTP path does. The test drives time with run(): 1 ms steps of a manual FakeClock, with the
// event loop drained between steps so the reader reacts as it would.
import type { FileRef, RangeSource } from '../../../src/data/range-source.js';
import type { FakeClock } from '../../support/clock.js';
import { rampAt, seedOf } from './fake-source.js';

interface Transfer {
  ref: FileRef;
  start: number;
  length: number;
  out: Buffer;
  filled: number;
  startsAt: number;
  onProgress?: (n: number) => void;
  resolve(b: Buffer): void;
  reject(e: unknown): void;
  call: PacedCall;
}

export interface PacedCall {
  start: number;
  length: number;
  at: number;
  aborted: boolean;
  done: boolean;
}

export class PacedSource implements RangeSource {
  readonly calls: PacedCall[] = [];
  private active: Transfer[] = [];
  bytesFetched = 0;
  maxInflight = 0;

  constructor(
    private readonly clock: FakeClock,
    readonly latencyMs: number,
    readonly connRate: number,
    readonly linkRate: number,
  ) {}

  read(
    ref: FileRef,
    start: number,
    length: number,
    signal?: AbortSignal,
    into?: Buffer,
    onProgress?: (n: number) => void,
  ): Promise<Buffer> {
    const call: PacedCall = { start, length, at: this.clock.now(), aborted: false, done: false };
    this.calls.push(call);
    return new Promise<Buffer>((resolve, reject) => {
      const t: Transfer = {
        ref,
        start,
        length,
        out: into ? into.subarray(0, length) : Buffer.allocUnsafe(length),
        filled: 0,
        startsAt: this.clock.now() + this.latencyMs,
        onProgress: into ? onProgress : undefined,
        resolve,
        reject,
        call,
      };
      this.active.push(t);
      this.maxInflight = Math.max(this.maxInflight, this.active.length);
      signal?.addEventListener(
        'abort',
        () => {
          if (call.done) return;
          call.aborted = true;
          this.active = this.active.filter((x) => x !== t);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  get inflight(): number {
    return this.active.length;
  }

  /** Advances fake time 1 ms at a time until `done()` (or `maxMs`), moving bytes each step. */
  async run(done: () => boolean, maxMs = 60_000): Promise<number> {
    const t0 = this.clock.now();
    while (!done()) {
      if (this.clock.now() - t0 > maxMs) throw new Error(`not done after ${maxMs} ms of fake time`);
      await this.clock.advance(1);
      this.step();
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    }
    return this.clock.now() - t0;
  }

  private step(): void {
    const now = this.clock.now();
    const flowing = this.active.filter((t) => t.startsAt <= now);
    if (flowing.length === 0) return;
    const share = Math.min(this.connRate, this.linkRate / flowing.length);
    for (const t of flowing) {
      const n = Math.min(Math.floor(share), t.length - t.filled);
      t.out.set(rampAt(t.start + t.filled, n, seedOf(t.ref.md5)), t.filled);
      t.filled += n;
      this.bytesFetched += n;
      if (t.filled < t.length) t.onProgress?.(t.filled);
      else {
        t.call.done = true;
        this.active = this.active.filter((x) => x !== t);
        t.resolve(t.out);
      }
    }
  }
}
