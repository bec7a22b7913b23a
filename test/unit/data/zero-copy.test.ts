// The prefetcher caches the blocks of a ranged read as views of the source's Buffer (no per-block copy),
// but copies a Buffer that shares its memory with something else first.
import { describe, expect, it } from 'vitest';
import { FileReader } from '../../../src/data/file-reader.js';
import type { FileRef, RangeSource } from '../../../src/data/range-source.js';

const MiB = 1 << 20;

class RecordingSource implements RangeSource {
  readonly returned: Buffer[] = [];
  constructor(private readonly shared: boolean) {}
  async read(_ref: FileRef, start: number, length: number): Promise<Buffer> {
    const big = Buffer.alloc(length + (this.shared ? 4096 : 0));
    for (let i = 0; i < length; i++) big[i] = (start + i) & 0xff;
    const b = this.shared ? big.subarray(0, length) : big;
    this.returned.push(b);
    return b;
  }
}

describe('zero-copy blocks', () => {
  it('serves reads as views of the fetched range buffer', async () => {
    const src = new RecordingSource(false);
    const r = new FileReader(src, { memCacheBytes: 64 * MiB });
    const h = r.open({ id: '1', md5: 'm', size: 4 * MiB });
    const a = await h.read(0, 4096);
    const b = await h.read(MiB + 10, 100);
    expect(a.buffer).toBe(src.returned[0]!.buffer);
    expect(b[0]).toBe((MiB + 10) & 0xff);
    await r.close();
  });

  it('copies a source Buffer that is a view of larger memory', async () => {
    const src = new RecordingSource(true);
    const r = new FileReader(src, { memCacheBytes: 64 * MiB });
    const h = r.open({ id: '1', md5: 'm', size: 2 * MiB });
    const a = await h.read(0, 4096);
    expect(a.buffer).not.toBe(src.returned[0]!.buffer);
    expect(a.buffer.byteLength).toBe(src.returned[0]!.length);
    expect(a[4095]).toBe(4095 & 0xff);
    await r.close();
  });
});
