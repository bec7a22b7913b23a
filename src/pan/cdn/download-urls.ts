// LinkCache: a usable URL per (file, mode). Owns: caching download_info / direct-link answers until
// shortly before their (estimated) expiry, signing direct links with the 123 URL-auth scheme
// (123open-api.md §6: auth_key=<expireTs>-<rand>-<uid>-<md5hex("<decoded path>-<expireTs>-<rand>-<uid>-<key>")>),
// single-flight per (file, mode), invalidate(fileId) for the refresh-once rule, and asking the download
// quota (download-quota.ts) before every download_info: while it is used up no download_info is sent.
// Which form of the path is signed: the decoded one (OpenList, AList, the official JS sample) until a
// direct link signed over the other form (percent-encoded, as the Python samples sign) is the one the CDN
// accepted (otherForm/useForm, for range-source.ts's retry on a 403); then every link is signed that way.
// Invariants: a URL is never handed out past expiresAt − EXPIRY_MARGIN_MS; signed URLs and keys never
// reach a log.

import { createHash, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { systemClock, type Clock } from '../../core/clock.js';
import type { FileId } from '../../core/ids.js';
import { SingleFlight } from '../../core/single-flight.js';
import type { DownloadLink, PanLinks } from '../api.js';
import type { DownloadQuota } from './download-quota.js';
import type { Logger } from '../../core/logger.js';

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
  /** told when direct links start being signed over the other form of the path */
  logger?: Logger;
}

/** The path a direct link's auth_key signs: 'decoded' (what the Go and JS clients sign) or 'encoded' (the
 * percent-encoded path as sent, what the Python samples sign). They differ for non-ASCII and spaces. */
export type SignForm = 'decoded' | 'encoded';

function decodedPath(u: URL): string {
  try {
    return decodeURIComponent(u.pathname);
  } catch {
    return u.pathname;
  }
}

/** Append (or replace) auth_key on a direct-link URL, signed over the `form` of its path (default decoded). */
export function signDirectLink(
  url: string,
  signing: LinkSigning,
  expireTs: number,
  rand: string,
  form: SignForm = 'decoded',
): string {
  if (rand.includes('-')) throw new TypeError('rand must not contain "-"');
  const u = new URL(url);
  const path = form === 'decoded' ? decodedPath(u) : u.pathname;
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
  private form: SignForm = 'decoded';

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

  /** `url` (a signed link of this cache) signed anew over the other form of its path, or null when both
   * forms are the same path (nothing to try) or there is no signing. */
  otherForm(url: string, signing: LinkSigning | null): { url: string; form: SignForm } | null {
    if (!signing) return null;
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return null;
    }
    if (decodedPath(u) === u.pathname) return null;
    const form: SignForm = this.form === 'decoded' ? 'encoded' : 'decoded';
    const expireTs = Math.floor((this.clock.now() + this.validityMs) / 1000);
    return { url: signDirectLink(url, signing, expireTs, this.rand(), form), form };
  }

  /** The CDN accepted a link signed over `form`: sign every link that way from now on. */
  useForm(form: SignForm): void {
    if (form === this.form) return;
    this.form = form;
    this.cache.clear();
    this.o.logger?.info(
      { op: 'read', signedPath: form },
      `direct links: the CDN accepts auth_key over the ${form === 'encoded' ? 'percent-encoded' : 'decoded'} ` +
        'path; signing that way from now on',
    );
  }

  /** The form of the path links are signed over now. */
  signForm(): SignForm {
    return this.form;
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
        url: signDirectLink(link.url, signing, expireTs, this.rand(), this.form),
        expiresAt: Math.min(link.expiresAt, expireTs * 1000),
      };
    }
    if ((this.epochs.get(fileId) ?? 0) === epoch) this.cache.set(key, link);
    if (this.epochs.size > MAX_ENTRIES) this.epochs.clear();
    return link;
  }
}
