// Issue 19 item 6: the memory that ranges in flight hold is bounded across all streams of a FileReader,
// counted as the buffers they really hold (a pooled buffer is charged whole, a small range its own size).
// The source holds every range until the test lets the oldest one go, after every read that could issue
// a fetch has done so (one macrotask later): in-flight memory then is as large as the reader lets it get.
import { describe, expect, it } from 'vitest';
import { FileReader } from '../../../src/data/file-reader.js';
import type { FileRef, RangeSource } from '../../../src/data/range-source.js';
import { KiB, MiB, refOf } from './fake-source.js';
import { ramp } from '../../support/data.js';

interface Held {
  length: number;
  /** the memory this range holds while in flight: the buffer it is received into */
  bytes: number;
  answer(): void;
}

class HeldSource implements RangeSource {
  readonly pending: Held[] = [];
  /** the largest sum of `bytes` over the ranges in flight */
  maxHeld = 0;
  /** times the reader's stats().inflightBytes differed from that sum while nothing was moving */
  mismatches = 0;
  calls = 0;
  constructor(
    private readonly content: Buffer,
    private readonly reader: () => FileReader,
  ) {}

  read(
    _ref: FileRef,
    start: number,
    length: number,
    signal?: AbortSignal,
    into?: Buffer,
    onProgress?: (filled: number) => void,
  ): Promise<Buffer> {
    this.calls++;
    return new Promise<Buffer>((resolve, reject) => {
      const h: Held = {
        length,
        bytes: into ? into.length : length,
        answer: () => {
          const dest = into ? into.subarray(0, length) : Buffer.allocUnsafe(length);
          this.content.copy(dest, 0, start, start + length);
          onProgress?.(length);
          resolve(dest);
        },
      };
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      this.pending.push(h);
      this.maxHeld = Math.max(
        this.maxHeld,
        this.pending.reduce((n, p) => n + p.bytes, 0),
      );
    });
  }

  /** Answers the oldest range one macrotask after the reads issued what they could; stops with `done`. */
  async pump(done: () => boolean): Promise<void> {
    while (!done()) {
      await new Promise<void>((r) => setImmediate(r));
      if (this.reader().stats().inflightBytes !== this.pending.reduce((n, p) => n + p.bytes, 0)) this.mismatches++;
      this.pending.shift()?.answer();
    }
  }
}

describe('FileReader: in-flight memory across streams (issue 19)', () => {
  it('8 sequential streams never hold more than one read-ahead budget plus their demand reads', async () => {
    const size = 24 * MiB;
    const content = ramp(size, 3);
    let reader: FileReader | undefined;
    const src = new HeldSource(content, () => reader!);
    // the defaults: 256 KiB blocks, 64 MiB memory cache → 32 MiB window and in-flight budget, 4 MiB requests
    reader = new FileReader(src);
    const budget = 32 * MiB;
    const streams = 8;
    const readBytes = 1 * MiB; // libfuse 3's largest read request
    let finished = 0;
    const readers = Array.from({ length: streams }, async (_, i) => {
      const h = reader!.open(refOf(size, 'same', String(100 + i)));
      // two reads in flight per stream, as the kernel's read-ahead issues them
      const out = Buffer.alloc(size);
      let next = 0;
      const lane = async () => {
        while (next < size) {
          const pos = next;
          next += readBytes;
          const n = await h.readInto(pos, readBytes, out.subarray(pos, pos + readBytes));
          expect(n).toBe(Math.min(readBytes, size - pos));
        }
      };
      await Promise.all([lane(), lane()]);
      h.close();
      expect(out.equals(content)).toBe(true);
      finished++;
    });
    const pumping = src.pump(() => finished === streams);
    await Promise.all(readers);
    await pumping;
    await reader.close();
    // demand reads are never held back: at most 2 per stream, each ≤ 1 MiB + one block of misalignment
    const demand = streams * 2 * (readBytes + 256 * KiB);
    console.log(
      `in flight at most ${(src.maxHeld / MiB).toFixed(1)} MiB over ${src.calls} ranges ` +
        `(budget ${budget / MiB} MiB + demand ≤ ${demand / MiB} MiB)`,
    );
    expect(src.maxHeld).toBeLessThanOrEqual(budget + demand);
    expect(src.maxHeld).toBeGreaterThanOrEqual(budget / 2); // the streams did press against the budget
    expect(src.mismatches).toBe(0); // stats().inflightBytes is the memory held, not the bytes asked for
  });
});
