// File-management endpoints (123open-api.md §3): v2 list, detail, infos, mkdir, rename (single and
// batch), move, trash, delete, recover, user info. Each handler validates its input strictly (exact-case
// query names, case-insensitive body keys) and returns the `data` of the envelope.

import { ApiError, CODE, paramError } from './errors.js';
import { queryId, queryInt, readJson } from './http.js';
import { categoryOf } from './names.js';
import type { FileRow } from './store.js';
import type { EmuState, Route } from './state.js';
import { formatCst } from './time.js';

/** Most entries a v2 list page returns (doc: limit ≤ 100; larger values are capped, choice). */
export const MAX_LIST_LIMIT = 100;

/** A v2 list / infos entry with every field of the doc example. */
export function listEntry(s: EmuState, r: FileRow): Record<string, unknown> {
  return {
    fileId: r.id,
    filename: r.name,
    parentFileId: r.parentId,
    type: r.type,
    etag: r.md5,
    size: r.size,
    category: r.type === 1 ? 0 : categoryOf(r.name),
    status: r.type === 1 ? 0 : 2,
    punishFlag: 0,
    s3KeyFlag: r.type === 1 ? 'x-0' : `${s.opts.uid}-0`,
    storageNode: r.type === 1 ? 'm0' : 'm16',
    trashed: r.trashed,
    createAt: formatCst(r.createAt),
    updateAt: formatCst(r.updateAt),
  };
}

function list(s: EmuState, url: URL): unknown {
  const parent = queryId(url, 'parentFileId')!;
  const limitRaw = queryInt(url, 'limit');
  if (limitRaw === undefined || limitRaw < 1) throw paramError('limit');
  const limit = Math.min(limitRaw, MAX_LIST_LIMIT);
  const after = queryId(url, 'lastFileId', false) ?? 0n;
  const search = url.searchParams.get('searchData') ?? '';
  let rows: FileRow[];
  if (search !== '') {
    const mode = url.searchParams.get('searchMode') ?? '';
    rows = s.model.search(search, mode === '1', after, limit + 1);
  } else {
    const p = s.model.get(parent);
    if (p?.type !== 1) throw new ApiError(CODE.notFound, '文件夹不存在'); // choice
    rows = s.model.page(parent, after, limit + 1);
  }
  const more = rows.length > limit;
  const page = rows.slice(0, limit);
  return { lastFileId: more ? page[page.length - 1]!.id : -1, fileList: page.map((r) => listEntry(s, r)) };
}

function detail(s: EmuState, url: URL): unknown {
  const id = queryId(url, 'fileID')!;
  const r = s.model.get(id);
  if (!r || id === 0n) throw new ApiError(CODE.notFound, '文件不存在');
  return {
    fileID: r.id,
    filename: r.name,
    type: r.type,
    size: r.type === 1 ? s.model.folderSize(r.id) : r.size,
    etag: r.md5,
    status: r.type === 1 ? 0 : 2,
    parentFileID: r.parentId,
    createAt: formatCst(r.createAt),
    trashed: r.trashed,
  };
}

function userInfo(s: EmuState): unknown {
  const now = s.clock.now();
  return {
    uid: s.opts.uid,
    nickname: 'pan123fs-emulator',
    headImage: '',
    passport: '',
    mail: '',
    spaceUsed: s.model.spaceUsed(),
    spacePermanent: s.opts.spacePermanent,
    spaceTemp: 0,
    spaceTempExpr: 0,
    vip: s.config.vip === 1,
    directTraffic: Math.max(0, DIRECT_TRAFFIC - s.counters.c.directLinkBytesServed),
    isHideUID: false,
    httpsCount: 0,
    // choice: a VIP is an SVIP for a year from a day ago
    vipInfo:
      s.config.vip === 1
        ? [
            {
              vipLevel: 2,
              vipLabel: 'SVIP',
              startTime: formatCst(now - 86400_000),
              endTime: formatCst(now + 365 * 86400_000),
            },
          ]
        : null,
    developerInfo: { startTime: formatCst(s.developer.startAt), endTime: formatCst(s.developer.endAt) },
  };
}

/** Direct-link traffic allowance reported by user/info (choice: 1 TiB). */
const DIRECT_TRAFFIC = 1024 ** 4;

export function fileRoutes(): Route[] {
  const api = (name: string, method: Route['method'], path: string, handle: Route['handle']): Route => ({
    name,
    method,
    path,
    kind: 'api',
    handle,
  });
  return [
    api('file_list', 'GET', '/api/v2/file/list', (s, { url }) => list(s, url)),
    api('file_detail', 'GET', '/api/v1/file/detail', (s, { url }) => detail(s, url)),
    api('user_info', 'GET', '/api/v1/user/info', (s) => userInfo(s)),
    api('file_infos', 'POST', '/api/v1/file/infos', async (s, { req }) => {
      const ids = (await readJson(req)).ids('fileIds', 100);
      return {
        list: ids
          .map((id) => s.model.get(id))
          .filter((r): r is FileRow => !!r && r.id !== 0n)
          .map((r) => listEntry(s, r)),
      };
    }),
    api('mkdir', 'POST', '/upload/v1/file/mkdir', async (s, { req }) => {
      const b = await readJson(req);
      return { dirID: s.model.mkdir(b.id('parentID'), b.str('name')) };
    }),
    api('file_name', 'PUT', '/api/v1/file/name', async (s, { req }) => {
      const b = await readJson(req);
      s.model.rename(b.id('fileId'), b.str('fileName'));
      return null;
    }),
    api('file_rename', 'POST', '/api/v1/file/rename', async (s, { req }) => {
      const items = (await readJson(req)).array('renameList');
      if (items.length === 0 || items.length > 30) throw paramError('renameList');
      const successList: unknown[] = [];
      const failList: unknown[] = [];
      for (const it of items) {
        const m = typeof it === 'string' ? /^(\d{1,19})\|(.*)$/s.exec(it) : null;
        if (!m) throw paramError('renameList');
        const id = BigInt(m[1]!);
        try {
          s.model.rename(id, m[2]);
          successList.push({ fileID: id, updateAt: formatCst(s.model.require(id).updateAt) });
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
          failList.push({ fileID: id, message: e.message });
        }
      }
      return { successList, failList };
    }),
    api('file_move', 'POST', '/api/v1/file/move', async (s, { req }) => {
      const b = await readJson(req);
      s.model.move(b.ids('fileIDs', 100), b.id('toParentFileID'));
      return null;
    }),
    api('file_copy', 'POST', '/api/v1/file/copy', async (s, { req }) => {
      const b = await readJson(req);
      const targetFileId = s.model.copyFile(b.id('fileId'), b.id('targetDirId'), s.config.copyNameClash === 1);
      s.counters.c.copies++;
      return { sourceFileId: b.id('fileId'), targetFileId };
    }),
    api('file_trash', 'POST', '/api/v1/file/trash', async (s, { req }) => {
      s.model.trash((await readJson(req)).ids('fileIDs', 100));
      return null;
    }),
    api('file_delete', 'POST', '/api/v1/file/delete', async (s, { req }) => {
      s.model.delete((await readJson(req)).ids('fileIDs', 100));
      return null;
    }),
    api('file_recover', 'POST', '/api/v1/file/recover', async (s, { req }) => {
      return { abnormalFileIDs: s.model.recover((await readJson(req)).ids('fileIDs', 100)) };
    }),
  ];
}
