import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LocalHash, newStreamHash } from '../../../src/write/stream-hash.js';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

describe('stream hash (worker thread)', () => {
  it(
    'digests exactly the bytes posted before it, mid-stream and at the end; ' + 'takes over or copies buffers',
    async () => {
      const h = newStreamHash();
      const parts: Buffer[] = [];
      for (let i = 0; i < 40; i++) {
        const own = Buffer.from(Buffer.alloc(131072 + i, i)); // an exclusive ArrayBuffer: transferred
        const shared = Buffer.from(`small part ${i}`); // a pooled slice: copied
        parts.push(Buffer.from(own), shared);
        h.update(own);
        h.update(shared);
        if (i === 9) expect(await h.digest()).toBe(md5(Buffer.concat(parts)));
      }
      expect(await h.digest()).toBe(md5(Buffer.concat(parts)));
      expect(Buffer.from('x').length).toBe(1); // the pool is still usable after copies were posted
      h.dispose();
    },
  );

  it('many streams at once stay separate', async () => {
    const hs = Array.from({ length: 5 }, () => newStreamHash());
    for (const [i, h] of hs.entries()) h.update(Buffer.from(`stream ${i}`));
    const got = await Promise.all(hs.map((h) => h.digest()));
    expect(got).toEqual(hs.map((_, i) => md5(Buffer.from(`stream ${i}`))));
  });

  it('the in-thread fallback gives the same digests', async () => {
    const h = new LocalHash();
    h.update(Buffer.from('abc'));
    expect(await h.digest()).toBe(md5(Buffer.from('abc')));
  });
});
