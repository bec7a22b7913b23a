// Test double for RangeSource: deterministic "ramp" content per (id, md5), injectable latency and
// failures, and a record of every call (range, abort) so tests can assert what was fetched.

import type { FileRef, RangeSource } from '../../../src/data/range-source.js';

import { rampAt } from '../../support/data.js';

export { rampAt, rampByte } from '../../support/data.js';

export function seedOf(md5: string): number {
  let h = 0;
  for (const c of md5) h = (h * 31 + c.charCodeAt(0)) % 100_003;
  return h;
}

export function refOf(size: number, md5 = 'aaaa', id = '42'): FileRef {
  return { id, size, md5 };
}

export interface Call {
  id: string;
  md5: string;
  start: number;
  length: number;
  aborted: boolean;
  failed: boolean;
  settled: boolean;
}

export class FakeSource implements RangeSource {
  readonly calls: Call[] = [];
  latencyMs = 0;
  /** Fail the next n calls. */
  failNext = 0;
  inflight = 0;
  maxInflight = 0;

  async read(ref: FileRef, start: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const call: Call = { id: ref.id, md5: ref.md5, start, length, aborted: false, failed: false, settled: false };
    this.calls.push(call);
    if (start < 0 || length <= 0 || start + length > ref.size)
      throw new Error(`bad range ${start}+${length} of ${ref.size}`);
    const fail = this.failNext > 0;
    if (fail) this.failNext--;
    this.inflight++;
    this.maxInflight = Math.max(this.maxInflight, this.inflight);
    try {
      await new Promise<void>((resolve, reject) => {
        if (signal?.aborted) {
          call.aborted = true;
          return reject(signal.reason);
        }
        const t = setTimeout(resolve, this.latencyMs);
        signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            call.aborted = true;
            reject(signal.reason);
          },
          { once: true },
        );
      });
    } finally {
      this.inflight--;
      call.settled = true;
    }
    call.failed = fail;
    if (fail) throw Object.assign(new Error('injected failure'), { code: 'EINJECTED' });
    return rampAt(start, length, seedOf(ref.md5));
  }

  get bytesFetched(): number {
    return this.calls.filter((c) => !c.aborted && !c.failed).reduce((n, c) => n + c.length, 0);
  }
}

export const KiB = 1024;
export const MiB = 1024 * 1024;
