// Account endpoints a mount does not use (123open-api.md §3.11, §11): share/create, offline/download and
// its progress. Strict like the rest: shareExpire is the enum 0/1/7/30, fileIDList a comma-separated
// string of live ids (≤ 100), sharePwd optional; offline URLs must be http/https.
// Choices (the docs are silent): shares and offline tasks live in memory (gone after a restart); an
// offline task into the root lands in the folder 来自:离线下载 like the real service's; the emulator only
// fetches loopback URLs (it must never become an open fetcher on a LAN) and fails any other task with
// status 1; a fetched file takes the URL's last path segment as its name unless fileName is given, and a
// taken name gets the "(n)" suffix (duplicate mode 1).

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { ApiError, CODE, paramError } from './errors.js';
import { queryInt, readJson } from './http.js';
import type { EmuState, Route } from './state.js';

export const SHARE_EXPIRY_DAYS = [0, 1, 7, 30];
export const OFFLINE_ROOT_FOLDER = '来自:离线下载';

interface Share {
  id: number;
  key: string;
  name: string;
  fileIds: bigint[];
  expireDays: number;
  password: string;
}

interface OfflineTask {
  id: number;
  /** 0 running, 1 failed, 2 done, 3 retrying (the documented enum) */
  status: number;
  process: number;
  fileId?: bigint;
}

interface AccountState {
  shares: Share[];
  tasks: Map<number, OfflineTask>;
  nextId: number;
}

const perEmulator = new WeakMap<EmuState, AccountState>();

function account(s: EmuState): AccountState {
  let a = perEmulator.get(s);
  if (!a) {
    a = { shares: [], tasks: new Map(), nextId: 1 };
    perEmulator.set(s, a);
  }
  return a;
}

/** The shares made so far (tests and the admin view). */
export function sharesOf(s: EmuState): readonly Share[] {
  return account(s).shares;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function createShare(s: EmuState, b: Awaited<ReturnType<typeof readJson>>): unknown {
  const name = b.str('shareName');
  if (name.trim() === '') throw paramError('shareName');
  const expireDays = b.int('shareExpire');
  if (!SHARE_EXPIRY_DAYS.includes(expireDays)) throw paramError('shareExpire');
  const list = b.str('fileIDList');
  const parts = list.split(',').map((x) => x.trim());
  if (parts.length === 0 || parts.length > 100 || parts.some((p) => !/^\d{1,19}$/.test(p)))
    throw paramError('fileIDList');
  const fileIds = parts.map((p) => BigInt(p));
  for (const id of fileIds) {
    const f = s.model.get(id);
    if (!f || f.trashed || id === 0n) throw new ApiError(CODE.notFound, '文件不存在');
  }
  const password = b.has('sharePwd') ? b.str('sharePwd') : '';
  const a = account(s);
  const share: Share = {
    id: a.nextId++,
    key: crypto.randomBytes(6).toString('base64url'),
    name,
    fileIds,
    expireDays,
    password,
  };
  a.shares.push(share);
  return { shareID: share.id, shareKey: share.key };
}

function folderFor(s: EmuState, dirId: bigint): bigint {
  if (dirId !== 0n) return s.model.requireLiveFolder(dirId).id;
  const existing = s.model.liveChild(0n, OFFLINE_ROOT_FOLDER);
  if (existing?.type === 1) return existing.id;
  return s.model.insert(0n, OFFLINE_ROOT_FOLDER, 1, 0, ''); // the service's own name: ':' is allowed here
}

function runTask(s: EmuState, task: OfflineTask, url: URL, dirId: bigint, fileName: string): void {
  const fail = () => {
    task.status = 1;
  };
  if (url.protocol !== 'http:' || !isLoopback(url.hostname)) return fail();
  const tmp = s.store.tmpFile('offline');
  const req = http.get(url, (res) => {
    if (res.statusCode !== 200) {
      res.resume();
      return fail();
    }
    const total = Number(res.headers['content-length'] ?? 0);
    const hash = crypto.createHash('md5');
    let size = 0;
    const out = fs.createWriteStream(tmp);
    res.on('data', (c: Buffer) => {
      hash.update(c);
      size += c.length;
      if (total > 0) task.process = Math.min(99, Math.floor((size / total) * 100));
    });
    res.pipe(out);
    out.on('finish', () => {
      try {
        const md5 = hash.digest('hex');
        s.store.putBlob(tmp, md5, size, 'move');
        task.fileId = s.model.createFile(folderFor(s, dirId), fileName, md5, size, 1);
        task.process = 100;
        task.status = 2;
      } catch {
        fail();
      }
    });
    res.on('error', fail);
    out.on('error', fail);
  });
  req.on('error', fail);
}

function startOffline(s: EmuState, b: Awaited<ReturnType<typeof readJson>>): unknown {
  const raw = b.str('url');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw paramError('url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ApiError(CODE.generic, '离线下载仅支持http/https任务'); // choice: the doc's wording
  const dirId = b.id('dirID');
  if (dirId !== 0n) s.model.requireLiveFolder(dirId);
  const fromUrl = decodeURIComponent(url.pathname.split('/').filter(Boolean).pop() ?? '') || 'download';
  const fileName = b.has('fileName') && b.str('fileName') !== '' ? b.str('fileName') : fromUrl;
  const a = account(s);
  const task: OfflineTask = { id: a.nextId++, status: 0, process: 0 };
  a.tasks.set(task.id, task);
  runTask(s, task, url, dirId, fileName);
  return { taskID: task.id };
}

function offlineProcess(s: EmuState, url: URL): unknown {
  const id = queryInt(url, 'taskID');
  const task = id === undefined ? undefined : account(s).tasks.get(id);
  if (!task) throw new ApiError(CODE.generic, '任务不存在'); // choice
  return { process: task.process, status: task.status };
}

export function accountRoutes(): Route[] {
  return [
    {
      name: 'share_create',
      method: 'POST',
      path: '/api/v1/share/create',
      kind: 'api',
      auth: true,
      handle: async (s, { req }) => createShare(s, await readJson(req)),
    },
    {
      name: 'offline_download',
      method: 'POST',
      path: '/api/v1/offline/download',
      kind: 'api',
      auth: true,
      handle: async (s, { req }) => startOffline(s, await readJson(req)),
    },
    {
      name: 'offline_process',
      method: 'GET',
      path: '/api/v1/offline/download/process',
      kind: 'api',
      auth: true,
      handle: (s, { url }) => offlineProcess(s, url),
    },
  ];
}
