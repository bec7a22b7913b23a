// PanRangeSource: what the read path calls to get bytes of a remote file (data/range-source.ts's
// RangeSource). Owns: clamping a read to the file size, getting a link from LinkCache, fetching the range
// through the injected CdnFetcher (cdn-client.ts, never the API client), and the refresh-once rule: on
// 'link-expired' (any CDN 4xx but 416/429), or a 429 still answered after the CDN retries, the file's
// links are invalidated and the read is retried ONCE with a fresh link, from where the final bytes
// stopped; a second failure surfaces. Before that, a 403 on a signed direct link whose path has two forms
// (non-ASCII, spaces) is retried once signed over the other form (LinkCache.otherForm); when that one is
// accepted, LinkCache signs every later link that way.

import type { FileRef } from '../../core/file-ref.js';
import type { CdnFetcher } from './cdn-client.js';
import type { LinkCache, LinkMode, LinkSigning } from './download-urls.js';
import { isPanError, type PanError } from '../errors.js';

/** A CDN answer that may mean "this link is dead": any 4xx but 416 (link-expired), or a 429 that the
 * CDN retries did not get past (issue 15: an expired link may answer with more than 403/404/410). */
function linkDead(e: unknown): e is PanError {
  return isPanError(e, 'link-expired') || (isPanError(e, 'transport') && e.code === 429);
}

export interface PanRangeSourceOptions {
  links: LinkCache;
  /** the CDN side: ranged GETs on the links */
  cdn: CdnFetcher;
  /** 'download' = download_info (default), 'direct' = direct-link/url */
  mode?: LinkMode;
  /** direct-link URL-auth settings, or null for unsigned links */
  signing?: LinkSigning | null;
}

export class PanRangeSource {
  private readonly mode: LinkMode;
  private readonly signing: LinkSigning | null;

  constructor(private readonly o: PanRangeSourceOptions) {
    this.mode = o.mode ?? 'download';
    this.signing = o.signing ?? null;
  }

  /** Up to `length` bytes from `start`; shorter at end of file, empty at or past it. `onProgress`: see
   * data/range-source.ts. A refetch after a link refresh resumes after the bytes already final (the ref
   * pins the content, so the new link serves the same bytes). */
  async read(
    ref: FileRef,
    start: number,
    length: number,
    signal?: AbortSignal,
    into?: Buffer,
    onProgress?: (filled: number) => void,
  ): Promise<Buffer> {
    const end = Math.min(start + length, ref.size) - 1;
    if (length <= 0 || start >= ref.size || end < start) return Buffer.alloc(0);
    const want = end - start + 1;
    const dest = into && into.length >= want ? into.subarray(0, want) : Buffer.allocUnsafeSlow(want);
    let got = 0;
    const fetch = async (url: string): Promise<Buffer> => {
      const base = got;
      const part = dest.subarray(base);
      const b = await this.o.cdn.fetchRange(url, start + base, end, signal, part, (n) => {
        if (base + n <= got) return;
        got = base + n;
        onProgress?.(got);
      });
      if (b.buffer !== part.buffer || b.byteOffset !== part.byteOffset) b.copy(dest, base);
      return dest;
    };
    const url = await this.o.links.get(ref.id, this.mode, this.signing, signal);
    try {
      return await fetch(url);
    } catch (e) {
      if (!linkDead(e)) throw e;
      const other = this.mode === 'direct' && e.code === 403 ? this.o.links.otherForm(url, this.signing) : null;
      if (other) {
        try {
          const b = await fetch(other.url);
          this.o.links.useForm(other.form);
          return b;
        } catch (e2) {
          if (!linkDead(e2)) throw e2;
        }
      }
      this.o.links.invalidate(ref.id);
      return fetch(await this.o.links.get(ref.id, this.mode, this.signing, signal));
    }
  }

  /** At open: fetch the download link now (cached), so the first read waits for one round trip, not two.
   * Failures are left for the first read to meet (and retry). */
  prepare(ref: FileRef): void {
    if (ref.size === 0) return;
    this.o.links.get(ref.id, this.mode, this.signing).catch(() => undefined);
  }
}
