// Account features a mount leaves out (123open-api.md §3.11, §11): share links and offline downloads.
// Owns: the request shapes of share/create, offline/download and its progress; the validation that can
// happen before a request (share expiry is an enum, offline URLs are http/https, offline never targets
// the root). Knows nothing of paths: callers pass ids. Invariant: like every pan/ call, one ENDPOINTS
// row per request, PanError on failure.

import type { FileId } from '../core/ids.js';
import { asObj, field, numField, strField } from './decode.js';
import { ENDPOINTS } from './endpoints.js';
import { PanError } from './errors.js';
import { wireId } from './json.js';
import type { Transport } from './transport.js';

/** share/create's shareExpire is an enum of days; 0 = never expires. */
export const SHARE_EXPIRY_DAYS = [0, 1, 7, 30] as const;
/** Where a share key becomes a page people can open. */
export const SHARE_BASE_URL = 'https://www.123pan.com/s/';
/** Most ids one share may hold. */
export const SHARE_MAX_FILES = 100;

export interface ShareResult {
  shareId: string;
  shareKey: string;
  url: string;
}

export type OfflineState = 'running' | 'failed' | 'done' | 'retrying';

export interface OfflineProgress {
  /** 0–100 */
  percent: number;
  state: OfflineState;
}

const OFFLINE_STATES: Record<number, OfflineState> = { 0: 'running', 1: 'failed', 2: 'done', 3: 'retrying' };

function invalid(endpoint: string, message: string): PanError {
  return new PanError({ kind: 'api', endpoint, message });
}

export class AccountCalls {
  constructor(private readonly transport: Transport) {}

  async createShare(req: { name: string; fileIds: FileId[]; days: number; password?: string }): Promise<ShareResult> {
    const ep = ENDPOINTS.shareCreate;
    if (!(SHARE_EXPIRY_DAYS as readonly number[]).includes(req.days))
      throw invalid(ep.name, `share expiry must be one of ${SHARE_EXPIRY_DAYS.join(', ')} days (0 = never)`);
    if (req.fileIds.length === 0 || req.fileIds.length > SHARE_MAX_FILES)
      throw invalid(ep.name, `a share holds 1 to ${SHARE_MAX_FILES} files`);
    if (req.password !== undefined && !/^[A-Za-z0-9]{4}$/.test(req.password))
      throw invalid(ep.name, 'a share password (提取码) is 4 letters or digits');
    const data = asObj(
      await this.transport.call(ep, {
        json: {
          shareName: req.name,
          shareExpire: req.days,
          fileIDList: req.fileIds.join(','),
          ...(req.password !== undefined ? { sharePwd: req.password } : {}),
        },
      }),
      'share/create data',
    );
    const shareKey = strField(data, 'shareKey');
    if (!shareKey) throw invalid(ep.name, 'share/create answered without a shareKey');
    const id = field(data, 'shareID', 'shareId');
    return { shareId: id === undefined || id === null ? '' : String(id), shareKey, url: SHARE_BASE_URL + shareKey };
  }

  /** Starts an offline download of url into folder dirId (never the root: 123 refuses it). */
  async startOfflineDownload(req: { url: string; dirId: FileId; fileName?: string }): Promise<string> {
    const ep = ENDPOINTS.offlineDownload;
    let u: URL;
    try {
      u = new URL(req.url);
    } catch {
      throw invalid(ep.name, `not a URL: ${req.url}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw invalid(ep.name, 'offline download takes http:// and https:// URLs only');
    if (req.dirId === '0')
      throw invalid(ep.name, 'offline download cannot target the root folder: choose a folder under it');
    const data = asObj(
      await this.transport.call(ep, {
        json: {
          url: req.url,
          dirID: wireId(req.dirId),
          ...(req.fileName !== undefined ? { fileName: req.fileName } : {}),
        },
      }),
      'offline/download data',
    );
    const id = field(data, 'taskID', 'taskId');
    if (id === undefined || id === null) throw invalid(ep.name, 'offline/download answered without a taskID');
    return String(id);
  }

  async offlineProgress(taskId: string): Promise<OfflineProgress> {
    const data = asObj(
      await this.transport.call(ENDPOINTS.offlineProgress, { query: { taskID: taskId } }),
      'offline/download/process data',
    );
    const state = OFFLINE_STATES[numField(data, 'status')] ?? 'running';
    const percent = Math.max(0, Math.min(100, numField(data, 'process')));
    return { percent, state };
  }
}
