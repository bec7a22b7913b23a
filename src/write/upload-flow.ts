// uploadFile: one file's upload through the 123 Open v2 flow (123open-api.md §4.2, §11), against the
// PanUploads role. create with the whole-file MD5 → reuse (instant upload, no byte sent) or slices of exactly the
// server's sliceSize, each with its MD5, a few in parallel and each retried, all on one upload host
// (servers[0] of create, as OpenList and go-123pan do) → upload_complete polled until completed with a
// non-zero fileID. Small files may go through the single-step upload instead.
//
// Invariants:
//  - success is reported only with a non-zero fileId from reuse, single, a completed complete, or — when
//    the merge we asked for timed out or failed — the file found in its folder by name + MD5 + size;
//    anything else (timeout, a slice that kept failing, a short read) throws, so a partially uploaded
//    file is never reported as uploaded;
//  - at most `sliceConcurrency` slices of this file are in memory at once (each worker reads, hashes and
//    sends one), and only within the shared `sliceMemory` budget (a worker waits for it before reading);
//  - no request is made for a file over MAX_UPLOAD_BYTES (FsError EFBIG).
//
// upload_complete: every answer but completed=true is "not yet" (20103, completed:false, merging messages,
// odd errors); only 文件上传失败 (or a clash) is final. An odd error answered COMPLETE_UNEXPECTED_POLLS
// times in a row, the COMPLETE_TIMEOUT_MS bound, or a final failure end the polling — after a lookup.
//
// Zero-byte files (unsettled on the real service, §11): create (instant reuse of the empty MD5) → one
// empty slice + complete → the single-step upload. A transient error on the way throws as usual (the
// queue retries); when the service refuses all three, UploadRefused (permanent: the queue keeps the file
// journaled and shows why, instead of retrying in a loop).

import type { Clock } from '../core/clock.js';
import { DEFAULTS } from '../core/defaults.js';
import { FsError, isFsError } from '../core/errors.js';
import type { FileId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import type { PanTree, PanUploads, UploadCompleteResult } from '../pan/api.js';
import { type BackoffOptions, expBackoff } from '../pan/backoff.js';
import { MAX_CREATE_SIZE } from '../pan/endpoints.js';
import { isPanError } from '../pan/errors.js';
import { EMPTY_MD5, md5HexYielding, type SliceSource } from './md5.js';
import { SliceMemory } from './slice-memory.js';

export type { SliceSource } from './md5.js';

/** 10 GiB: the developer limit for create + slices (§4.1); checked before any request. */
export const MAX_UPLOAD_BYTES = MAX_CREATE_SIZE;
/** 3 slices in flight: what OpenList and AList default to (UploadThread 3); 3 × 16 MiB of RAM per file. */
export const DEFAULT_SLICE_CONCURRENCY = DEFAULTS.sliceConcurrency;
/** 4 tries per slice (3 retries): the transport already retried each request; this rides out a longer blip. */
export const SLICE_ATTEMPTS = 4;
/** 1 s first slice retry delay, doubling: the same pace as OpenList's slice retry. */
export const SLICE_RETRY_BASE_MS = 1000;
const SLICE_BACKOFF: BackoffOptions = { baseMs: SLICE_RETRY_BASE_MS, capMs: Number.POSITIVE_INFINITY };
/** 1 s between upload_complete polls: the documented interval ("请间隔1秒后再试"). */
export const COMPLETE_POLL_INTERVAL_MS = 1000;
/** 10 min total for the server to verify/merge: AList gives up after 60 polls; big files need more. */
export const COMPLETE_TIMEOUT_MS = 10 * 60_000;
/** 60 odd error answers in a row (AList's 60 polls, 1 s apart): then look the file up and give up. */
export const COMPLETE_UNEXPECTED_POLLS = 60;
/**
 * 1 MiB: at or below this, use the single-step upload: 1 call (+ a cached domain lookup) instead of
 * create + slice + complete (≥ 3 calls); re-sending ≤ 1 MiB when an instant upload was possible costs little.
 */
export const DEFAULT_SINGLE_MAX_BYTES = 1 << 20;
/** 10 min: upload domains rarely change; one lookup serves every small upload in between. */
export const UPLOAD_DOMAINS_TTL_MS = 10 * 60_000;

export interface UploadRequest {
  parentId: FileId;
  name: string;
  source: SliceSource;
  size: number;
  /** lower-case hex MD5 of the whole content */
  md5: string;
  sliceConcurrency?: number;
  /** the memory slices are read into, shared by every upload (slice-memory.ts); default: unbounded here */
  sliceMemory?: SliceMemory;
  /**
   * Aborts the upload only while no remote file can come of it: before create, during the slices, before
   * the first upload_complete. Once the server was asked to merge, the upload is followed to its end, so
   * the caller learns the file id of a copy nobody wants any more and can trash it (an abandoned merge
   * would leave an unknown file — or, with duplicate 2, overwrite whatever took the name meanwhile).
   */
  signal?: AbortSignal;
  /** Aborts at once, even while polling upload_complete (shutdown: the caller keeps the journal row). */
  stopSignal?: AbortSignal;
  /** cumulative bytes whose slice (or single upload) the server accepted */
  onProgress?(sentBytes: number): void;
  logger: Logger;
  clock: Clock;
  /** 1 keep both (auto-suffix), 2 overwrite (the old version goes to the trash); omitted: a clash fails */
  duplicate?: 1 | 2;
  /** single-step upload for 0 < size ≤ this; 0 disables it. Default DEFAULT_SINGLE_MAX_BYTES. */
  singleMaxBytes?: number;
  /** shared cache of uploadDomains() (single-step uploads and an empty `servers`); else asked each time */
  domains?: UploadDomainCache;
  /** default COMPLETE_TIMEOUT_MS */
  completeTimeoutMs?: number;
}

export interface UploadResult {
  fileId: FileId;
  /** true when the server already had the content (reuse): no byte was sent */
  instant: boolean;
  bytesSent: number;
}

/** Caches api.uploadDomains() for UPLOAD_DOMAINS_TTL_MS. */
export class UploadDomainCache {
  private cached: { servers: string[]; at: number } | null = null;
  constructor(
    private readonly api: PanUploads,
    private readonly clock: Clock,
    private readonly ttlMs = UPLOAD_DOMAINS_TTL_MS,
  ) {}

  async get(): Promise<string[]> {
    if (this.cached && this.clock.now() - this.cached.at < this.ttlMs) return this.cached.servers;
    const servers = await this.api.uploadDomains();
    if (servers.length === 0) throw new FsError('EIO', 'upload/v2/file/domain returned no upload server');
    this.cached = { servers, at: this.clock.now() };
    return servers;
  }

  invalidate(): void {
    this.cached = null;
  }
}

/** The roles uploadFile needs: the upload flow, and a listing to find a file whose merge was not confirmed. */
export type UploadApi = PanUploads & Pick<PanTree, 'listAll'>;

/**
 * The service refused a file in every way we know (a zero-byte file: create, an empty slice and the
 * single-step upload). Permanent: retrying the same content cannot help; the queue keeps the file
 * journaled and reports this message in status.
 */
export class UploadRefused extends FsError {
  readonly permanent = true;
  constructor(message: string) {
    super('EIO', message);
    this.name = 'UploadRefused';
  }
}

export function isUploadRefused(e: unknown): e is UploadRefused {
  return e instanceof UploadRefused;
}

/** Errors worth retrying: the server or the network said so. Local errors (short read, abort) are not. */
export function isRetryable(e: unknown): boolean {
  return isPanError(e) && (e.retryable || e.kind === 'transport' || e.kind === 'rate-limited');
}

export async function uploadFile(api: UploadApi, req: UploadRequest): Promise<UploadResult> {
  if (req.size > MAX_UPLOAD_BYTES) {
    throw new FsError('EFBIG', `${req.name}: ${req.size} bytes is over the 10 GiB upload limit of the 123 Open API`);
  }
  if (!Number.isSafeInteger(req.size) || req.size < 0) throw new FsError('EINVAL', `bad size ${req.size}`);
  const md5 = req.md5.toLowerCase();
  req.signal?.throwIfAborted();
  if (req.size === 0) return uploadEmpty(api, req);
  const singleMax = req.singleMaxBytes ?? DEFAULT_SINGLE_MAX_BYTES;
  if (req.size > 0 && req.size <= singleMax) {
    const r = await uploadSingle(api, req, md5);
    if (r) return r;
  }
  const created = await api.uploadCreate({
    parentId: req.parentId,
    filename: req.name,
    md5,
    size: req.size,
    duplicate: req.duplicate,
  });
  if (created.reuse) {
    if (!created.fileId || created.fileId === '0') {
      // OpenList guards against reuse with fileID 0 (seen on the web API); not a success.
      throw new FsError('EAGAIN', `${req.name}: create answered reuse without a file id`);
    }
    req.logger.debug({ op: 'upload', name: req.name, size: req.size, fileId: created.fileId }, 'instant upload');
    return { fileId: created.fileId, instant: true, bytesSent: 0 };
  }
  const server = await serverOf(api, req, created.servers);
  const bytesSent = await sendSlices(api, req, created.preuploadId, created.sliceSize, server);
  const fileId = await pollComplete(api, req, created.preuploadId, md5);
  return { fileId, instant: false, bytesSent };
}

/** The one upload host of this file: servers[0] of create (the domain list's first when create gave none). */
async function serverOf(api: PanUploads, req: UploadRequest, servers: string[]): Promise<string> {
  const list = servers.length > 0 ? servers : await domainsOf(api, req);
  return list[0]!;
}

/** A refusal of one zero-byte path: the server answered, and said no. Transient errors are not. */
function refusal(e: unknown): boolean {
  if (e instanceof UploadRefused) return true;
  if (isPanError(e)) return !isRetryable(e) && e.kind !== 'auth' && e.kind !== 'aborted';
  return isFsError(e, 'ETIMEDOUT') || isFsError(e, 'EAGAIN');
}

function why(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Zero bytes: create (the server normally knows the empty MD5: instant) → one empty slice + complete →
 * the single-step upload. Each refusal is logged; all three refused → UploadRefused.
 */
async function uploadEmpty(api: UploadApi, req: UploadRequest): Promise<UploadResult> {
  const causes: string[] = [];
  const note = (path: string, e: unknown) => {
    if (!refusal(e)) throw e;
    causes.push(`${path}: ${why(e)}`);
    req.logger.warn({ op: 'upload', name: req.name, size: 0, path, err: e }, `zero-byte upload: ${path} refused`);
  };
  let session: { preuploadId: string; servers: string[] } | null = null;
  try {
    const created = await api.uploadCreate({
      parentId: req.parentId,
      filename: req.name,
      md5: EMPTY_MD5,
      size: 0,
      duplicate: req.duplicate,
    });
    if (created.reuse && created.fileId && created.fileId !== '0') {
      req.logger.debug({ op: 'upload', name: req.name, size: 0, fileId: created.fileId }, 'instant upload');
      return { fileId: created.fileId, instant: true, bytesSent: 0 };
    }
    if (created.reuse) throw new FsError('EAGAIN', 'create answered reuse without a file id');
    session = created;
  } catch (e) {
    note('create', e);
  }
  if (session) {
    try {
      const server = await serverOf(api, req, session.servers);
      const ac = new AbortController();
      const onAbort = () => ac.abort(req.signal!.reason);
      req.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        await sendOneSlice(api, req, ac.signal, { preuploadId: session.preuploadId, sliceNo: 1, data: EMPTY, server });
      } finally {
        req.signal?.removeEventListener('abort', onAbort);
      }
      return { fileId: await pollComplete(api, req, session.preuploadId, EMPTY_MD5), instant: false, bytesSent: 0 };
    } catch (e) {
      note('empty slice', e);
    }
  }
  req.signal?.throwIfAborted();
  try {
    const [server] = await domainsOf(api, req);
    const r = await api.uploadSingle({
      server: server!,
      parentId: req.parentId,
      filename: req.name,
      md5: EMPTY_MD5,
      size: 0,
      data: EMPTY,
      duplicate: req.duplicate,
    });
    if (r.completed && r.fileId && r.fileId !== '0') return { fileId: r.fileId, instant: false, bytesSent: 0 };
    throw new FsError('EAGAIN', 'the single-step upload did not complete');
  } catch (e) {
    note('single-step upload', e);
  }
  throw new UploadRefused(`the service refused the zero-byte file on every path (${causes.join('; ')})`);
}

const EMPTY = Buffer.alloc(0);

function domainsOf(api: PanUploads, req: UploadRequest): Promise<string[]> {
  return req.domains
    ? req.domains.get()
    : api.uploadDomains().then((s) => {
        if (s.length === 0) throw new FsError('EIO', 'upload/v2/file/domain returned no upload server');
        return s;
      });
}

/** Single-step upload; null when the server did not finish it (then the caller uses the slice flow). */
async function uploadSingle(api: PanUploads, req: UploadRequest, md5: string): Promise<UploadResult | null> {
  const data = await req.source.read(0, req.size);
  if (data.length !== req.size)
    throw new FsError('EIO', `${req.name}: short read (${data.length} of ${req.size} bytes)`);
  const [server] = await domainsOf(api, req);
  const r: UploadCompleteResult = await api.uploadSingle({
    server: server!,
    parentId: req.parentId,
    filename: req.name,
    md5,
    size: req.size,
    data,
    duplicate: req.duplicate,
  });
  if (r.completed && r.fileId && r.fileId !== '0') {
    req.onProgress?.(req.size);
    return { fileId: r.fileId, instant: false, bytesSent: req.size };
  }
  req.logger.warn(
    { op: 'upload', name: req.name, size: req.size },
    'single-step upload not completed; using the slice flow',
  );
  return null;
}

async function sendSlices(
  api: PanUploads,
  req: UploadRequest,
  preuploadId: string,
  sliceSize: number,
  server: string,
): Promise<number> {
  if (!Number.isSafeInteger(sliceSize) || sliceSize <= 0)
    throw new FsError('EIO', `server gave a bad sliceSize ${sliceSize}`);
  const count = Math.ceil(req.size / sliceSize);
  const workers = Math.max(1, Math.min(req.sliceConcurrency ?? DEFAULT_SLICE_CONCURRENCY, count));
  const ac = new AbortController(); // first fatal error stops the other workers
  const onOuterAbort = () => ac.abort(req.signal!.reason);
  req.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const memory = req.sliceMemory ?? new SliceMemory(Number.POSITIVE_INFINITY);
  let next = 0;
  let sent = 0;
  const worker = async () => {
    while (next < count && !ac.signal.aborted) {
      const index = next++;
      const offset = index * sliceSize;
      const len = Math.min(sliceSize, req.size - offset);
      const grant = await memory.acquire(len, ac.signal);
      try {
        const data = await req.source.read(offset, len, grant.buf);
        if (data.length !== len)
          throw new FsError('EIO', `${req.name}: short read at ${offset} (${data.length} of ${len} bytes)`);
        await sendOneSlice(api, req, ac.signal, { preuploadId, sliceNo: index + 1, data, server });
      } finally {
        grant.release();
      }
      sent += len;
      req.onProgress?.(sent);
    }
  };
  try {
    await Promise.all(
      Array.from({ length: workers }, () =>
        worker().catch((e) => {
          ac.abort(e);
          throw e;
        }),
      ),
    );
  } finally {
    req.signal?.removeEventListener('abort', onOuterAbort);
  }
  if (sent !== req.size) throw new FsError('EIO', `${req.name}: only ${sent} of ${req.size} bytes were sent`);
  return sent;
}

async function sendOneSlice(
  api: PanUploads,
  req: UploadRequest,
  signal: AbortSignal,
  s: { preuploadId: string; sliceNo: number; data: Buffer; server: string },
): Promise<void> {
  const sliceMd5 = await md5HexYielding(s.data);
  const server = s.server; // one host per file, retries included (§11)
  for (let attempt = 1; ; attempt++) {
    signal.throwIfAborted();
    try {
      await api.uploadSlice({ server, preuploadId: s.preuploadId, sliceNo: s.sliceNo, sliceMd5, data: s.data, signal });
      return;
    } catch (e) {
      if (signal.aborted || attempt >= SLICE_ATTEMPTS || !isRetryable(e)) throw e;
      const delay = expBackoff(SLICE_BACKOFF, attempt);
      req.logger.warn(
        { op: 'upload-slice', name: req.name, sliceNo: s.sliceNo, attempt, server, err: e },
        `slice failed; retrying in ${delay} ms`,
      );
      await req.clock.sleep(delay, signal);
    }
  }
}

async function pollComplete(api: UploadApi, req: UploadRequest, preuploadId: string, md5: string): Promise<FileId> {
  const deadline = req.clock.now() + (req.completeTimeoutMs ?? COMPLETE_TIMEOUT_MS);
  let polls = 0;
  let odd = 0; // odd error answers in a row
  req.signal?.throwIfAborted(); // the last point at which no merge was asked for (see UploadRequest.signal)
  for (;;) {
    req.stopSignal?.throwIfAborted();
    polls++;
    try {
      const r = await api.uploadComplete(preuploadId);
      if (r.completed && r.fileId && r.fileId !== '0') return r.fileId;
      if (r.unexpected !== undefined) {
        if (odd++ === 0)
          req.logger.info(
            { op: 'upload-complete', name: req.name, polls, answer: r.unexpected },
            'upload_complete gave an odd answer; reading it as "still merging"',
          );
        if (odd >= COMPLETE_UNEXPECTED_POLLS) {
          const e = new FsError('EIO', `${req.name}: upload_complete kept answering ${r.unexpected} (${odd} times)`);
          return landedOr(api, req, md5, e, polls);
        }
      } else odd = 0;
    } catch (e) {
      if (isPanError(e, 'upload-failed') || isPanError(e, 'name-clash')) return landedOr(api, req, md5, e, polls);
      if (!isRetryable(e)) throw e;
      req.logger.debug({ op: 'upload-complete', name: req.name, polls, err: e }, 'transient error while polling');
    }
    if (req.clock.now() + COMPLETE_POLL_INTERVAL_MS > deadline) {
      const e = new FsError('ETIMEDOUT', `${req.name}: upload_complete did not finish after ${polls} polls`);
      return landedOr(api, req, md5, e, polls);
    }
    await req.clock.sleep(COMPLETE_POLL_INTERVAL_MS, req.stopSignal);
  }
}

/**
 * Before giving up on a merge we asked for: is the file in its folder anyway (same name, MD5 and size)?
 * AList saw files land after an error answer (§11). Found → its id; else (or the lookup failed) `err`.
 */
async function landedOr(api: UploadApi, req: UploadRequest, md5: string, err: unknown, polls: number): Promise<FileId> {
  req.stopSignal?.throwIfAborted();
  let hit: FileId | undefined;
  try {
    const list = await api.listAll(req.parentId, req.stopSignal);
    hit = list.find((r) => !r.isDir && r.name === req.name && r.md5.toLowerCase() === md5 && r.size === req.size)?.id;
  } catch (e) {
    req.logger.warn(
      { op: 'upload-complete', name: req.name, polls, err: e },
      'could not look for the file after upload_complete gave up',
    );
    throw err;
  }
  if (hit === undefined) throw err;
  req.logger.warn(
    { op: 'upload-complete', name: req.name, polls, fileId: hit, err },
    'upload_complete did not confirm the merge, but the file is in its folder (name, MD5, size): accepted',
  );
  return hit;
}
