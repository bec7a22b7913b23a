// HttpPanClient: PanApi (every role of api.ts) over the real 123 Open HTTP API. Owns: one small method
// per endpoint (request shape → typed result; the upload endpoints live in upload-calls.ts), name checks
// before any request, and the recovery rules for non-idempotent calls whose earlier attempt may have
// landed (see each method). Composition: Transport (retry, envelope), TokenManager (auth), RateLimiter.
// CDN reads are not here: see cdn/cdn-client.ts. Invariant: every id crosses the wire as a raw JSON
// integer (wireId) and comes back as a FileId string.

import { Agent, type Dispatcher } from 'undici';
import { systemClock, type Clock } from '../core/clock.js';
import { DEFAULTS } from '../core/defaults.js';
import { toFileId, type FileId } from '../core/ids.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type {
  DownloadLink,
  ListOptions,
  ListPage,
  PanApi,
  RemoteEntry,
  UploadCompleteResult,
  UploadCreateResult,
  UserInfo,
} from './api.js';
import { AccountCalls } from './account-calls.js';
import { fetchAccessToken, TokenManager } from './auth.js';
import { retryPolicy, type RetryOptions } from './backoff.js';
import { asObj, boolField, field, idField, numField, strField, toRemoteEntry } from './decode.js';
import { BATCH_LIMIT, ENDPOINTS, LIST_LIMIT, type QpsTier } from './endpoints.js';
import { PanError } from './errors.js';
import { wireId, type Json } from './json.js';
import { checkName } from './names.js';
import { RateLimiter } from './rate-limiter.js';
import { wireTimeMs } from './time.js';
import { Transport, type TransportHealth } from './transport.js';
import { UploadCalls } from './upload-calls.js';
import { isAlreadyInFolder } from './wire-errors.js';

export const DEFAULT_API_BASE = DEFAULTS.apiBase;
/** download_info URL lifetime is undocumented; one client reads "2 h", so 2 h minus 15 min margin. */
export const DEFAULT_LINK_TTL_MS = 105 * 60_000;
/** Unsigned direct links live while the space is enabled but change on rename/move: re-ask hourly. */
export const DEFAULT_DIRECT_LINK_TTL_MS = 60 * 60_000;
/** API calls: headers and body timeout (OpenList#2005 saw hangs; 30 s is far above a normal answer). */
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Upload bodies: a 16 MiB slice at 1 Mbit/s takes ~2 min; allow 5. */
const DEFAULT_UPLOAD_TIMEOUT_MS = 5 * 60_000;

export const DIRECT_LINK_HELP =
  'direct links need a folder with 直链空间 (direct-link space) enabled directly under the root, and do not work for ' +
  'files at the root itself: enable the space on a folder in the 123 web UI and mount it with --root-folder-id';

export interface HttpPanClientOptions {
  apiBase?: string;
  clientId: string;
  clientSecret: string;
  stateDir: string;
  clock?: Clock;
  logger?: Logger;
  dispatcher?: Dispatcher;
  /** multiplies every client-side QPS budget; 0 or Infinity switches limiting off (default 1) */
  rateLimitScale?: number;
  retry?: RetryOptions;
  requestTimeoutMs?: number;
  uploadTimeoutMs?: number;
  /** assumed lifetime of a download_info URL */
  linkTtlMs?: number;
  /** how long an unsigned direct link is reused */
  directLinkTtlMs?: number;
  /** the offline state machine (connectivity.ts), told of every attempt */
  health?: TransportHealth;
  /** the QPS column to budget by until setTier() (default 'free') */
  tier?: QpsTier;
  /** told of every call refused because the developer rights expired */
  onDeveloperExpired?: (e: PanError) => void;
}

/** developerInfo.endTime → epoch ms; null when there is no developerInfo or no readable end. */
function developerEnd(v: Json | undefined): number | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const ms = wireTimeMs(field(v, 'endTime'));
  return ms > 0 ? ms : null;
}

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

export class HttpPanClient implements PanApi {
  readonly tokens: TokenManager;
  /** share links and offline downloads (the CLI's account commands; the mount does not use them) */
  readonly account: AccountCalls;
  private readonly t: Transport;
  private readonly up: UploadCalls;
  private readonly clock: Clock;
  private readonly ownDispatcher: Agent | undefined;
  private readonly linkTtlMs: number;
  private readonly directLinkTtlMs: number;

  constructor(o: HttpPanClientOptions) {
    const apiBase = (o.apiBase ?? DEFAULT_API_BASE).replace(/\/+$/, '');
    this.clock = o.clock ?? systemClock;
    const logger = (o.logger ?? silentLogger).child({ mod: 'pan' });
    this.ownDispatcher = o.dispatcher ? undefined : new Agent({ connect: { timeout: 10_000 } });
    const dispatcher = o.dispatcher ?? this.ownDispatcher!;
    const retry = retryPolicy(o.retry);
    this.linkTtlMs = o.linkTtlMs ?? DEFAULT_LINK_TTL_MS;
    this.directLinkTtlMs = o.directLinkTtlMs ?? DEFAULT_DIRECT_LINK_TTL_MS;
    this.t = new Transport({
      apiBase,
      dispatcher,
      clock: this.clock,
      logger,
      retry,
      limiter: new RateLimiter(this.clock, o.rateLimitScale ?? DEFAULTS.rateLimitScale),
      requestTimeoutMs: o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      uploadTimeoutMs: o.uploadTimeoutMs ?? DEFAULT_UPLOAD_TIMEOUT_MS,
      health: o.health,
      tier: o.tier,
      onDeveloperExpired: o.onDeveloperExpired,
    });
    this.tokens = new TokenManager({
      stateDir: o.stateDir,
      apiBase,
      clientId: o.clientId,
      clock: this.clock,
      logger,
      fetchToken: (signal) => fetchAccessToken(this.t, o.clientId, o.clientSecret, this.clock, signal),
    });
    this.t.setAuth(this.tokens);
    this.up = new UploadCalls(this.t, (parentId) => this.listAll(parentId));
    this.account = new AccountCalls(this.t);
  }

  /** The QPS column of ENDPOINTS later requests are budgeted by (pickTier in developer.ts chooses it). */
  setTier(tier: QpsTier): void {
    this.t.setTier(tier);
  }

  get tier(): QpsTier {
    return this.t.tier;
  }

  /** Closes the connection pool this client created (not an injected dispatcher). */
  async close(): Promise<void> {
    await this.ownDispatcher?.close();
  }

  // ---- listing and metadata ----

  private async listRaw(
    parentId: FileId,
    lastFileId: FileId | undefined,
    signal?: AbortSignal,
    opts?: ListOptions,
  ): Promise<{ rows: RemoteEntry[]; next: FileId }> {
    const data = asObj(
      await this.t.call(ENDPOINTS.listV2, {
        query: {
          parentFileId: parentId,
          limit: LIST_LIMIT,
          lastFileId: lastFileId && lastFileId !== '0' ? lastFileId : undefined,
        },
        signal,
        priority: opts?.background ? 'background' : opts?.ahead ? 'ahead' : 'foreground',
        lift: opts?.ahead,
      }),
      'list data',
    );
    const list = field(data, 'fileList');
    const rows = Array.isArray(list) ? list.map(toRemoteEntry) : [];
    const next = field(data, 'lastFileId');
    return { rows, next: next === undefined || next === null ? '-1' : toFileId(next) };
  }

  async listPage(parentId: FileId, lastFileId?: FileId, signal?: AbortSignal): Promise<ListPage> {
    const { rows, next } = await this.listRaw(parentId, lastFileId, signal);
    return { entries: rows.filter((r) => !r.trashed), lastFileId: next };
  }

  async listAll(parentId: FileId, signal?: AbortSignal, opts?: ListOptions): Promise<RemoteEntry[]> {
    const out = new Map<FileId, RemoteEntry>();
    const seen = new Set<FileId>();
    let cursor: FileId | undefined;
    for (;;) {
      const { rows, next } = await this.listRaw(parentId, cursor, signal, opts);
      for (const r of rows) if (!r.trashed) out.set(r.id, r);
      // Stop at -1, on an empty page, or when the cursor stops moving (AG's guard against loops).
      if (next === '-1' || rows.length === 0 || next === cursor || seen.has(next)) break;
      seen.add(next);
      cursor = next;
    }
    return [...out.values()];
  }

  async detail(id: FileId): Promise<RemoteEntry> {
    return toRemoteEntry(await this.t.call(ENDPOINTS.detail, { query: { fileID: id } }));
  }

  /** POST file/infos; the array is `list` (doc example) or `fileList` (doc table): both accepted. */
  async infos(ids: FileId[]): Promise<RemoteEntry[]> {
    const out: RemoteEntry[] = [];
    for (const part of chunks(ids, BATCH_LIMIT)) {
      const data = asObj(await this.t.call(ENDPOINTS.infos, { json: { fileIds: part.map(wireId) } }), 'infos data');
      const list = field(data, 'list', 'fileList');
      if (Array.isArray(list)) out.push(...list.map(toRemoteEntry));
    }
    return out;
  }

  // ---- namespace changes ----

  /** A retried mkdir whose first attempt landed answers a clash: the folder is then looked up. */
  async mkdir(parentId: FileId, name: string): Promise<FileId> {
    checkName(name, ENDPOINTS.mkdir.name);
    const data = asObj(
      await this.t.call(ENDPOINTS.mkdir, {
        json: { name, parentID: wireId(parentId) },
        recover: async (e, { retried }) => {
          if (e.kind !== 'name-clash' || !retried) return undefined;
          const hit = (await this.listAll(parentId)).find((r) => r.isDir && r.name === name);
          return hit ? { dirID: hit.id } : undefined;
        },
      }),
      'mkdir data',
    );
    return idField(data, 'dirID', 'dirId', 'fileID');
  }

  /** A clash answer when the item already carries the new name (a landed retry, a no-op) is success. */
  async rename(id: FileId, newName: string): Promise<void> {
    checkName(newName, ENDPOINTS.rename.name);
    await this.t.call(ENDPOINTS.rename, {
      json: { fileId: wireId(id), fileName: newName },
      recover: async (e) => (e.kind === 'name-clash' && (await this.detail(id)).name === newName ? null : undefined),
    });
  }

  /** 文件已在当前文件夹中 means the end state holds (for a batch, stragglers are moved one by one). */
  async move(ids: FileId[], toParentId: FileId): Promise<void> {
    for (const part of chunks(ids, BATCH_LIMIT)) {
      await this.t.call(ENDPOINTS.move, {
        json: { fileIDs: part.map(wireId), toParentFileID: wireId(toParentId) },
        recover: async (e, { retried }) => {
          if (!isAlreadyInFolder(e)) return undefined;
          if (retried || part.length === 1) return null;
          for (const id of part) if ((await this.detail(id)).parentId !== toParentId) await this.move([id], toParentId);
          return null;
        },
      });
    }
  }

  /** Not retried blindly (a landed copy would be copied again): a failure after sending is the caller's. */
  async copy(id: FileId, targetDirId: FileId): Promise<FileId> {
    const data = asObj(
      await this.t.call(ENDPOINTS.copy, { json: { fileId: wireId(id), targetDirId: wireId(targetDirId) } }),
      'copy data',
    );
    return idField(data, 'targetFileId', 'targetFileID');
  }

  async trash(ids: FileId[]): Promise<void> {
    for (const part of chunks(ids, BATCH_LIMIT)) {
      await this.t.call(ENDPOINTS.trash, { json: { fileIDs: part.map(wireId) } });
    }
  }

  async recover(ids: FileId[]): Promise<FileId[]> {
    const abnormal: FileId[] = [];
    for (const part of chunks(ids, BATCH_LIMIT)) {
      const data = await this.t.call(ENDPOINTS.recover, { json: { fileIDs: part.map(wireId) } });
      const list = data === null || data === undefined ? null : field(asObj(data, 'recover data'), 'abnormalFileIDs');
      if (list === null || list === undefined) continue; // nothing abnormal
      if (!Array.isArray(list)) throw new TypeError('recover data: abnormalFileIDs is not a list');
      for (const id of list) abnormal.push(toFileId(id));
    }
    return abnormal;
  }

  // ---- account ----

  async userInfo(): Promise<UserInfo> {
    const d = asObj(await this.t.call(ENDPOINTS.userInfo), 'user/info data');
    return {
      uid: strField(d, 'uid'),
      nickname: strField(d, 'nickname'),
      spaceUsed: numField(d, 'spaceUsed'),
      spacePermanent: numField(d, 'spacePermanent'),
      spaceTemp: numField(d, 'spaceTemp'),
      spaceTempExpireAt: wireTimeMs(field(d, 'spaceTempExpr')),
      vip: boolField(d, 'vip'),
      directTraffic: numField(d, 'directTraffic'),
      developerEndAt: developerEnd(field(d, 'developerInfo')),
    };
  }

  // ---- reading ----

  async downloadInfo(id: FileId): Promise<DownloadLink> {
    const d = asObj(await this.t.call(ENDPOINTS.downloadInfo, { query: { fileId: id } }), 'download_info data');
    const url = strField(d, 'downloadUrl', 'downloadURL');
    if (!url)
      throw new PanError({
        kind: 'api',
        endpoint: ENDPOINTS.downloadInfo.name,
        message: 'download_info: no downloadUrl in the answer',
      });
    return { url, expiresAt: this.clock.now() + this.linkTtlMs };
  }

  async directLink(id: FileId): Promise<DownloadLink> {
    const name = ENDPOINTS.directLink.name;
    let data: Json;
    try {
      data = await this.t.call(ENDPOINTS.directLink, { query: { fileID: id } });
    } catch (e) {
      if (e instanceof PanError && (e.kind === 'api' || e.kind === 'name-clash' || e.kind === 'invalid-name')) {
        throw new PanError({
          kind: 'direct-link',
          code: e.code,
          traceId: e.traceId,
          endpoint: name,
          cause: e,
          message: `${e.message}: ${DIRECT_LINK_HELP}`,
        });
      }
      throw e;
    }
    const url = data && typeof data === 'object' && !Array.isArray(data) ? strField(data, 'url') : '';
    if (!url)
      throw new PanError({
        kind: 'direct-link',
        endpoint: name,
        message: `${name}: no url in the answer: ${DIRECT_LINK_HELP}`,
      });
    return { url, expiresAt: this.clock.now() + this.directLinkTtlMs };
  }

  // ---- uploading (upload-calls.ts) ----

  uploadCreate(req: Parameters<UploadCalls['create']>[0]): Promise<UploadCreateResult> {
    return this.up.create(req);
  }
  uploadSlice(req: Parameters<UploadCalls['slice']>[0]): Promise<void> {
    return this.up.slice(req);
  }
  uploadComplete(preuploadId: string): Promise<UploadCompleteResult> {
    return this.up.complete(preuploadId);
  }
  uploadDomains(): Promise<string[]> {
    return this.up.domains();
  }
  uploadSingle(req: Parameters<UploadCalls['single']>[0]): Promise<UploadCompleteResult> {
    return this.up.single(req);
  }
}
