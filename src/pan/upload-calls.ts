// Upload v2 endpoints (123open-api.md §4.2, §4.3): create, slice, upload_complete, domain, single/create.
// Owns: request shapes, local checks before any request (name rules, hex MD5, size limits), the reading
// of answers (reuse only with fileID != 0; upload_complete: anything but completed=true is "not yet" —
// 20103, a merging message, any other business error — and only 文件上传失败 ('upload-failed') or a name
// clash is final, 123open-api.md §11), the https upgrade of the upload servers, and the recovery of a
// retried create/single whose first attempt landed (found again by name + MD5 + size). Invariant: slice
// bytes are streamed, never copied (multipart.ts).

import { toFileId, type FileId } from '../core/ids.js';
import type { RemoteEntry, UploadCompleteResult, UploadCreateResult } from './api.js';
import { asObj, boolField, field, numField, strField } from './decode.js';
import { ENDPOINTS, MAX_CREATE_SIZE, MAX_SINGLE_SIZE, type EndpointSpec } from './endpoints.js';
import { PanError } from './errors.js';
import { wireId, type Json } from './json.js';
import { buildMultipart } from './multipart.js';
import { checkName } from './names.js';
import type { Transport } from './transport.js';
import { isStillMerging } from './wire-errors.js';

export interface CreateReq {
  parentId: FileId;
  filename: string;
  md5: string;
  size: number;
  duplicate?: 1 | 2;
}
export interface SliceReq {
  server: string;
  preuploadId: string;
  sliceNo: number;
  sliceMd5: string;
  data: Buffer;
  signal?: AbortSignal;
}
export interface SingleReq {
  server: string;
  parentId: FileId;
  filename: string;
  md5: string;
  size: number;
  data: Buffer;
  duplicate?: 1 | 2;
}

/** Kinds that are not the upload's fault and keep their own meaning. */
const PASS_THROUGH = new Set(['auth', 'rate-limited', 'transport', 'aborted']);
/** upload_complete answers that end the upload: polling again cannot change them. */
const FINAL = new Set(['upload-failed', 'name-clash']);

function checkUpload(ep: EndpointSpec, filename: string, md5: string, size: number, max: number): void {
  checkName(filename, ep.name);
  if (!/^[0-9a-fA-F]{32}$/.test(md5))
    throw new PanError({ kind: 'api', endpoint: ep.name, message: `${ep.name}: etag must be a hex MD5` });
  if (!(size >= 0) || !Number.isSafeInteger(size))
    throw new PanError({ kind: 'api', endpoint: ep.name, message: `${ep.name}: bad size ${size}` });
  if (size > max)
    throw new PanError({
      kind: 'too-large',
      endpoint: ep.name,
      message: `${ep.name}: ${size} bytes is over the ${max}-byte limit`,
    });
}

/**
 * create and domain may answer `http://` upload hosts (the docs' own example does); the same host serves
 * https, so the token is sent there over TLS — unless the API itself is plain http (an emulator on
 * loopback), where nothing is encrypted anyway and the upload host may not speak TLS.
 */
export function preferHttps(servers: string[], apiBase: string): string[] {
  if (!/^https:/i.test(apiBase)) return servers;
  return servers.map((s) => s.replace(/^http:\/\//i, 'https://'));
}

function completion(data: Json): UploadCompleteResult {
  const d = asObj(data ?? {}, 'complete data');
  const raw = field(d, 'fileID', 'fileId');
  const fileId = raw === undefined || raw === null ? '0' : toFileId(raw);
  return { completed: boolField(d, 'completed') && fileId !== '0', fileId };
}

export class UploadCalls {
  constructor(
    private readonly t: Transport,
    private readonly listAll: (parentId: FileId) => Promise<RemoteEntry[]>,
  ) {}

  private async findUploaded(
    parentId: FileId,
    filename: string,
    md5: string,
    size: number,
  ): Promise<RemoteEntry | undefined> {
    return (await this.listAll(parentId)).find(
      (r) => !r.isDir && r.name === filename && r.md5 === md5 && r.size === size,
    );
  }

  async create(req: CreateReq): Promise<UploadCreateResult> {
    const ep = ENDPOINTS.uploadCreate;
    checkUpload(ep, req.filename, req.md5, req.size, MAX_CREATE_SIZE);
    const etag = req.md5.toLowerCase();
    const d = asObj(
      await this.t.call(ep, {
        json: {
          parentFileID: wireId(req.parentId),
          filename: req.filename,
          etag,
          size: req.size,
          duplicate: req.duplicate,
        },
        recover: async (e, { retried }) => {
          if (e.kind !== 'name-clash' || !retried) return undefined;
          const hit = await this.findUploaded(req.parentId, req.filename, etag, req.size);
          return hit ? { reuse: true, fileID: hit.id } : undefined;
        },
      }),
      'create data',
    );
    const fileId = field(d, 'fileID', 'fileId');
    if (boolField(d, 'reuse') && fileId !== undefined && fileId !== null && toFileId(fileId) !== '0') {
      return { reuse: true, fileId: toFileId(fileId) };
    }
    const preuploadId = strField(d, 'preuploadID');
    if (!preuploadId) {
      // reuse:true with fileID 0 and no session (seen on the web API, §4.6): nothing to upload into.
      throw new PanError({
        kind: 'api',
        endpoint: ep.name,
        retryable: true,
        message: `${ep.name}: answer has neither a file id nor a preuploadID`,
      });
    }
    const rawServers = field(d, 'servers');
    let servers = Array.isArray(rawServers)
      ? preferHttps(
          rawServers.filter((s): s is string => typeof s === 'string' && s !== ''),
          this.t.apiBase,
        )
      : [];
    if (servers.length === 0) servers = await this.domains();
    return { reuse: false, preuploadId, sliceSize: numField(d, 'sliceSize'), servers };
  }

  async slice(req: SliceReq): Promise<void> {
    await this.t.call(ENDPOINTS.uploadSlice, {
      baseUrl: req.server,
      signal: req.signal,
      multipart: buildMultipart(
        { preuploadID: req.preuploadId, sliceNo: String(req.sliceNo), sliceMD5: req.sliceMd5.toLowerCase() },
        { field: 'slice', filename: `slice.part${req.sliceNo}`, data: req.data },
      ),
    });
  }

  /**
   * One poll. completed=true with a file id is done; every other answer is {completed:false}: 20103 or a
   * merging message (正在校验 / 处理中 / 请间隔), and any other business error too, with `unexpected` set
   * (AList saw files land after such answers). 文件上传失败 → 'upload-failed' and a clash stay final.
   */
  async complete(preuploadId: string): Promise<UploadCompleteResult> {
    const ep = ENDPOINTS.uploadComplete;
    try {
      return completion(
        await this.t.call(ep, {
          json: { preuploadID: preuploadId },
          recover: (e) => (isStillMerging(e.code, e.message) ? { completed: false, fileID: 0 } : undefined),
        }),
      );
    } catch (e) {
      if (!(e instanceof PanError) || e.code === undefined || PASS_THROUGH.has(e.kind) || FINAL.has(e.kind)) throw e;
      return { completed: false, fileId: '0', unexpected: e.message };
    }
  }

  /** data is a bare array of base URLs. */
  async domains(): Promise<string[]> {
    const data = await this.t.call(ENDPOINTS.uploadDomain);
    const list = Array.isArray(data)
      ? preferHttps(
          data.filter((s): s is string => typeof s === 'string' && s !== ''),
          this.t.apiBase,
        )
      : [];
    if (list.length === 0)
      throw new PanError({
        kind: 'api',
        endpoint: ENDPOINTS.uploadDomain.name,
        message: 'upload/domain: no upload server',
      });
    return list;
  }

  async single(req: SingleReq): Promise<UploadCompleteResult> {
    const ep = ENDPOINTS.uploadSingle;
    checkUpload(ep, req.filename, req.md5, req.size, MAX_SINGLE_SIZE);
    if (req.data.length !== req.size)
      throw new PanError({
        kind: 'api',
        endpoint: ep.name,
        message: `${ep.name}: data is ${req.data.length} bytes, size says ${req.size}`,
      });
    const etag = req.md5.toLowerCase();
    const fields: Record<string, string> = {
      parentFileID: req.parentId,
      filename: req.filename,
      etag,
      size: String(req.size),
    };
    if (req.duplicate) fields.duplicate = String(req.duplicate);
    return completion(
      await this.t.call(ep, {
        baseUrl: req.server,
        multipart: buildMultipart(fields, { field: 'file', filename: req.filename, data: req.data }),
        recover: async (e, { retried }) => {
          if (e.kind !== 'name-clash' || !retried) return undefined;
          const hit = await this.findUploaded(req.parentId, req.filename, etag, req.size);
          return hit ? { fileID: hit.id, completed: true } : undefined;
        },
      }),
    );
  }
}
