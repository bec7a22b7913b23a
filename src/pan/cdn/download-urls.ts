// LinkCache: a usable URL per (file, mode). Owns: caching download_info / direct-link answers until
// shortly before their (estimated) expiry, signing direct links with the 123 URL-auth scheme
// (123open-api.md §6: auth_key=<expireTs>-<rand>-<uid>-<md5hex("<decoded path>-<expireTs>-<rand>-<uid>-<key>")>),
// single-flight per (file, mode), invalidate(fileId) for the refresh-once rule, and asking the download
// quota (download-quota.ts) before every download_info: while it is used up no download_info is sent.
// Invariants: a URL is never handed out past expiresAt − EXPIRY_MARGIN_MS; signed URLs and keys never
// reach a log.

import { createHash, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { systemClock, type Clock } from '../../core/clock.js';
import type { FileId } from '../../core/ids.js';
import { SingleFlight } from '../../core/single-flight.js';
import type { DownloadLink, PanLinks } from '../api.js';
import type { DownloadQuota } from './download-quota.js';

export type LinkMode = 'download' | 'direct';
export interface LinkSigning {
  key: string;
  uid: string;
}

/** Stop using a link this long before its expiry: a read started now must finish before it dies. */
export const EXPIRY_MARGIN_MS = 60_000;
/** Validity of a signed direct link (OpenList/AList default 30 min; 60 s was reported too short). */
export const DEFAULT_SIGN_VALIDITY_SEC = 30 * 60;
/** Links kept: one per open file is plenty; bounds memory for huge trees. */
const MAX_ENTRIES = 10_000;

export interface LinkCacheOptions {
  api: PanLinks;
  clock?: Clock;
  signValiditySec?: number;
  /** injected for tests; must not contain '-' */
  rand?: () => string;
  /** the daily download_info quota (5113): asked before each download_info, told of each failure */
  quota?: DownloadQuota;
}

/** Append auth_key to a direct-link URL; signs the percent-DECODED path (what the Go clients sign). */
export function signDirectLink(url: string, signing: LinkSigning, expireTs: number, rand: string): string {
  if (rand.includes('-')) throw new TypeError('rand must not contain "-"');
  const u = new URL(url);
  let path: string;
  try {
    path = decodeURIComponent(u.pathname);
  } catch {
    path = u.pathname;
  }
  const md5 = createHash('md5').update(`${path}-${expireTs}-${rand}-${signing.uid}-${signing.key}`).digest('hex');
  u.searchParams.set('auth_key', `${expireTs}-${rand}-${signing.uid}-${md5}`);
  return u.toString();
}

export class LinkCache {
  private readonly cache = new LRUCache<string, DownloadLink>({ max: MAX_ENTRIES });
  private readonly flight = new SingleFlight<string, DownloadLink>();
  private readonly clock: Clock;
  private readonly validityMs: number;
  private readonly rand: () => string;
  /** bumped by invalidate() so a fetch that began before it cannot re-store a stale link */
  private readonly epochs = new Map<FileId, number>();

  constructor(private readonly o: LinkCacheOptions) {
    this.clock = o.clock ?? systemClock;
    this.validityMs = (o.signValiditySec ?? DEFAULT_SIGN_VALIDITY_SEC) * 1000;
    this.rand = o.rand ?? (() => randomUUID().replace(/-/g, ''));
  }

  async get(fileId: FileId, mode: LinkMode, signing: LinkSigning | null, signal?: AbortSignal): Promise<string> {
    const key = `${mode}:${signing ? 's' : 'u'}:${fileId}`;
    const hit = this.cache.get(key);
    if (hit && this.usable(hit)) return hit.url;
    signal?.throwIfAborted();
    const link = await this.flight.run(key, () => this.fetch(key, fileId, mode, signing));
    return link.url;
  }

  /** Forget every cached link of the file (after a 403/410 or a rename/move of a direct link). */
  invalidate(fileId: FileId): void {
    this.epochs.set(fileId, (this.epochs.get(fileId) ?? 0) + 1);
    for (const mode of ['download', 'direct']) for (const s of ['s', 'u']) this.cache.delete(`${mode}:${s}:${fileId}`);
  }

  private usable(l: DownloadLink): boolean {
    return this.clock.now() < l.expiresAt - EXPIRY_MARGIN_MS;
  }

  private async downloadInfo(fileId: FileId): Promise<DownloadLink> {
    const quota = this.o.quota;
    quota?.check();
    try {
      return await this.o.api.downloadInfo(fileId);
    } catch (e) {
      throw quota ? quota.failed(e) : e;
    }
  }

  private async fetch(key: string, fileId: FileId, mode: LinkMode, signing: LinkSigning | null): Promise<DownloadLink> {
    const epoch = this.epochs.get(fileId) ?? 0;
    let link = mode === 'download' ? await this.downloadInfo(fileId) : await this.o.api.directLink(fileId);
    if (signing) {
      const expireMs = this.clock.now() + this.validityMs;
      const expireTs = Math.floor(expireMs / 1000);
      link = {
        url: signDirectLink(link.url, signing, expireTs, this.rand()),
        expiresAt: Math.min(link.expiresAt, expireTs * 1000),
      };
    }
    if ((this.epochs.get(fileId) ?? 0) === epoch) this.cache.set(key, link);
    if (this.epochs.size > MAX_ENTRIES) this.epochs.clear();
    return link;
  }
}
