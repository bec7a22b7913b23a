// HttpPanClient: PanApi over the real 123 Open HTTP API. Owns: one small method per endpoint (request
// shape → typed result), name checks before any request, and the recovery rules for non-idempotent
// calls whose earlier attempt may have landed (see each method). Composition: Transport (retry,
// envelope), TokenManager (auth), RateLimiter, RangeFetcher (CDN reads). Invariant: every id crosses the
// wire as a raw JSON integer (wireId) and comes back as a FileId string.

import { Agent, interceptors, type Dispatcher } from 'undici';
import { systemClock, type Clock } from '../core/clock.js';
import { toFileId, type FileId } from '../core/ids.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { nameProblem } from '../core/names.js';
import type {
  DownloadLink, ListPage, PanApi, RemoteEntry, UploadCompleteResult, UploadCreateResult, UserInfo,
} from './api.js';
import { fetchAccessToken, TokenManager } from './auth.js';
import { retryPolicy, type RetryOptions } from './backoff.js';
import { asObj, boolField, field, idField, numField, strField, toRemoteEntry } from './decode.js';
import { BATCH_LIMIT, ENDPOINTS, LIST_LIMIT, MAX_CREATE_SIZE, MAX_SINGLE_SIZE, type EndpointSpec } from './endpoints.js';
import { PanError } from './errors.js';
import { wireId, type Json } from './json.js';
import { buildMultipart } from './multipart.js';
import { RangeFetcher } from './ranges.js';
import { RateLimiter } from './rate-limiter.js';
import { wireTimeMs } from './time.js';
import { Transport } from './transport.js';
import { CODE_VERIFYING, isAlreadyInFolder } from './wire-errors.js';

export const DEFAULT_API_BASE = 'https://open-api.123pan.com';
/** download_info URL lifetime is undocumented; one client reads "2 h", so 2 h minus 15 min margin. */
export const DEFAULT_LINK_TTL_MS = 105 * 60_000;
/** Unsigned direct links live while the space is enabled but change on rename/move: re-ask hourly. */
export const DEFAULT_DIRECT_LINK_TTL_MS = 60 * 60_000;
/** API calls: headers and body timeout (OpenList#2005 saw hangs; 30 s is far above a normal answer). */
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Upload bodies: a 16 MiB slice at 1 Mbit/s takes ~2 min; allow 5. */
const DEFAULT_UPLOAD_TIMEOUT_MS = 5 * 60_000;
/** CDN reads: a 4–8 MiB read-ahead block on a slow line. */
const DEFAULT_DOWNLOAD_TIMEOUT_MS = 60_000;
/** Redirects a CDN may chain (clients follow them; RES uses reqwest's defaults). */
const MAX_REDIRECTS = 5;

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
  downloadTimeoutMs?: number;
  /** assumed lifetime of a download_info URL */
  linkTtlMs?: number;
  /** how long an unsigned direct link is reused */
  directLinkTtlMs?: number;
}

function checkName(name: string, endpoint: string): void {
  const p = nameProblem(name);
  if (p) throw new PanError({ kind: 'invalid-name', endpoint, message: `invalid name ${JSON.stringify(name)}: ${p.reason}` });
}

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

export class HttpPanClient implements PanApi {
  readonly tokens: TokenManager;
  private readonly t: Transport;
  private readonly ranges: RangeFetcher;
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
      apiBase, dispatcher, clock: this.clock, logger, retry,
      limiter: new RateLimiter(this.clock, o.rateLimitScale ?? 1),
      requestTimeoutMs: o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      uploadTimeoutMs: o.uploadTimeoutMs ?? DEFAULT_UPLOAD_TIMEOUT_MS,
    });
    this.tokens = new TokenManager({
      stateDir: o.stateDir, apiBase, clientId: o.clientId, clock: this.clock, logger,
      fetchToken: (signal) => fetchAccessToken(this.t, o.clientId, o.clientSecret, this.clock, signal),
    });
    this.t.setAuth(this.tokens);
    this.ranges = new RangeFetcher({
      dispatcher: dispatcher.compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTS })),
      clock: this.clock, logger, retry, timeoutMs: o.downloadTimeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS,
    });
  }

  /** Closes the connection pool this client created (not an injected dispatcher). */
  async close(): Promise<void> {
    await this.ownDispatcher?.close();
  }

  // ---- listing and metadata ----

  private async listRaw(parentId: FileId, lastFileId: FileId | undefined, signal?: AbortSignal): Promise<{ rows: RemoteEntry[]; next: FileId }> {
    const data = asObj(await this.t.call(ENDPOINTS.listV2, {
      query: { parentFileId: parentId, limit: LIST_LIMIT, lastFileId: lastFileId && lastFileId !== '0' ? lastFileId : undefined },
      signal,
    }), 'list data');
    const list = field(data, 'fileList');
    const rows = Array.isArray(list) ? list.map(toRemoteEntry) : [];
    const next = field(data, 'lastFileId');
    return { rows, next: next === undefined || next === null ? '-1' : toFileId(next) };
  }

  async listPage(parentId: FileId, lastFileId?: FileId, signal?: AbortSignal): Promise<ListPage> {
    const { rows, next } = await this.listRaw(parentId, lastFileId, signal);
    return { entries: rows.filter((r) => !r.trashed), lastFileId: next };
  }

  async listAll(parentId: FileId, signal?: AbortSignal): Promise<RemoteEntry[]> {
    const out = new Map<FileId, RemoteEntry>();
    const seen = new Set<FileId>();
    let cursor: FileId | undefined;
    for (;;) {
      const { rows, next } = await this.listRaw(parentId, cursor, signal);
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
    const data = asObj(await this.t.call(ENDPOINTS.mkdir, {
      json: { name, parentID: wireId(parentId) },
      recover: async (e, { retried }) => {
        if (e.kind !== 'name-clash' || !retried) return undefined;
        const hit = (await this.listAll(parentId)).find((r) => r.isDir && r.name === name);
        return hit ? { dirID: hit.id } : undefined;
      },
    }), 'mkdir data');
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

  async trash(ids: FileId[]): Promise<void> {
    for (const part of chunks(ids, BATCH_LIMIT)) {
      await this.t.call(ENDPOINTS.trash, { json: { fileIDs: part.map(wireId) } });
    }
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
    };
  }

  // ---- reading ----

  async downloadInfo(id: FileId): Promise<DownloadLink> {
    const d = asObj(await this.t.call(ENDPOINTS.downloadInfo, { query: { fileId: id } }), 'download_info data');
    const url = strField(d, 'downloadUrl', 'downloadURL');
    if (!url) throw new PanError({ kind: 'api', endpoint: ENDPOINTS.downloadInfo.name, message: 'download_info: no downloadUrl in the answer' });
    return { url, expiresAt: this.clock.now() + this.linkTtlMs };
  }

  async directLink(id: FileId): Promise<DownloadLink> {
    const name = ENDPOINTS.directLink.name;
    let data: Json;
    try {
      data = await this.t.call(ENDPOINTS.directLink, { query: { fileID: id } });
    } catch (e) {
      if (e instanceof PanError && (e.kind === 'api' || e.kind === 'name-clash' || e.kind === 'invalid-name')) {
        throw new PanError({ kind: 'direct-link', code: e.code, traceId: e.traceId, endpoint: name, cause: e, message: `${e.message}: ${DIRECT_LINK_HELP}` });
      }
      throw e;
    }
    const url = data && typeof data === 'object' && !Array.isArray(data) ? strField(data, 'url') : '';
    if (!url) throw new PanError({ kind: 'direct-link', endpoint: name, message: `${name}: no url in the answer: ${DIRECT_LINK_HELP}` });
    return { url, expiresAt: this.clock.now() + this.directLinkTtlMs };
  }

  fetchRange(url: string, start: number, end: number, signal?: AbortSignal): Promise<Buffer> {
    return this.ranges.fetch(url, start, end, signal);
  }

  // ---- uploading ----

  private checkUpload(ep: EndpointSpec, filename: string, md5: string, size: number, max: number): void {
    checkName(filename, ep.name);
    if (!/^[0-9a-fA-F]{32}$/.test(md5)) throw new PanError({ kind: 'api', endpoint: ep.name, message: `${ep.name}: etag must be a hex MD5` });
    if (!(size >= 0) || !Number.isSafeInteger(size)) throw new PanError({ kind: 'api', endpoint: ep.name, message: `${ep.name}: bad size ${size}` });
    if (size > max) throw new PanError({ kind: 'too-large', endpoint: ep.name, message: `${ep.name}: ${size} bytes is over the ${max}-byte limit` });
  }

  /** A landed create (instant upload) + a retry answering a clash is found again by name, MD5 and size. */
  private findUploaded(parentId: FileId, filename: string, md5: string, size: number): Promise<RemoteEntry | undefined> {
    return this.listAll(parentId).then((rows) => rows.find((r) => !r.isDir && r.name === filename && r.md5 === md5 && r.size === size));
  }

  async uploadCreate(req: { parentId: FileId; filename: string; md5: string; size: number; duplicate?: 1 | 2 }): Promise<UploadCreateResult> {
    const ep = ENDPOINTS.uploadCreate;
    this.checkUpload(ep, req.filename, req.md5, req.size, MAX_CREATE_SIZE);
    const etag = req.md5.toLowerCase();
    const d = asObj(await this.t.call(ep, {
      json: { parentFileID: wireId(req.parentId), filename: req.filename, etag, size: req.size, duplicate: req.duplicate },
      recover: async (e, { retried }) => {
        if (e.kind !== 'name-clash' || !retried) return undefined;
        const hit = await this.findUploaded(req.parentId, req.filename, etag, req.size);
        return hit ? { reuse: true, fileID: hit.id } : undefined;
      },
    }), 'create data');
    const fileId = field(d, 'fileID', 'fileId');
    if (boolField(d, 'reuse') && fileId !== undefined && fileId !== null && toFileId(fileId) !== '0') {
      return { reuse: true, fileId: toFileId(fileId) };
    }
    const preuploadId = strField(d, 'preuploadID');
    if (!preuploadId) {
      // reuse:true with fileID 0 and no session (seen on the web API, §4.6): nothing to upload into.
      throw new PanError({ kind: 'api', endpoint: ep.name, retryable: true, message: `${ep.name}: answer has neither a file id nor a preuploadID` });
    }
    const rawServers = field(d, 'servers');
    let servers = Array.isArray(rawServers) ? rawServers.filter((s): s is string => typeof s === 'string' && s !== '') : [];
    if (servers.length === 0) servers = await this.uploadDomains();
    return { reuse: false, preuploadId, sliceSize: numField(d, 'sliceSize'), servers };
  }

  async uploadSlice(req: { server: string; preuploadId: string; sliceNo: number; sliceMd5: string; data: Buffer; signal?: AbortSignal }): Promise<void> {
    await this.t.call(ENDPOINTS.uploadSlice, {
      baseUrl: req.server,
      signal: req.signal,
      multipart: buildMultipart(
        { preuploadID: req.preuploadId, sliceNo: String(req.sliceNo), sliceMD5: req.sliceMd5.toLowerCase() },
        { field: 'slice', filename: `slice.part${req.sliceNo}`, data: req.data },
      ),
    });
  }

  /** One poll. 20103 (still verifying) and completed=false → {completed:false}; a business error → 'upload-failed'. */
  async uploadComplete(preuploadId: string): Promise<UploadCompleteResult> {
    const ep = ENDPOINTS.uploadComplete;
    let data: Json;
    try {
      data = await this.t.call(ep, {
        json: { preuploadID: preuploadId },
        recover: (e) => (e.code === CODE_VERIFYING ? { completed: false, fileID: 0 } : undefined),
      });
    } catch (e) {
      if (e instanceof PanError && e.code !== undefined && !['auth', 'rate-limited', 'transport', 'aborted'].includes(e.kind)) {
        throw new PanError({ kind: 'upload-failed', code: e.code, traceId: e.traceId, endpoint: ep.name, cause: e, message: e.message });
      }
      throw e;
    }
    return this.completion(data);
  }

  private completion(data: Json): UploadCompleteResult {
    const d = asObj(data ?? {}, 'complete data');
    const raw = field(d, 'fileID', 'fileId');
    const fileId = raw === undefined || raw === null ? '0' : toFileId(raw);
    return { completed: boolField(d, 'completed') && fileId !== '0', fileId };
  }

  /** data is a bare array of base URLs. */
  async uploadDomains(): Promise<string[]> {
    const data = await this.t.call(ENDPOINTS.uploadDomain);
    const list = Array.isArray(data) ? data.filter((s): s is string => typeof s === 'string' && s !== '') : [];
    if (list.length === 0) throw new PanError({ kind: 'api', endpoint: ENDPOINTS.uploadDomain.name, message: 'upload/domain: no upload server' });
    return list;
  }

  async uploadSingle(req: { server: string; parentId: FileId; filename: string; md5: string; size: number; data: Buffer; duplicate?: 1 | 2 }): Promise<UploadCompleteResult> {
    const ep = ENDPOINTS.uploadSingle;
    this.checkUpload(ep, req.filename, req.md5, req.size, MAX_SINGLE_SIZE);
    if (req.data.length !== req.size) throw new PanError({ kind: 'api', endpoint: ep.name, message: `${ep.name}: data is ${req.data.length} bytes, size says ${req.size}` });
    const etag = req.md5.toLowerCase();
    const fields: Record<string, string> = { parentFileID: req.parentId, filename: req.filename, etag, size: String(req.size) };
    if (req.duplicate) fields.duplicate = String(req.duplicate);
    const data = await this.t.call(ep, {
      baseUrl: req.server,
      multipart: buildMultipart(fields, { field: 'file', filename: req.filename, data: req.data }),
      recover: async (e, { retried }) => {
        if (e.kind !== 'name-clash' || !retried) return undefined;
        const hit = await this.findUploaded(req.parentId, req.filename, etag, req.size);
        return hit ? { fileID: hit.id, completed: true } : undefined;
      },
    });
    return this.completion(data);
  }
}
