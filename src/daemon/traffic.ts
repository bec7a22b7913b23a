// What the daemon fetched from the CDN: a RangeSource wrapper that adds every byte of every ranged read to
// the one fetched-today counter (core/daily-bytes.ts), as the bytes arrive (onProgress deltas) and the
// rest when the read completes. A resumed range (pan/cdn/ranges.ts) reports one monotonic count, so no
// byte is counted twice; bytes of an attempt that failed before reporting them are not counted (a
// lower bound). Wrapper only, like limits.ts: data/ and pan/ know nothing of it.

import type { DailyBytes } from '../core/daily-bytes.js';
import type { RangeSource } from '../data/range-source.js';

export function countRangeSource(source: RangeSource, fetched: DailyBytes): RangeSource {
  return {
    async read(ref, start, length, signal, into, onProgress) {
      let seen = 0;
      const buf = await source.read(
        ref,
        start,
        length,
        signal,
        into,
        into
          ? (filled) => {
              if (filled > seen) {
                fetched.add(filled - seen);
                seen = filled;
              }
              onProgress?.(filled);
            }
          : undefined,
      );
      fetched.add(buf.length - seen);
      return buf;
    },
    prepare: source.prepare ? (ref) => source.prepare!(ref) : undefined,
  };
}
