// The 123 Open client's public surface, as the rest of the daemon sees it, in four roles: PanTree (the
// file tree), PanUploads (the v2 upload flow), PanLinks (download_info, direct links), PanAccount (user
// info). Consumers name the role they use; PanApi is their union. Knows nothing of FUSE, SQLite or mount
// paths, nor of the CDN bytes (pan/cdn/). Implemented by http-pan-client.ts; tests may pass fakes.
//
// Conventions: ids are FileId strings (int64-safe); times are epoch milliseconds (the wire's
// "YYYY-MM-DD HH:MM:SS" is UTC+8); every method throws PanError (pan/errors.ts) on a non-zero body code
// after retries, or on a transport failure after retries.

import type { FileId } from '../core/ids.js';
import type { Lift } from './rate-limiter.js';

export interface RemoteEntry {
  id: FileId;
  name: string;
  isDir: boolean;
  size: number;
  /** lower-case hex MD5; '' for folders */
  md5: string;
  parentId: FileId;
  /** review status; > 100 means rejected (审核驳回) */
  status: number;
  trashed: boolean;
  createdAt: number;
  /** detail has no updateAt: then equals createdAt */
  updatedAt: number;
}

export interface UserInfo {
  uid: string;
  nickname: string;
  spaceUsed: number;
  spacePermanent: number;
  spaceTemp: number;
  /** epoch ms or 0; the wire is a string or a number */
  spaceTempExpireAt: number;
  vip: boolean;
  directTraffic: number;
  /** developerInfo.endTime (the 开发者权益包's end) as epoch ms; null when user/info has no developerInfo */
  developerEndAt: number | null;
}

export interface ListPage {
  entries: RemoteEntry[];
  /** '-1' when this was the last page */
  lastFileId: FileId;
}

export type UploadCreateResult =
  | { reuse: true; fileId: FileId }
  | { reuse: false; preuploadId: string; sliceSize: number; servers: string[] };

export interface UploadCompleteResult {
  /** false while the server is still merging: completed=false, code 20103, a merging message, any odd answer */
  completed: boolean;
  fileId: FileId;
  /** set when `completed: false` came from an error answer not known to mean "still merging" (its text) */
  unexpected?: string;
}

export interface DownloadLink {
  url: string;
  /** epoch ms after which the link must not be used (our estimate when the API gives none) */
  expiresAt: number;
}

export interface ListOptions {
  /** a background listing (the change poller): a fifth of the list budget, after every foreground call */
  background?: boolean;
  /** a listing ahead of a walk (vfs/list-ahead.ts): the whole budget after foreground calls, until raised */
  ahead?: Lift;
}

/** The file tree: listing, metadata and the namespace operations. */
export interface PanTree {
  /** One page of v2 list (limit ≤ 100); trashed rows dropped. */
  listPage(parentId: FileId, lastFileId?: FileId, signal?: AbortSignal): Promise<ListPage>;
  /** Every page until lastFileId == -1 (also stops on an empty page or an unchanged cursor). */
  listAll(parentId: FileId, signal?: AbortSignal, opts?: ListOptions): Promise<RemoteEntry[]>;
  detail(id: FileId): Promise<RemoteEntry>;
  mkdir(parentId: FileId, name: string): Promise<FileId>;
  rename(id: FileId, newName: string): Promise<void>;
  move(ids: FileId[], toParentId: FileId): Promise<void>;
  trash(ids: FileId[]): Promise<void>;
  /**
   * Server-side copy of one file into a folder (§11 `file/copy`), under the source's name; returns the
   * copy's id. What the server does when the folder already holds that name is unknown (a clash error or
   * a suffixed name): callers look the copy up or rename it.
   */
  copy(id: FileId, targetDirId: FileId): Promise<FileId>;
  /** Restore trashed items to their old place; returns the ids that could not be (`abnormalFileIDs`). */
  recover(ids: FileId[]): Promise<FileId[]>;
}

/** The account: who we are, space, VIP. */
export interface PanAccount {
  userInfo(): Promise<UserInfo>;
}

/** Download links of a file (the bytes themselves come from pan/cdn/). */
export interface PanLinks {
  /** download_info (query `fileId`) */
  downloadInfo(id: FileId): Promise<DownloadLink>;
  /** direct-link/url (query `fileID`), unsigned as returned */
  directLink(id: FileId): Promise<DownloadLink>;
}

/** The v2 upload flow (123open-api.md §4.2). */
export interface PanUploads {
  uploadCreate(req: {
    parentId: FileId;
    filename: string;
    md5: string;
    size: number;
    duplicate?: 1 | 2;
  }): Promise<UploadCreateResult>;
  uploadSlice(req: {
    server: string;
    preuploadId: string;
    sliceNo: number;
    sliceMd5: string;
    data: Buffer;
    signal?: AbortSignal;
  }): Promise<void>;
  /**
   * One poll of upload_complete. Every answer but `completed: true` is {completed:false} (20103, a merging
   * message, any other business error: then `unexpected`); only 文件上传失败 ('upload-failed') and a name
   * clash are final.
   */
  uploadComplete(preuploadId: string): Promise<UploadCompleteResult>;
  uploadDomains(): Promise<string[]>;
  uploadSingle(req: {
    server: string;
    parentId: FileId;
    filename: string;
    md5: string;
    size: number;
    data: Buffer;
    duplicate?: 1 | 2;
  }): Promise<UploadCompleteResult>;
}

/** Every role: what HttpPanClient implements and full fakes stand in for. */
export interface PanApi extends PanTree, PanAccount, PanLinks, PanUploads {}
